//! Brute-force protection for the login page: sign-in attempts are counted per account (normalised email)
//! and per client IP in fixed windows; past the limit, that account or IP is locked out until the window ends.
//!
//! An attempt is counted *before* the password is checked ([`Throttle::begin`]), and a successful one is
//! given back afterwards ([`Throttle::succeeded`]: the account's count is cleared, the IP's decremented). So
//! a burst of parallel guesses cannot all slip past the check while none has been counted yet.
//!
//! With Redis the counters are shared by every replica: one Lua script increments, sets the expiry and reads
//! it atomically. Without Redis, or while Redis is failing or slow ([`ec_platform::shared`]: logged once per
//! outage, and a gauge), they are kept in process. Emails are stored only as SHA-256 digests.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use ec_platform::shared::{Redis, Shared};

/// Limits of the login throttle.
#[derive(Clone, Debug)]
pub struct ThrottleLimits {
    /// Attempts per account per window (successful ones are given back).
    pub per_account: u32,
    /// Attempts per client IP per window (successful ones are given back).
    pub per_ip: u32,
    /// Window length, which is also the lockout length.
    pub window: Duration,
}

/// Whether a sign-in attempt may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Locked { retry_after: Duration },
}

/// The login throttle.
#[derive(Debug)]
pub struct Throttle {
    limits: ThrottleLimits,
    shared: Shared,
    count: redis::Script,
    give_back: redis::Script,
    local: Mutex<HashMap<String, (u32, Instant)>>,
}

const COUNT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
";

const GIVE_BACK: &str = r"
if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end
return 0
";

impl Throttle {
    /// A throttle sharing its counters through `redis` (keys `{prefix}login-attempts:…`) when it is
    /// connected, in process otherwise.
    pub fn new(limits: ThrottleLimits, redis: &Redis) -> Self {
        Self {
            limits,
            shared: redis.feature("login-attempts"),
            count: redis::Script::new(COUNT),
            give_back: redis::Script::new(GIVE_BACK),
            local: Mutex::new(HashMap::new()),
        }
    }

    fn account_key(email: &str) -> String {
        format!("account:{}", sha256_hex(email))
    }

    fn ip_key(ip: IpAddr) -> String {
        format!("ip:{ip}")
    }

    /// Counts an attempt by `email` from `ip`, and says whether it may go ahead.
    pub async fn begin(&self, email: &str, ip: IpAddr) -> Verdict {
        let mut locked = None;
        for (key, limit) in
            [(Self::account_key(email), self.limits.per_account), (Self::ip_key(ip), self.limits.per_ip)]
        {
            let (count, remaining) = self.count(&key).await;
            if count > limit {
                locked = locked.max(Some(remaining));
            }
        }
        match locked {
            Some(retry_after) => Verdict::Locked { retry_after },
            None => Verdict::Allowed,
        }
    }

    /// Counts an attempt at `email`'s password where the client's address is not known (an RPC such as
    /// `ChangePassword`, which the BFF forwards), and says whether it may go ahead. It shares the account's
    /// count with the sign-in page, so a password cannot be guessed faster by switching between them.
    pub async fn begin_for_account(&self, email: &str) -> Verdict {
        let (count, remaining) = self.count(&Self::account_key(email)).await;
        if count > self.limits.per_account { Verdict::Locked { retry_after: remaining } } else { Verdict::Allowed }
    }

    /// After a successful check by [`begin_for_account`](Self::begin_for_account): clears the account's count.
    pub async fn succeeded_for_account(&self, email: &str) {
        let account = Self::account_key(email);
        let shared_account = self.shared.key(&account);
        self.shared
            .run(|mut redis| async move { redis::cmd("DEL").arg(shared_account).query_async::<()>(&mut redis).await })
            .await;
        self.local.lock().unwrap_or_else(|p| p.into_inner()).remove(&account);
    }

    /// After a successful sign-in: clears the account's count and gives the IP its attempt back.
    pub async fn succeeded(&self, email: &str, ip: IpAddr) {
        let account = Self::account_key(email);
        let ip = Self::ip_key(ip);
        let (shared_account, shared_ip) = (self.shared.key(&account), self.shared.key(&ip));
        self.shared
            .run(|mut redis| async move {
                let () = redis::cmd("DEL").arg(shared_account).query_async(&mut redis).await?;
                self.give_back.key(shared_ip).invoke_async::<()>(&mut redis).await
            })
            .await;
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        local.remove(&account);
        if let Some((count, _)) = local.get_mut(&ip) {
            *count = count.saturating_sub(1);
        }
    }

    /// Increments `key` and returns its count and the time left in its window.
    async fn count(&self, key: &str) -> (u32, Duration) {
        let shared_key = self.shared.key(key);
        let window = self.limits.window.as_millis() as u64;
        let counted = self
            .shared
            .run(|mut redis| async move {
                self.count.key(shared_key).arg(window).invoke_async::<(u32, i64)>(&mut redis).await
            })
            .await;
        if let Some((count, ttl)) = counted {
            return (count, Duration::from_millis(ttl.max(0) as u64));
        }
        let now = Instant::now();
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        local.retain(|_, (_, until)| *until > now);
        let entry = local.entry(key.to_owned()).or_insert((0, now + self.limits.window));
        entry.0 += 1;
        (entry.0, entry.1 - now)
    }
}

/// A stable, one-way key for an email, so addresses never sit in Redis in clear.
fn sha256_hex(value: &str) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes());
    digest.as_ref().iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ThrottleLimits {
        ThrottleLimits { per_account: 3, per_ip: 5, window: Duration::from_secs(60) }
    }

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    /// The shared Redis, under `prefix`.
    async fn redis(prefix: &str) -> Redis {
        let args = ec_platform::config::RedisArgs { url: Some(ec_testing::redis_url()), key_prefix: prefix.to_owned() };
        ec_platform::shared::connect(&args)
            .await
            .expect("Redis must be running for these tests (see README: make test starts it)")
    }

    /// A failed attempt: counted by `begin`, and nothing given back.
    async fn fail(throttle: &Throttle, email: &str, ip: IpAddr) -> Verdict {
        throttle.begin(email, ip).await
    }

    async fn locks_after_the_limit_and_success_resets(throttle: &Throttle) {
        for _ in 0..3 {
            assert_eq!(fail(throttle, "ada@example.com", HOME).await, Verdict::Allowed);
        }
        let Verdict::Locked { retry_after } = throttle.begin("ada@example.com", ELSEWHERE).await else {
            panic!("the account is locked from anywhere");
        };
        assert!(retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60));
        assert_eq!(throttle.begin("bob@example.com", ELSEWHERE).await, Verdict::Allowed, "other accounts are not");

        throttle.succeeded("ada@example.com", ELSEWHERE).await;
        assert_eq!(
            throttle.begin("ada@example.com", ELSEWHERE).await,
            Verdict::Allowed,
            "a success clears the account"
        );

        // The address itself is limited too, across accounts: 3 attempts so far, 2 more reach 5, the next is over.
        for user in ["c@example.com", "d@example.com"] {
            assert_eq!(fail(throttle, user, HOME).await, Verdict::Allowed);
        }
        assert!(matches!(throttle.begin("e@example.com", HOME).await, Verdict::Locked { .. }));
    }

    #[tokio::test]
    async fn in_process_counters_lock_and_reset() {
        locks_after_the_limit_and_success_resets(&Throttle::new(limits(), &Redis::local(""))).await;
    }

    #[tokio::test]
    async fn redis_counters_lock_and_reset() {
        let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7().simple());
        locks_after_the_limit_and_success_resets(&Throttle::new(limits(), &redis(&prefix).await)).await;
    }

    #[tokio::test]
    async fn replicas_sharing_redis_share_the_count_and_concurrent_failures_all_count() {
        let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7().simple());
        let a = Throttle::new(limits(), &redis(&prefix).await);
        let b = Throttle::new(limits(), &redis(&prefix).await);
        // Many parallel guesses at once: each is counted before any password is checked, so only the limit
        // gets through, across both replicas.
        let attempts = (0..10).map(|i| {
            let throttle = if i % 2 == 0 { &a } else { &b };
            throttle.begin("ada@example.com", if i % 3 == 0 { HOME } else { ELSEWHERE })
        });
        let verdicts = futures::future::join_all(attempts).await;
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Allowed).count(), 3);
    }

    #[tokio::test]
    async fn emails_are_not_stored_in_clear() {
        let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7().simple());
        let throttle = Throttle::new(limits(), &redis(&prefix).await);
        throttle.begin("secret.person@example.com", HOME).await;
        let client = redis::Client::open(ec_testing::redis_url()).unwrap();
        let mut redis = redis::aio::ConnectionManager::new(client).await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut redis).await.unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| !k.contains("secret")), "{keys:?}");
    }

    #[tokio::test]
    async fn a_redis_outage_keeps_counting_in_process_without_waiting_on_redis() {
        let mut server = ec_testing::PrivateRedis::start();
        let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(None).set_number_of_retries(0);
        let throttle = Throttle::new(limits(), &Redis::new(Some(server.connect(config).await), ""));
        assert_eq!(fail(&throttle, "ada@example.com", HOME).await, Verdict::Allowed, "counted in Redis");

        server.pause(); // hung: only the time budget keeps sign-ins from waiting on it
        let started = Instant::now();
        for _ in 0..3 {
            assert_eq!(fail(&throttle, "ada@example.com", HOME).await, Verdict::Allowed, "counted in process");
        }
        assert!(matches!(throttle.begin("ada@example.com", HOME).await, Verdict::Locked { .. }), "and still limited");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        server.stop();
        assert!(matches!(throttle.begin("ada@example.com", ELSEWHERE).await, Verdict::Locked { .. }));
    }
}
