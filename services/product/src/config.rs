//! Product service settings.

use std::net::SocketAddr;

/// Settings of the product service. Flags with environment fallbacks; see `ec serve product --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct ProductConfig {
    /// Address of the product service's gRPC port (Connect, gRPC-Web and gRPC).
    #[arg(id = "product_addr", long = "product-addr", env = "PRODUCT_ADDR", default_value = "127.0.0.1:50052")]
    pub addr: SocketAddr,
}
