//! Minting tokens the way Hydra's JWT strategy does.
//!
//! Access token: [`AccessTokenClaims`] (the platform's one type for them, [`ec_platform::claims`]): `iss`,
//! `sub`, `aud` (the granted audience, an array), `exp`, `iat`, `nbf`, `jti`, `client_id`, `scp` (the granted
//! scopes, an array) and `ext` (the consent's `session.access_token`, passed through as it came, as Hydra
//! does); keys of `ext` named in the top-level claims setting are also copied to the top level, except the
//! reserved ones.
//! ID token (only when `openid` was granted): `iss`, `sub`, `aud` = [client_id], `exp`, `iat`, `jti`, `rat`,
//! `auth_time`, `sid`, `at_hash`, `nonce`, plus the consent's `session.id_token` at the top level (standard
//! claims win). Header: `alg` RS256, `typ` JWT, `kid` the signing key's id.

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ec_platform::claims::{AccessTokenClaims, Audience};
use serde_json::{Map, Value, json};

use crate::{
    keys::SigningKey,
    store::{Grant, now},
};

/// Claim names a consent session can never set at the top level.
const RESERVED: &[&str] = &["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scp", "scope", "ext"];

/// Signs tokens for one issuer.
#[derive(Debug)]
pub struct Minter {
    pub key: SigningKey,
    pub issuer: String,
    pub access_token_ttl: i64,
    pub top_level_claims: Vec<String>,
}

impl Minter {
    /// An access token for `grant`, and its lifetime in seconds.
    pub fn access_token(&self, grant: &Grant) -> String {
        let issued = now().max(0) as u64;
        let top_level: Map<String, Value> = grant
            .access_token_claims
            .iter()
            .filter(|(name, _)| self.top_level_claims.contains(name) && !RESERVED.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let claims = AccessTokenClaims {
            iss: self.issuer.clone(),
            sub: grant.subject.clone(),
            aud: Audience::Many(grant.audience.clone()),
            exp: issued + self.access_token_ttl.max(0) as u64,
            iat: issued,
            nbf: Some(issued),
            jti: Some(uuid::Uuid::new_v4().to_string()),
            client_id: Some(grant.client_id.clone()),
            scp: Some(grant.scopes.clone()),
            scope: None,
            ext: Some(grant.access_token_claims.clone()),
            top_level,
        };
        self.key.sign(&claims)
    }

    /// An ID token for `grant`, bound to `access_token` by `at_hash`.
    pub fn id_token(&self, grant: &Grant, access_token: &str) -> String {
        let issued = now();
        let hash = digest::digest(&digest::SHA256, access_token.as_bytes());
        let at_hash = URL_SAFE_NO_PAD.encode(&hash.as_ref()[..16]);
        let mut claims = grant.id_token_claims.clone();
        let mut standard = json!({
            "iss": self.issuer,
            "sub": grant.subject,
            "aud": [grant.client_id],
            "exp": issued + self.access_token_ttl,
            "iat": issued,
            "jti": uuid::Uuid::new_v4().to_string(),
            "rat": grant.requested_at,
            "auth_time": grant.auth_time,
            "sid": grant.session_id,
            "at_hash": at_hash,
        });
        if let Some(nonce) = &grant.nonce {
            standard["nonce"] = json!(nonce);
        }
        merge(&mut claims, standard);
        self.key.sign(&Value::Object(claims))
    }
}

fn merge(claims: &mut Map<String, Value>, standard: Value) {
    if let Value::Object(standard) = standard {
        claims.extend(standard);
    }
}
