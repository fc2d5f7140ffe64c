//! Building the BFF's server.

use std::{sync::Arc, time::Duration};

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use connectrpc_health::{HealthClient, wire::HealthCheckRequest, wire::ServingStatus};
use ec_platform::{
    identity::IdentityVerifier,
    server::{Server, ServerError},
};
use ec_proto::user::v1::{USER_SERVICE_SERVICE_NAME, UserServiceExt};
use redis::aio::ConnectionManager;
use serde_json::json;

use crate::{
    auth::Authenticator,
    config::BffConfig,
    jwks::Jwks,
    proxy::{BackendUrlError, Gate, UserProxy, backend},
};

/// Errors building the BFF.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A backend URL is unusable.
    #[error(transparent)]
    Backend(#[from] BackendUrlError),
    /// The OIDC settings are unusable.
    #[error("OIDC_ISSUER {0:?} does not give a usable JWKS URL; set OIDC_JWKS_URL")]
    Jwks(String),
    /// The port could not be bound.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// What the BFF shares with the rest of the process.
pub struct Dependencies {
    pub identity: IdentityVerifier,
    pub redis: Option<ConnectionManager>,
    /// Prefix of every Redis key the BFF writes.
    pub redis_prefix: String,
}

struct Readiness {
    gate: Arc<Gate>,
    user_health: HealthClient<connectrpc::client::SharedHttp2Connection>,
}

/// Binds the BFF's port and prepares its backend connections.
pub async fn build(config: &BffConfig, deps: Dependencies) -> Result<Server, StartupError> {
    let authenticator = match &config.oidc.issuer {
        Some(issuer) => {
            let url = config.oidc.jwks_url().ok_or_else(|| StartupError::Jwks(issuer.clone()))?;
            let redis = deps.redis.map(|r| (r, format!("{}jwks:{issuer}", deps.redis_prefix)));
            let jwks = Jwks::new(
                url,
                Duration::from_secs(config.oidc.jwks_cache_secs),
                Duration::from_secs(config.oidc.jwks_min_refresh_secs),
                redis,
            );
            Some(Authenticator::new(jwks, issuer.clone(), config.oidc.audience.clone(), config.oidc.leeway_secs))
        }
        None => {
            tracing::warn!("no OIDC_ISSUER: no access token is accepted; only public RPCs work");
            None
        }
    };
    let gate = Arc::new(Gate { authenticator, identity: deps.identity });
    let users = Arc::new(UserProxy::new(&config.user_service_url, gate.clone())?);
    let router = users.register(connectrpc::Router::new());

    let (connection, client_config) = backend(&config.user_service_url)?;
    let readiness = Arc::new(Readiness { gate, user_health: HealthClient::new(connection, client_config) });
    let probes = axum::Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/ready", get(ready))
        .with_state(readiness);
    Ok(Server::bind("bff", config.addr, router, &[USER_SERVICE_SERVICE_NAME]).await?.with_routes(probes))
}

/// Ready when every backend reports SERVING and the issuer's keys can be had.
async fn ready(State(readiness): State<Arc<Readiness>>) -> impl IntoResponse {
    let request = HealthCheckRequest { service: USER_SERVICE_SERVICE_NAME.into(), ..Default::default() };
    let user = tokio::time::timeout(Duration::from_secs(2), readiness.user_health.check(request))
        .await
        .ok()
        .and_then(Result::ok)
        .is_some_and(|r| r.into_owned().status.as_known() == Some(ServingStatus::SERVING));
    let keys = match &readiness.gate.authenticator {
        Some(authenticator) => {
            tokio::time::timeout(Duration::from_secs(5), authenticator.ready()).await.unwrap_or(false)
        }
        None => true,
    };
    let status = if user && keys { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({"user_service": user, "jwks": keys})))
}
