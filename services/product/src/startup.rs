//! Building the product service: its [`Application`].

use std::time::Duration;

use ec_platform::{
    config::DatabaseArgs,
    server::{Reflection, Server, ServerError},
    shutdown::CancellationToken,
    startup::{Dependencies, StartupError},
};

use crate::config::ProductConfig;

/// The product service, connected, migrated and bound, ready to serve.
pub struct Application {
    server: Server,
}

impl Application {
    /// Connects to PostgreSQL at `database`, brings the `product_service` schema up to date, and binds the gRPC
    /// port. No RPC is served yet: only health and reflection answer.
    pub async fn build(
        config: &ProductConfig,
        database: &DatabaseArgs,
        deps: &Dependencies,
    ) -> Result<Self, StartupError> {
        let _pool = ec_platform::startup::database(database, crate::SCHEMA, crate::migrator()).await?;
        let reflection = deps.serving.reflection.or_off(Reflection::Api);
        let server = Server::bind("product", config.addr, connectrpc::Router::new(), &[], reflection).await?;
        Ok(Self { server: server.with_connection_limits(deps.serving.limits()) })
    }

    /// The address of the gRPC port.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` fires, then drains for at most `grace`.
    pub async fn serve(self, shutdown: CancellationToken, grace: Duration) -> Result<(), ServerError> {
        self.server.serve(shutdown, grace).await
    }
}
