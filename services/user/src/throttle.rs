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
