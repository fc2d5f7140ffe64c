//! Access token verification: a bearer JWT is checked locally against the issuer's JWKS.
//!
//! Algorithms are pinned (RS256 and ES256, and the key must be of the matching type: the `alg` header never
//! chooses how a token is checked), `typ` must be `JWT` or `at+jwt`, `iss` and `aud` must match, `exp` and
//! `iat` are required, `nbf` and `iat` get a small leeway, `client_id` must be there (so an ID token never
//! passes as an access token), and `sub` must be an account id. The claims are decoded as
//! [`AccessTokenClaims`] ([`ec_platform::claims`]): roles from `roles` at the top level or under `ext` (Hydra
//! puts consent claims there), scopes from `scp` (an array) or `scope` (a string), and a claim that does not
//! decode (an unknown role, say) refuses the token. Every failure is the same `unauthenticated` answer to the
//! client; the reason is logged and counted. Revocation (a token issued before its account was deleted,
//! changed its password or lost a role) is the [gate](crate::gate)'s to check, in the same Redis round trip as
//! the rate limit.
//!
//! A client sends the same token with every call until it expires, so a verified token is remembered (by its
//! SHA-256) for up to [`VERIFIED_FOR`], which spares the signature check and the claim parsing on the calls
//! after the first; `exp` is still checked on each one. Only tokens that verified are
//! remembered, so made-up tokens cannot fill the cache, and a key the issuer withdraws stops working within
//! that time after the BFF has seen the withdrawal.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ec_platform::{
    claims::{AccessTokenClaims, AccountClaims},
    identity::{Caller, Contact},
};
use http::HeaderMap;
use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm},
};
use serde_json::Value;
use uuid::Uuid;

use crate::jwks::{Jwks, JwksError};

/// Why a token was refused. Logged (and later counted), never sent to the client.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the Authorization header is not a bearer token")]
    Malformed,
    #[error("the token's algorithm or type is not accepted")]
    Algorithm,
    #[error("the token names no key the issuer publishes")]
    UnknownKey,
    #[error("the issuer's keys cannot be fetched")]
    KeysUnavailable,
    #[error("the signature does not verify")]
    Signature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is from another issuer")]
    Issuer,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token lacks a required claim or has a malformed one")]
    Claims,
    #[error("the token has no client_id, so it is not an access token (an ID token, say)")]
    NotAnAccessToken,
    #[error("the token's subject is its client (client credentials): it speaks for a client, not an account")]
    ClientToken,
    #[error("the token's subject is not an account id")]
    NotAnAccount,
    #[error("the account's tokens were revoked after this one was issued")]
    Revoked,
}

/// What a verified access token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The account and its roles.
    pub caller: Caller,
    /// The account's email and name, as the token was issued with them.
    pub contact: Contact,
    /// The granted scopes, from `scp` (an array, as Hydra writes it) or `scope` (a space-separated string).
    pub scopes: Vec<String>,
    /// When the token was issued (`iat`, Unix seconds).
    pub issued_at: u64,
    /// When it expires (`exp`, Unix seconds).
    pub expires_at: u64,
}

/// How long a verified token is remembered at most.
pub const VERIFIED_FOR: Duration = Duration::from_secs(60);

/// How many verified tokens are remembered at most.
const VERIFIED_CAPACITY: usize = 10_000;

/// A verified token and when it was verified.
type Verified = (Token, Instant);

/// Verifies access tokens of one issuer for one audience.
#[derive(Debug)]
pub struct Authenticator {
    jwks: Jwks,
    issuer: String,
    audience: String,
    leeway: u64,
    /// Verified tokens by the SHA-256 of their text.
    verified: quick_cache::sync::Cache<[u8; 32], Verified>,
}

impl Authenticator {
    /// Verifies tokens of `issuer` for `audience` against its keys in `jwks`, forgiving `leeway_secs` of
    /// clock skew.
    pub fn new(jwks: Jwks, issuer: String, audience: String, leeway_secs: u64) -> Self {
        Self { jwks, issuer, audience, leeway: leeway_secs, verified: quick_cache::sync::Cache::new(VERIFIED_CAPACITY) }
    }

    /// Whether the issuer's keys can be had (for readiness).
    pub async fn ready(&self) -> bool {
        self.jwks.ready().await
    }

    /// The verified bearer token of a request (not checked against revocations): `Ok(None)` when there is
    /// no Authorization header.
    pub async fn token(&self, headers: &HeaderMap) -> Result<Option<Token>, AuthError> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Ok(None);
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Malformed)?;
        self.verify_remembered(token).await.map(Some)
    }

    /// [`verify`](Self::verify), remembering the result for calls with the same token.
    async fn verify_remembered(&self, token: &str) -> Result<Token, AuthError> {
        let digest: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        if let Some((verified, at)) = self.verified.get(&digest) {
            if at.elapsed() < VERIFIED_FOR {
                return if verified.expires_at + self.leeway < unix_now() {
                    Err(AuthError::Expired)
                } else {
                    Ok(verified)
                };
            }
            self.verified.remove(&digest);
        }
        let verified = self.verify(token).await?;
        self.verified.insert(digest, (verified.clone(), Instant::now()));
        Ok(verified)
    }

    /// Verifies one token on its own: signature and claims, not revocation; nothing is remembered.
    pub async fn verify(&self, token: &str) -> Result<Token, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| unreadable_header(token))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::Algorithm);
        }
        if !header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("at+jwt")) {
            return Err(AuthError::Algorithm);
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let jwk = self.jwks.key(&kid).await.map_err(|e| match e {
            JwksError::UnknownKey => AuthError::UnknownKey,
            JwksError::Unavailable(_) => AuthError::KeysUnavailable,
        })?;
        if key_algorithm(&jwk) != Some(header.alg) {
            return Err(AuthError::Algorithm);
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| AuthError::UnknownKey)?;

        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.leeway;
        let claims = jsonwebtoken::decode::<AccessTokenClaims<AccountClaims>>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidIssuer => AuthError::Issuer,
                ErrorKind::InvalidAudience => AuthError::Audience,
                ErrorKind::InvalidSignature => AuthError::Signature,
                ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
                // A signed token whose claims do not decode: a missing `iat`, an unknown role, a malformed `scp`.
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) | ErrorKind::Json(_) => {
                    AuthError::Claims
                }
                _ => AuthError::Malformed,
            })?
            .claims;

        if claims.iat > unix_now() + self.leeway {
            return Err(AuthError::NotYetValid);
        }
        // Access tokens name the client they were issued to; ID tokens do not, and must never pass as one.
        let client_id = claims.client_id.as_deref().ok_or(AuthError::NotAnAccessToken)?;
        if claims.sub == client_id {
            // A client_credentials token: it speaks for a client, not for an account.
            return Err(AuthError::ClientToken);
        }
        let user_id = Uuid::try_parse(&claims.sub).map_err(|_| AuthError::NotAnAccount)?;
        let caller = Caller { user_id, roles: claims.roles() };
        Ok(Token {
            caller,
            contact: claims.contact(),
            scopes: claims.scopes(),
            issued_at: claims.iat,
            expires_at: claims.exp,
        })
    }
}

/// Why a header did not decode: an algorithm jsonwebtoken does not know (`none`, above all) is a refused
/// algorithm, not a malformed token, so an operator reading the logs sees what was tried.
fn unreadable_header(token: &str) -> AuthError {
    use base64::Engine;
    let header = token.split('.').next().unwrap_or_default();
    let alg = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|json| serde_json::from_slice::<Value>(&json).ok())
        .and_then(|header| header.get("alg").and_then(Value::as_str).map(str::to_owned));
    if alg.is_some() { AuthError::Algorithm } else { AuthError::Malformed }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_secs()
}

/// The one algorithm a key may verify: RS256 for RSA keys, ES256 for P-256 keys; the key's own `alg`, if it
/// states one, must agree.
fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(by_type),
        Some(KeyAlgorithm::RS256) if by_type == Algorithm::RS256 => Some(by_type),
        Some(KeyAlgorithm::ES256) if by_type == Algorithm::ES256 => Some(by_type),
        Some(_) => None,
    }
}
