//! Argon2id password hashing with the OWASP parameters (19 MiB, 2 passes, 1 lane).
//!
//! Hashing deliberately costs tens of milliseconds of CPU, so it runs on the blocking thread pool and never
//! stalls the async workers that serve other requests.
//!
//! Each hash also holds 19 MiB while it runs, so a burst of sign-ins could take the process far past its
//! memory limit (30 logins and 30 sign-ups at once took it from 110 MB to 1.3 GB). At most
//! [`HashLimits::concurrent`] hashes run at once in a process; a password check waits at most
//! [`HashLimits::queue`] for its turn and is otherwise refused with [`UserError::Busy`] (`resource_exhausted`,
//! 503 on the login page, with Retry-After). The bound is per process because memory is: every caller in
//! the process (the RPCs, the login pages, `ec dev`'s other services) shares it.

use std::{
    sync::{
        LazyLock, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::sync::Semaphore;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use crate::{
    domain::Password,
    error::{Error, UserError},
};

/// How many hashes may run at once, and how long a check waits for its turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashLimits {
    pub concurrent: usize,
    pub queue: Duration,
}

impl Default for HashLimits {
    /// Four at once (about 80 MiB of hashing memory, inside the 256 MiB the Kubernetes files give the user
    /// service), waiting up to two seconds.
    fn default() -> Self {
        Self { concurrent: 4, queue: Duration::from_secs(2) }
    }
}

struct Gate {
    permits: Semaphore,
    limits: HashLimits,
}

static GATE: OnceLock<Gate> = OnceLock::new();

/// Sets this process's limits, once, before the first hash (the user service's start-up); later calls keep the
/// first limits, since hashes may already hold the gate.
pub fn limit(limits: HashLimits) {
    let _ = GATE.set(Gate { permits: Semaphore::new(limits.concurrent.max(1)), limits });
}

fn gate() -> &'static Gate {
    GATE.get_or_init(|| Gate {
        permits: Semaphore::new(HashLimits::default().concurrent),
        limits: HashLimits::default(),
    })
}

/// Runs `work` on the blocking pool once a hashing permit is free, or refuses with [`UserError::Busy`] when none
/// comes within the queue time.
async fn bounded<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
    let gate = gate();
    let Ok(Ok(permit)) = tokio::time::timeout(gate.limits.queue, gate.permits.acquire()).await else {
        metrics::counter!("ec_password_hashes_refused_total").increment(1);
        return Err(UserError::Busy { retry_after: Duration::from_secs(1) }.into());
    };
    let done = tokio::task::spawn_blocking(work).await.map_err(|e| Error::from(UserError::Hashing(e.to_string())));
    drop(permit);
    done
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("the OWASP Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a fresh random salt into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash(password: Password) -> Result<String, Error> {
    bounded(move || {
        argon2()
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| Error::from(UserError::Hashing(e.to_string())))
    })
    .await?
}

/// Checks `password` against a stored PHC string. A malformed stored hash counts as a mismatch.
///
/// With no stored hash (an unknown or deleted account) it checks against a hash of a random password instead
/// and answers `false`: the caller spends the same time either way, so response times do not reveal which
/// accounts exist.
///
/// A candidate longer than any password can be ([`Password::MAX_CHARS`]) matches nothing and is refused
/// without a hash, whatever the account, so no entry point (the login form, ChangePassword's current
/// password, VerifyPassword) hashes a megabyte for anyone.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, Error> {
    if password.chars().take(Password::MAX_CHARS + 1).count() > Password::MAX_CHARS {
        return Ok(false);
    }
    bounded(move || {
        let known = stored.is_some();
        let Ok(parsed) = PasswordHash::new(stored.as_deref().unwrap_or(&STAND_IN_HASH)) else {
            tracing::error!("a stored password hash is not a valid PHC string");
            return false;
        };
        let matches = argon2().verify_password(password.as_bytes(), &parsed).is_ok();
        CHECKS.fetch_add(1, Ordering::Relaxed);
        matches && known
    })
    .await
}

/// How many Argon2 checks this process has run, so a test can tell that an unknown account cost a real one.
static CHECKS: AtomicU64 = AtomicU64::new(0);

/// A hash, with the real parameters, of a random password nobody knows; made once per process.
static STAND_IN_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("the operating system provides randomness");
    argon2().hash_password(&secret).expect("hashing a fixed-size secret succeeds").to_string()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let stored = hash(Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse".into(), Some(stored.clone())).await.unwrap());
        assert!(!verify("correct horsE".into(), Some(stored)).await.unwrap());
    }

    #[tokio::test]
    async fn the_same_password_hashes_differently_each_time() {
        let a = hash(Password::parse("correct horse").unwrap()).await.unwrap();
        let b = hash(Password::parse("correct horse").unwrap()).await.unwrap();
        assert_ne!(a, b, "each hash has its own salt");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_the_limit_and_a_check_that_waits_too_long_is_refused() {
        // nextest runs each test in a process of its own, so these limits are this test's.
        limit(HashLimits { concurrent: 2, queue: Duration::from_millis(50) });
        let checks: Vec<_> =
            (0..12).map(|_| tokio::spawn(verify("anything".into(), Some(STAND_IN_HASH.clone())))).collect();
        let mut refused = 0;
        for check in checks {
            match check.await.unwrap() {
                Ok(matches) => assert!(!matches),
                Err(Error::Own(UserError::Busy { retry_after })) => {
                    assert_eq!(retry_after, Duration::from_secs(1));
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(refused > 0, "twelve checks at once with two permits and a 50 ms queue: some are refused");
        assert_eq!(gate().permits.available_permits(), 2, "every permit came back");
    }

    #[tokio::test]
    async fn a_candidate_longer_than_any_password_matches_nothing_and_costs_no_hash() {
        let longest = "é".repeat(Password::MAX_CHARS);
        let stored = hash(Password::parse(&longest).unwrap()).await.unwrap();
        assert!(verify(longest.clone(), Some(stored.clone())).await.unwrap(), "the longest password still works");
        let before = CHECKS.load(Ordering::Relaxed);
        let huge = format!("{longest}{}", "x".repeat(1 << 20));
        assert!(!verify(huge, Some(stored)).await.unwrap());
        assert_eq!(CHECKS.load(Ordering::Relaxed), before, "no hash was run");
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_a_mismatch_not_an_error() {
        assert!(!verify("anything".into(), Some("not-a-phc-string".into())).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_account_never_matches_but_still_costs_a_real_check() {
        // nextest runs each test in a process of its own, so no other check runs meanwhile.
        let before = CHECKS.load(Ordering::Relaxed);
        assert!(!verify("anything".into(), None).await.unwrap());
        assert_eq!(CHECKS.load(Ordering::Relaxed) - before, 1, "an Argon2 check ran, as for a known account");
        assert!(STAND_IN_HASH.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "with the real parameters");
    }
}
