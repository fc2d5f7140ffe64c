//! Building the product service's server.

use ec_platform::server::{Server, ServerError};
use sqlx::PgPool;

use crate::config::ProductConfig;

/// Binds the product service's port. The caller has already migrated the schema.
pub async fn build(config: &ProductConfig, _pool: PgPool) -> Result<Server, ServerError> {
    Server::bind("product", config.addr, connectrpc::Router::new(), &[]).await
}
