//! The token signing key: RSA 2048, RS256, published in the JWKS under a `kid` that is its RFC 7638
//! thumbprint (so the same key always has the same id, and a new key a new one).

use std::path::Path;

use aws_lc_rs::{
    digest,
    encoding::AsDer,
    rsa::KeySize,
    signature::{KeyPair, RsaKeyPair},
};
use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// Why a key could not be made or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the signing key file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the signing key file {0} does not hold a PEM RSA private key (PKCS#8 \"PRIVATE KEY\" or PKCS#1 \"RSA PRIVATE KEY\") of 2048 bits or more"
    )]
    Invalid(String),
    #[error("the operating system could not generate a key")]
    Generate,
}

/// A private signing key and its public JWK.
pub struct SigningKey {
    encoding: EncodingKey,
    kid: String,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key, for a server whose tokens need not outlive it.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let pkcs8 = pair.as_der().map_err(|_| KeyError::Generate)?;
        let pem = pem_encode("PRIVATE KEY", pkcs8.as_ref());
        Self::from_parts(&pair, pem.as_bytes()).ok_or(KeyError::Generate)
    }

    /// Loads a PEM RSA private key, so tokens stay valid across restarts.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| KeyError::Read { path: shown.clone(), source })?;
        let der = pem_decode(&pem).ok_or_else(|| KeyError::Invalid(shown.clone()))?;
        let pair = RsaKeyPair::from_pkcs8(&der)
            .or_else(|_| RsaKeyPair::from_der(&der))
            .map_err(|_| KeyError::Invalid(shown.clone()))?;
        Self::from_parts(&pair, &pem).ok_or(KeyError::Invalid(shown))
    }

    fn from_parts(pair: &RsaKeyPair, pem: &[u8]) -> Option<Self> {
        let encoding = EncodingKey::from_rsa_pem(pem).ok()?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // RFC 7638: the SHA-256 of the required members, in lexicographic order, without spaces.
        let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()));
        let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
        Some(Self { encoding, kid, jwk })
    }

    /// The key id carried in every token header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// Signs `claims` as a JWT with the given `typ` header (Hydra uses `JWT` for both token kinds).
    pub fn sign(&self, claims: &impl serde::Serialize) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("RS256 signing with a valid key succeeds")
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> =
        body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
}

fn pem_decode(pem: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(pem).ok()?;
    let body: String = text.lines().map(str::trim).filter(|l| !l.starts_with("-----") && !l.is_empty()).collect();
    STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, jwk::Jwk};

    #[test]
    fn a_token_signed_by_a_generated_key_verifies_against_its_published_jwk() {
        let key = SigningKey::generate().unwrap();
        let token = key.sign(&json!({"sub": "alice", "exp": 4_000_000_000u64}));
        let jwk: Jwk = serde_json::from_value(key.jwk().clone()).unwrap();
        let decoded = jsonwebtoken::decode::<Value>(
            &token,
            &DecodingKey::from_jwk(&jwk).unwrap(),
            &Validation::new(Algorithm::RS256),
        )
        .unwrap();
        assert_eq!(decoded.claims["sub"], "alice");
        assert_eq!(decoded.header.kid.as_deref(), Some(key.kid()));
    }

    #[test]
    fn a_saved_key_loads_with_the_same_id() {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let pem = pem_encode("PRIVATE KEY", pair.as_der().unwrap().as_ref());
        let path = std::env::temp_dir().join(format!("ec-key-{}.pem", uuid::Uuid::now_v7()));
        std::fs::write(&path, &pem).unwrap();
        let first = SigningKey::load(&path).unwrap();
        let second = SigningKey::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(first.kid(), second.kid());
        assert_ne!(first.kid(), SigningKey::generate().unwrap().kid());
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_with_its_name() {
        let path = std::env::temp_dir().join(format!("ec-not-a-key-{}.pem", uuid::Uuid::now_v7()));
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n").unwrap();
        let err = SigningKey::load(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(err.to_string().contains("ec-not-a-key"), "{err}");
    }
}
