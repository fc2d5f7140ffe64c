//! Token-bucket rate limiting, per client IP for anonymous calls and per subject for signed-in ones.
//!
//! A bucket holds up to `burst` tokens and refills at `per_minute`; each call takes one, and a call that finds
//! none is refused with how long until the next token. With Redis the buckets are shared by every BFF
//! replica: one Lua script refills, takes and stores atomically, timed by Redis's own clock so replicas'
//! clocks do not matter. Without Redis, or while Redis fails or is slow ([`ec_platform::shared`]), buckets are
//! kept in process.
//!
//! A signed-in call needs two things from Redis: a token from the caller's bucket, and the account's
//! revocation record ([`ec_platform::revocation`]). [`RateLimiter::admit_caller`] gets both in one round trip:
//! one script reads the record and, unless it revokes the token, takes from the bucket. A revoked token takes
//! nothing from its account's bucket, so a thief holding one cannot drain the owner's allowance.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use ec_platform::shared::{Redis, Shared};
use uuid::Uuid;

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

/// What became of a signed-in caller's call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// A token was taken: go ahead.
    Admitted,
    /// A token was taken from this process's bucket because Redis did not answer, so the shared revocation
    /// records could not be read: only this process's own were checked.
    AdmittedUnchecked,
    /// The bucket is empty: a token comes back after this long.
    Wait(Duration),
    /// The shared records revoke the access token; nothing was taken.
    Revoked,
}

/// Most buckets kept in process before old ones are forgotten.
const MAX_LOCAL_BUCKETS: usize = 100_000;

/// Refills the bucket at `KEYS[1]` (rate `ARGV[1]` tokens a millisecond, at most `ARGV[2]`), takes a token if
/// there is one, and returns how many milliseconds until there is (0 when one was taken).
macro_rules! take_from_bucket {
    () => {
        r"
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
"
    };
}

const TAKE: &str = take_from_bucket!();

/// [`TAKE`], unless the revocation record at `KEYS[2]` (Unix seconds) is at or after the token's `iat`
/// (`ARGV[3]`): then -1, and nothing is taken.
const TAKE_UNLESS_REVOKED: &str = concat!(
    r"
local revoked = tonumber(redis.call('GET', KEYS[2]))
if revoked ~= nil and tonumber(ARGV[3]) <= revoked then
  return -1
end
",
    take_from_bucket!()
);

/// The rate limiter.
#[derive(Debug)]
pub struct RateLimiter {
    shared: Shared,
    take: redis::Script,
    take_unless_revoked: redis::Script,
    local: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter sharing its buckets through `redis` (keys `{prefix}rate:…`) when it is connected.
    pub fn new(redis: &Redis) -> Self {
        Self {
            shared: redis.feature("rate"),
            take: redis::Script::new(TAKE),
            take_unless_revoked: redis::Script::new(TAKE_UNLESS_REVOKED),
            local: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the buckets are being kept in process because Redis is failing.
    pub fn degraded(&self) -> bool {
        self.shared.degraded()
    }

    /// Takes a token from `key`'s bucket: `Err` holds how long until one is available.
    pub async fn admit(&self, key: &str, limit: Limit) -> Result<(), Duration> {
        let bucket = self.shared.key(key);
        let shared = self
            .shared
            .run(|mut redis| async move {
                let mut invocation = self.take.key(bucket);
                invocation.arg(limit.per_ms()).arg(limit.burst);
                invocation.invoke_async::<u64>(&mut redis).await
            })
            .await;
        match shared {
            Some(0) => Ok(()),
            Some(wait) => Err(Duration::from_millis(wait)),
            None => self.admit_locally(key, limit),
        }
    }

    /// For `account`'s call with a token issued at `issued_at` (Unix seconds): reads the account's shared
    /// revocation record at `revocation_key` and, unless it revokes the token, takes a token from the
    /// account's bucket, in one round trip. Without Redis, or while it fails, the bucket is kept in process
    /// and only this process's revocation records count (the caller checks those first).
    pub async fn admit_caller(
        &self,
        account: Uuid,
        limit: Limit,
        revocation_key: Option<String>,
        issued_at: u64,
    ) -> Admission {
        let key = format!("user:{account}");
        let Some(revocation_key) = revocation_key else {
            return Self::admission(self.admit(&key, limit).await);
        };
        let bucket = self.shared.key(&key);
        let shared = self
            .shared
            .run(|mut redis| async move {
                let mut invocation = self.take_unless_revoked.key(bucket);
                invocation.key(revocation_key).arg(limit.per_ms()).arg(limit.burst).arg(issued_at);
                invocation.invoke_async::<i64>(&mut redis).await
            })
            .await;
        match shared {
            Some(-1) => Admission::Revoked,
            Some(wait) => Self::admission(if wait <= 0 { Ok(()) } else { Err(Duration::from_millis(wait as u64)) }),
            None => match self.admit_locally(&key, limit) {
                Ok(()) => Admission::AdmittedUnchecked,
                Err(wait) => Admission::Wait(wait),
            },
        }
    }

    fn admission(taken: Result<(), Duration>) -> Admission {
        match taken {
            Ok(()) => Admission::Admitted,
            Err(wait) => Admission::Wait(wait),
        }
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
    use ec_platform::{config::RedisArgs, revocation::Revocations, shared};
    use ec_testing::PrivateRedis;

    use super::*;

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

    /// The shared Redis, under a prefix of its own.
    async fn redis(prefix: &str) -> Redis {
        let args = RedisArgs { url: Some(ec_testing::redis_url()), key_prefix: prefix.to_owned() };
        shared::connect(&args).await.expect("Redis must be running for these tests (see README: make test starts it)")
    }

    fn prefix() -> String {
        format!("ec-test:{}:", Uuid::now_v7().simple())
    }

    fn unix_now() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
    }

    #[tokio::test]
    async fn an_in_process_bucket_drains_and_refills() {
        drains_after_the_burst_and_refills(&RateLimiter::new(&Redis::local("")), "ip:192.0.2.1").await;
    }

    #[tokio::test]
    async fn a_redis_bucket_drains_and_refills() {
        let limiter = RateLimiter::new(&redis(&prefix()).await);
        drains_after_the_burst_and_refills(&limiter, "ip:192.0.2.1").await;
        assert!(!limiter.degraded());
    }

    #[tokio::test]
    async fn two_bffs_sharing_redis_share_one_bucket() {
        let prefix = prefix();
        let a = RateLimiter::new(&redis(&prefix).await);
        let b = RateLimiter::new(&redis(&prefix).await);
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
    async fn a_caller_is_admitted_and_limited_in_one_round_trip_unless_their_token_is_revoked() {
        let redis = redis(&prefix()).await;
        let (limiter, revocations) = (RateLimiter::new(&redis), Revocations::new(&redis));
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let limit = Limit { per_minute: 1, burst: 2 };
        let issued = unix_now() - 5;
        let admit = |account: Uuid| limiter.admit_caller(account, limit, revocations.shared_key(account), issued);

        assert_eq!(admit(alice).await, Admission::Admitted);
        // Revoked by another process: only the shared record knows.
        Revocations::new(&redis).revoke(alice, Duration::from_secs(60)).await.unwrap();
        for _ in 0..3 {
            assert_eq!(admit(alice).await, Admission::Revoked, "and a revoked token takes nothing");
        }
        let fresh = limiter.admit_caller(alice, limit, revocations.shared_key(alice), unix_now() + 1);
        assert_eq!(
            fresh.await,
            Admission::Admitted,
            "a token issued after the revocation, with the bucket's last token"
        );

        assert_eq!(admit(bob).await, Admission::Admitted);
        assert_eq!(admit(bob).await, Admission::Admitted);
        assert!(matches!(admit(bob).await, Admission::Wait(wait) if wait > Duration::from_secs(50)));
        assert!(!limiter.degraded());
    }

    #[tokio::test]
    async fn without_redis_a_caller_is_limited_in_process() {
        let limiter = RateLimiter::new(&Redis::local(""));
        let limit = Limit { per_minute: 1, burst: 1 };
        let account = Uuid::now_v7();
        assert_eq!(limiter.admit_caller(account, limit, None, 0).await, Admission::Admitted);
        assert!(matches!(limiter.admit_caller(account, limit, None, 0).await, Admission::Wait(_)));
    }

    #[tokio::test]
    async fn a_redis_outage_falls_back_to_local_limits_instead_of_failing() {
        // A private Redis, so stopping it disturbs nobody.
        let mut server = PrivateRedis::start();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(200)))
            .set_response_timeout(Some(Duration::from_millis(200)))
            .set_number_of_retries(0);
        let redis = Redis::new(Some(server.connect(config).await), &prefix());
        let limiter = RateLimiter::new(&redis);
        let limit = Limit { per_minute: 1, burst: 2 };
        assert_eq!(limiter.admit("ip:192.0.2.9", limit).await, Ok(()));

        server.stop();
        assert_eq!(limiter.admit("ip:192.0.2.9", limit).await, Ok(()), "requests still pass");
        assert!(limiter.degraded(), "and the fallback is visible");
        assert_eq!(limiter.admit("ip:192.0.2.9", limit).await, Ok(()));
        assert!(limiter.admit("ip:192.0.2.9", limit).await.is_err(), "local limits still hold");
        let revocations = Revocations::new(&redis);
        let account = Uuid::now_v7();
        let caller = limiter.admit_caller(account, limit, revocations.shared_key(account), 0).await;
        assert_eq!(caller, Admission::AdmittedUnchecked, "signed-in callers too, though no shared revocation was read");
    }
}
