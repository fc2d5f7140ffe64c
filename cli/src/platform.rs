//! The whole platform in one process.

use std::net::SocketAddr;

use ec_bff::config::BffConfig;
use ec_oauth_server::{OAuthServer, config::OAuthServerConfig};
use ec_order::config::OrderConfig;
use ec_platform::{
    cache,
    config::RedisArgs,
    db,
    identity::{IdentityVerifier, InternalAuthArgs},
    revocation::Revocations,
    server::connectable,
    shutdown::CancellationToken,
};
use ec_product::config::ProductConfig;
use ec_user::config::UserConfig;
use sqlx::PgPool;
use tokio::task::{JoinHandle, JoinSet};

/// The settings of every service that runs in the all-in-one process.
#[derive(Clone, Debug, clap::Args)]
pub struct PlatformConfig {
    #[command(flatten)]
    pub user: UserConfig,
    #[command(flatten)]
    pub product: ProductConfig,
    #[command(flatten)]
    pub order: OrderConfig,
    #[command(flatten)]
    pub bff: BffConfig,
    /// The embedded OAuth2 server, started when no HYDRA_ADMIN_URL is given.
    #[command(flatten)]
    pub oauth: OAuthServerConfig,
    #[command(flatten)]
    pub redis: RedisArgs,
    #[command(flatten)]
    pub shutdown: ec_platform::config::ShutdownArgs,
    #[command(flatten)]
    pub internal: InternalAuthArgs,
}

/// Applies every service's migrations, each in its own schema.
pub async fn migrate_all(pool: &PgPool) -> Result<(), db::MigrateError> {
    db::migrate(pool, ec_user::SCHEMA, ec_user::migrator()).await?;
    db::migrate(pool, ec_product::SCHEMA, ec_product::migrator()).await?;
    db::migrate(pool, ec_order::SCHEMA, ec_order::migrator()).await?;
    Ok(())
}

/// Where each part of a running platform listens.
#[derive(Clone, Debug)]
pub struct Addresses {
    pub user: SocketAddr,
    pub product: SocketAddr,
    pub order: SocketAddr,
    pub bff: SocketAddr,
    /// The login, consent and logout pages.
    pub login: Option<SocketAddr>,
    /// The embedded OAuth2 server's issuer URL and ports, when it runs.
    pub oauth: Option<EmbeddedOAuth>,
}

/// Where the embedded OAuth2 server is.
#[derive(Clone, Debug)]
pub struct EmbeddedOAuth {
    pub issuer: String,
    pub public: SocketAddr,
    pub admin: SocketAddr,
}

type Task = JoinHandle<anyhow::Result<()>>;

/// A running platform: the BFF, the services behind it, and (in development) the OAuth2 server.
///
/// Shutdown runs front to back: when the token fires, the BFF stops accepting and drains its in-flight
/// requests while the services behind it are still up to answer them; only then are the services stopped
/// (and drained in turn). Stopping everything at once would fail the BFF's last requests on their way in.
pub struct Platform {
    pub addresses: Addresses,
    bff: Task,
    backends: JoinSet<anyhow::Result<()>>,
    backends_stop: CancellationToken,
    shutdown: CancellationToken,
}

fn base_url(addr: SocketAddr) -> url::Url {
    url::Url::parse(&format!("http://{}", connectable(addr))).expect("an address makes a URL")
}

impl Platform {
    /// Binds every port and starts serving. The schemas must already be migrated ([`migrate_all`]).
    ///
    /// The BFF is pointed at the user service actually bound, and the login pages at the embedded OAuth2
    /// server (and back), so ports given as 0 (tests) work. Without a configured internal auth token, one is
    /// generated: every part runs in this process, so none needs to be shared with anything else.
    pub async fn start(config: &PlatformConfig, pool: PgPool, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let internal = InternalAuthArgs {
            token: Some(config.internal.token.clone().unwrap_or_else(IdentityVerifier::generate_token)),
        };
        let identity = IdentityVerifier::new(&internal)?;
        let redis = cache::connect(&config.redis).await?;
        // One set of records for the user service, which writes them, and the BFF, which reads them: shared
        // through Redis when there is one, and in this process in any case.
        let revocations = Revocations::new(redis.clone(), &config.redis.key_prefix);

        let mut user_config = config.user.clone();
        let oauth = match &user_config.login.hydra_admin_url {
            Some(_) => None,
            None => {
                let server = OAuthServer::bind(&config.oauth).await?;
                user_config.login.hydra_admin_url = Some(base_url(server.admin_addr()));
                Some(server)
            }
        };
        let user = ec_user::startup::build(
            &user_config,
            ec_user::startup::Dependencies {
                pool: pool.clone(),
                identity: identity.clone(),
                redis: redis.clone(),
                redis_prefix: config.redis.key_prefix.clone(),
                revocations: revocations.clone(),
            },
        )
        .await?;
        let product = ec_product::startup::build(&config.product, pool.clone()).await?;
        let order = ec_order::startup::build(&config.order, pool).await?;

        let mut bff_config = config.bff.clone();
        bff_config.user_service_url = format!("http://{}", connectable(user.rpc.local_addr())).parse()?;
        if let (None, Some(server)) = (&bff_config.oidc.issuer, &oauth) {
            bff_config.oidc.issuer = Some(server.issuer().to_owned());
            // The embedded server's storefront may call the API from its own origin.
            if bff_config.edge.cors_allowed_origins.is_empty() {
                bff_config.edge.cors_allowed_origins = config
                    .oauth
                    .spa_redirect_uris
                    .iter()
                    .filter_map(|uri| url::Url::parse(uri).ok())
                    .map(|uri| uri.origin().ascii_serialization())
                    .collect();
            }
        }
        let bff_deps = ec_bff::startup::Dependencies {
            identity,
            redis,
            redis_prefix: config.redis.key_prefix.clone(),
            revocations,
        };
        let bff = ec_bff::startup::build(&bff_config, bff_deps).await?;

        let login_addr = user.login.as_ref().map(|login| login.local_addr());
        let oauth = match (oauth, login_addr) {
            (Some(server), Some(login)) => Some(server.with_login_app(&base_url(login))),
            (server, _) => server,
        };
        let addresses = Addresses {
            user: user.rpc.local_addr(),
            product: product.local_addr(),
            order: order.local_addr(),
            bff: bff.local_addr(),
            login: login_addr,
            oauth: oauth.as_ref().map(|s| EmbeddedOAuth {
                issuer: s.issuer().to_owned(),
                public: s.public_addr(),
                admin: s.admin_addr(),
            }),
        };

        let grace = config.shutdown.grace();
        let backends_stop = CancellationToken::new();
        let mut backends = JoinSet::new();
        for server in [Some(user.rpc), user.login, Some(product), Some(order)].into_iter().flatten() {
            let stop = backends_stop.clone();
            backends.spawn(async move { Ok(server.serve(stop, grace).await?) });
        }
        if let Some(server) = oauth {
            let stop = backends_stop.clone();
            backends.spawn(async move { Ok(server.serve(stop, grace).await?) });
        }
        let stop = shutdown.clone();
        let bff = tokio::spawn(async move { Ok(bff.serve(stop, grace).await?) });
        Ok(Self { addresses, bff, backends, backends_stop, shutdown })
    }

    /// Waits until every server has stopped, BFF first. If any server fails, the whole platform is stopped
    /// and the first error is returned once everything has.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        let mut record = |joined: Result<anyhow::Result<()>, tokio::task::JoinError>, shutdown: &CancellationToken| {
            if let Err(e) = joined.map_err(anyhow::Error::from).and_then(|r| r) {
                tracing::error!(error = format!("{e:#}"), "a server failed; stopping the platform");
                shutdown.cancel();
                first_error.get_or_insert(e);
            }
        };
        // Until the BFF has stopped (asked to, or failed), a failing backend stops the platform.
        loop {
            tokio::select! {
                joined = &mut self.bff => {
                    record(joined, &self.shutdown);
                    break;
                }
                Some(joined) = self.backends.join_next() => record(joined, &self.shutdown),
            }
        }
        // The front door is closed and drained: stop the services behind it.
        self.backends_stop.cancel();
        while let Some(joined) = self.backends.join_next().await {
            record(joined, &self.shutdown);
        }
        first_error.map_or(Ok(()), Err)
    }
}
