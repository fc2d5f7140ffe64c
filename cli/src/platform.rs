//! The whole platform in one process.

use std::net::SocketAddr;

use ec_bff::config::BffConfig;
use ec_oauth_server::{OAuthServer, config::OAuthServerConfig};
use ec_order::config::OrderConfig;
use ec_platform::{
    config::{DatabaseArgs, RedisArgs},
    db,
    environment::{Environment, EnvironmentArgs},
    events::EventArgs,
    identity::{IdentityVerifier, InternalAuthArgs},
    server::{Server, ServingArgs, connectable},
    shutdown::CancellationToken,
    startup::Dependencies,
};
use ec_product::config::ProductConfig;
use ec_user::config::UserConfig;
use sqlx::PgPool;
use tokio::task::{JoinHandle, JoinSet};

use crate::web::{self, StorefrontConfig, WebArgs};

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
    /// Where events go: NATS JetStream, or, unset, the subscribers in this process.
    #[command(flatten)]
    pub events: EventArgs,
    #[command(flatten)]
    pub shutdown: ec_platform::config::ShutdownArgs,
    #[command(flatten)]
    pub internal: InternalAuthArgs,
    /// Where the platform runs; unset, development.
    #[command(flatten)]
    pub environment: EnvironmentArgs,
    #[command(flatten)]
    pub serving: ServingArgs,
    /// The storefront's port and build directory.
    #[command(flatten)]
    pub web: WebArgs,
    /// Where uploaded pictures are kept (`ec dev` picks a directory when unset).
    #[command(flatten)]
    pub media: ec_platform::media::MediaArgs,
}

/// Applies every service's migrations, each in its own schema.
pub async fn migrate_all(pool: &PgPool) -> Result<(), db::MigrateError> {
    db::migrate(pool, ec_user::SCHEMA, ec_user::migrator()).await?;
    db::migrate(pool, ec_product::SCHEMA, ec_product::migrator()).await?;
    db::migrate(pool, ec_order::SCHEMA, ec_order::migrator()).await?;
    db::migrate(pool, ec_order::payment::SANDBOX_SCHEMA, ec_order::payment::sandbox_migrator()).await?;
    Ok(())
}

/// Where each part of a running platform listens.
#[derive(Clone, Debug)]
pub struct Addresses {
    pub user: SocketAddr,
    pub product: SocketAddr,
    pub order: SocketAddr,
    pub bff: SocketAddr,
    /// The BFF's operations port (`/health`, `/ready`, `/metrics`).
    pub bff_ops: SocketAddr,
    /// The login, consent and logout pages.
    pub login: Option<SocketAddr>,
    /// The embedded OAuth2 server's issuer URL and ports, when it runs.
    pub oauth: Option<EmbeddedOAuth>,
    /// The storefront, when it is built.
    pub web: Option<SocketAddr>,
    /// The development mailbox, when messages are kept rather than sent.
    pub mailbox: Option<String>,
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
    /// Builds every service with its own `Application::build` (each connects to `database` and migrates its
    /// schema) and starts serving.
    ///
    /// The BFF is pointed at the services actually bound, and the login pages at the embedded OAuth2 server
    /// (and back), so ports given as 0 (tests) work. Without a configured internal auth token, one is
    /// generated: every part runs in this process, so none needs to be shared with anything else. The
    /// services share one set of [`Dependencies`], so without Redis the BFF still sees the revocations the
    /// user service records, and call one another in process rather than over loopback connections.
    pub async fn start(
        config: &PlatformConfig,
        database: &DatabaseArgs,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let internal = InternalAuthArgs {
            token: Some(config.internal.token.clone().unwrap_or_else(IdentityVerifier::generate_token)),
        };
        let environment = config.environment.environment.unwrap_or(Environment::Development);
        let mut deps =
            Dependencies::connect(&config.redis, &internal, &config.serving, &config.events, environment).await?;
        deps.media = config.media.open()?;

        let mut user_config = config.user.clone();
        let oauth = match &user_config.login.hydra_admin_url {
            Some(_) => None,
            None => {
                let server = OAuthServer::bind(&config.oauth, environment).await?;
                user_config.login.hydra_admin_url = Some(base_url(server.admin_addr()));
                Some(server)
            }
        };
        // Every service runs in this process, so each calls the others in process (`ec_platform::channel`).
        let user = ec_user::startup::Application::build(&user_config, database, &deps).await?;
        deps.in_process.add(user.rpc());
        let product = ec_product::startup::Application::build(&config.product, database, &deps).await?;
        deps.in_process.add(product.rpc());
        let backend_url = |addr: SocketAddr| format!("http://{}", connectable(addr)).parse::<http::Uri>();
        let mut order_config = config.order.clone();
        order_config.product_service_url = backend_url(product.local_addr())?;
        let order = ec_order::startup::Application::build(&order_config, database, &deps).await?;
        deps.in_process.add(order.rpc());

        let mut bff_config = config.bff.clone();
        bff_config.user_service_url = backend_url(user.rpc_addr())?;
        bff_config.product_service_url = backend_url(product.local_addr())?;
        bff_config.order_service_url = backend_url(order.local_addr())?;
        if let (None, Some(server)) = (&bff_config.oidc.issuer, &oauth) {
            bff_config.oidc.issuer = Some(server.issuer().to_owned());
            // The embedded server's storefront may call the API from its own origin.
            if bff_config.edge.cors_allowed_origins.is_empty() {
                bff_config.edge.cors_allowed_origins =
                    ec_oauth_server::clients::origins_of(&config.oauth.spa_redirect_uris);
            }
        }
        let bff = ec_bff::startup::Application::build(&bff_config, &deps).await?;
        let login_addr = user.login_addr();
        let storefront = if web::is_built(&config.web.dir) {
            // The embedded server sends browsers to the login pages' own address; Hydra to their public URL.
            let login_url = match (&oauth, login_addr) {
                (Some(_), Some(login)) => base_url(login),
                _ => user_config.login.public_url.clone(),
            };
            let storefront = StorefrontConfig {
                bff_url: format!("http://{}", connectable(bff.local_addr())),
                issuer: bff_config.oidc.issuer.clone(),
                client_id: config.oauth.spa_client_id.clone(),
                audience: bff_config.oidc.audience.clone(),
                login_url: Some(login_url.to_string()),
            };
            let app = web::storefront(&config.web.dir, &storefront, config.web.https);
            // A port browsers reach, like the login pages: connections are capped per client address too.
            let limits =
                config.serving.limits().per_client(&config.serving.connections, config.web.trusted_proxies.clone());
            Some(Server::http("web", config.web.addr, app).await?.with_connection_limits(limits))
        } else {
            tracing::warn!(
                dir = %config.web.dir.display(),
                "the storefront is not built there, so it is not served (`make dev` builds it)"
            );
            None
        };

        let oauth = match (oauth, login_addr) {
            (Some(server), Some(login)) => Some(server.with_login_app(&base_url(login))),
            (server, _) => server,
        };
        let addresses = Addresses {
            user: user.rpc_addr(),
            product: product.local_addr(),
            order: order.local_addr(),
            bff: bff.local_addr(),
            bff_ops: bff.ops_addr(),
            web: storefront.as_ref().map(Server::local_addr),
            login: login_addr,
            mailbox: user.mailbox_url(),
            oauth: oauth.as_ref().map(|s| EmbeddedOAuth {
                issuer: s.issuer().to_owned(),
                public: s.public_addr(),
                admin: s.admin_addr(),
            }),
        };

        let grace = config.shutdown.grace();
        let backends_stop = CancellationToken::new();
        let mut backends = JoinSet::new();
        let stop = backends_stop.clone();
        backends.spawn(async move { Ok(user.serve(stop, grace).await?) });
        let stop = backends_stop.clone();
        backends.spawn(async move { Ok(product.serve(stop, grace).await?) });
        let stop = backends_stop.clone();
        backends.spawn(async move { Ok(order.serve(stop, grace).await?) });
        if let Some(server) = storefront {
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
