//! Building the product service's server.

use ec_platform::server::{RpcServer, ServerError};
use sqlx::PgPool;

use crate::config::ProductConfig;

/// Binds the product service's port. The caller has already migrated the schema.
pub async fn build(config: &ProductConfig, _pool: PgPool) -> Result<RpcServer, ServerError> {
    RpcServer::bind("product", config.addr, connectrpc::Router::new(), &[]).await
}
