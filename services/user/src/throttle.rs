//! Brute-force protection for every check of a password (the sign-in page and `ChangePassword`), after
//! OWASP's device-cookie scheme: it slows guessing down without letting anyone lock an owner out.
//!
//! Attempts are counted on keys, and each key earns a delay ([`Backoff`]): a few failures are free, then each
//! counted attempt makes the next one wait, twice as long each time up to a cap. An attempt made before its
//! wait is over is refused without being counted, so hammering does not lengthen the wait, and no key is ever
//! held for longer than the cap.
//!
//! Which keys an attempt counts on depends on who makes it ([`Client`]):
//! - a **known device**, a browser holding a device cookie from an earlier sign-in to this account
//!   ([`crate::login::device`]): on that device only. Guessing from anywhere else never slows the owner down
//!   on their own browser. A device with too many failures ([`ThrottleLimits::distrust_device_after`]) is no
//!   longer trusted and counts as an unknown client.
//! - an **unknown client**: on (account, client address), where a guesser meets delays after a few failures
//!   without touching anyone else; on the account across all unknown clients, with a larger allowance, which
//!   slows a guesser spread over many addresses (and only them and the owner's new browsers); and on the
//!   address across accounts, which slows credential stuffing. IPv6 addresses count by their /64.
//! - the **API** (`ChangePassword`, whose caller holds an access token): on the account's API key and on the
//!   account, so switching between the API and the sign-in page buys nothing.
//!
//! A success clears the count of its device, (account, client) or API key and gives its attempt back to the
//! shared counts. Counts are forgotten `forget_after` after their last attempt.
//!
//! Attempts on an account are counted *before* the password is checked, on all its keys in one atomic step, so
//! a burst of parallel guesses at an account cannot all slip past the check while none has been counted. The
//! address's count across accounts is the exception ([`Counted::OnFailure`]): it counts failures only, once
//! they are known ([`Throttle::failed`]). Counted before the check, the sign-ins in flight from one address
//! (an office, a campus, a load test) made one another wait although none had failed; a credential-stuffing
//! burst is still held by the count once its first failures land, and by the bound on password hashes.
//!
//! With Redis the counts are shared by every replica: one Lua script checks the waits and, when none is
//! pending, counts on every key and sets the next waits, by Redis's clock. Without Redis, or while Redis is
//! failing or slow, they are kept in process ([`ec_platform::shared`]: logged once per outage, and a gauge).
//! Emails are stored only as SHA-256 digests.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use ec_platform::shared::{Redis, Shared};

/// How one kind of key slows down: `free` attempts without a wait, then a wait after each counted attempt,
/// starting at `first_delay` and doubling up to `max_delay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub free: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Backoff {
    /// The wait after the `n`th counted attempt.
    pub fn delay(&self, n: u32) -> Duration {
        if n < self.free {
            return Duration::ZERO;
        }
        let doublings = (n - self.free).min(31);
        self.first_delay.saturating_mul(1 << doublings).min(self.max_delay)
    }
}

/// The throttle's settings.
#[derive(Clone, Debug)]
pub struct ThrottleLimits {
    /// One unknown client at one account, a known device, and the API of one account.
    pub per_client: Backoff,
    /// Every unknown client of one account together.
    pub per_account: Backoff,
    /// One client address across all accounts.
    pub per_address: Backoff,
    /// Failures after which a device cookie no longer makes its browser a known device.
    pub distrust_device_after: u32,
    /// How long a count is kept after its last attempt.
    pub forget_after: Duration,
}

/// Who is attempting a password.
#[derive(Clone, Copy, Debug)]
pub enum Client<'a> {
    /// A browser with a device cookie for the account (its device id), which [`Throttle::trusts_device`].
    Device(&'a str),
    /// A client known only by its address.
    Address(IpAddr),
    /// A caller of the API holding the account's access token.
    Api,
}

/// When an attempt counts on a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Counted {
    /// When it begins, before the password is checked; a success gives it back.
    Before,
    /// When the password turned out wrong.
    OnFailure,
}

/// Whether an attempt may go ahead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Not yet: the earliest next attempt is `retry_after` from now.
    Wait {
        retry_after: Duration,
    },
}

/// Whole seconds to wait, rounded up (for `Retry-After`).
pub fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The throttle.
#[derive(Debug)]
pub struct Throttle {
    limits: ThrottleLimits,
    shared: Shared,
    count: redis::Script,
    settle: redis::Script,
    local: Mutex<HashMap<String, Count>>,
}

/// A key's count in process.
#[derive(Debug)]
struct Count {
    attempts: u32,
    ready_at: Instant,
    forget_at: Instant,
}

/// KEYS: the keys, those counted on first; ARGV: forget-after in ms, how many of the keys to count on, 1 to
/// check every key's wait first (an attempt) or 0 to count regardless (a failure), then for each counted key
/// its free attempts, first and longest delay in ms. Returns 0 when counted, or the milliseconds to wait.
const COUNT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] == '1' then
  local wait = 0
  for i = 1, #KEYS do
    local ready = tonumber(redis.call('HGET', KEYS[i], 'ready')) or 0
    if ready - now > wait then wait = ready - now end
  end
  if wait > 0 then return wait end
end
for i = 1, tonumber(ARGV[2]) do
  local n = redis.call('HINCRBY', KEYS[i], 'n', 1)
  local free, first, max = tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2]), tonumber(ARGV[3 * i + 3])
  local delay = 0
  if n >= free then delay = math.min(first * 2 ^ math.min(n - free, 31), max) end
  redis.call('HSET', KEYS[i], 'ready', string.format('%d', now + delay))
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return 0
";

/// After a success. KEYS: the key to clear, then keys to give one attempt back to.
const SETTLE: &str = r"
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('HINCRBY', KEYS[i], 'n', -1) <= 0 then redis.call('DEL', KEYS[i]) end
end
return 0
";

impl Throttle {
    /// A throttle sharing its counts through `redis` (keys `{prefix}login-attempts:…`) when it is connected,
    /// in process otherwise.
    pub fn new(limits: ThrottleLimits, redis: &Redis) -> Self {
        Self::for_feature(limits, redis, "login-attempts")
    }

    /// A throttle with counts of its own, kept under `feature` in Redis: requests for password-reset links are
    /// counted apart from sign-ins, so one does not slow the other.
    pub fn for_feature(limits: ThrottleLimits, redis: &Redis, feature: &'static str) -> Self {
        Self {
            limits,
            shared: redis.feature(feature),
            count: redis::Script::new(COUNT),
            settle: redis::Script::new(SETTLE),
            local: Mutex::new(HashMap::new()),
        }
    }

    /// The keys an attempt at `email` by `client` counts on, each with its backoff and when it counts, those
    /// counted before the check first; the first is the one a success clears.
    fn keys(&self, email: &str, client: Client<'_>) -> Vec<(String, Backoff, Counted)> {
        use Counted::{Before, OnFailure};
        let account = sha256_hex(email);
        let limits = &self.limits;
        match client {
            Client::Device(id) => vec![(device_key(id), limits.per_client, Before)],
            Client::Address(ip) => {
                let address = ec_platform::net::client_key(ip);
                vec![
                    (format!("client:{account}:{address}"), limits.per_client, Before),
                    (format!("account:{account}"), limits.per_account, Before),
                    (format!("address:{address}"), limits.per_address, OnFailure),
                ]
            }
            Client::Api => vec![
                (format!("api:{account}"), limits.per_client, Before),
                (format!("account:{account}"), limits.per_account, Before),
            ],
        }
    }

    /// Whether a browser with device id `id` is still a known device (it has not failed too often).
    pub async fn trusts_device(&self, id: &str) -> bool {
        let key = device_key(id);
        let shared_key = self.shared.key(&key);
        let shared = self
            .shared
            .run(|mut redis| async move {
                redis::cmd("HGET").arg(shared_key).arg("n").query_async::<Option<u32>>(&mut redis).await
            })
            .await;
        let failures = match shared {
            Some(failures) => failures.unwrap_or(0),
            None => self.locked_local().get(&key).map_or(0, |count| count.attempts),
        };
        failures < self.limits.distrust_device_after
    }

    /// Counts an attempt at `email`'s password by `client`, or says how long it must wait.
    pub async fn begin(&self, email: &str, client: Client<'_>) -> Verdict {
        let keys = self.keys(email, client);
        let (before, on_failure): (Vec<_>, Vec<_>) = keys.iter().partition(|(.., when)| *when == Counted::Before);
        let shared = self.count_shared(&before, &on_failure, true).await;
        match shared {
            Some(0) => Verdict::Allowed,
            Some(wait) => Verdict::Wait { retry_after: Duration::from_millis(wait) },
            None => self.begin_local(&keys),
        }
    }

    /// After a check by `client` found the password wrong: counts the failure on the keys that count failures
    /// only (the address's), whatever waits are pending.
    pub async fn failed(&self, email: &str, client: Client<'_>) {
        let keys = self.keys(email, client);
        let on_failure: Vec<_> = keys.iter().filter(|(.., when)| *when == Counted::OnFailure).collect();
        if on_failure.is_empty() {
            return;
        }
        if self.count_shared(&on_failure, &[], false).await.is_none() {
            let now = Instant::now();
            let mut local = self.locked_local();
            for (key, backoff, _) in on_failure {
                self.count_local(&mut local, key, *backoff, now);
            }
        }
    }

    /// Runs [`COUNT`] in Redis: counts on `counted`, after checking the waits of those and of `checked` when
    /// `check`; `None` when Redis did not answer.
    async fn count_shared(
        &self,
        counted: &[&(String, Backoff, Counted)],
        checked: &[&(String, Backoff, Counted)],
        check: bool,
    ) -> Option<u64> {
        let mut invocation = self.count.prepare_invoke();
        invocation.arg(millis(self.limits.forget_after)).arg(counted.len()).arg(u8::from(check));
        for (key, backoff, _) in counted {
            invocation.key(self.shared.key(key));
            invocation.arg(backoff.free).arg(millis(backoff.first_delay)).arg(millis(backoff.max_delay));
        }
        for (key, ..) in checked {
            invocation.key(self.shared.key(key));
        }
        self.shared.run(|mut redis| async move { invocation.invoke_async::<u64>(&mut redis).await }).await
    }

    /// After a successful check by `client`: clears its own count and gives its attempt back to the others
    /// counted before the check.
    pub async fn succeeded(&self, email: &str, client: Client<'_>) {
        let keys: Vec<_> = self.keys(email, client).into_iter().filter(|(.., when)| *when == Counted::Before).collect();
        let mut invocation = self.settle.prepare_invoke();
        for (key, ..) in &keys {
            invocation.key(self.shared.key(key));
        }
        self.shared.run(|mut redis| async move { invocation.invoke_async::<()>(&mut redis).await }).await;
        let mut local = self.locked_local();
        for (i, (key, ..)) in keys.iter().enumerate() {
            if i == 0 {
                local.remove(key);
            } else if let Some(count) = local.get_mut(key) {
                count.attempts = count.attempts.saturating_sub(1);
            }
        }
    }

    fn begin_local(&self, keys: &[(String, Backoff, Counted)]) -> Verdict {
        let now = Instant::now();
        let mut local = self.locked_local();
        local.retain(|_, count| count.forget_at > now);
        let ready_at = keys.iter().filter_map(|(key, ..)| local.get(key)).map(|count| count.ready_at).max();
        if let Some(ready_at) = ready_at.filter(|ready_at| *ready_at > now) {
            return Verdict::Wait { retry_after: ready_at - now };
        }
        for (key, backoff, _) in keys.iter().filter(|(.., when)| *when == Counted::Before) {
            self.count_local(&mut local, key, *backoff, now);
        }
        Verdict::Allowed
    }

    fn count_local(&self, local: &mut HashMap<String, Count>, key: &str, backoff: Backoff, now: Instant) {
        let count = local.entry(key.to_owned()).or_insert(Count { attempts: 0, ready_at: now, forget_at: now });
        count.attempts += 1;
        count.ready_at = now + backoff.delay(count.attempts);
        count.forget_at = now + self.limits.forget_after;
    }

    fn locked_local(&self) -> std::sync::MutexGuard<'_, HashMap<String, Count>> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn device_key(id: &str) -> String {
    format!("device:{id}")
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().try_into().unwrap_or(u64::MAX)
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

    const STEP: Duration = Duration::from_millis(300);

    fn backoff(free: u32) -> Backoff {
        Backoff { free, first_delay: STEP, max_delay: STEP * 2 }
    }

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            per_client: backoff(3),
            per_account: backoff(8),
            per_address: backoff(12),
            distrust_device_after: 5,
            forget_after: Duration::from_secs(60),
        }
    }

    const ADA: &str = "ada@example.com";
    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const ELSEWHERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 7));

    fn address(n: u8) -> Client<'static> {
        Client::Address(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, n)))
    }

    /// The shared Redis, under a prefix of this test's own.
    async fn redis() -> Redis {
        let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7().simple());
        let args = ec_platform::config::RedisArgs { url: Some(ec_testing::redis_url()), key_prefix: prefix };
        ec_platform::shared::connect(&args)
            .await
            .expect("Redis must be running for these tests (see README: make test starts it)")
    }

    fn waits(verdict: Verdict) -> Duration {
        match verdict {
            Verdict::Wait { retry_after } => retry_after,
            Verdict::Allowed => panic!("expected a wait"),
        }
    }

    #[test]
    fn delays_start_after_the_free_attempts_and_double_up_to_the_cap() {
        let backoff = Backoff { free: 3, first_delay: Duration::from_secs(1), max_delay: Duration::from_secs(60) };
        let delays: Vec<u64> = (1..=11).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(60), "no overflow");
        assert_eq!(whole_seconds(Duration::from_millis(1001)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(3)), 3);
    }

    /// One client's failures: free, then waits that grow to the cap; an early attempt is refused and not
    /// counted; other clients of the account go on; a success clears the client's count.
    async fn a_guesser_waits_longer_and_longer_and_others_go_on(throttle: &Throttle) {
        let guesser = Client::Address(ELSEWHERE);
        for _ in 0..3 {
            assert_eq!(throttle.begin(ADA, guesser).await, Verdict::Allowed);
        }
        let first = waits(throttle.begin(ADA, guesser).await);
        assert!(first > STEP / 2 && first <= STEP, "{first:?}");
        assert_eq!(throttle.begin(ADA, Client::Address(HOME)).await, Verdict::Allowed, "the owner elsewhere");
        assert_eq!(throttle.begin("bob@example.com", guesser).await, Verdict::Allowed, "another account");

        tokio::time::sleep(first).await;
        assert_eq!(throttle.begin(ADA, guesser).await, Verdict::Allowed, "after the wait");
        let second = waits(throttle.begin(ADA, guesser).await);
        assert!(second > STEP && second <= STEP * 2, "doubled: {second:?}");
        tokio::time::sleep(second).await;
        assert_eq!(throttle.begin(ADA, guesser).await, Verdict::Allowed);
        let capped = waits(throttle.begin(ADA, guesser).await);
        assert!(capped <= STEP * 2, "capped: {capped:?}");

        tokio::time::sleep(capped).await;
        assert_eq!(throttle.begin(ADA, guesser).await, Verdict::Allowed);
        throttle.succeeded(ADA, guesser).await;
        assert_eq!(throttle.begin(ADA, guesser).await, Verdict::Allowed, "a success clears the client's count");
    }

    #[tokio::test]
    async fn in_process_a_guesser_waits_longer_and_longer_and_others_go_on() {
        a_guesser_waits_longer_and_longer_and_others_go_on(&Throttle::new(limits(), &Redis::local(""))).await;
    }

    #[tokio::test]
    async fn in_redis_a_guesser_waits_longer_and_longer_and_others_go_on() {
        a_guesser_waits_longer_and_longer_and_others_go_on(&Throttle::new(limits(), &redis().await)).await;
    }

    /// Many addresses guessing at one account slow every unknown client of it down, but not a known device;
    /// a device that fails too often is no longer trusted.
    async fn a_spread_attack_slows_unknown_clients_but_not_the_owners_device(throttle: &Throttle) {
        for n in 0..8 {
            assert_eq!(throttle.begin(ADA, address(n)).await, Verdict::Allowed, "guesser {n}");
        }
        waits(throttle.begin(ADA, address(100)).await);
        waits(throttle.begin(ADA, Client::Api).await);
        assert!(throttle.trusts_device("owners-laptop").await);
        assert_eq!(throttle.begin(ADA, Client::Device("owners-laptop")).await, Verdict::Allowed);
        throttle.succeeded(ADA, Client::Device("owners-laptop")).await;

        // A stolen or shared device cookie is a client of its own, with the same waits, and is trusted for a
        // few failures only.
        let device = Client::Device("stolen");
        for attempt in 0..5 {
            if let Verdict::Wait { retry_after } = throttle.begin(ADA, device).await {
                tokio::time::sleep(retry_after).await;
                assert_eq!(throttle.begin(ADA, device).await, Verdict::Allowed, "attempt {attempt}");
            }
        }
        assert!(!throttle.trusts_device("stolen").await);
        assert!(throttle.trusts_device("owners-laptop").await);
    }

    #[tokio::test]
    async fn in_process_a_spread_attack_slows_unknown_clients_but_not_the_owners_device() {
        a_spread_attack_slows_unknown_clients_but_not_the_owners_device(&Throttle::new(limits(), &Redis::local("")))
            .await;
    }

    #[tokio::test]
    async fn in_redis_a_spread_attack_slows_unknown_clients_but_not_the_owners_device() {
        a_spread_attack_slows_unknown_clients_but_not_the_owners_device(&Throttle::new(limits(), &redis().await)).await;
    }

    #[tokio::test]
    async fn one_address_guessing_across_accounts_is_slowed_and_successes_give_attempts_back() {
        let throttle = Throttle::new(limits(), &redis().await);
        let stuffer = Client::Address(ELSEWHERE);
        // Successes (a busy office behind one address) give their attempts back.
        for n in 0..20 {
            assert_eq!(throttle.begin(&format!("user{n}@example.com"), stuffer).await, Verdict::Allowed);
            throttle.succeeded(&format!("user{n}@example.com"), stuffer).await;
        }
        for n in 0..12 {
            let victim = format!("victim{n}@example.com");
            assert_eq!(throttle.begin(&victim, stuffer).await, Verdict::Allowed);
            throttle.failed(&victim, stuffer).await;
        }
        waits(throttle.begin("victim12@example.com", stuffer).await);
        assert_eq!(throttle.begin("victim12@example.com", Client::Address(HOME)).await, Verdict::Allowed);
    }

    /// Sign-ins in flight from one address (an office, a load test) that all turn out right make none of them
    /// wait, however many there are: the address counts failures, not attempts.
    async fn concurrent_correct_sign_ins_from_one_address_never_wait(throttle: &Throttle) {
        let office = Client::Address(ELSEWHERE);
        let emails: Vec<String> = (0..40).map(|n| format!("colleague{n}@example.com")).collect();
        let verdicts = futures::future::join_all(emails.iter().map(|email| throttle.begin(email, office))).await;
        assert!(verdicts.iter().all(|v| *v == Verdict::Allowed), "{verdicts:?}");
        for email in &emails {
            throttle.succeeded(email, office).await;
        }
        // Failures still count, across accounts: past the address's twelve free ones, it waits.
        for n in 0..12 {
            let victim = format!("victim{n}@example.com");
            assert_eq!(throttle.begin(&victim, office).await, Verdict::Allowed);
            throttle.failed(&victim, office).await;
        }
        waits(throttle.begin("victim12@example.com", office).await);
    }

    #[tokio::test]
    async fn in_process_concurrent_correct_sign_ins_from_one_address_never_wait() {
        concurrent_correct_sign_ins_from_one_address_never_wait(&Throttle::new(limits(), &Redis::local(""))).await;
    }

    #[tokio::test]
    async fn in_redis_concurrent_correct_sign_ins_from_one_address_never_wait() {
        concurrent_correct_sign_ins_from_one_address_never_wait(&Throttle::new(limits(), &redis().await)).await;
    }

    #[tokio::test]
    async fn replicas_share_the_counts_and_a_parallel_burst_is_counted_before_any_check() {
        let redis = redis().await;
        let (a, b) = (Throttle::new(limits(), &redis), Throttle::new(limits(), &redis));
        let guesser = Client::Address(ELSEWHERE);
        let attempts = (0..10).map(|i| if i % 2 == 0 { &a } else { &b }.begin(ADA, guesser));
        let verdicts = futures::future::join_all(attempts).await;
        assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Allowed).count(), 3, "{verdicts:?}");
    }

    #[tokio::test]
    async fn emails_are_not_stored_in_clear() {
        let redis = redis().await;
        let throttle = Throttle::new(limits(), &redis);
        throttle.begin("secret.person@example.com", Client::Address(HOME)).await;
        throttle.failed("secret.person@example.com", Client::Address(HOME)).await;
        let client = redis::Client::open(ec_testing::redis_url()).unwrap();
        let mut connection = redis::aio::ConnectionManager::new(client).await.unwrap();
        let prefix = redis.feature("login-attempts").key("");
        let keys: Vec<String> =
            redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(&mut connection).await.unwrap();
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert!(keys.iter().all(|k| !k.contains("secret")), "{keys:?}");
    }

    #[tokio::test]
    async fn a_redis_outage_keeps_counting_in_process_without_waiting_on_redis() {
        let mut server = ec_testing::PrivateRedis::start();
        let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(None).set_number_of_retries(0);
        let throttle = Throttle::new(limits(), &Redis::new(Some(server.connect(config).await), ""));
        let guesser = Client::Address(ELSEWHERE);
        assert_eq!(throttle.begin(ADA, guesser).await, Verdict::Allowed, "counted in Redis");

        server.pause(); // hung: only the time budget keeps sign-ins from waiting on it
        let started = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.begin(ADA, guesser).await, Verdict::Allowed, "counted in process");
        }
        waits(throttle.begin(ADA, guesser).await);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        server.stop();
        waits(throttle.begin(ADA, guesser).await);
    }
}
