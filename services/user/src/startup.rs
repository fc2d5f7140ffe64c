//! Building the user service's servers: the gRPC port and, when Hydra's admin API is configured, the login
//! pages.

use std::{sync::Arc, time::Duration};

use ec_platform::{
    identity::IdentityVerifier,
    revocation::Revocations,
    server::{Server, ServerError},
};
use ec_proto::user::v1::{
    CREDENTIAL_SERVICE_SERVICE_NAME, CredentialServiceExt, USER_SERVICE_SERVICE_NAME, UserServiceExt,
};
use redis::aio::ConnectionManager;
use sqlx::PgPool;

use crate::{
    api::{CredentialApi, SignOut, UserApi},
    config::UserConfig,
    hydra::HydraAdmin,
    login::{self, LoginApp},
    throttle::{Throttle, ThrottleLimits},
};

/// What the user service shares with the rest of the process.
pub struct Dependencies {
    pub pool: PgPool,
    pub identity: IdentityVerifier,
    pub redis: Option<ConnectionManager>,
    /// Prefix of every Redis key this service writes.
    pub redis_prefix: String,
    /// Where the access tokens of changed accounts are revoked; the BFF reads the same records.
    pub revocations: Revocations,
}

/// The user service's bound servers.
pub struct UserServers {
    pub rpc: Server,
    /// The login pages, when Hydra's admin API is configured.
    pub login: Option<Server>,
}

/// Binds the user service's ports. The caller has already migrated the schema.
pub async fn build(config: &UserConfig, deps: Dependencies) -> Result<UserServers, ServerError> {
    let hydra = config.login.hydra_admin_url.clone().map(HydraAdmin::new);
    let sign_out = SignOut {
        sessions: hydra.clone(),
        tokens: deps.revocations,
        token_lifetime: Duration::from_secs(config.access_token_max_ttl_secs),
    };
    let users = Arc::new(UserApi::new(deps.pool.clone(), deps.identity.clone(), sign_out));
    let credentials = Arc::new(CredentialApi::new(deps.pool.clone(), deps.identity));
    let router = credentials.register(users.register(connectrpc::Router::new()));
    let rpc = Server::bind("user", config.addr, router, &[USER_SERVICE_SERVICE_NAME, CREDENTIAL_SERVICE_SERVICE_NAME])
        .await?;

    let login = match hydra {
        Some(hydra) => {
            let limits = ThrottleLimits {
                per_account: config.login.max_failures_per_account,
                per_ip: config.login.max_failures_per_ip,
                window: Duration::from_secs(config.login.lockout_minutes * 60),
            };
            let app = LoginApp {
                pool: deps.pool,
                hydra,
                throttle: Throttle::new(limits, deps.redis, &deps.redis_prefix),
                remember_for: i64::from(config.login.remember_days) * 24 * 3600,
                secure_cookies: config.login.secure_cookies,
                trusted_proxies: config.login.trusted_proxies.clone(),
            };
            Some(Server::http("login", config.login.addr, login::router(Arc::new(app))).await?)
        }
        None => {
            tracing::warn!("no HYDRA_ADMIN_URL: the login and consent pages are not served");
            None
        }
    };
    Ok(UserServers { rpc, login })
}
