//! Building the BFF's server.

use std::sync::Arc;

use ec_platform::server::{Server, ServerError};
use ec_proto::user::v1::{USER_SERVICE_SERVICE_NAME, UserServiceExt};

use crate::{
    config::BffConfig,
    proxy::{BackendUrlError, UserProxy},
};

/// Errors building the BFF.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A backend URL is unusable.
    #[error(transparent)]
    Backend(#[from] BackendUrlError),
    /// The port could not be bound.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// Binds the BFF's port and prepares its backend connections.
pub async fn build(config: &BffConfig) -> Result<Server, StartupError> {
    let users = Arc::new(UserProxy::new(&config.user_service_url)?);
    let router = users.register(connectrpc::Router::new());
    Ok(Server::bind("bff", config.addr, router, &[USER_SERVICE_SERVICE_NAME]).await?)
}
