//! User service settings.

use std::net::SocketAddr;

/// Settings of the user service. Flags with environment fallbacks; see `ec serve user --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct UserConfig {
    /// Address of the user service's gRPC port (Connect, gRPC-Web and gRPC).
    #[arg(
        id = "user_addr",
        long = "user-addr",
        env = "USER_ADDR",
        default_value = "127.0.0.1:50051"
    )]
    pub addr: SocketAddr,
}
