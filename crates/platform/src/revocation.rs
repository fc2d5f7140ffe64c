//! Signing an account out of the access tokens it already holds.
//!
//! Access tokens are JWTs the BFF checks on its own, so they stay valid until they expire, however the
//! account changes. When an account is deleted, changes its password or loses a role, the user service
//! [records](Revocations::revoke) the moment; from then on the BFF [refuses](Revocations::is_revoked) every
//! token of that account issued (`iat`) at or before it. Token times are whole seconds, so a token issued in
//! the same second as the revocation, even just after it, is refused too: signing in again within that second
//! takes one more try.
//!
//! The comparison assumes the issuer's clock (`iat`) and the user service's agree to well within a second,
//! as NTP keeps them.
//!
//! With Redis the records are shared by every replica of every service (`{prefix}revoked:{account}`, the
//! revocation time in Unix seconds, only ever raised) and expire once no token issued before them can still
//! be alive. Every record is also kept in process and consulted on every check, which is all there is without
//! Redis: enough when the whole platform runs in one process (`ec dev`), not across processes. A check that
//! gets no answer from Redis within [`CHECK_BUDGET`] lets through tokens revoked by other processes (logged
//! once per outage, and visible as [`Revocations::degraded`]): refusing every signed-in call while Redis is
//! down would take the shop down with it.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use redis::aio::ConnectionManager;
use uuid::Uuid;

/// The revocation records, shared through Redis when there is one. Clones share the in-process records.
#[derive(Clone)]
pub struct Revocations {
    redis: Option<(ConnectionManager, String)>,
    /// Account -> revocation time and the time the record may be forgotten (Unix seconds). Written on every
    /// revocation and read on every check, so this process's own revocations hold whatever Redis does.
    local: Arc<Mutex<HashMap<Uuid, (u64, u64)>>>,
    /// Whether the last check could not reach Redis.
    degraded: Arc<AtomicBool>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").field("shared", &self.redis.is_some()).finish()
    }
}

/// How long a check waits for Redis before it consults the in-process records alone.
pub const CHECK_BUDGET: Duration = Duration::from_millis(250);

/// Kept on top of the token lifetime: verifiers accept a token a little past its `exp` (clock leeway).
const LEEWAY_MARGIN: Duration = Duration::from_secs(120);

/// Raises the record, never lowers it: a replica that revoked a moment earlier must not undo a later record.
const RAISE: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 0
";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

impl Revocations {
    /// Records shared through `redis` (keys under `prefix`) when given, in process otherwise.
    pub fn new(redis: Option<ConnectionManager>, prefix: &str) -> Self {
        Self { redis: redis.map(|r| (r, format!("{prefix}revoked:"))), local: Arc::default(), degraded: Arc::default() }
    }

    /// Revokes every access token of `account` issued up to now. The record is kept for `keep_for` (at least
    /// the issuer's access-token lifetime) and a margin for the verifiers' clock leeway: after that, no token
    /// it refuses can be alive.
    pub async fn revoke(&self, account: Uuid, keep_for: Duration) -> Result<(), redis::RedisError> {
        let at = now();
        let keep_for = (keep_for + LEEWAY_MARGIN).as_secs();
        {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            local.retain(|_, (_, until)| *until >= at);
            let record = local.entry(account).or_insert((at, at + keep_for));
            *record = (record.0.max(at), at + keep_for);
        }
        let Some((redis, prefix)) = &self.redis else { return Ok(()) };
        redis::Script::new(RAISE)
            .key(format!("{prefix}{account}"))
            .arg(at)
            .arg(keep_for)
            .invoke_async(&mut redis.clone())
            .await
    }

    /// Whether a token of `account` issued at `issued_at` (Unix seconds) has been revoked, by the shared
    /// records or by this process's own.
    pub async fn is_revoked(&self, account: Uuid, issued_at: u64) -> bool {
        let shared = match &self.redis {
            Some((redis, prefix)) => {
                let mut redis = redis.clone();
                let mut command = redis::cmd("GET");
                command.arg(format!("{prefix}{account}"));
                let query = command.query_async::<Option<u64>>(&mut redis);
                let answer = tokio::time::timeout(CHECK_BUDGET, query).await;
                self.note_redis(match &answer {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(_) => Some(format!("no answer within {CHECK_BUDGET:?}")),
                });
                answer.ok().and_then(Result::ok).flatten()
            }
            None => None,
        };
        shared.max(self.local_record(account)).is_some_and(|at| issued_at <= at)
    }

    /// Logs when checks start and stop falling back to the in-process records (once, not on every call), and
    /// exports it as the gauge `ec_revocation_check_local_fallback`.
    fn note_redis(&self, failure: Option<String>) {
        match failure {
            None if self.degraded.swap(false, Ordering::Relaxed) => {
                metrics::gauge!("ec_revocation_check_local_fallback").set(0.0);
                tracing::info!("Redis answers again; token revocations are shared again");
            }
            Some(error) if !self.degraded.swap(true, Ordering::Relaxed) => {
                metrics::gauge!("ec_revocation_check_local_fallback").set(1.0);
                tracing::warn!(%error, "Redis failed; revocations recorded by other processes are unseen until it answers");
            }
            _ => {}
        }
    }

    /// Whether the last check could not reach Redis.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    fn local_record(&self, account: Uuid) -> Option<u64> {
        self.local.lock().unwrap_or_else(|p| p.into_inner()).get(&account).map(|(at, _)| *at)
    }
}

#[cfg(test)]
mod tests {
    use redis::aio::ConnectionManagerConfig;

    use super::*;
    use crate::{cache, config::RedisArgs, testing::PrivateRedis};

    const KEEP: Duration = Duration::from_secs(60);

    async fn shared(prefix: &str) -> Revocations {
        let url = crate::testing::redis_url();
        let redis = cache::connect(&RedisArgs { url: Some(url), ..Default::default() }).await.unwrap();
        Revocations::new(redis, prefix)
    }

    #[tokio::test]
    async fn tokens_issued_up_to_the_revocation_are_refused_and_later_ones_pass() {
        let prefix = format!("ec:test:{}:", Uuid::now_v7());
        let writer = shared(&prefix).await;
        let reader = shared(&prefix).await; // another replica: it sees the record through Redis only
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let before = now();
        assert!(!reader.is_revoked(alice, before - 10).await, "nothing revoked yet");

        writer.revoke(alice, KEEP).await.unwrap();
        let at = now();
        assert!(reader.is_revoked(alice, before - 10).await);
        assert!(reader.is_revoked(alice, before).await, "issued in the same second as the revocation");
        assert!(!reader.is_revoked(alice, at + 1).await, "issued after it");
        assert!(!reader.is_revoked(bob, before - 10).await, "another account");
    }

    #[tokio::test]
    async fn a_record_that_never_reached_redis_still_holds_in_its_process() {
        let prefix = format!("ec:test:{}:", Uuid::now_v7());
        let revocations = shared(&prefix).await;
        let alice = Uuid::now_v7();
        revocations.revoke(alice, KEEP).await.unwrap();
        let (redis, key) = revocations.redis.clone().map(|(r, p)| (r, format!("{p}{alice}"))).unwrap();
        let () = redis::cmd("DEL").arg(key).query_async(&mut redis.clone()).await.unwrap(); // as if SET had failed
        assert!(revocations.is_revoked(alice, now() - 1).await);
    }

    #[tokio::test]
    async fn a_record_is_never_lowered() {
        let prefix = format!("ec:test:{}:", Uuid::now_v7());
        let revocations = shared(&prefix).await;
        let alice = Uuid::now_v7();
        let (redis, key) = revocations.redis.clone().map(|(r, p)| (r, format!("{p}{alice}"))).unwrap();
        let later = now() + 100;
        let () = redis::cmd("SET").arg(&key).arg(later).query_async(&mut redis.clone()).await.unwrap();
        revocations.revoke(alice, KEEP).await.unwrap();
        let stored: u64 = redis::cmd("GET").arg(&key).query_async(&mut redis.clone()).await.unwrap();
        assert_eq!(stored, later);
    }

    #[tokio::test]
    async fn without_redis_clones_share_the_records_in_process() {
        let revocations = Revocations::new(None, "ec:");
        let other = revocations.clone();
        let alice = Uuid::now_v7();
        revocations.revoke(alice, KEEP).await.unwrap();
        assert!(other.is_revoked(alice, now() - 1).await);
        assert!(!other.is_revoked(alice, now() + 1).await);
        assert!(!Revocations::new(None, "ec:").is_revoked(alice, 0).await, "not shared");
    }

    #[tokio::test]
    async fn records_are_kept_as_long_as_asked() {
        let prefix = format!("ec:test:{}:", Uuid::now_v7());
        let revocations = shared(&prefix).await;
        let alice = Uuid::now_v7();
        revocations.revoke(alice, KEEP).await.unwrap();
        let (redis, key) = revocations.redis.clone().map(|(r, p)| (r, format!("{p}{alice}"))).unwrap();
        let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut redis.clone()).await.unwrap();
        let asked = (KEEP + LEEWAY_MARGIN).as_secs() as i64;
        assert!((asked - 5..=asked).contains(&ttl), "{ttl}");
    }

    #[tokio::test]
    async fn a_hung_or_dead_redis_leaves_the_records_this_process_wrote() {
        let mut server = PrivateRedis::start();
        // No response timeout of its own: the check's budget is what must keep it from hanging.
        let connect =
            || server.connect(ConnectionManagerConfig::new().set_response_timeout(None).set_number_of_retries(0));
        let (here, elsewhere) =
            (Revocations::new(Some(connect().await), ""), Revocations::new(Some(connect().await), ""));
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        here.revoke(alice, KEEP).await.unwrap();
        elsewhere.revoke(bob, KEEP).await.unwrap();
        let issued = now() - 1;
        assert!(here.is_revoked(bob, issued).await, "shared while Redis answers");

        server.pause();
        let hung = tokio::time::timeout(Duration::from_secs(10), async {
            (here.is_revoked(alice, issued).await, here.is_revoked(bob, issued).await)
        });
        assert_eq!(hung.await, Ok((true, false)), "its own record still holds; the other is not known here");
        assert!(here.degraded());
        server.resume();
        assert!(here.is_revoked(bob, issued).await, "shared again");
        assert!(!here.degraded());

        server.stop();
        assert!(here.is_revoked(alice, issued).await);
        assert!(!here.is_revoked(bob, issued).await);
    }
}
