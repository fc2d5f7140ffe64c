//! The order service's client of the product service ([`ProductClient`]): SKUs with prices and stock for
//! carts and checkouts, and the reservations of the checkout saga.
//!
//! One [`Channel`] speaking gRPC (a lazily connected h2c connection, or calls in process under `ec dev`), every
//! call carrying the platform's internal credential and the order service's name (so the product service treats
//! the order service as internal, scopes its idempotency keys to it, and shows it the full stock records) and
//! a deadline. Reservation keys are derived from the order id and the step, so a step retried after a
//! timeout or a crash finds the reservation the first attempt made instead of making another.

use std::{collections::HashMap, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
use connectrpc::{ConnectError, ErrorCode, client::ClientConfig};
use ec_platform::{channel::Channel, identity::IdentityVerifier};
use ec_proto::product::v1::{
    BatchGetSkusRequest, BatchReserveInventoryRequest, ConfirmReservationRequest, InsufficientStockDetail,
    InventoryServiceClient, ProductServiceClient, ReleaseReservationRequest, ReservationItem,
    RestockReservationRequest,
};
use uuid::Uuid;

use crate::{error::Error, orders::Units};

/// A SKU as a cart line or an order line needs it, read from the catalog now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkuInfo {
    pub sku_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub code: String,
    pub unit_price: i64,
    pub currency_code: String,
    pub available: i64,
}

/// Why a saga step did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepError {
    /// The answer is no and will stay no: `code` is the machine-readable reason the order records
    /// (`insufficient_stock`, `not_purchasable`, `reservation_expired`, ...), `detail` words for people.
    Refused { code: &'static str, detail: String },
    /// Worth trying again: the service could not be reached, timed out, or gave up a transaction.
    Transient(String),
}

impl StepError {
    pub fn refused(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Refused { code, detail: detail.into() }
    }
}

/// A client of the product service.
#[derive(Clone)]
pub struct ProductClient {
    products: ProductServiceClient<Channel>,
    inventory: InventoryServiceClient<Channel>,
}

impl ProductClient {
    /// The product service on `channel`, called with the internal credential of `identity` and `deadline` on
    /// every call. Nothing is connected until the first call.
    pub fn new(channel: Channel, identity: &IdentityVerifier, deadline: Duration) -> Self {
        let mut headers = http::HeaderMap::new();
        identity.stamp_service("order", &mut headers);
        let config = ClientConfig::new(channel.url().clone())
            .with_protocol(connectrpc::Protocol::Grpc)
            .with_default_headers(headers)
            .with_default_timeout(deadline);
        Self {
            products: ProductServiceClient::new(channel.clone(), config.clone()),
            inventory: InventoryServiceClient::new(channel, config),
        }
    }

    /// The SKUs among `ids` that exist and are on sale, with their product's name, price and stock; the
    /// others are absent from the map. One call for up to 100 ids.
    pub async fn skus(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, SkuInfo>, Error> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let request = BatchGetSkusRequest { ids: ids.iter().map(Uuid::to_string).collect(), ..Default::default() };
        let answer = self.products.batch_get_skus(request).await.map_err(|e| {
            tracing::warn!(error = %e, "the product service did not answer BatchGetSkus");
            Error::Unavailable("the catalog cannot be reached; try again shortly")
        })?;
        let mut found = HashMap::with_capacity(ids.len());
        for entry in answer.into_owned().skus {
            let Some(sku) = entry.sku.into_option() else { continue };
            let (Ok(sku_id), Ok(product_id)) = (Uuid::parse_str(&sku.id), Uuid::parse_str(&sku.product_id)) else {
                continue;
            };
            let price = sku.price.into_option().unwrap_or_default();
            let available = sku.inventory.into_option().map_or(0, |inventory| inventory.available);
            found.insert(
                sku_id,
                SkuInfo {
                    sku_id,
                    product_id,
                    product_name: entry.product_name,
                    code: sku.code,
                    unit_price: price.amount,
                    currency_code: price.currency_code,
                    available,
                },
            );
        }
        Ok(found)
    }

    /// Holds stock for every line of order `order_id` ("Try"), or for none; the reservation's id.
    pub async fn reserve(&self, order_id: Uuid, lines: &[Units]) -> Result<Uuid, StepError> {
        let request = BatchReserveInventoryRequest {
            items: lines
                .iter()
                .map(|line| ReservationItem {
                    sku_id: line.sku_id.to_string(),
                    quantity: line.quantity,
                    ..Default::default()
                })
                .collect(),
            idempotency_key: format!("order:{order_id}:reserve"),
            ..Default::default()
        };
        match self.inventory.batch_reserve_inventory(request).await {
            Ok(answer) => reservation_id(answer.into_owned().reservation.into_option().map(|r| r.id)),
            Err(e) if e.code == ErrorCode::ResourceExhausted => Err(shortage(&e)),
            Err(e) if e.code == ErrorCode::NotFound => {
                Err(StepError::refused("not_purchasable", "a SKU in the cart is no longer on sale"))
            }
            Err(e) => Err(unexpected("BatchReserveInventory", e)),
        }
    }

    /// Turns the order's reservation into a sale ("Confirm").
    pub async fn confirm(&self, order_id: Uuid, reservation: Uuid) -> Result<(), StepError> {
        let request = ConfirmReservationRequest {
            reservation_id: reservation.to_string(),
            idempotency_key: format!("order:{order_id}:confirm"),
            ..Default::default()
        };
        match self.inventory.confirm_reservation(request).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == ErrorCode::FailedPrecondition => {
                Err(StepError::refused("reservation_expired", "the stock hold ran out before the payment was through"))
            }
            Err(e) => Err(unexpected("ConfirmReservation", e)),
        }
    }

    /// Gives the order's held stock back ("Cancel"). A reservation already released or expired is fine; one
    /// already confirmed is refused.
    pub async fn release(&self, order_id: Uuid, reservation: Uuid) -> Result<(), StepError> {
        let request = ReleaseReservationRequest {
            reservation_id: reservation.to_string(),
            idempotency_key: format!("order:{order_id}:release"),
            ..Default::default()
        };
        match self.inventory.release_reservation(request).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == ErrorCode::FailedPrecondition => {
                Err(StepError::refused("reservation_confirmed", "the stock was already sold"))
            }
            Err(e) => Err(unexpected("ReleaseReservation", e)),
        }
    }

    /// Puts the units of the order's confirmed reservation back on the shelf (a cancelled order).
    pub async fn restock(&self, order_id: Uuid, reservation: Uuid) -> Result<(), StepError> {
        let request = RestockReservationRequest {
            reservation_id: reservation.to_string(),
            idempotency_key: format!("order:{order_id}:restock"),
            ..Default::default()
        };
        match self.inventory.restock_reservation(request).await {
            Ok(_) => Ok(()),
            Err(e) if e.code == ErrorCode::FailedPrecondition => {
                Err(StepError::refused("reservation_not_confirmed", "the stock was never sold"))
            }
            Err(e) => Err(unexpected("RestockReservation", e)),
        }
    }
}

fn reservation_id(id: Option<String>) -> Result<Uuid, StepError> {
    id.and_then(|id| Uuid::parse_str(&id).ok())
        .ok_or_else(|| StepError::Transient("the product service answered without a reservation id".into()))
}

/// The shortage an insufficient-stock error describes, as the order's failure reason.
fn shortage(e: &ConnectError) -> StepError {
    let detail = e
        .details
        .iter()
        .find(|d| d.type_url.ends_with("product.v1.InsufficientStockDetail"))
        .and_then(|d| d.value.as_deref())
        .and_then(|value| STANDARD_NO_PAD.decode(value.trim_end_matches('=')).ok())
        .and_then(|bytes| <InsufficientStockDetail as buffa::Message>::decode_from_slice(&bytes).ok());
    let words = match detail {
        Some(detail) => detail
            .items
            .iter()
            .map(|item| format!("SKU {} ({} wanted, {} available)", item.sku_id, item.requested, item.available))
            .collect::<Vec<_>>()
            .join(", "),
        None => "not enough stock".to_owned(),
    };
    StepError::refused("insufficient_stock", words)
}

/// Any other answer: a call that did not get through (or a transaction the product service gave up) is
/// worth retrying; anything else is a fault of ours or of the deployment, also retried, and logged loudly.
fn unexpected(rpc: &str, e: ConnectError) -> StepError {
    match e.code {
        ErrorCode::Unavailable | ErrorCode::DeadlineExceeded | ErrorCode::Aborted | ErrorCode::Canceled => {
            tracing::warn!(rpc, error = %e, "a product service call failed; it will be retried");
        }
        _ => tracing::error!(rpc, error = %e, "the product service refused a saga call it should accept"),
    }
    StepError::Transient(format!("{rpc}: {}", e.code.as_str()))
}
