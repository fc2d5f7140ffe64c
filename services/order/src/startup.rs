//! Building the order service's server.

use ec_platform::server::{Server, ServerError};
use sqlx::PgPool;

use crate::config::OrderConfig;

/// Binds the order service's port. The caller has already migrated the schema.
pub async fn build(config: &OrderConfig, _pool: PgPool) -> Result<Server, ServerError> {
    Server::bind("order", config.addr, connectrpc::Router::new(), &[]).await
}
