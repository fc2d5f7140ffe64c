//! What every service's start-up shares.
//!
//! Each service crate has an `Application::build` (in the style of zero2prod) that connects to PostgreSQL,
//! migrates its own schema, and binds its ports; `ec serve <name>`, `ec dev` and the tests all start a service
//! through it, so there is one start-up path to get right. What several services of one process share is
//! made once, here ([`Dependencies::connect`]), and handed to each: the Redis connection, the internal secret
//! that signs caller identities, the events bus, the token revocation records (which must be one set in a process, so that
//! without Redis the BFF still sees what the user service revoked), and the list of the process's RPC servers
//! that a component calling another one looks in first ([`Dependencies::channel`]).

use crate::{
    channel::{Channel, ChannelUrlError, InProcess},
    config::{DatabaseArgs, RedisArgs},
    db,
    environment::Environment,
    events::{EventArgs, Events, EventsError, Outbox, relay::Relay},
    identity::{IdentityVerifier, InternalAuthArgs, WeakTokenError},
    revocation::Revocations,
    server::ServingArgs,
    shared::{self, Redis},
};

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot connect to PostgreSQL")]
    Database(#[source] sqlx::Error),
    #[error("cannot migrate the {schema} schema")]
    Migrate {
        schema: &'static str,
        #[source]
        source: db::MigrateError,
    },
    #[error("cannot connect to Redis")]
    Redis(#[source] shared::RedisError),
    #[error(transparent)]
    Events(#[from] EventsError),
    #[error(transparent)]
    WeakToken(#[from] WeakTokenError),
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// A setting that cannot work, in words that say which and why.
    #[error("{0}")]
    Config(String),
}

/// What the services of one process share.
#[derive(Clone, Debug)]
pub struct Dependencies {
    /// Where the process runs; production refuses what would let strangers in.
    pub environment: Environment,
    /// The process's Redis, or none.
    pub redis: Redis,
    /// Signs and checks the caller identity the BFF passes to the services.
    pub identity: IdentityVerifier,
    /// The access-token revocations: written by the user service, read by the BFF.
    pub revocations: Revocations,
    /// How the ports serve: reflection, connection limits.
    pub serving: ServingArgs,
    /// The events bus (NATS JetStream, or this process), and how the services' relays run.
    pub events: Events,
    pub event_settings: EventArgs,
    /// The picture store (`MEDIA_STORE`), when there is one: the product service writes uploaded pictures to
    /// it, and the BFF serves them from it.
    pub media: Option<std::sync::Arc<dyn object_store::ObjectStore>>,
    /// The RPC servers of this process that calls to their address are made to in process. Whoever runs
    /// several services in one process adds each as it is built (`ec dev`); `ec serve` adds none.
    pub in_process: InProcess,
}

impl Dependencies {
    /// Connects to Redis (when configured) and reads the internal secret, which `environment` may refuse
    /// ([`IdentityVerifier::for_environment`]).
    pub async fn connect(
        redis: &RedisArgs,
        internal: &InternalAuthArgs,
        serving: &ServingArgs,
        events: &EventArgs,
        environment: Environment,
    ) -> Result<Self, StartupError> {
        let identity = IdentityVerifier::for_environment(internal, environment)?;
        let redis = shared::connect(redis).await.map_err(StartupError::Redis)?;
        let bus = Events::connect(events).await?;
        Ok(Self {
            serving: serving.clone(),
            environment,
            events: bus,
            event_settings: events.clone(),
            ..Self::new(redis, identity)
        })
    }

    /// The dependencies of a development process over an already connected `redis`, serving with the default
    /// settings.
    pub fn new(redis: Redis, identity: IdentityVerifier) -> Self {
        let revocations = Revocations::new(&redis);
        Self {
            environment: Environment::Development,
            redis,
            identity,
            revocations,
            serving: ServingArgs::default(),
            events: Events::in_process(EventArgs::default().prefix),
            event_settings: EventArgs::default(),
            media: None,
            in_process: InProcess::default(),
        }
    }

    /// Refuses to go on in production without NATS, where a service's events would reach its own process
    /// only. Services with an outbox call it first, before touching the database.
    pub fn require_events(&self) -> Result<(), StartupError> {
        if self.environment == Environment::Production && !self.events.brokered() {
            return Err(EventsError::Required.into());
        }
        Ok(())
    }

    /// The relay of `outbox`, over `pool`, to this process's events bus ([`Dependencies::require_events`]).
    pub fn relay(&self, pool: &sqlx::PgPool, outbox: &Outbox) -> Result<Relay, StartupError> {
        self.require_events()?;
        Ok(Relay::new(pool.clone(), outbox.clone(), self.events.clone(), &self.event_settings))
    }

    /// A channel to the component at `url`: in process when it is one of [`Dependencies::in_process`].
    pub fn channel(&self, url: &http::Uri) -> Result<Channel, ChannelUrlError> {
        Channel::to(url, &self.in_process)
    }
}

/// Connects a service's pool and brings its schema up to date: the first step of every service's start-up.
pub async fn database(
    args: &DatabaseArgs,
    schema: &'static str,
    migrator: sqlx::migrate::Migrator,
) -> Result<sqlx::PgPool, StartupError> {
    let pool = db::connect(args).await.map_err(StartupError::Database)?;
    db::migrate(&pool, schema, migrator).await.map_err(|source| StartupError::Migrate { schema, source })?;
    Ok(pool)
}
