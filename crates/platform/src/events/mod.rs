//! Domain events: what happened, told to whoever needs to know, never lost and never invented.
//!
//! A service writes an event to its **outbox** (`<schema>.outbox`) in the transaction of the change the event
//! describes ([`outbox`]), so an event exists exactly when its change committed. Its **relay** ([`relay`])
//! moves the outbox's rows to the [`Events`] bus and deletes them once the bus has them; a process that dies
//! in between leaves the rows, and the next relay publishes them again under the same ids.
//!
//! The bus is **NATS JetStream** when `NATS_URL` is set: one stream per service (`<PREFIX>_ORDER` holding
//! subjects `<prefix>.order.>`), each message carrying the event's id as its `Nats-Msg-Id`, so JetStream drops
//! a copy published again within the stream's duplicate window. Consumers are durable JetStream consumers
//! that acknowledge a message only once they have handled it; handlers are idempotent by event id, for a copy
//! that arrives after the window. Without `NATS_URL` (`ec dev`, some tests) the bus is **in process**: the
//! relay hands each event to this process's subscribers and deletes it only once every one has taken it, so
//! the outbox is the queue. A service with an outbox refuses to start in production without NATS
//! ([`crate::startup::Dependencies::relay`]).
//!
//! Events are the proto messages of `proto/*/v1/events.proto` (`order.v1.OrderEvent`, ...) in the proto3 JSON
//! encoding: readable with `nats sub`, decodable with any protobuf library, and what webhooks deliver.

mod bus;
pub mod outbox;
pub mod relay;

use std::time::Duration;

pub use bus::{Delivered, Events, EventsError, Handler, HandlerError, Subscription};
pub use outbox::{Header, NewEvent, Outbox};

/// Where events go.
#[derive(Clone, clap::Args)]
pub struct EventArgs {
    /// NATS server URL, with JetStream enabled, e.g. nats://127.0.0.1:4222 (nats://user:password@host:4222 or
    /// tls://host:4222 for credentials and TLS). Unset: events are handed from the outboxes to the subscribers
    /// of this process only (development; production refuses to start without it).
    #[arg(id = "nats_url", long = "nats-url", env = "NATS_URL", hide_env_values = true)]
    pub nats_url: Option<String>,

    /// Prefix of every subject and stream the platform uses (`ec`: subjects `ec.order.v1.confirmed`, stream
    /// `EC_ORDER`), so several platforms, or tests, can share one NATS server. Lower-case letters, digits and
    /// `-`, at most 32.
    #[arg(id = "nats_prefix", long = "nats-prefix", env = "NATS_PREFIX", default_value = "ec", value_parser = Prefix::parse)]
    pub prefix: Prefix,

    /// Copies of each stream NATS keeps: 1 on a single server, 3 in a cluster.
    #[arg(
        id = "nats_stream_replicas",
        long = "nats-stream-replicas",
        env = "NATS_STREAM_REPLICAS",
        default_value_t = 1
    )]
    pub replicas: usize,

    /// Days a stream keeps an event, whether or not every consumer has taken it.
    #[arg(
        id = "nats_stream_max_age_days",
        long = "nats-stream-max-age-days",
        env = "NATS_STREAM_MAX_AGE_DAYS",
        default_value_t = 7
    )]
    pub max_age_days: u64,

    /// Milliseconds between the relays' looks at their outboxes for events written by other processes or left
    /// by a crash (this process's own are relayed as soon as they commit).
    #[arg(
        id = "events_relay_interval_ms",
        long = "events-relay-interval-ms",
        env = "EVENTS_RELAY_INTERVAL_MS",
        default_value_t = 1000
    )]
    pub relay_interval_ms: u64,

    /// Whether this process runs the durable consumers its services subscribe (the user service's mailer,
    /// email verifier and webhooks). `false` makes a process that serves and relays only, for a deployment
    /// that runs the consumers in other replicas; it needs NATS_URL.
    #[arg(
        id = "event_consumers",
        long = "event-consumers",
        env = "EVENT_CONSUMERS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub consumers: bool,

    /// For crash tests: where every relay of the process stops for good (`before-publish`: rows read, nothing
    /// published; `after-publish`: published, rows not yet deleted), so the test can kill it right there.
    #[arg(id = "events_relay_pause", long = "events-relay-pause", env = "EVENTS_RELAY_PAUSE", hide = true, value_parser = relay::Pause::parse)]
    pub relay_pause: Option<relay::Pause>,
}

impl Default for EventArgs {
    fn default() -> Self {
        crate::config::defaults()
    }
}

impl std::fmt::Debug for EventArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventArgs")
            .field("nats_url", &self.nats_url.as_ref().map(|_| "<redacted>"))
            .field("prefix", &self.prefix)
            .field("replicas", &self.replicas)
            .field("max_age_days", &self.max_age_days)
            .field("relay_interval_ms", &self.relay_interval_ms)
            .field("consumers", &self.consumers)
            .field("relay_pause", &self.relay_pause)
            .finish()
    }
}

impl EventArgs {
    /// How often a relay looks at its outbox unprompted.
    pub fn relay_interval(&self) -> Duration {
        Duration::from_millis(self.relay_interval_ms.max(10))
    }
}

/// The prefix of the platform's subjects and streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    /// `value`, if it is 1 to 32 lower-case ASCII letters, digits and `-`, starting with a letter.
    pub fn parse(value: &str) -> Result<Self, String> {
        let fits = (1..=32).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        fits.then(|| Self(value.to_owned())).ok_or_else(|| {
            format!("{value:?} is not 1 to 32 lower-case letters, digits and '-', starting with a letter")
        })
    }

    /// The subject of event `subject` (`order.v1.confirmed`): `ec.order.v1.confirmed`.
    pub fn subject(&self, subject: &str) -> String {
        format!("{}.{subject}", self.0)
    }

    /// The stream holding `service`'s events: `EC_ORDER`.
    pub fn stream(&self, service: &str) -> String {
        format!("{}_{}", self.0, service).to_ascii_uppercase().replace('-', "_")
    }

    /// The subjects of `service`'s stream: `ec.order.>`.
    pub fn stream_subjects(&self, service: &str) -> String {
        format!("{}.{service}.>", self.0)
    }

    /// The relative subject (`order.v1.confirmed`) of a full one, if it is under this prefix.
    pub fn strip<'a>(&self, subject: &'a str) -> Option<&'a str> {
        subject.strip_prefix(self.0.as_str())?.strip_prefix('.')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_names_subjects_and_streams() {
        let prefix = Prefix::parse("shop-2").unwrap();
        assert_eq!(prefix.subject("order.v1.confirmed"), "shop-2.order.v1.confirmed");
        assert_eq!(prefix.stream("order"), "SHOP_2_ORDER");
        assert_eq!(prefix.stream_subjects("order"), "shop-2.order.>");
        assert_eq!(prefix.strip("shop-2.order.v1.confirmed"), Some("order.v1.confirmed"));
        assert_eq!(prefix.strip("shop-22.order.v1.confirmed"), None);
    }

    #[test]
    fn a_prefix_that_would_break_a_subject_or_stream_name_is_refused() {
        for bad in ["", "EC", "e.c", "e*", "e>", "e c", "1ec", "-ec", &"e".repeat(33)] {
            assert!(Prefix::parse(bad).is_err(), "{bad:?}");
        }
    }
}
