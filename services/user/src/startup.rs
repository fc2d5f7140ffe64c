//! Building the user service's server.

use std::sync::Arc;

use ec_platform::server::{RpcServer, ServerError};
use ec_proto::user::v1::{USER_SERVICE_SERVICE_NAME, UserServiceExt};
use sqlx::PgPool;

use crate::{api::UserApi, config::UserConfig};

/// Binds the user service's port. The caller has already migrated the schema.
pub async fn build(config: &UserConfig, pool: PgPool) -> Result<RpcServer, ServerError> {
    let api = Arc::new(UserApi::new(pool));
    let router = api.register(connectrpc::Router::new());
    RpcServer::bind("user", config.addr, router, &[USER_SERVICE_SERVICE_NAME]).await
}
