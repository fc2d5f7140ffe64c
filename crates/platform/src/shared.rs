//! State shared through Redis, with an in-process fallback: the one way every feature uses Redis.
//!
//! Rate limits, token revocations, the login throttle and the JWKS cache keep their state in Redis when there
//! is one, so every replica of every service sees the same buckets, records and keys; and each keeps a copy
//! or a fallback in process, because a shop must keep selling while Redis is down. They differ in what they
//! store, not in how they treat Redis, so that part is written once, here:
//!
//! - [`connect`] makes the process's one [`Redis`]: a [`ConnectionManager`] (one multiplexed connection that
//!   reconnects by itself and is cheap to clone) and the key prefix of the whole platform, or nothing.
//! - [`Redis::feature`] gives a feature its [`Shared`] handle: its own key prefix (`{prefix}{feature}:`), a time
//!   budget, and a degraded flag.
//! - [`Shared::run`] runs one Redis command or script within the budget. `None` means "decide in process":
//!   there is no Redis, or it failed or did not answer in time. A failure is logged once per outage (when the
//!   feature starts falling back, and again when Redis answers), and the gauge
//!   `ec_redis_fallback{feature}` is 1 while it lasts, so an operator can alert on it.
//!
//! A Redis that hangs is the dangerous case: without a budget, every call that touches it would wait for the
//! connection's response timeout. With one, a hung Redis costs each call at most the budget.

use std::{
    fmt,
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tracing::Instrument;

use crate::config::RedisArgs;

pub use redis::{RedisError, RedisResult};

/// How long a feature waits for Redis by default before deciding in process.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(250);

/// Connects to Redis when a URL is configured and checks that it answers. Without a URL, every feature keeps
/// its state in process.
pub async fn connect(args: &RedisArgs) -> Result<Redis, RedisError> {
    let Some(url) = &args.url else {
        tracing::info!("no REDIS_URL: shared state is kept in process");
        return Ok(Redis::local(&args.key_prefix));
    };
    let client = redis::Client::open(url.as_str())?;
    // Bounded, so a Redis that is down fails start-up within seconds instead of retrying for long; once
    // connected, the manager reconnects on its own.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    let mut manager = ConnectionManager::new_with_config(client, config).await?;
    let _: String = redis::cmd("PING").query_async(&mut manager).await?;
    tracing::info!("connected to Redis");
    Ok(Redis::new(Some(manager), &args.key_prefix))
}

/// The process's Redis, if it has one, and the platform's key prefix.
#[derive(Clone)]
pub struct Redis {
    connection: Option<ConnectionManager>,
    prefix: String,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis").field("connected", &self.connection.is_some()).field("prefix", &self.prefix).finish()
    }
}

impl Redis {
    /// `connection` (or none) with every key under `prefix`.
    pub fn new(connection: Option<ConnectionManager>, prefix: &str) -> Self {
        Self { connection, prefix: prefix.to_owned() }
    }

    /// No Redis: every feature keeps its state in process.
    pub fn local(prefix: &str) -> Self {
        Self::new(None, prefix)
    }

    /// Whether there is a Redis at all.
    pub fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    /// The handle of one feature (its name is its key prefix and its label in logs and metrics), waiting at
    /// most [`DEFAULT_BUDGET`] for Redis.
    pub fn feature(&self, name: &'static str) -> Shared {
        if self.connection.is_some() {
            // Shown from the start, so dashboards and alerts have a series to watch before the first outage.
            metrics::gauge!("ec_redis_fallback", "feature" => name).set(0.0);
            metrics::counter!("ec_redis_fallbacks_total", "feature" => name).increment(0);
        }
        Shared {
            connection: self.connection.clone(),
            prefix: format!("{}{name}:", self.prefix),
            feature: name,
            budget: DEFAULT_BUDGET,
            degraded: Arc::default(),
        }
    }
}

/// One feature's view of Redis: its key prefix, time budget and degraded flag. Clones share the flag.
#[derive(Clone)]
pub struct Shared {
    connection: Option<ConnectionManager>,
    prefix: String,
    feature: &'static str,
    budget: Duration,
    degraded: Arc<AtomicBool>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("feature", &self.feature)
            .field("connected", &self.connection.is_some())
            .field("budget", &self.budget)
            .finish()
    }
}

impl Shared {
    /// The same feature, waiting at most `budget` for each answer.
    pub fn with_budget(mut self, budget: Duration) -> Self {
        self.budget = budget;
        self
    }

    /// The Redis key of `name` within this feature.
    pub fn key(&self, name: impl fmt::Display) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Whether the state is shared through Redis at all (when not, [`run`](Self::run) is always `None`).
    pub fn is_shared(&self) -> bool {
        self.connection.is_some()
    }

    /// Whether the last call could not reach Redis, so the feature is deciding in process.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Runs `call` against Redis within the budget. `None` when there is no Redis, or it failed or did not
    /// answer in time: then the caller decides in process.
    pub async fn run<T, F, Fut>(&self, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let connection = self.connection.clone()?;
        let span = match crate::telemetry::exporting() {
            true => {
                tracing::info_span!("redis", otel.kind = "client", db.system.name = "redis", feature = self.feature)
            }
            false => tracing::Span::none(),
        };
        let answer = match tokio::time::timeout(self.budget, call(connection)).instrument(span).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.budget)),
        };
        self.note(answer.as_ref().err());
        if answer.is_err() {
            metrics::counter!("ec_redis_fallbacks_total", "feature" => self.feature).increment(1);
        }
        answer.ok()
    }

    /// Logs when the feature starts and stops falling back (once per outage, not on every call) and keeps the
    /// gauge `ec_redis_fallback{feature}` in step (`ec_redis_fallbacks_total{feature}` counts every call that
    /// fell back).
    fn note(&self, failure: Option<&String>) {
        match failure {
            None if self.degraded.swap(false, Ordering::Relaxed) => {
                metrics::gauge!("ec_redis_fallback", "feature" => self.feature).set(0.0);
                tracing::info!(feature = self.feature, "Redis answers again; state is shared again");
            }
            Some(error) if !self.degraded.swap(true, Ordering::Relaxed) => {
                metrics::gauge!("ec_redis_fallback", "feature" => self.feature).set(1.0);
                tracing::warn!(feature = self.feature, %error, "Redis failed; deciding in this process until it answers");
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ec_testing::{PrivateRedis, redis_url};

    async fn shared_redis() -> Redis {
        connect(&RedisArgs { url: Some(redis_url()), key_prefix: format!("ec-test:{}:", uuid::Uuid::now_v7()) })
            .await
            .expect("Redis must be running for these tests (see README: make test starts it)")
    }

    #[tokio::test]
    async fn a_configured_redis_is_connected_and_keys_are_under_the_feature_prefix() {
        let redis = shared_redis().await;
        assert!(redis.is_connected());
        let feature = redis.feature("things");
        assert!(feature.key("a").ends_with(":things:a"), "{}", feature.key("a"));
        let key = feature.key("a");
        let stored = feature
            .run(|mut c| async move {
                let () = redis::cmd("SET").arg(&key).arg("1").arg("EX").arg(10).query_async(&mut c).await?;
                redis::cmd("GET").arg(&key).query_async::<String>(&mut c).await
            })
            .await;
        assert_eq!(stored.as_deref(), Some("1"));
        assert!(!feature.degraded());
    }

    #[tokio::test]
    async fn no_url_means_no_redis_no_error_and_every_call_decided_in_process() {
        let redis = connect(&RedisArgs::default()).await.unwrap();
        assert!(!redis.is_connected());
        let feature = redis.feature("things");
        assert!(!feature.is_shared());
        assert_eq!(feature.run(|_| async { Ok(1) }).await, None);
        assert!(!feature.degraded(), "having no Redis is not an outage");
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_at_start_up() {
        // Port 1 on loopback: nothing listens there.
        let args = RedisArgs { url: Some("redis://127.0.0.1:1".into()), ..Default::default() };
        assert!(connect(&args).await.is_err());
    }

    #[tokio::test]
    async fn a_hung_redis_costs_each_call_the_budget_and_the_outage_is_flagged_until_it_answers() {
        let server = PrivateRedis::start();
        // No response timeout of its own: the budget is what must keep calls from hanging.
        let connection =
            server.connect(ConnectionManagerConfig::new().set_response_timeout(None).set_number_of_retries(0)).await;
        let feature = Redis::new(Some(connection), "").feature("things").with_budget(Duration::from_millis(100));
        let ping = || feature.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await });
        assert_eq!(ping().await.as_deref(), Some("PONG"));

        server.pause();
        let started = std::time::Instant::now();
        assert_eq!(ping().await, None);
        assert!(started.elapsed() < Duration::from_secs(2), "bounded by the budget: {:?}", started.elapsed());
        assert!(feature.degraded());
        assert!(feature.clone().degraded(), "clones share the flag");

        server.resume();
        assert_eq!(ping().await.as_deref(), Some("PONG"));
        assert!(!feature.degraded());
    }
}
