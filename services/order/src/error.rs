//! The order service's errors and their one mapping to Connect/gRPC codes.

use connectrpc::ConnectError;
use ec_platform::identity::{IdentityError, Refusal};

/// Everything that can go wrong in the order service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; the message says which field and why, and is safe to show.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such thing, or not the caller's (the two are indistinguishable); the message names what.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The idempotency key was used for another request.
    #[error("{0}")]
    AlreadyExists(String),
    /// The thing is not in a state that allows this; the message says why.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The call needs a signed-in caller and has none.
    #[error("sign in to do this")]
    Unauthenticated,
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// The order is still being placed and the call's time ran out waiting for it; retrying with the same
    /// idempotency key answers with the order.
    #[error("{0}")]
    StillRunning(&'static str),
    /// The product service (or the payment provider) could not be reached or answered an error of its own;
    /// the message says which, without its details.
    #[error("{0}")]
    Unavailable(&'static str),
    /// Caller metadata that did not come from the BFF.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// PostgreSQL failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

impl From<Refusal> for Error {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unauthenticated => Error::Unauthenticated,
            Refusal::NotAdmin => Error::PermissionDenied("the caller is not an admin"),
            Refusal::Identity(e) => Error::Identity(e),
        }
    }
}

impl From<Error> for ConnectError {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(message) => ConnectError::invalid_argument(message),
            Error::NotFound(_) => ConnectError::not_found(err.to_string()),
            Error::AlreadyExists(message) => ConnectError::already_exists(message),
            Error::FailedPrecondition(message) => ConnectError::failed_precondition(message),
            Error::Unauthenticated => ConnectError::unauthenticated(err.to_string()),
            Error::PermissionDenied(message) => ConnectError::permission_denied(message),
            Error::StillRunning(message) => ConnectError::deadline_exceeded(message),
            Error::Unavailable(message) => ConnectError::unavailable(message),
            Error::Identity(e) => {
                tracing::warn!(error = %e, "refused caller metadata");
                ConnectError::unauthenticated("caller identity is not trusted")
            }
            Error::Database(e) => ec_platform::db::connect_error(&e),
        }
    }
}
