//! Signing an account out of the access tokens it already holds.
//!
//! Access tokens are JWTs the BFF checks on its own, so they stay valid until they expire, however the
//! account changes. When an account is deleted, changes its password or loses a role, the user service
//! [records](Revocations::revoke) the moment; from then on the BFF [refuses](Revocations::is_revoked) every
//! token of that account issued (`iat`) at or before it. Token times are whole seconds, so a token issued in
//! the same second as the revocation, even just after it, is refused too: signing in again within that second
//! takes one more try.
//!
//! With Redis the records are shared by every replica of every service (`{prefix}revoked:{account}`, the
//! revocation time in Unix seconds) and expire once no token issued before them can still be alive. Without
//! Redis, or while Redis is failing, they are kept in process: enough when the whole platform runs in one
//! process (`ec dev`), not across processes. A check that gets no answer from Redis within
//! [`CHECK_BUDGET`] consults the in-process records only, so it lets through tokens revoked elsewhere
//! (logged): refusing every signed-in call while Redis is down would take the shop down with it.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use redis::aio::ConnectionManager;
use uuid::Uuid;

/// The revocation records, shared through Redis when there is one. Clones share the in-process records.
#[derive(Clone)]
pub struct Revocations {
    redis: Option<(ConnectionManager, String)>,
    /// Account -> revocation time and the time the record may be forgotten (Unix seconds). Written on every
    /// revocation, read when Redis is absent or failing.
    local: Arc<Mutex<HashMap<Uuid, (u64, u64)>>>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations").field("shared", &self.redis.is_some()).finish()
    }
}

/// How long a check waits for Redis before it consults the in-process records alone.
pub const CHECK_BUDGET: Duration = Duration::from_millis(250);

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

impl Revocations {
    /// Records shared through `redis` (keys under `prefix`) when given, in process otherwise.
    pub fn new(redis: Option<ConnectionManager>, prefix: &str) -> Self {
        Self { redis: redis.map(|r| (r, format!("{prefix}revoked:"))), local: Arc::default() }
    }

    /// Revokes every access token of `account` issued up to now. The record is kept for `keep_for`, which
    /// must be at least the issuer's access-token lifetime: after that, no token it refuses can be alive.
    pub async fn revoke(&self, account: Uuid, keep_for: Duration) -> Result<(), redis::RedisError> {
        let at = now();
        let keep_for = keep_for.as_secs().max(1);
        {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            local.retain(|_, (_, until)| *until >= at);
            local.insert(account, (at, at + keep_for));
        }
        let Some((redis, prefix)) = &self.redis else { return Ok(()) };
        redis::cmd("SET")
            .arg(format!("{prefix}{account}"))
            .arg(at)
            .arg("EX")
            .arg(keep_for)
            .query_async(&mut redis.clone())
            .await
    }

    /// Whether a token of `account` issued at `issued_at` (Unix seconds) has been revoked.
    pub async fn is_revoked(&self, account: Uuid, issued_at: u64) -> bool {
        let revoked_at = match &self.redis {
            Some((redis, prefix)) => {
                let mut redis = redis.clone();
                let mut command = redis::cmd("GET");
                command.arg(format!("{prefix}{account}"));
                let query = command.query_async(&mut redis);
                match tokio::time::timeout(CHECK_BUDGET, query).await {
                    Ok(Ok(at)) => at,
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "Redis failed; checking token revocations in process only");
                        self.local_record(account)
                    }
                    Err(_) => {
                        tracing::warn!("Redis is slow; checking token revocations in process only");
                        self.local_record(account)
                    }
                }
            }
            None => self.local_record(account),
        };
        revoked_at.is_some_and(|at| issued_at <= at)
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
        let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
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
        assert!((55..=60).contains(&ttl), "{ttl}");
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
        server.resume();

        server.stop();
        assert!(here.is_revoked(alice, issued).await);
        assert!(!here.is_revoked(bob, issued).await);
    }
}
