//! Settings shared by every service. Each group is a `clap::Args` that service configs flatten, so every
//! setting is a flag with an environment-variable fallback and shows up in `--help`.

use std::time::Duration;

/// Where PostgreSQL is.
#[derive(Clone, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL connection URL, e.g. postgres://postgres@127.0.0.1:5432/ec.
    #[arg(id = "database_url", long = "database-url", env = "DATABASE_URL", hide_env_values = true)]
    pub url: String,

    /// Most connections a service's pool keeps open to PostgreSQL (the order and product services each open a
    /// second pool as large: the order service for writes that need no disk flush, the product service for
    /// lookups by lists of keys).
    #[arg(
        id = "database_max_connections",
        long = "database-max-connections",
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub max_connections: u32,
}

// Written by hand so a password in the URL never reaches a log line.
impl std::fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field("url", &"<redacted>")
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// Where Redis is, if anywhere.
#[derive(Clone, clap::Args)]
pub struct RedisArgs {
    /// Redis URL, e.g. redis://127.0.0.1:6379. Unset: features that would share state through Redis keep
    /// it in process instead.
    #[arg(id = "redis_url", long = "redis-url", env = "REDIS_URL", hide_env_values = true)]
    pub url: Option<String>,

    /// Prefix of every Redis key the platform writes, so several platforms (or tests) can share one Redis.
    #[arg(id = "redis_key_prefix", long = "redis-key-prefix", env = "REDIS_KEY_PREFIX", default_value = "ec:")]
    pub key_prefix: String,
}

impl Default for RedisArgs {
    fn default() -> Self {
        Self { url: None, key_prefix: "ec:".into() }
    }
}

impl std::fmt::Debug for RedisArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisArgs")
            .field("url", &self.url.as_ref().map(|_| "<redacted>"))
            .field("key_prefix", &self.key_prefix)
            .finish()
    }
}

/// How long a stopping server waits for in-flight requests.
#[derive(Clone, Debug, clap::Args)]
pub struct ShutdownArgs {
    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM before closing connections.
    #[arg(id = "shutdown_grace_secs", long = "shutdown-grace-secs", env = "SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub grace_secs: u64,
}

impl ShutdownArgs {
    /// The grace period as a duration.
    pub fn grace(&self) -> Duration {
        Duration::from_secs(self.grace_secs)
    }
}

impl Default for ShutdownArgs {
    fn default() -> Self {
        Self { grace_secs: 10 }
    }
}

/// A settings group with every flag at its default (environment variables ignored), for code that builds a
/// configuration itself: tests, and `ec dev`'s in-process wiring.
pub fn defaults<T: clap::Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults").no_binary_name(true));
    // Environment fallbacks must not leak into a value meant to be the documented default.
    let command = command.mut_args(|arg| arg.env(None::<&str>));
    let matches = command.get_matches_from(Vec::<String>::new());
    T::from_arg_matches(&matches).expect("every flag of a settings group has a default or is optional")
}
