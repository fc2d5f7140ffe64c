//! The user service's errors and their one mapping to Connect/gRPC codes.

use connectrpc::ConnectError;

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
    /// The RPC is part of the contract but this version of the service does not serve it yet.
    #[error("{0} is not served by this version of the user service")]
    NotYetServed(&'static str),
    /// PostgreSQL failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
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
            Error::NotYetServed(_) => ConnectError::unimplemented(err.to_string()),
            Error::Database(_) | Error::Hashing(_) => {
                tracing::error!(error = &err as &dyn std::error::Error, "internal error");
                ConnectError::internal("internal error")
            }
        }
    }
}
