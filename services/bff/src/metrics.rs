//! What the BFF counts, for Prometheus at `/metrics`.
//!
//! - `ec_bff_requests_total{procedure, protocol, code}` and `ec_bff_request_duration_seconds{procedure,
//!   protocol}`: every RPC that reached a handler (an [`Interceptor`], so the result code is the real one for
//!   every protocol, gRPC trailers included).
//! - `ec_bff_auth_failures_total{reason}`: refused access tokens, by reason.
//! - `ec_bff_rate_limited_total{class}`: calls refused by the rate limiter (`anonymous`, `user`).
//! - `ec_bff_jwks_fetches_total{result}`: fetches of the issuer's keys.
//! - `ec_redis_fallback{feature}` ([`ec_platform::shared`]): 1 while Redis fails and a feature decides in
//!   process. `rate` covers the rate limits and, read in the same round trip, the revocations recorded by other
//!   processes, which go unseen meanwhile; `jwks` the shared key cache.

use std::time::Instant;

use connectrpc::{
    ConnectError, Protocol,
    interceptor::{Interceptor, Next, UnaryRequest, UnaryResponse},
};

/// Counts and times every unary RPC.
pub struct RequestMetrics;

fn protocol_name(protocol: Option<Protocol>) -> &'static str {
    match protocol {
        Some(Protocol::Connect) => "connect",
        Some(Protocol::Grpc) => "grpc",
        Some(Protocol::GrpcWeb) => "grpc_web",
        _ => "unknown",
    }
}

#[connectrpc::async_trait]
impl Interceptor for RequestMetrics {
    async fn intercept_unary(&self, req: UnaryRequest, next: Next<'_>) -> Result<UnaryResponse, ConnectError> {
        let procedure = req.ctx.path().unwrap_or("unknown").to_owned();
        let protocol = protocol_name(req.ctx.protocol());
        let started = Instant::now();
        let result = next.run(req).await;
        let code = match &result {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        };
        metrics::counter!("ec_bff_requests_total", "procedure" => procedure.clone(), "protocol" => protocol, "code" => code)
            .increment(1);
        metrics::histogram!("ec_bff_request_duration_seconds", "procedure" => procedure, "protocol" => protocol)
            .record(started.elapsed().as_secs_f64());
        result
    }
}

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
