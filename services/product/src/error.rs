//! The product service's errors and their one mapping to Connect/gRPC codes.

use connectrpc::{ConnectError, ErrorDetail};
use ec_platform::identity::{IdentityError, Refusal};
use ec_proto::product::v1::{InsufficientStockDetail, InsufficientStockItem};

/// One SKU a reservation could not be made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortage {
    pub sku_id: uuid::Uuid,
    pub requested: i64,
    pub available: i64,
}

/// Everything that can go wrong in the product service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; the message says which field and why, and is safe to show.
    #[error("{0}")]
    InvalidArgument(String),
    /// No such thing, or not visible to the caller; the message names what.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique name or code is taken, or an idempotency key was used for another request.
    #[error("{0}")]
    AlreadyExists(String),
    /// The thing is not in a state that allows this; the message says why.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change won (a stale version); read again and retry.
    #[error("{0}")]
    Aborted(&'static str),
    /// Not enough stock for a reservation: every short SKU.
    #[error("not enough stock for {} SKU(s)", .0.len())]
    InsufficientStock(Vec<Shortage>),
    /// The call needs a signed-in caller and has none.
    #[error("sign in to do this")]
    Unauthenticated,
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(&'static str),
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
            Error::Aborted(message) => ConnectError::aborted(message),
            Error::InsufficientStock(ref short) => {
                let detail = InsufficientStockDetail {
                    items: short
                        .iter()
                        .map(|s| InsufficientStockItem {
                            sku_id: s.sku_id.to_string(),
                            requested: s.requested,
                            available: s.available,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                };
                ConnectError::resource_exhausted(err.to_string())
                    .with_detail(ErrorDetail::from_message("product.v1.InsufficientStockDetail", &detail))
            }
            Error::Unauthenticated => ConnectError::unauthenticated(err.to_string()),
            Error::PermissionDenied(message) => ConnectError::permission_denied(message),
            Error::Identity(e) => {
                tracing::warn!(error = %e, "refused caller metadata");
                ConnectError::unauthenticated("caller identity is not trusted")
            }
            Error::Database(e) => ec_platform::db::connect_error(&e),
        }
    }
}
