//! Token-bucket rate limiting, per client IP for anonymous calls and per subject for signed-in ones.
//!
//! A bucket holds up to `burst` tokens and refills at `per_minute`; each call takes one, and a call that finds
//! none is refused with how long until the next token. With Redis the buckets are shared by every BFF
//! replica: one Lua script refills, takes and stores atomically, timed by Redis's own clock so replicas'
//! clocks do not matter. Without Redis, or while Redis fails, buckets are kept in process; the fallback is
//! logged, and Redis is tried again on the next call.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use redis::aio::ConnectionManager;

/// A bucket's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limit {
    pub per_minute: u32,
    pub burst: u32,
}

impl Limit {
    fn per_ms(self) -> f64 {
        f64::from(self.per_minute) / 60_000.0
    }
}

/// Most buckets kept in process before old ones are forgotten.
const MAX_LOCAL_BUCKETS: usize = 100_000;

/// How long a rate-limit decision may wait for Redis.
const REDIS_BUDGET: Duration = Duration::from_millis(250);

const TAKE: &str = r"
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return wait
";

/// The rate limiter.
pub struct RateLimiter {
    redis: Option<(ConnectionManager, String)>,
    local: Mutex<HashMap<String, (f64, Instant)>>,
    degraded: AtomicBool,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("shared", &self.redis.is_some()).finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A limiter sharing its buckets through `redis` (keys under `prefix`) when given.
    pub fn new(redis: Option<ConnectionManager>, prefix: &str) -> Self {
        Self {
            redis: redis.map(|r| (r, format!("{prefix}rate:"))),
            local: Mutex::new(HashMap::new()),
            degraded: AtomicBool::new(false),
        }
    }

    /// Whether the buckets are being kept in process because Redis is failing.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Takes a token from `key`'s bucket: `Err` holds how long until one is available.
    pub async fn admit(&self, key: &str, limit: Limit) -> Result<(), Duration> {
        if let Some((redis, prefix)) = &self.redis {
            let mut redis = redis.clone();
            let script = redis::Script::new(TAKE);
            let mut invocation = script.key(format!("{prefix}{key}"));
            invocation.arg(limit.per_ms()).arg(limit.burst);
            // A sick Redis must not make every request slow: past this, the call is decided locally.
            let wait = tokio::time::timeout(REDIS_BUDGET, invocation.invoke_async::<u64>(&mut redis))
                .await
                .map_err(|_| "Redis did not answer in time".to_owned())
                .and_then(|r| r.map_err(|e| e.to_string()));
            match wait {
                Ok(wait) => {
                    if self.degraded.swap(false, Ordering::Relaxed) {
                        tracing::info!("Redis is back; rate limits are shared again");
                        metrics::gauge!("ec_bff_rate_limit_local_fallback").set(0.0);
                    }
                    return if wait == 0 { Ok(()) } else { Err(Duration::from_millis(wait)) };
                }
                Err(e) => {
                    if !self.degraded.swap(true, Ordering::Relaxed) {
                        tracing::warn!(error = %e, "Redis failed; rate limits fall back to this process");
                        metrics::gauge!("ec_bff_rate_limit_local_fallback").set(1.0);
                    }
                }
            }
        }
        self.admit_locally(key, limit)
    }

    fn admit_locally(&self, key: &str, limit: Limit) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > MAX_LOCAL_BUCKETS {
            // Forget buckets untouched for a while: with any sane limit they have refilled, so they hold no
            // information. Bounded, so a flood of client addresses cannot grow memory without end.
            buckets.retain(|_, (_, at)| now.duration_since(*at) < Duration::from_secs(600));
            if buckets.len() > MAX_LOCAL_BUCKETS {
                buckets.clear();
            }
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((f64::from(limit.burst), now));
        let elapsed_ms = now.duration_since(*at).as_secs_f64() * 1000.0;
        *tokens = (*tokens + elapsed_ms * limit.per_ms()).min(f64::from(limit.burst));
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_millis(((1.0 - *tokens) / limit.per_ms()).ceil() as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ec_platform::testing::{PrivateRedis, redis_url};

    // 600 a minute is one token every 100 ms.
    const LIMIT: Limit = Limit { per_minute: 600, burst: 3 };

    async fn drains_after_the_burst_and_refills(limiter: &RateLimiter, key: &str) {
        for _ in 0..3 {
            assert_eq!(limiter.admit(key, LIMIT).await, Ok(()));
        }
        let wait = limiter.admit(key, LIMIT).await.unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100), "{wait:?}");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(limiter.admit(key, LIMIT).await, Ok(()), "a token came back");
        assert!(limiter.admit(key, LIMIT).await.is_err());
    }

    async fn redis(url: &str) -> ConnectionManager {
        ConnectionManager::new(redis::Client::open(url).unwrap())
            .await
            .expect("Redis must be running for these tests (see README: make test starts it)")
    }

    fn prefix() -> String {
        format!("ec-test:{}:", uuid::Uuid::now_v7().simple())
    }

    #[tokio::test]
    async fn an_in_process_bucket_drains_and_refills() {
        drains_after_the_burst_and_refills(&RateLimiter::new(None, ""), "ip:192.0.2.1").await;
    }

    #[tokio::test]
    async fn a_redis_bucket_drains_and_refills() {
        let limiter = RateLimiter::new(Some(redis(&redis_url()).await), &prefix());
        drains_after_the_burst_and_refills(&limiter, "ip:192.0.2.1").await;
        assert!(!limiter.degraded());
    }

    #[tokio::test]
    async fn two_bffs_sharing_redis_share_one_bucket() {
        let prefix = prefix();
        let a = RateLimiter::new(Some(redis(&redis_url()).await), &prefix);
        let b = RateLimiter::new(Some(redis(&redis_url()).await), &prefix);
        let limit = Limit { per_minute: 1, burst: 4 };
        let results = futures::join!(
            a.admit("user:1", limit),
            b.admit("user:1", limit),
            a.admit("user:1", limit),
            b.admit("user:1", limit),
            a.admit("user:1", limit),
            b.admit("user:1", limit)
        );
        let admitted =
            [results.0, results.1, results.2, results.3, results.4, results.5].iter().filter(|r| r.is_ok()).count();
        assert_eq!(admitted, 4, "the burst is shared, not doubled");
    }

    #[tokio::test]
    async fn a_redis_outage_falls_back_to_local_limits_instead_of_failing() {
        // A private Redis, so stopping it disturbs nobody.
        let mut server = PrivateRedis::start();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(200)))
            .set_response_timeout(Some(Duration::from_millis(200)))
            .set_number_of_retries(0);
        let connection = Some(server.connect(config).await);
        let limiter = RateLimiter::new(connection, &prefix());
        let limit = Limit { per_minute: 1, burst: 2 };
        assert_eq!(limiter.admit("ip:192.0.2.9", limit).await, Ok(()));

        server.stop();
        assert_eq!(limiter.admit("ip:192.0.2.9", limit).await, Ok(()), "requests still pass");
        assert!(limiter.degraded(), "and the fallback is visible");
        assert_eq!(limiter.admit("ip:192.0.2.9", limit).await, Ok(()));
        assert!(limiter.admit("ip:192.0.2.9", limit).await.is_err(), "local limits still hold");
    }
}
