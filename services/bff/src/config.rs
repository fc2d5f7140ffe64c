//! BFF settings.

use std::net::SocketAddr;

/// Settings of the BFF. Flags with environment fallbacks; see `ec serve bff --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct BffConfig {
    /// Address of the BFF's public port (Connect, gRPC-Web and gRPC).
    #[arg(id = "bff_addr", long = "bff-addr", env = "BFF_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Base URL of the user service's gRPC port.
    #[arg(
        id = "user_service_url",
        long = "user-service-url",
        env = "USER_SERVICE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub user_service_url: http::Uri,
}
