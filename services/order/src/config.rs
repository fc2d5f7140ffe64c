//! Order service settings.

use std::net::SocketAddr;

/// Settings of the order service. Flags with environment fallbacks; see `ec serve order --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct OrderConfig {
    /// Address of the order service's gRPC port (Connect, gRPC-Web and gRPC).
    #[arg(id = "order_addr", long = "order-addr", env = "ORDER_ADDR", default_value = "127.0.0.1:50053")]
    pub addr: SocketAddr,
}
