//! Brute-force protection for the login page: failed sign-ins are counted per account (normalised email)
//! and per client IP in fixed windows; at the limit, that account or IP is locked out until the window ends.
//! A successful sign-in clears the account's count.
//!
//! With Redis the counters are shared by every replica: one Lua script increments and sets the expiry
//! atomically, so concurrent failures are all counted. Without Redis, or while Redis is failing, they are kept
//! in process (and the fallback is logged). Emails are stored only as SHA-256 digests.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use redis::aio::ConnectionManager;

/// Limits of the login throttle.
#[derive(Clone, Debug)]
pub struct ThrottleLimits {
    /// Failed sign-ins per account per window.
    pub per_account: u32,
    /// Failed sign-ins per client IP per window.
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
pub struct Throttle {
    limits: ThrottleLimits,
    redis: Option<(ConnectionManager, String)>,
    local: Mutex<HashMap<String, (u32, Instant)>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle").field("limits", &self.limits).field("shared", &self.redis.is_some()).finish()
    }
}

const INCREMENT: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

impl Throttle {
    /// A throttle sharing its counters through `redis` (keys under `prefix`) when given, in process otherwise.
    pub fn new(limits: ThrottleLimits, redis: Option<ConnectionManager>, prefix: &str) -> Self {
        Self {
            limits,
            redis: redis.map(|r| (r, format!("{prefix}login-failures:"))),
            local: Mutex::new(HashMap::new()),
        }
    }

    fn keys(email: &str, ip: IpAddr) -> [(String, bool); 2] {
        [(format!("account:{}", sha256_hex(email)), true), (format!("ip:{ip}"), false)]
    }

    fn limit(&self, is_account: bool) -> u32 {
        if is_account { self.limits.per_account } else { self.limits.per_ip }
    }

    /// Whether `email` may try to sign in from `ip` now.
    pub async fn check(&self, email: &str, ip: IpAddr) -> Verdict {
        let mut longest = None;
        for (key, is_account) in Self::keys(email, ip) {
            let (count, remaining) = self.read(&key).await;
            if count >= self.limit(is_account) {
                longest = longest.max(Some(remaining));
            }
        }
        match longest {
            Some(retry_after) => Verdict::Locked { retry_after },
            None => Verdict::Allowed,
        }
    }

    /// Counts a failed sign-in for `email` from `ip`.
    pub async fn record_failure(&self, email: &str, ip: IpAddr) {
        for (key, _) in Self::keys(email, ip) {
            self.increment(&key).await;
        }
    }

    /// Clears the account's failures after a successful sign-in (the IP's count stays).
    pub async fn record_success(&self, email: &str) {
        let [(key, _), _] = Self::keys(email, IpAddr::from([0, 0, 0, 0]));
        if let Some((redis, prefix)) = &self.redis {
            let mut redis = redis.clone();
            let deleted: Result<(), _> = redis::cmd("DEL").arg(format!("{prefix}{key}")).query_async(&mut redis).await;
            if let Err(e) = deleted {
                tracing::warn!(error = %e, "Redis failed; clearing the login throttle in process only");
            }
        }
        self.local.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    }

    async fn read(&self, key: &str) -> (u32, Duration) {
        if let Some((redis, prefix)) = &self.redis {
            let mut redis = redis.clone();
            let full = format!("{prefix}{key}");
            let result: Result<(Option<u32>, i64), _> =
                redis::pipe().get(&full).pttl(&full).query_async(&mut redis).await;
            match result {
                Ok((count, ttl)) => {
                    let local = self.read_local(key);
                    let remaining = Duration::from_millis(ttl.max(0) as u64);
                    return (count.unwrap_or(0).max(local.0), remaining.max(local.1));
                }
                Err(e) => tracing::warn!(error = %e, "Redis failed; using the in-process login throttle"),
            }
        }
        self.read_local(key)
    }

    fn read_local(&self, key: &str) -> (u32, Duration) {
        let now = Instant::now();
        let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        match local.get(key) {
            Some((count, until)) if *until > now => (*count, *until - now),
            _ => (0, Duration::ZERO),
        }
    }

    async fn increment(&self, key: &str) {
        if let Some((redis, prefix)) = &self.redis {
            let mut redis = redis.clone();
            let counted: Result<u32, _> = redis::Script::new(INCREMENT)
                .key(format!("{prefix}{key}"))
                .arg(self.limits.window.as_millis() as u64)
                .invoke_async(&mut redis)
                .await;
            match counted {
                Ok(_) => return,
                Err(e) => tracing::warn!(error = %e, "Redis failed; counting the login failure in process"),
            }
        }
        let now = Instant::now();
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        local.retain(|_, (_, until)| *until > now);
        let entry = local.entry(key.to_owned()).or_insert((0, now + self.limits.window));
        entry.0 += 1;
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

    async fn redis() -> ConnectionManager {
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let client = redis::Client::open(url).unwrap();
        ConnectionManager::new(client)
            .await
            .expect("Redis must be running for these tests (see README: make test starts it)")
    }

    async fn locks_after_the_limit_and_success_resets(throttle: &Throttle) {
        for _ in 0..3 {
            assert_eq!(throttle.check("ada@example.com", HOME).await, Verdict::Allowed);
            throttle.record_failure("ada@example.com", HOME).await;
        }
        let Verdict::Locked { retry_after } = throttle.check("ada@example.com", ELSEWHERE).await else {
            panic!("the account is locked from anywhere");
        };
        assert!(retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60));
        assert_eq!(throttle.check("bob@example.com", HOME).await, Verdict::Allowed, "other accounts are not");

        throttle.record_success("ada@example.com").await;
        assert_eq!(throttle.check("ada@example.com", HOME).await, Verdict::Allowed);

        // The address itself is limited too, across accounts: 3 failures so far, 2 more reach 5.
        for user in ["c@example.com", "d@example.com"] {
            throttle.record_failure(user, HOME).await;
        }
        assert!(matches!(throttle.check("e@example.com", HOME).await, Verdict::Locked { .. }));
        assert_eq!(throttle.check("e@example.com", ELSEWHERE).await, Verdict::Allowed);
    }

    #[tokio::test]
    async fn in_process_counters_lock_and_reset() {
        locks_after_the_limit_and_success_resets(&Throttle::new(limits(), None, "")).await;
    }

    #[tokio::test]
    async fn redis_counters_lock_and_reset() {
        let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7().simple());
        locks_after_the_limit_and_success_resets(&Throttle::new(limits(), Some(redis().await), &prefix)).await;
    }

    #[tokio::test]
    async fn replicas_sharing_redis_share_the_count_and_concurrent_failures_all_count() {
        let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7().simple());
        let a = Throttle::new(limits(), Some(redis().await), &prefix);
        let b = Throttle::new(limits(), Some(redis().await), &prefix);
        futures::join!(
            a.record_failure("ada@example.com", HOME),
            b.record_failure("ada@example.com", ELSEWHERE),
            a.record_failure("ada@example.com", ELSEWHERE)
        );
        assert!(matches!(b.check("ada@example.com", HOME).await, Verdict::Locked { .. }));
        assert!(matches!(a.check("ada@example.com", HOME).await, Verdict::Locked { .. }));
    }

    #[tokio::test]
    async fn emails_are_not_stored_in_clear() {
        let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7().simple());
        let throttle = Throttle::new(limits(), Some(redis().await), &prefix);
        throttle.record_failure("secret.person@example.com", HOME).await;
        let mut redis = redis().await;
        let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut redis).await.unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| !k.contains("secret")), "{keys:?}");
    }
}
