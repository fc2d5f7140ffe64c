//! The user service's errors: the answers every service shares ([`ServiceError`]) and the user service's own
//! ([`UserError`]), each mapped to its Connect code in one place.

use connectrpc::ConnectError;
use ec_platform::error::{OwnError, ServiceError};

/// Everything that can go wrong in the user service.
pub type Error = ServiceError<UserError>;

/// What only the user service answers.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// A live account already uses the email.
    #[error("an account with this email already exists")]
    EmailTaken,
    /// An email and password pair that does not match a live account. One variant for every reason, so the
    /// answer does not reveal which accounts exist.
    #[error("wrong email or password")]
    InvalidCredentials,
    /// Too many wrong passwords for this account lately (the sign-in throttle); retry after the wait.
    #[error("too many wrong passwords; retry in {} s", .retry_after.as_secs().max(1))]
    TooManyAttempts { retry_after: std::time::Duration },
    /// Something was sent moments ago (a verification link); ask again after the wait.
    #[error("a link was sent moments ago; ask again in {} s", .retry_after.as_secs().max(1))]
    TooSoon { retry_after: std::time::Duration },
    /// A limit on how many of something there may be (webhook endpoints).
    #[error("{0}")]
    TooMany(String),
    /// Too many password hashes are running in this process ([`crate::password`]); retry after the wait.
    #[error("the service is busy; retry in {} s", .retry_after.as_secs().max(1))]
    Busy { retry_after: std::time::Duration },
    /// Hashing failed (out of memory, or the blocking pool is gone).
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

impl From<UserError> for Error {
    fn from(err: UserError) -> Self {
        Self::Own(err)
    }
}

impl OwnError for UserError {
    fn into_connect(self) -> ConnectError {
        match self {
            UserError::EmailTaken => ConnectError::already_exists(self.to_string()),
            UserError::InvalidCredentials => ConnectError::unauthenticated(self.to_string()),
            UserError::TooManyAttempts { retry_after }
            | UserError::TooSoon { retry_after }
            | UserError::Busy { retry_after } => {
                let mut headers = http::HeaderMap::new();
                headers.insert(http::header::RETRY_AFTER, crate::throttle::whole_seconds(retry_after).into());
                ConnectError::resource_exhausted(self.to_string()).with_headers(headers)
            }
            UserError::TooMany(_) => ConnectError::resource_exhausted(self.to_string()),
            UserError::Hashing(_) => {
                tracing::error!(error = &self as &dyn std::error::Error, "internal error");
                ConnectError::internal("internal error")
            }
        }
    }
}
