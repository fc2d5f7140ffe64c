//! Product service settings.

use std::{net::SocketAddr, time::Duration};

/// Settings of the product service. Flags with environment fallbacks; see `ec serve product --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct ProductConfig {
    /// Address of the product service's gRPC port (Connect, gRPC-Web and gRPC).
    #[arg(id = "product_addr", long = "product-addr", env = "PRODUCT_ADDR", default_value = "127.0.0.1:50052")]
    pub addr: SocketAddr,

    /// How long a stock reservation holds its stock unless confirmed or released, in seconds (1 min to 24 h).
    #[arg(
        id = "reservation_ttl_secs",
        long = "reservation-ttl-secs",
        env = "RESERVATION_TTL_SECS",
        default_value_t = 900,
        value_parser = clap::value_parser!(u64).range(60..=86_400)
    )]
    pub reservation_ttl_secs: u64,

    /// Available units at or below which the public is told how many are left ("only 3 left"); above it,
    /// only that the SKU is in stock. Admins always see the full stock record.
    #[arg(
        id = "low_stock_threshold",
        long = "low-stock-threshold",
        env = "LOW_STOCK_THRESHOLD",
        default_value_t = 5,
        value_parser = clap::value_parser!(i64).range(0..=1_000_000)
    )]
    pub low_stock_threshold: i64,

    /// How often the expiry worker looks for reservations whose time is up, in seconds.
    #[arg(
        id = "reservation_expiry_interval_secs",
        long = "reservation-expiry-interval-secs",
        env = "RESERVATION_EXPIRY_INTERVAL_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub expiry_interval_secs: u64,

    /// Days an idempotency key of the reservation RPCs is remembered (at least one).
    #[arg(
        id = "idempotency_key_days",
        long = "idempotency-key-days",
        env = "IDEMPOTENCY_KEY_DAYS",
        default_value_t = 7,
        value_parser = clap::value_parser!(u64).range(1..=365)
    )]
    pub idempotency_key_days: u64,

    /// The public URL uploaded pictures are served from, such as a CDN in front of the picture store. Unset,
    /// their URLs are paths on the BFF's origin (`/media/products/...`), which serves them.
    #[arg(id = "media_public_url", long = "media-public-url", env = "MEDIA_PUBLIC_URL")]
    pub media_public_url: Option<url::Url>,
}

impl ProductConfig {
    /// The defaults, on `addr` (tests).
    pub fn local(addr: SocketAddr) -> Self {
        let mut config: Self = ec_platform::config::defaults();
        config.addr = addr;
        config
    }

    pub fn reservation_ttl(&self) -> Duration {
        Duration::from_secs(self.reservation_ttl_secs)
    }
}
