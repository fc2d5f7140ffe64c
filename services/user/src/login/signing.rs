//! The login pages' HMAC keys: one per purpose (form tokens, device cookies), derived from the platform's
//! internal secret ([`IdentityVerifier::derive_key`]), which every replica shares, so what one replica signs
//! another accepts.

use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ec_platform::identity::IdentityVerifier;

/// A server key that signs lists of strings.
#[derive(Clone)]
pub struct Key(hmac::Key);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("signing::Key(<secret>)")
    }
}

impl Key {
    /// A key of these bytes.
    pub fn new(bytes: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, bytes))
    }

    /// A random key, for a process with no shared secret: what it signs is then accepted by this process only.
    pub fn random() -> Self {
        Self::new(&random_bytes::<32>())
    }

    /// The key for `purpose` derived from the internal secret, or a random one (with a warning) without it.
    pub fn derive(identity: &IdentityVerifier, purpose: &[u8]) -> Self {
        match identity.derive_key(purpose) {
            Some(derived) => Self::new(&derived),
            None => {
                let purpose = String::from_utf8_lossy(purpose);
                tracing::warn!(%purpose, "no INTERNAL_AUTH_TOKEN: signed with a key of this process only");
                Self::random()
            }
        }
    }

    /// The HMAC of `parts`, base64url.
    pub fn sign(&self, parts: &[&str]) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.0, &message(parts)))
    }

    /// Whether `tag` (base64url) is this key's HMAC of `parts`; aws-lc compares in constant time.
    pub fn verifies(&self, parts: &[&str], tag: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(tag) else { return false };
        hmac::verify(&self.0, &message(parts), &tag).is_ok()
    }
}

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}

/// What is signed: every part length-prefixed, so no list can be shifted into another with the same bytes.
fn message(parts: &[&str]) -> Vec<u8> {
    let mut message = Vec::with_capacity(parts.iter().map(|p| 8 + p.len()).sum());
    for part in parts {
        message.extend_from_slice(&(part.len() as u64).to_be_bytes());
        message.extend_from_slice(part.as_bytes());
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_verifies_for_its_parts_and_key_only() {
        let key = Key::random();
        let tag = key.sign(&["nonce", "challenge"]);
        assert!(key.verifies(&["nonce", "challenge"], &tag));
        assert!(!key.verifies(&["noncec", "hallenge"], &tag), "parts cannot be shifted");
        assert!(!key.verifies(&["nonce", "challenge"], "not base64!"));
        assert!(!Key::random().verifies(&["nonce", "challenge"], &tag));
        let shared = b"derived from the internal secret every replica shares";
        assert!(Key::new(shared).verifies(&["a"], &Key::new(shared).sign(&["a"])));
    }
}
