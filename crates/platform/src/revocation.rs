//! Signing an account out of the access tokens it already holds.
//!
//! Access tokens are JWTs the BFF checks on its own, so they stay valid until they expire, however the
//! account changes. When an account is deleted, changes its password or loses a role, the user service
//! [records](Revocations::revoke) the moment; from then on the BFF [refuses](Revocations::is_revoked) every
//! token of that account issued (`iat`) at or before it. Token times are whole seconds, so a token issued in
//! the same second as the revocation, even just after it, would be refused too: a change that revokes waits
//! for that second to be over ([`past_this_second`]) before it answers, so a sign-in after it (with a new
//! password, say) gets a token that works.
//!
//! The comparison assumes the issuer's clock (`iat`) and the user service's agree to well within a second,
//! as NTP keeps them.
//!
//! With Redis the records are shared by every replica of every service (`{prefix}revoked:{account}`, the
//! revocation time in Unix seconds, only ever raised) and expire once no token issued before them can still
//! be alive. Every record is also kept in process and consulted on every check, which is all there is without
//! Redis: enough when the whole platform runs in one process (`ec dev`), not across processes. Redis is used
//! through [`crate::shared`]: a check that gets no answer within its budget lets through tokens revoked by
//! other processes (logged once per outage, and the gauge `ec_redis_fallback{feature="revoked"}`): refusing
//! every signed-in call while Redis is down would take the shop down with it.
//!
//! The BFF reads the record in the same Redis round trip as it takes the caller's rate-limit token
//! ([`Revocations::shared_key`], [`Revocations::revoked_locally`]); [`Revocations::is_revoked`] is the check
//! on its own.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use uuid::Uuid;

use crate::shared::{Redis, Shared};

/// The revocation records, shared through Redis when there is one. Clones share the in-process records.
#[derive(Clone, Debug)]
pub struct Revocations {
    shared: Shared,
    /// Account -> revocation time and the time the record may be forgotten (Unix seconds). Written on every
    /// revocation and read on every check, so this process's own revocations hold whatever Redis does.
    local: Arc<Mutex<HashMap<Uuid, (u64, u64)>>>,
}

/// A revocation that holds in this process but could not be shared through Redis: other processes accept the
/// account's tokens until they expire.
#[derive(Debug, thiserror::Error)]
#[error("the revocation could not be written to Redis; other processes do not see it")]
pub struct NotShared;

/// How long writing a record may wait for Redis: longer than a check, since a lost write lets tokens live.
const WRITE_BUDGET: Duration = Duration::from_secs(2);

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

/// Waits until the current second is over (at most a second): a token issued after that has a later `iat` than
/// any revocation recorded before the wait, so it is not refused.
pub async fn past_this_second() {
    let into_second = SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").subsec_nanos();
    tokio::time::sleep(Duration::from_nanos(u64::from(1_000_000_000 - into_second))).await;
}

impl Revocations {
    /// Records shared through `redis` when it is connected, in process in any case.
    pub fn new(redis: &Redis) -> Self {
        Self { shared: redis.feature("revoked"), local: Arc::default() }
    }

    /// Revokes every access token of `account` issued up to now. The record is kept for `keep_for` (at least
    /// the issuer's access-token lifetime) and a margin for the verifiers' clock leeway: after that, no token
    /// it refuses can be alive. It always holds in this process; `Err` says it could not be shared.
    pub async fn revoke(&self, account: Uuid, keep_for: Duration) -> Result<(), NotShared> {
        let at = now();
        let keep_for = (keep_for + LEEWAY_MARGIN).as_secs();
        {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            local.retain(|_, (_, until)| *until >= at);
            let record = local.entry(account).or_insert((at, at + keep_for));
            *record = (record.0.max(at), at + keep_for);
        }
        if !self.shared.is_shared() {
            return Ok(());
        }
        let key = self.shared.key(account);
        let written = self
            .shared
            .clone()
            .with_budget(WRITE_BUDGET)
            .run(|mut redis| async move {
                redis::Script::new(RAISE).key(key).arg(at).arg(keep_for).invoke_async::<()>(&mut redis).await
            })
            .await;
        written.ok_or(NotShared)
    }

    /// Whether a token of `account` issued at `issued_at` (Unix seconds) has been revoked, by the shared
    /// records or by this process's own.
    pub async fn is_revoked(&self, account: Uuid, issued_at: u64) -> bool {
        if self.revoked_locally(account, issued_at) {
            return true;
        }
        let Some(key) = self.shared_key(account) else { return false };
        let shared = self
            .shared
            .run(|mut redis| async move { redis::cmd("GET").arg(key).query_async::<Option<u64>>(&mut redis).await })
            .await
            .flatten();
        shared.is_some_and(|at| issued_at <= at)
    }

    /// Whether this process's own records revoke a token of `account` issued at `issued_at`.
    pub fn revoked_locally(&self, account: Uuid, issued_at: u64) -> bool {
        let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        local.get(&account).is_some_and(|(at, _)| issued_at <= *at)
    }

    /// The Redis key holding `account`'s shared record (the revocation time in Unix seconds), for a caller
    /// that reads it in a script of its own; `None` when records are not shared.
    pub fn shared_key(&self, account: Uuid) -> Option<String> {
        self.shared.is_shared().then(|| self.shared.key(account))
    }

    /// Whether the last check or write could not reach Redis.
    pub fn degraded(&self) -> bool {
        self.shared.degraded()
    }
}

#[cfg(test)]
mod tests {
    use ec_testing::PrivateRedis;
    use redis::aio::{ConnectionManager, ConnectionManagerConfig};

    use super::*;
    use crate::{config::RedisArgs, shared};

    const KEEP: Duration = Duration::from_secs(60);

    async fn shared(prefix: &str) -> Revocations {
        let args = RedisArgs { url: Some(ec_testing::redis_url()), key_prefix: prefix.to_owned() };
        Revocations::new(&shared::connect(&args).await.unwrap())
    }

    fn prefix() -> String {
        format!("ec:test:{}:", Uuid::now_v7())
    }

    /// A connection of the test's own, and the key of `account`'s record.
    async fn raw(revocations: &Revocations, account: Uuid) -> (ConnectionManager, String) {
        let client = redis::Client::open(ec_testing::redis_url()).unwrap();
        (ConnectionManager::new(client).await.unwrap(), revocations.shared_key(account).expect("records are shared"))
    }

    #[tokio::test]
    async fn tokens_issued_up_to_the_revocation_are_refused_and_later_ones_pass() {
        let prefix = prefix();
        let writer = shared(&prefix).await;
        let reader = shared(&prefix).await; // another replica: it sees the record through Redis only
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let before = now();
        assert!(!reader.is_revoked(alice, before - 10).await, "nothing revoked yet");

        writer.revoke(alice, KEEP).await.unwrap();
        let at = now();
        assert!(!reader.revoked_locally(alice, before - 10), "not this process's record");
        assert!(reader.is_revoked(alice, before - 10).await);
        assert!(reader.is_revoked(alice, before).await, "issued in the same second as the revocation");
        assert!(!reader.is_revoked(alice, at + 1).await, "issued after it");
        assert!(!reader.is_revoked(bob, before - 10).await, "another account");
    }

    #[tokio::test]
    async fn a_record_that_never_reached_redis_still_holds_in_its_process() {
        let revocations = shared(&prefix()).await;
        let alice = Uuid::now_v7();
        revocations.revoke(alice, KEEP).await.unwrap();
        let (mut redis, key) = raw(&revocations, alice).await;
        let () = redis::cmd("DEL").arg(key).query_async(&mut redis).await.unwrap(); // as if SET had failed
        assert!(revocations.revoked_locally(alice, now() - 1));
        assert!(revocations.is_revoked(alice, now() - 1).await);
    }

    #[tokio::test]
    async fn a_record_is_never_lowered() {
        let revocations = shared(&prefix()).await;
        let alice = Uuid::now_v7();
        let (mut redis, key) = raw(&revocations, alice).await;
        let later = now() + 100;
        let () = redis::cmd("SET").arg(&key).arg(later).query_async(&mut redis).await.unwrap();
        revocations.revoke(alice, KEEP).await.unwrap();
        let stored: u64 = redis::cmd("GET").arg(&key).query_async(&mut redis).await.unwrap();
        assert_eq!(stored, later);
    }

    #[tokio::test]
    async fn without_redis_clones_share_the_records_in_process() {
        let local = Redis::local("ec:");
        let revocations = Revocations::new(&local);
        let other = revocations.clone();
        let alice = Uuid::now_v7();
        revocations.revoke(alice, KEEP).await.unwrap();
        assert_eq!(revocations.shared_key(alice), None);
        assert!(other.is_revoked(alice, now() - 1).await);
        assert!(!other.is_revoked(alice, now() + 1).await);
        assert!(!Revocations::new(&local).is_revoked(alice, 0).await, "not shared");
    }

    #[tokio::test]
    async fn records_are_kept_as_long_as_asked() {
        let revocations = shared(&prefix()).await;
        let alice = Uuid::now_v7();
        revocations.revoke(alice, KEEP).await.unwrap();
        let (mut redis, key) = raw(&revocations, alice).await;
        let ttl: i64 = redis::cmd("TTL").arg(key).query_async(&mut redis).await.unwrap();
        let asked = (KEEP + LEEWAY_MARGIN).as_secs() as i64;
        assert!((asked - 5..=asked).contains(&ttl), "{ttl}");
    }

    #[tokio::test]
    async fn a_hung_or_dead_redis_leaves_the_records_this_process_wrote() {
        let mut server = PrivateRedis::start();
        // No response timeout of its own: the check's budget is what must keep it from hanging.
        let connect = || async {
            let config = ConnectionManagerConfig::new().set_response_timeout(None).set_number_of_retries(0);
            Redis::new(Some(server.connect(config).await), "")
        };
        let (here, elsewhere) = (Revocations::new(&connect().await), Revocations::new(&connect().await));
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
        assert!(matches!(here.revoke(bob, KEEP).await, Err(NotShared)), "a write that cannot be shared says so");
        assert!(here.is_revoked(bob, now()).await, "and still holds here");
    }
}
