//! The user service's errors and their one mapping to Connect/gRPC codes.

use connectrpc::ConnectError;
use ec_platform::identity::IdentityError;

/// Everything that can go wrong in the user service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; the message says which field and why, and is safe to show.
    #[error("{0}")]
    InvalidArgument(String),
    /// No live account matches.
    #[error("user not found")]
    NotFound,
    /// A live account already uses the email.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// The call needs a signed-in caller and has none.
    #[error("sign in to do this")]
    Unauthenticated,
    /// An email and password pair that does not match a live account. One variant for every reason, so the
    /// answer does not reveal which accounts exist.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// The caller is signed in but may not do this.
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// The account is not in a state that allows this; the message says why.
    #[error("{0}")]
    FailedPrecondition(&'static str),
    /// Too many wrong passwords for this account lately (the sign-in throttle); retry after the wait.
    #[error("too many wrong passwords; retry in {} s", .retry_after.as_secs().max(1))]
    TooManyAttempts { retry_after: std::time::Duration },
    /// Caller metadata that did not come from the BFF.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// PostgreSQL failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// Too many password hashes are running in this process ([`crate::password`]); retry after the wait.
    #[error("the service is busy; retry in {} s", .retry_after.as_secs().max(1))]
    Busy { retry_after: std::time::Duration },
    /// Hashing failed (out of memory, or the blocking pool is gone).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<Error> for ConnectError {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(message) => ConnectError::invalid_argument(message),
            Error::NotFound => ConnectError::not_found(err.to_string()),
            Error::EmailTaken => ConnectError::already_exists(err.to_string()),
            Error::Unauthenticated | Error::InvalidCredentials => ConnectError::unauthenticated(err.to_string()),
            Error::PermissionDenied(message) => ConnectError::permission_denied(message),
            Error::FailedPrecondition(message) => ConnectError::failed_precondition(message),
            Error::TooManyAttempts { retry_after } | Error::Busy { retry_after } => {
                let mut headers = http::HeaderMap::new();
                headers.insert(http::header::RETRY_AFTER, crate::throttle::whole_seconds(retry_after).into());
                ConnectError::resource_exhausted(err.to_string()).with_headers(headers)
            }
            Error::Identity(e) => {
                tracing::warn!(error = %e, "refused caller metadata");
                ConnectError::unauthenticated("caller identity is not trusted")
            }
            Error::Database(_) | Error::Hashing(_) => {
                tracing::error!(error = &err as &dyn std::error::Error, "internal error");
                ConnectError::internal("internal error")
            }
        }
    }
}
