//! The whole platform in one process.

use std::net::SocketAddr;

use ec_bff::config::BffConfig;
use ec_order::config::OrderConfig;
use ec_platform::{
    db,
    identity::{IdentityVerifier, InternalAuthArgs},
    server::{ServerError, connectable},
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
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    pub user: SocketAddr,
    pub product: SocketAddr,
    pub order: SocketAddr,
    pub bff: SocketAddr,
}

/// A running platform: four servers.
///
/// Shutdown runs front to back: when the token fires, the BFF stops accepting and drains its in-flight
/// requests while the services behind it are still up to answer them; only then are the services stopped
/// (and drained in turn). Stopping everything at once would fail the BFF's last requests on their way in.
pub struct Platform {
    pub addresses: Addresses,
    bff: JoinHandle<Result<(), ServerError>>,
    backends: JoinSet<Result<(), ServerError>>,
    backends_stop: CancellationToken,
    shutdown: CancellationToken,
}

impl Platform {
    /// Binds every port and starts serving. The schemas must already be migrated ([`migrate_all`]).
    ///
    /// The BFF is pointed at the user service actually bound, so ports given as 0 (tests) work. Without a
    /// configured internal auth token, one is generated: every part runs in this process, so none needs to be
    /// shared with anything else.
    pub async fn start(config: &PlatformConfig, pool: PgPool, shutdown: CancellationToken) -> anyhow::Result<Self> {
        let internal = InternalAuthArgs {
            token: Some(
                config
                    .internal
                    .token
                    .clone()
                    .unwrap_or_else(IdentityVerifier::generate_token),
            ),
        };
        let identity = IdentityVerifier::new(&internal)?;
        let user = ec_user::startup::build(&config.user, pool.clone(), identity).await?;
        let product = ec_product::startup::build(&config.product, pool.clone()).await?;
        let order = ec_order::startup::build(&config.order, pool).await?;

        let mut bff_config = config.bff.clone();
        bff_config.user_service_url = format!("http://{}", connectable(user.local_addr())).parse()?;
        let bff = ec_bff::startup::build(&bff_config).await?;

        let addresses = Addresses {
            user: user.local_addr(),
            product: product.local_addr(),
            order: order.local_addr(),
            bff: bff.local_addr(),
        };
        let grace = config.shutdown.grace();
        let backends_stop = CancellationToken::new();
        let mut backends = JoinSet::new();
        for server in [user, product, order] {
            backends.spawn(server.serve(backends_stop.clone(), grace));
        }
        let bff = tokio::spawn(bff.serve(shutdown.clone(), grace));
        Ok(Self {
            addresses,
            bff,
            backends,
            backends_stop,
            shutdown,
        })
    }

    /// Waits until every server has stopped, BFF first. If any server fails, the whole platform is stopped
    /// and the first error is returned once everything has.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let mut first_error = None;
        let mut record = |joined: Result<Result<(), ServerError>, tokio::task::JoinError>,
                          shutdown: &CancellationToken| {
            let result = joined
                .map_err(anyhow::Error::from)
                .and_then(|r| r.map_err(anyhow::Error::from));
            if let Err(e) = result {
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
