//! Argon2id password hashing with the OWASP parameters (19 MiB, 2 passes, 1 lane).
//!
//! Hashing deliberately costs tens of milliseconds of CPU, so it runs on the blocking thread pool and never
//! stalls the async workers that serve other requests.

use std::sync::{
    LazyLock,
    atomic::{AtomicU64, Ordering},
};

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use crate::{domain::Password, error::Error};

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("the OWASP Argon2id parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a fresh random salt into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`).
pub async fn hash(password: Password) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        argon2()
            .hash_password(password.expose().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| Error::Hashing(e.to_string()))?
}

/// Checks `password` against a stored PHC string. A malformed stored hash counts as a mismatch.
///
/// With no stored hash (an unknown or deleted account) it checks against a hash of a random password instead
/// and answers `false`: the caller spends the same time either way, so response times do not reveal which
/// accounts exist.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || {
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
    .map_err(|e| Error::Hashing(e.to_string()))
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
