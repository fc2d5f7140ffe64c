//! Webhooks: the platform's events POSTed to the shop's other systems (a warehouse, accounting, a chat), as
//! Standard Webhooks 1.0 describe, so receivers verify them with the official libraries.
//!
//! - [`endpoints`]: the endpoints admins register (`user_service.webhook_endpoints`), each with its secret and
//!   the event types it wants.
//! - [`address`]: which URLs may be called. Only public addresses, checked when an endpoint is saved and again
//!   when each connection is made (the resolver drops private answers, so a name that later resolves to an
//!   internal address reaches nothing); no redirects, no proxies, bounded time. `WEBHOOKS_ALLOW_PRIVATE`
//!   lifts it (the default under `EC_ENV=development`; production refuses it).
//! - [`signing`]: `whsec_` secrets and the `webhook-signature` header.
//! - [`fanout`]: the durable subscription to every service's events, which records a delivery per endpoint that
//!   wants the event (`UNIQUE (endpoint_id, event_id)`, so an event handed over twice is delivered once).
//! - [`deliverer`]: the worker that POSTs what is due, records each attempt (status, response code, latency),
//!   retries with growing pauses for about three days, and disables an endpoint that failed all along, telling
//!   the shop's admins by e-mail.
//! - [`api`]: `webhook.v1.WebhookService`, for admins.
//!
//! The user service hosts webhooks, as it hosts e-mail: it is where the shop's notifications leave, and it knows
//! who the shop's admins are.

pub mod address;
pub mod api;
pub mod deliverer;
pub mod endpoints;
pub mod fanout;
pub mod signing;

use std::time::Duration;

use ec_platform::environment::Environment;

/// Every event type an endpoint can ask for: the event catalogue (docs/architecture.md).
pub const EVENT_TYPES: &[&str] = &[
    "user.v1.registered",
    "user.v1.password_reset_requested",
    "user.v1.email_changed",
    "user.v1.email_verified",
    "product.v1.published",
    "product.v1.hidden",
    "product.v1.repriced",
    "product.v1.stock_low",
    "product.v1.sold_out",
    "order.v1.confirmed",
    "order.v1.cancelled",
    "order.v1.shipped",
];

/// How webhooks are delivered.
#[derive(Clone, Debug, clap::Args)]
pub struct WebhookArgs {
    /// Allow endpoints on private, loopback and link-local addresses, and http:// URLs. Unset: allowed only
    /// under EC_ENV=development (`ec dev`); production refuses it.
    #[arg(id = "webhooks_allow_private", long = "webhooks-allow-private", env = "WEBHOOKS_ALLOW_PRIVATE")]
    pub allow_private: Option<bool>,

    /// Seconds an endpoint has to answer a delivery (connecting included) before the attempt counts as failed.
    #[arg(
        id = "webhooks_timeout_secs",
        long = "webhooks-timeout-secs",
        env = "WEBHOOKS_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=60)
    )]
    pub timeout_secs: u64,

    /// The pauses before each retry, in seconds: about three days in all (for tests).
    #[arg(
        id = "webhooks_retry_secs",
        long = "webhooks-retry-secs",
        env = "WEBHOOKS_RETRY_SECS",
        value_delimiter = ',',
        default_value = "5,300,1800,7200,18000,36000,50400,72000,86400",
        hide = true
    )]
    pub retry_secs: Vec<u64>,
}

impl WebhookArgs {
    /// Refuses private endpoints in production.
    pub fn check(&self, environment: Environment) -> Result<(), String> {
        if environment == Environment::Production && self.allow_private == Some(true) {
            return Err("WEBHOOKS_ALLOW_PRIVATE is for development: production calls public endpoints only".into());
        }
        Ok(())
    }

    /// The settings in force under `environment`.
    pub fn settings(&self, environment: Environment) -> Settings {
        let allow_private = self.allow_private.unwrap_or(environment == Environment::Development);
        Settings {
            allow_private,
            https_only: !allow_private,
            timeout: Duration::from_secs(self.timeout_secs),
            retries: self.retry_secs.iter().map(|secs| Duration::from_secs(*secs)).collect(),
        }
    }
}

/// How webhooks are delivered, as in force.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Endpoints may be on non-public addresses.
    pub allow_private: bool,
    /// Endpoints must be `https://`.
    pub https_only: bool,
    /// How long an attempt may take.
    pub timeout: Duration,
    /// The pause before each retry; a delivery is given up after one attempt more than there are pauses.
    pub retries: Vec<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_endpoints_are_for_development_only() {
        let mut args: WebhookArgs = ec_platform::config::defaults();
        assert!(args.settings(Environment::Development).allow_private);
        assert!(!args.settings(Environment::Production).allow_private);
        assert!(args.settings(Environment::Production).https_only);
        assert!(args.check(Environment::Production).is_ok());
        args.allow_private = Some(true);
        assert!(args.check(Environment::Production).unwrap_err().contains("WEBHOOKS_ALLOW_PRIVATE"));
        assert!(args.check(Environment::Staging).is_ok());
        args.allow_private = Some(false);
        assert!(!args.settings(Environment::Development).allow_private);
    }

    #[test]
    fn retries_span_about_three_days() {
        let args: WebhookArgs = ec_platform::config::defaults();
        let total: Duration = args.settings(Environment::Production).retries.iter().sum();
        assert!((70..80).contains(&(total.as_secs() / 3600)), "{total:?}");
    }
}
