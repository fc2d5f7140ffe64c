//! Order service settings.

use std::{net::SocketAddr, time::Duration};

use crate::{orders::Step, payment::Provider, saga::RetryPolicy, shipping::ShippingRules};

/// Settings of the order service. Flags with environment fallbacks; see `ec serve order --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct OrderConfig {
    /// Address of the order service's gRPC port (Connect, gRPC-Web and gRPC).
    #[arg(id = "order_addr", long = "order-addr", env = "ORDER_ADDR", default_value = "127.0.0.1:50053")]
    pub addr: SocketAddr,

    /// Base URL of the product service's gRPC port, which the order service calls for prices and stock.
    #[arg(
        id = "order_product_service_url",
        long = "order-product-service-url",
        env = "PRODUCT_SERVICE_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub product_service_url: http::Uri,

    /// Deadline of every call to the product service, in milliseconds.
    #[arg(
        id = "product_call_timeout_ms",
        long = "product-call-timeout-ms",
        env = "PRODUCT_CALL_TIMEOUT_MS",
        default_value_t = 5000,
        value_parser = clap::value_parser!(u64).range(100..=60_000)
    )]
    pub product_call_timeout_ms: u64,

    /// Shipping fee per currency, in its minor units, waived from a subtotal on: `CUR:FEE[:FREE_FROM]`,
    /// comma-separated (`JPY:500:5000` is ¥500, free from ¥5,000; `USD:500:5000` is $5.00, free from $50.00).
    /// Orders in a currency without a rule are refused.
    #[arg(id = "shipping_rules", long = "shipping-rules", env = "SHIPPING_RULES", default_value = "JPY:500,USD:500")]
    pub shipping_rules: ShippingRules,

    /// The longest CreateOrder and CancelOrder wait for the saga before answering `deadline_exceeded` (the
    /// saga goes on; the same idempotency key answers with the outcome), in seconds.
    #[arg(
        id = "checkout_wait_secs",
        long = "checkout-wait-secs",
        env = "CHECKOUT_WAIT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=120)
    )]
    pub checkout_wait_secs: u64,

    /// Attempts of a forward saga step (reserving stock, authorising payment) that fail transiently before
    /// the order fails and is compensated.
    #[arg(
        id = "saga_forward_attempts",
        long = "saga-forward-attempts",
        env = "SAGA_FORWARD_ATTEMPTS",
        default_value_t = 5,
        value_parser = clap::value_parser!(i32).range(1..=100)
    )]
    pub saga_forward_attempts: i32,

    /// Wait after a saga step's first transient failure, in milliseconds; doubled after each further one.
    #[arg(
        id = "saga_first_backoff_ms",
        long = "saga-first-backoff-ms",
        env = "SAGA_FIRST_BACKOFF_MS",
        default_value_t = 100,
        value_parser = clap::value_parser!(u64).range(1..=60_000)
    )]
    pub saga_first_backoff_ms: u64,

    /// Longest wait between attempts of a saga step, in seconds.
    #[arg(
        id = "saga_max_backoff_secs",
        long = "saga-max-backoff-secs",
        env = "SAGA_MAX_BACKOFF_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub saga_max_backoff_secs: u64,

    /// How often the recovery worker looks for unfinished sagas no live driver holds, in seconds.
    #[arg(
        id = "saga_recovery_interval_secs",
        long = "saga-recovery-interval-secs",
        env = "SAGA_RECOVERY_INTERVAL_SECS",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub saga_recovery_interval_secs: u64,

    /// How long a saga driver holds an order before another may take it over, in seconds.
    #[arg(
        id = "saga_lease_secs",
        long = "saga-lease-secs",
        env = "SAGA_LEASE_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub saga_lease_secs: u64,

    /// Days a CreateOrder idempotency key is remembered (at least one).
    #[arg(
        id = "checkout_key_days",
        long = "checkout-key-days",
        env = "CHECKOUT_KEY_DAYS",
        default_value_t = 7,
        value_parser = clap::value_parser!(u64).range(1..=365)
    )]
    pub checkout_key_days: u64,

    /// The payment provider: `sandbox` (test cards, no real money; refused with EC_ENV=production) or `none`
    /// (the shop takes no orders: checkout answers failed_precondition).
    #[arg(
        id = "payment_provider",
        long = "payment-provider",
        env = "PAYMENT_PROVIDER",
        value_enum,
        default_value_t = Provider::Sandbox
    )]
    pub payment_provider: Provider,

    /// Attempts of one authorisation the sandbox's transient-failure card (4000000000000119) fails before it
    /// is approved.
    #[arg(
        id = "payment_sandbox_transient_failures",
        long = "payment-sandbox-transient-failures",
        env = "PAYMENT_SANDBOX_TRANSIENT_FAILURES",
        default_value_t = 2,
        value_parser = clap::value_parser!(u32).range(0..=1000)
    )]
    pub payment_sandbox_transient_failures: u32,

    /// For crash tests only: the saga step after whose call the saga stops for good, before recording its
    /// outcome (reserve, authorize, confirm, release, restock, void), so a test can kill the process there.
    #[arg(id = "saga_pause_after", long = "saga-pause-after", env = "SAGA_PAUSE_AFTER", hide = true, value_parser = parse_step)]
    pub saga_pause_after: Option<Step>,
}

fn parse_step(name: &str) -> Result<Step, String> {
    Step::from_name(name).filter(|step| *step != Step::Done).ok_or_else(|| format!("{name:?} is not a saga step"))
}

impl OrderConfig {
    /// The defaults, on `addr`, calling the product service at `product` (tests).
    pub fn local(addr: SocketAddr, product: SocketAddr) -> Self {
        let mut config: Self = ec_platform::config::defaults();
        config.addr = addr;
        config.product_service_url =
            format!("http://{}", ec_platform::server::connectable(product)).parse().expect("an address makes a URL");
        config
    }

    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            first_backoff: Duration::from_millis(self.saga_first_backoff_ms),
            max_backoff: Duration::from_secs(self.saga_max_backoff_secs),
            forward_attempts: self.saga_forward_attempts,
            lease: Duration::from_secs(self.saga_lease_secs),
        }
    }
}
