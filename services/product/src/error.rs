//! The product service's errors: the platform's [`ServiceError`], which every service answers alike (bad
//! input, a missing or taken thing, a refused caller, a failed database...), over [`ProductError`], what only
//! the product service answers: a stock shortage, with every short SKU in its detail, and a refused picture,
//! with why in its detail.

use connectrpc::{ConnectError, ErrorDetail};
use ec_platform::error::{OwnError, ServiceError};
use ec_proto::product::v1::{InsufficientStockDetail, InsufficientStockItem, PictureRefusal, PictureRefusedDetail};

use crate::pictures::PictureError;

/// Everything that can go wrong in the product service.
pub type Error = ServiceError<ProductError>;

/// What only the product service answers.
#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    /// Not enough stock for a reservation: every short SKU.
    #[error("not enough stock for {} SKU(s)", .0.len())]
    InsufficientStock(Vec<Shortage>),
    /// An uploaded picture refused, with why in its detail.
    #[error(transparent)]
    PictureRefused(#[from] PictureError),
}

/// One SKU a reservation could not be made for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shortage {
    pub sku_id: uuid::Uuid,
    pub requested: i64,
    pub available: i64,
}

impl From<ProductError> for Error {
    fn from(own: ProductError) -> Self {
        Self::Own(own)
    }
}

impl OwnError for ProductError {
    fn into_connect(self) -> ConnectError {
        match self {
            Self::InsufficientStock(ref short) => {
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
                ConnectError::resource_exhausted(self.to_string())
                    .with_detail(ErrorDetail::from_message("product.v1.InsufficientStockDetail", &detail))
            }
            Self::PictureRefused(ref refused) => {
                let (reason, (width, height)) = match *refused {
                    PictureError::Empty => (PictureRefusal::PICTURE_REFUSAL_EMPTY, (0, 0)),
                    PictureError::TooLarge(_) => (PictureRefusal::PICTURE_REFUSAL_TOO_LARGE, (0, 0)),
                    PictureError::UnsupportedType => (PictureRefusal::PICTURE_REFUSAL_UNSUPPORTED_TYPE, (0, 0)),
                    PictureError::TooManyPixels(width, height) => {
                        (PictureRefusal::PICTURE_REFUSAL_TOO_MANY_PIXELS, (width, height))
                    }
                    PictureError::Undecodable(_) => (PictureRefusal::PICTURE_REFUSAL_UNDECODABLE, (0, 0)),
                };
                let detail = PictureRefusedDetail { reason: reason.into(), width, height, ..Default::default() };
                ConnectError::invalid_argument(self.to_string())
                    .with_detail(ErrorDetail::from_message("product.v1.PictureRefusedDetail", &detail))
            }
        }
    }
}
