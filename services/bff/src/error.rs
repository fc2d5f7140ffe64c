//! Every way the BFF itself refuses or fails a call, and the one place each becomes a Connect/gRPC error.
//!
//! What a client learns is deliberately little: a refused token is always the same `unauthenticated`, whatever
//! the reason (the reason is logged and counted instead), and a backend that failed without a proper answer
//! keeps its code but not its message, which may name internal hosts.

use std::time::Duration;

use connectrpc::{ConnectError, ErrorCode};

/// Why the BFF did not forward a call, or what became of a call it did forward.
#[derive(Debug, thiserror::Error)]
pub enum BffError {
    /// No valid access token where the route needs one.
    #[error("invalid or missing access token")]
    Unauthenticated,
    /// The caller's bucket is empty.
    #[error("too many requests; retry in {} s", whole_seconds(*retry_after))]
    RateLimited { retry_after: Duration },
    /// The request names an account that is not the caller's, and the caller is not an admin (BOLA).
    #[error("you may only act on your own account")]
    NotOwnAccount,
    /// The route is for admins, and the caller is not one (BFLA).
    #[error("this needs the admin role")]
    AdminOnly,
    /// The access token was not granted the scope the route needs (the user did not allow the client this).
    #[error("the access token was not granted the {scope:?} scope this call needs")]
    MissingScope { scope: &'static str },
    /// An admin route while the shared revocation records cannot be read: it fails closed.
    #[error("cannot check the access token against revocations now; try again shortly")]
    RevocationsUnchecked,
    /// The request field the policy reads is not an account id.
    #[error("{field} must be a UUID")]
    MalformedAccountId { field: &'static str },
    /// The backend answered with an error (passed on as it is), or gave no proper answer.
    #[error("backend call failed: {}", .0.message.as_deref().unwrap_or_default())]
    Backend(ConnectError),
}

/// A wait rounded up to whole seconds, at least one: what `Retry-After` carries.
pub(crate) fn whole_seconds(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

impl From<BffError> for ConnectError {
    fn from(error: BffError) -> Self {
        let message = error.to_string();
        match error {
            BffError::Unauthenticated => ConnectError::unauthenticated(message),
            BffError::RateLimited { retry_after } => {
                let mut headers = http::HeaderMap::new();
                headers.insert(http::header::RETRY_AFTER, whole_seconds(retry_after).into());
                ConnectError::resource_exhausted(message).with_headers(headers)
            }
            BffError::NotOwnAccount | BffError::AdminOnly | BffError::MissingScope { .. } => {
                ConnectError::permission_denied(message)
            }
            BffError::RevocationsUnchecked => ConnectError::unavailable(message),
            BffError::MalformedAccountId { .. } => ConnectError::invalid_argument(message),
            // Backends answer with client-safe messages; a call that got no proper answer (transport failure,
            // undecodable response, internal error) keeps its code and loses its message.
            BffError::Backend(error) => match error.code {
                ErrorCode::Internal | ErrorCode::Unknown | ErrorCode::Unavailable | ErrorCode::DataLoss => {
                    tracing::error!(code = error.code.as_str(), %message, "backend call failed");
                    ConnectError::new(error.code, "the service is unavailable; try again shortly")
                }
                _ => with_bare_detail_types(error),
            },
        }
    }
}

/// `error` with its details named as the Connect protocol names them, by the message's bare name
/// (`product.v1.PictureRefusedDetail`): a detail that came over gRPC is named by a type URL
/// (`type.googleapis.com/product.v1.PictureRefusedDetail`), which Connect clients do not match. (On the gRPC
/// path the prefix is added again.)
fn with_bare_detail_types(mut error: ConnectError) -> ConnectError {
    for detail in &mut error.details {
        if let Some((_, name)) = detail.type_url.rsplit_once('/') {
            detail.type_url = name.to_owned();
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(error: BffError) -> ConnectError {
        error.into()
    }

    #[test]
    fn each_refusal_has_its_code_and_a_message_that_tells_nothing_more() {
        assert_eq!(wire(BffError::Unauthenticated).code, ErrorCode::Unauthenticated);
        assert_eq!(wire(BffError::NotOwnAccount).code, ErrorCode::PermissionDenied);
        assert_eq!(wire(BffError::AdminOnly).code, ErrorCode::PermissionDenied);
        let scope = wire(BffError::MissingScope { scope: "backoffice" });
        assert_eq!(
            (scope.code, scope.message.as_deref()),
            (
                ErrorCode::PermissionDenied,
                Some("the access token was not granted the \"backoffice\" scope this call needs")
            )
        );
        assert_eq!(wire(BffError::RevocationsUnchecked).code, ErrorCode::Unavailable);
        let malformed = wire(BffError::MalformedAccountId { field: "id" });
        assert_eq!(
            (malformed.code, malformed.message.as_deref()),
            (ErrorCode::InvalidArgument, Some("id must be a UUID"))
        );
    }

    #[test]
    fn a_backends_refusal_is_passed_on_with_its_details_named_as_connect_names_them() {
        let detail = |type_url: &str| connectrpc::ErrorDetail { type_url: type_url.into(), value: None, debug: None };
        let mut refused = ConnectError::invalid_argument("not a picture");
        refused.details = vec![detail("type.googleapis.com/product.v1.PictureRefusedDetail"), detail("a.B")];
        let passed = wire(BffError::Backend(refused));
        assert_eq!((passed.code, passed.message.as_deref()), (ErrorCode::InvalidArgument, Some("not a picture")));
        let names: Vec<&str> = passed.details.iter().map(|d| d.type_url.as_str()).collect();
        assert_eq!(names, ["product.v1.PictureRefusedDetail", "a.B"]);
    }

    #[test]
    fn a_rate_limited_call_says_when_to_retry_in_whole_seconds() {
        let error = wire(BffError::RateLimited { retry_after: Duration::from_millis(1_200) });
        assert_eq!(error.code, ErrorCode::ResourceExhausted);
        assert_eq!(error.response_headers().get(http::header::RETRY_AFTER).unwrap(), "2");
        let soon = wire(BffError::RateLimited { retry_after: Duration::from_millis(3) });
        assert_eq!(soon.response_headers().get(http::header::RETRY_AFTER).unwrap(), "1", "never zero");
    }

    #[test]
    fn backend_answers_pass_unchanged_but_failures_lose_their_internal_detail() {
        let answer = wire(BffError::Backend(ConnectError::not_found("no such user")));
        assert_eq!((answer.code, answer.message.as_deref()), (ErrorCode::NotFound, Some("no such user")));
        let failure = wire(BffError::Backend(ConnectError::unavailable("connect to 10.0.0.7:50051 refused")));
        assert_eq!(failure.code, ErrorCode::Unavailable);
        assert!(!failure.message.unwrap_or_default().contains("10.0.0.7"));
    }
}
