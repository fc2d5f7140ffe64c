//! Building the user service's server.

use std::sync::Arc;

use ec_platform::{
    identity::IdentityVerifier,
    server::{RpcServer, ServerError},
};
use ec_proto::user::v1::{
    CREDENTIAL_SERVICE_SERVICE_NAME, CredentialServiceExt, USER_SERVICE_SERVICE_NAME, UserServiceExt,
};
use sqlx::PgPool;

use crate::{
    api::{CredentialApi, UserApi},
    config::UserConfig,
};

/// Binds the user service's port. The caller has already migrated the schema.
pub async fn build(config: &UserConfig, pool: PgPool, identity: IdentityVerifier) -> Result<RpcServer, ServerError> {
    let users = Arc::new(UserApi::new(pool.clone(), identity.clone()));
    let credentials = Arc::new(CredentialApi::new(pool, identity));
    let router = credentials.register(users.register(connectrpc::Router::new()));
    RpcServer::bind(
        "user",
        config.addr,
        router,
        &[USER_SERVICE_SERVICE_NAME, CREDENTIAL_SERVICE_SERVICE_NAME],
    )
    .await
}
