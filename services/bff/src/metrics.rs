//! What the BFF counts, for Prometheus at `/metrics`.
//!
//! - `ec_rpc_requests_total{server="bff", procedure, protocol, code}` and `ec_rpc_request_duration_seconds`:
//!   every RPC that reached a handler ([`ec_platform::telemetry::RpcTelemetry`], as on every service's port).
//! - `ec_bff_auth_failures_total{reason}`: refused access tokens, by reason.
//! - `ec_bff_access_denied_total{reason}`: calls with a valid token that their route's policy refused
//!   (`scope`: the token lacks the route's scope; `admin`; `own_account`; `revocations_unchecked`: an admin
//!   route while Redis cannot be read).
//! - `ec_bff_rate_limited_total{class}`: calls refused by the rate limiter (`anonymous`, `user`, `sign_up`),
//!   and picture reads (`media`).
//! - `ec_bff_jwks_fetches_total{result}`: fetches of the issuer's keys.
//! - `ec_bff_jwks_forged_total`: copies of the issuer's keys in Redis whose MAC did not verify (someone who can
//!   write to Redis tried to plant a key), ignored.
//! - `ec_redis_fallback{feature}` ([`ec_platform::shared`]): 1 while Redis fails and a feature decides in
//!   process. `rate` covers the rate limits and, read in the same round trip, the revocations recorded by other
//!   processes, which go unseen meanwhile; `jwks` the shared key cache.

use crate::{auth::AuthError, error::BffError};

/// Every reason a token is refused, as counted.
const REFUSALS: [AuthError; 14] = [
    AuthError::Malformed,
    AuthError::Algorithm,
    AuthError::UnknownKey,
    AuthError::KeysUnavailable,
    AuthError::Signature,
    AuthError::Expired,
    AuthError::NotYetValid,
    AuthError::Issuer,
    AuthError::Audience,
    AuthError::Claims,
    AuthError::NotAnAccessToken,
    AuthError::ClientToken,
    AuthError::NotAnAccount,
    AuthError::Revoked,
];

/// The `reason` label of a refused token.
fn reason(refused: &AuthError) -> &'static str {
    match refused {
        AuthError::Malformed => "malformed",
        AuthError::Algorithm => "algorithm",
        AuthError::UnknownKey => "unknown_key",
        AuthError::KeysUnavailable => "keys_unavailable",
        AuthError::Signature => "signature",
        AuthError::Expired => "expired",
        AuthError::NotYetValid => "not_yet_valid",
        AuthError::Issuer => "issuer",
        AuthError::Audience => "audience",
        AuthError::Claims => "claims",
        AuthError::NotAnAccessToken => "not_an_access_token",
        AuthError::ClientToken => "client_token",
        AuthError::NotAnAccount => "not_an_account",
        AuthError::Revoked => "revoked",
    }
}

/// Counts a refused access token.
pub fn auth_failure(refused: &AuthError) {
    metrics::counter!("ec_bff_auth_failures_total", "reason" => reason(refused)).increment(1);
}

/// The reasons a policy refuses a call, as counted.
const DENIALS: [&str; 4] = ["scope", "admin", "own_account", "revocations_unchecked"];

/// Counts a call its route's policy refused (unauthenticated ones are counted as refused tokens, if any).
pub fn access_denied(refused: &BffError) {
    let reason = match refused {
        BffError::MissingScope { .. } => "scope",
        BffError::AdminOnly => "admin",
        BffError::NotOwnAccount => "own_account",
        BffError::RevocationsUnchecked => "revocations_unchecked",
        _ => return,
    };
    metrics::counter!("ec_bff_access_denied_total", "reason" => reason).increment(1);
}

/// Says what the BFF counts, and starts every series of its counters at zero (each reason, class and result),
/// so that alerts on their increase (deploy/prometheus/rules.yaml) have a series before the first event.
pub fn describe() {
    use metrics::{counter, describe_counter};
    describe_counter!("ec_bff_auth_failures_total", "Access tokens refused, by reason.");
    describe_counter!("ec_bff_access_denied_total", "Calls with a valid token refused by their route, by reason.");
    describe_counter!("ec_bff_rate_limited_total", "Calls refused by the rate limiter, by bucket.");
    describe_counter!("ec_bff_jwks_fetches_total", "Fetches of the issuer's keys, by result.");
    describe_counter!("ec_bff_jwks_forged_total", "Copies of the issuer's keys in Redis that did not verify.");
    counter!("ec_bff_jwks_forged_total").increment(0);
    for refused in &REFUSALS {
        counter!("ec_bff_auth_failures_total", "reason" => reason(refused)).increment(0);
    }
    for reason in DENIALS {
        counter!("ec_bff_access_denied_total", "reason" => reason).increment(0);
    }
    for class in ["anonymous", "user", "sign_up", "media"] {
        counter!("ec_bff_rate_limited_total", "class" => class).increment(0);
    }
    for result in ["ok", "error"] {
        counter!("ec_bff_jwks_fetches_total", "result" => result).increment(0);
    }
}
