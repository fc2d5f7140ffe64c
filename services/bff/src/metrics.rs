//! What the BFF counts, for Prometheus at `/metrics`.
//!
//! - `ec_rpc_requests_total{server="bff", procedure, protocol, code}` and `ec_rpc_request_duration_seconds`:
//!   every RPC that reached a handler ([`ec_platform::metrics::RpcMetrics`], as on every service's port).
//! - `ec_bff_auth_failures_total{reason}`: refused access tokens, by reason.
//! - `ec_bff_rate_limited_total{class}`: calls refused by the rate limiter (`anonymous`, `user`).
//! - `ec_bff_jwks_fetches_total{result}`: fetches of the issuer's keys.
//! - `ec_redis_fallback{feature}` ([`ec_platform::shared`]): 1 while Redis fails and a feature decides in
//!   process. `rate` covers the rate limits and, read in the same round trip, the revocations recorded by other
//!   processes, which go unseen meanwhile; `jwks` the shared key cache.

/// Counts a refused access token.
pub fn auth_failure(reason: &crate::auth::AuthError) {
    let reason = match reason {
        crate::auth::AuthError::Malformed => "malformed",
        crate::auth::AuthError::Algorithm => "algorithm",
        crate::auth::AuthError::UnknownKey => "unknown_key",
        crate::auth::AuthError::KeysUnavailable => "keys_unavailable",
        crate::auth::AuthError::Signature => "signature",
        crate::auth::AuthError::Expired => "expired",
        crate::auth::AuthError::NotYetValid => "not_yet_valid",
        crate::auth::AuthError::Issuer => "issuer",
        crate::auth::AuthError::Audience => "audience",
        crate::auth::AuthError::Claims => "claims",
        crate::auth::AuthError::NotAnAccessToken => "not_an_access_token",
        crate::auth::AuthError::ClientToken => "client_token",
        crate::auth::AuthError::NotAnAccount => "not_an_account",
        crate::auth::AuthError::Revoked => "revoked",
    };
    metrics::counter!("ec_bff_auth_failures_total", "reason" => reason).increment(1);
}
