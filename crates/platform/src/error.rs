//! What goes wrong in a service, and its one mapping to Connect codes.
//!
//! Every service answers the same things the same way: bad input, a missing or taken thing, a state that
//! does not allow the call, a concurrent change, a refused caller, an unreachable dependency, a failed
//! database. [`ServiceError`] holds those, and a service's error type is `ServiceError<Own>`, where `Own`
//! holds only what is the service's own (a stock shortage with its detail, a throttle's Retry-After) and maps
//! itself through [`OwnError`]. Database errors map through [`crate::db::connect_error`], and constraint
//! violations become domain answers through [`ServiceError::on_violation`], the one way every table module
//! reads them.

use connectrpc::ConnectError;

use crate::{
    identity::{IdentityError, Refusal},
    page_token::{PageSizeError, PageTokenError},
};

/// An error of a service whose own failures are `Own`.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError<Own> {
    /// The request is malformed; the message says which field and why, and is safe to show.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such thing, or not the caller's (the two are indistinguishable); the message names what.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique name is taken, or an idempotency key was used for another request.
    #[error("{0}")]
    AlreadyExists(String),
    /// The thing is not in a state that allows this; the message says why.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change won (a stale version); read again and retry.
    #[error("{0}")]
    Aborted(&'static str),
    /// The caller is who they say but may not do this particular thing; the message says why.
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// Another part of the platform (or a provider) could not be reached or failed; the message says which,
    /// without its details.
    #[error("{0}")]
    Unavailable(&'static str),
    /// The caller may not make this call at all.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// PostgreSQL failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// What only this service can answer.
    #[error(transparent)]
    Own(Own),
}

/// A service's own errors: how each answers on the wire.
pub trait OwnError: std::error::Error {
    fn into_connect(self) -> ConnectError;
}

/// For a service with no errors of its own.
impl OwnError for std::convert::Infallible {
    fn into_connect(self) -> ConnectError {
        match self {}
    }
}

impl<Own> From<IdentityError> for ServiceError<Own> {
    fn from(e: IdentityError) -> Self {
        Self::Refused(Refusal::Identity(e))
    }
}

/// A refused page token is the request's fault: `invalid_argument`, saying to start again from the first page.
impl<Own> From<PageTokenError> for ServiceError<Own> {
    fn from(e: PageTokenError) -> Self {
        Self::InvalidArgument(e.to_string())
    }
}

/// A page size out of bounds is `invalid_argument`, naming the bounds.
impl<Own> From<PageSizeError> for ServiceError<Own> {
    fn from(e: PageSizeError) -> Self {
        Self::InvalidArgument(e.to_string())
    }
}

impl<Own> ServiceError<Own> {
    /// `e` as the answer `answer` gives for the constraint it violates, or as a database error when it violates
    /// none or one `answer` does not know (`None`).
    pub fn on_violation(e: sqlx::Error, answer: impl FnOnce(&str) -> Option<Self>) -> Self {
        crate::db::violated_constraint(&e).and_then(answer).unwrap_or(Self::Database(e))
    }
}

impl<Own: OwnError> From<ServiceError<Own>> for ConnectError {
    fn from(err: ServiceError<Own>) -> Self {
        match err {
            ServiceError::InvalidArgument(message) => ConnectError::invalid_argument(message),
            ServiceError::NotFound(_) => ConnectError::not_found(err.to_string()),
            ServiceError::AlreadyExists(message) => ConnectError::already_exists(message),
            ServiceError::FailedPrecondition(message) => ConnectError::failed_precondition(message),
            ServiceError::Aborted(message) => ConnectError::aborted(message),
            ServiceError::PermissionDenied(message) => ConnectError::permission_denied(message),
            ServiceError::Unavailable(message) => ConnectError::unavailable(message),
            ServiceError::Refused(refusal) => refusal.into(),
            ServiceError::Database(e) => crate::db::connect_error(&e),
            ServiceError::Own(own) => own.into_connect(),
        }
    }
}

impl From<Refusal> for ConnectError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Unauthenticated => ConnectError::unauthenticated(refusal.to_string()),
            Refusal::NotAdmin | Refusal::NotInternal => ConnectError::permission_denied(refusal.to_string()),
            Refusal::Identity(e) => {
                tracing::warn!(error = %e, "refused caller metadata");
                ConnectError::unauthenticated("caller identity is not trusted")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use connectrpc::ErrorCode;
    use ec_testing::TestDatabase;

    use super::*;

    type Error = ServiceError<std::convert::Infallible>;

    fn code(err: Error) -> ErrorCode {
        ConnectError::from(err).code
    }

    #[test]
    fn each_refusal_has_its_code_and_says_nothing_more() {
        assert_eq!(code(Refusal::Unauthenticated.into()), ErrorCode::Unauthenticated);
        assert_eq!(code(Refusal::NotAdmin.into()), ErrorCode::PermissionDenied);
        assert_eq!(code(Refusal::NotInternal.into()), ErrorCode::PermissionDenied);
        let forged = ConnectError::from(Error::from(IdentityError::Untrusted));
        assert_eq!(forged.code, ErrorCode::Unauthenticated);
        assert_eq!(forged.message.as_deref(), Some("caller identity is not trusted"));
    }

    #[test]
    fn a_missing_thing_is_named() {
        let err = ConnectError::from(Error::NotFound("order"));
        assert_eq!(err.code, ErrorCode::NotFound);
        assert_eq!(err.message.as_deref(), Some("order not found"));
    }

    #[tokio::test]
    async fn a_violation_becomes_the_answer_for_its_constraint_and_others_stay_database_errors() {
        let database = TestDatabase::create().await;
        let pool = &database.pool;
        sqlx::raw_sql(
            "CREATE TABLE things (name text CONSTRAINT things_name_key UNIQUE, size int CONSTRAINT things_size CHECK (size > 0));
             INSERT INTO things VALUES ('taken', 1);",
        )
        .execute(pool)
        .await
        .unwrap();
        let answer = |constraint: &str| {
            (constraint == "things_name_key").then(|| Error::AlreadyExists("a thing has this name".into()))
        };

        let taken = sqlx::query("INSERT INTO things VALUES ('taken', 1)").execute(pool).await.unwrap_err();
        assert!(matches!(Error::on_violation(taken, answer), Error::AlreadyExists(_)));

        let unknown = sqlx::query("INSERT INTO things VALUES ('new', 0)").execute(pool).await.unwrap_err();
        let unknown = Error::on_violation(unknown, answer);
        assert!(matches!(&unknown, Error::Database(_)), "got {unknown:?}");
        assert_eq!(code(unknown), ErrorCode::Internal);

        database.drop_now().await;
    }

    #[tokio::test]
    async fn a_serialization_failure_is_aborted_in_every_service() {
        let database = TestDatabase::create().await;
        let failure = sqlx::query("DO $$ BEGIN RAISE EXCEPTION 'lost' USING ERRCODE = '40001'; END $$")
            .execute(&database.pool)
            .await
            .unwrap_err();
        assert_eq!(code(failure.into()), ErrorCode::Aborted);
        database.drop_now().await;
    }
}
