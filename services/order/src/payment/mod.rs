//! Payment: the port the checkout saga uses ([`PaymentProvider`]), and the choice of its adapter
//! ([`Provider`], `PAYMENT_PROVIDER`): the sandbox ([`SandboxPayments`], in [`sandbox`]), which behaves like a
//! real provider's test mode, or none.
//!
//! The sandbox approves its test cards, so anyone who knows `4242 4242 4242 4242` would get goods for free
//! from a shop that runs it: production refuses it at start-up ([`Provider::check`]). Until a real provider's
//! adapter exists, production runs with `PAYMENT_PROVIDER=none`: carts and order history work and checkout
//! answers `failed_precondition`.
//!
//! Every operation takes an idempotency key, as real providers' APIs do: the same key again gets the first
//! outcome (a decline included) and moves no more money, so a step retried after a timeout or a crash is
//! safe. The saga derives its keys from the order id and the step.

use std::{future::Future, pin::Pin, sync::Arc};

use ec_platform::environment::Environment;

use crate::domain::PaymentToken;

pub mod sandbox;

pub use sandbox::{LedgerEntry, SANDBOX_SCHEMA, SandboxPayments, sandbox_migrator};

/// Why a payment operation did not go through.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    /// The provider said no, for good: `code` is machine-readable (`card_declined`, `insufficient_funds`).
    #[error("declined: {code}")]
    Declined { code: String },
    /// The operation does not fit the authorisation's state (voiding a captured one, say).
    #[error("refused: {0}")]
    Refused(String),
    /// Worth trying again with the same key: the provider could not be reached or had a problem of its own.
    #[error("transient: {0}")]
    Transient(String),
}

/// What an authorisation is for.
#[derive(Clone, Copy, Debug)]
pub struct Authorize<'a> {
    /// The idempotency key.
    pub key: &'a str,
    /// The shop's name for what is paid (the order id).
    pub reference: &'a str,
    /// In the currency's minor units.
    pub amount: i64,
    pub currency_code: &'a str,
    pub token: &'a PaymentToken,
}

pub type PaymentFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PaymentError>> + Send + 'a>>;

/// Which payment provider the shop uses (`PAYMENT_PROVIDER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// The sandbox: test cards, no real money. Refused with `EC_ENV=production`.
    Sandbox,
    /// None: the shop takes no orders (checkout answers `failed_precondition`).
    None,
}

impl Provider {
    /// Whether `environment` allows this provider: production refuses the sandbox, in words an operator can
    /// act on.
    pub fn check(self, environment: Environment) -> Result<(), String> {
        if self == Provider::Sandbox && environment == Environment::Production {
            return Err("EC_ENV=production refuses PAYMENT_PROVIDER=sandbox (the default): the sandbox approves its \
                        public test cards (4242 4242 4242 4242), so anyone could order goods for free. No real \
                        provider is supported yet; set PAYMENT_PROVIDER=none to run the shop without checkout"
                .into());
        }
        Ok(())
    }

    /// The provider's adapter (its [`check`](Provider::check) passed), or `None` when the shop takes no
    /// payments.
    pub fn connect(
        self,
        environment: Environment,
        ledger: &ec_platform::db::Unflushed,
        transient_failures: u32,
    ) -> Option<Arc<dyn PaymentProvider>> {
        match self {
            Provider::Sandbox => {
                if environment == Environment::Staging {
                    tracing::warn!("EC_ENV=staging: checkout uses the payment sandbox; no real money moves");
                }
                Some(Arc::new(SandboxPayments::new(ledger, transient_failures)))
            }
            Provider::None => {
                tracing::warn!(
                    "PAYMENT_PROVIDER=none: the shop takes no orders until a payment provider is configured"
                );
                None
            }
        }
    }
}

/// Stands in for the provider when none is configured: checkout is refused before it reaches the saga, so
/// only an order placed under an earlier provider can come here, and it waits (a transient failure, retried)
/// until one is configured again.
pub struct Unconfigured;

impl Unconfigured {
    fn refuse<T>(&self) -> PaymentFuture<'_, T> {
        Box::pin(async { Err(PaymentError::Transient("no payment provider is configured".into())) })
    }
}

impl PaymentProvider for Unconfigured {
    fn authorize<'a>(&'a self, _: Authorize<'a>) -> PaymentFuture<'a, String> {
        self.refuse()
    }
    fn authorized<'a>(&'a self, _: &'a str, _: &'a str) -> PaymentFuture<'a, Option<String>> {
        self.refuse()
    }
    fn capture<'a>(&'a self, _: &'a str, _: &'a str) -> PaymentFuture<'a, ()> {
        self.refuse()
    }
    fn void<'a>(&'a self, _: &'a str, _: &'a str) -> PaymentFuture<'a, ()> {
        self.refuse()
    }
    fn refund<'a>(&'a self, _: &'a str, _: &'a str) -> PaymentFuture<'a, ()> {
        self.refuse()
    }
}

/// A payment provider, as the saga needs it.
pub trait PaymentProvider: Send + Sync {
    /// Holds `amount` on the card; the authorisation's id.
    fn authorize<'a>(&'a self, request: Authorize<'a>) -> PaymentFuture<'a, String>;
    /// The authorisation an `authorize` under `key` for `reference` made, if one did, whether or not its
    /// answer reached the caller (a timeout, a crash); `None` if none was approved. The saga asks before it lets
    /// an order fail, so no money stays held for a failed order. A provider's adapter looks the authorisation up
    /// by the idempotency key while the provider keeps keys, or by the shop's reference (keys may be kept for
    /// less than a saga can take: Stripe keeps them 24 hours). The saga asks once its own attempts have been
    /// answered or have timed out; an `authorize` still in flight elsewhere then (from a driver that outlived
    /// its lease) is not seen, and its hold lapses as the provider's authorisations do.
    fn authorized<'a>(&'a self, key: &'a str, reference: &'a str) -> PaymentFuture<'a, Option<String>>;
    /// Charges what an authorisation holds.
    fn capture<'a>(&'a self, key: &'a str, authorization: &'a str) -> PaymentFuture<'a, ()>;
    /// Lets an authorisation go without charging. Voiding a voided one succeeds.
    fn void<'a>(&'a self, key: &'a str, authorization: &'a str) -> PaymentFuture<'a, ()>;
    /// Gives back what was captured.
    fn refund<'a>(&'a self, key: &'a str, authorization: &'a str) -> PaymentFuture<'a, ()>;
}
