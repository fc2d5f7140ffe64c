//! Orders: what one is (its status, where its money is, the saga step it runs next, its lines), placing one
//! under its idempotency key, and reading and listing them. The SQL is in [`crate::db::orders`] and the
//! tables beside it; the checkout saga, cancellation and shipping, which change orders, are
//! [`crate::saga`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use ec_platform::identity::Contact;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    db,
    domain::{Address, Checkout},
    error::{Error, OrderError},
};

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Confirmed,
    Failed,
    Cancelled,
    Shipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Shipped => "shipped",
        }
    }

    pub(crate) fn parse(stored: &str) -> Self {
        match stored {
            "pending" => Status::Pending,
            "confirmed" => Status::Confirmed,
            "failed" => Status::Failed,
            "cancelled" => Status::Cancelled,
            "shipped" => Status::Shipped,
            other => unreachable!("order status {other:?} is not allowed by the schema"),
        }
    }
}

/// Where an order's money is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    Pending,
    Authorized,
    Declined,
    Voided,
    Captured,
    Refunded,
}

impl PaymentStatus {
    pub(crate) fn parse(stored: &str) -> Self {
        match stored {
            "pending" => PaymentStatus::Pending,
            "authorized" => PaymentStatus::Authorized,
            "declined" => PaymentStatus::Declined,
            "voided" => PaymentStatus::Voided,
            "captured" => PaymentStatus::Captured,
            "refunded" => PaymentStatus::Refunded,
            other => unreachable!("payment status {other:?} is not allowed by the schema"),
        }
    }
}

/// The saga step an order runs next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Hold the stock (BatchReserveInventory).
    Reserve,
    /// Hold the money (the payment provider).
    Authorize,
    /// Sell the held stock (ConfirmReservation); then the order is CONFIRMED.
    Confirm,
    /// Compensation: give held stock back (ReleaseReservation).
    Release,
    /// Cancellation: put sold stock back on hand (RestockReservation).
    Restock,
    /// Compensation and cancellation: let the money go (void the authorisation).
    Void,
    /// Nothing left to do.
    Done,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Reserve => "reserve",
            Step::Authorize => "authorize",
            Step::Confirm => "confirm",
            Step::Release => "release",
            Step::Restock => "restock",
            Step::Void => "void",
            Step::Done => "done",
        }
    }

    /// The step named `name` (as stored and as the `--saga-pause-after` flag takes it).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "reserve" => Step::Reserve,
            "authorize" => Step::Authorize,
            "confirm" => Step::Confirm,
            "release" => Step::Release,
            "restock" => Step::Restock,
            "void" => Step::Void,
            "done" => Step::Done,
            _ => return None,
        })
    }

    pub(crate) fn parse(stored: &str) -> Self {
        // The column's CHECK constraint allows nothing else.
        Self::from_name(stored).unwrap_or_else(|| unreachable!("saga step {stored:?} is not allowed by the schema"))
    }
}

/// One line of an order, priced when it was placed.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Line {
    pub sku_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub sku_code: String,
    pub quantity: i64,
    pub unit_price: i64,
}

/// So many units of one SKU: what an order's saga reserves per line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
pub struct Units {
    pub sku_id: Uuid,
    pub quantity: i64,
}

/// An order, whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: Status,
    pub payment_status: PaymentStatus,
    pub currency_code: String,
    pub subtotal: i64,
    pub shipping_fee: i64,
    pub total: i64,
    pub address: Address,
    pub failure_reason: String,
    pub tracking_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    /// Who placed it, as their access token named them then.
    pub customer: Contact,
    pub lines: Vec<Line>,
}

/// An order about to be placed: priced, with its lines.
#[derive(Clone, Debug)]
pub struct NewOrder {
    pub id: Uuid,
    pub user_id: Uuid,
    pub currency_code: String,
    pub subtotal: i64,
    pub shipping_fee: i64,
    pub lines: Vec<Line>,
}

impl NewOrder {
    /// What the order charges: its subtotal and its shipping fee.
    pub fn total(&self) -> i64 {
        self.subtotal + self.shipping_fee
    }
}

/// What an idempotency key already names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placed {
    /// This call placed the order.
    New(Uuid),
    /// An earlier call with the same key and request did.
    Earlier(Uuid),
}

/// The order an idempotency key of `user_id` was used for, if `checkout` is the request it was used with;
/// `already_exists` if it was used with another.
pub async fn find_by_key(pool: &PgPool, user_id: Uuid, checkout: &Checkout) -> Result<Option<Uuid>, Error> {
    match db::checkout_keys::find(pool, user_id, checkout.key.as_str()).await? {
        None => Ok(None),
        Some(used) if used.request_hash != checkout.digest() => Err(Error::AlreadyExists(
            "the idempotency key was already used for another checkout; use a new key for a new checkout".into(),
        )),
        Some(used) => Ok(Some(used.order_id)),
    }
}

/// Places `new` under `checkout`'s idempotency key, with its lines, the payment token the saga will need and
/// its first event, all committed together with the key ([`db::orders::place`]); a concurrent call with the
/// same key waits on the key, then finds the order this one placed. The order is placed held by its caller
/// for `lease`, to drive its saga at once; the recovery worker takes it only if that lease runs out.
pub async fn place(
    pool: &PgPool,
    checkout: &Checkout,
    customer: &Contact,
    new: &NewOrder,
    lease: Duration,
) -> Result<Placed, Error> {
    if db::orders::place(pool, checkout, customer, new, lease).await? {
        return Ok(Placed::New(new.id));
    }
    match find_by_key(pool, new.user_id, checkout).await? {
        Some(order_id) => Ok(Placed::Earlier(order_id)),
        // The key was taken and let go again (purged) in between: rare enough to ask for a retry.
        None => Err(OrderError::StillRunning("a checkout with this key was just placed; retry").into()),
    }
}

/// Order `id`, whoever's it is.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Order>, Error> {
    let Some(row) = db::orders::get(pool, id).await? else { return Ok(None) };
    let lines = db::order_items::of_orders(pool, &[id]).await?.into_iter().map(|item| item.line).collect();
    Ok(Some(row.with_lines(lines)))
}

/// Order `id` if it is `user_id`'s: another's is as missing as one that does not exist.
pub async fn get_own(pool: &PgPool, user_id: Uuid, id: Uuid) -> Result<Order, Error> {
    match get(pool, id).await? {
        Some(order) if order.user_id == user_id => Ok(order),
        _ => Err(Error::NotFound("order")),
    }
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    /// One account's orders (a customer's own; an admin's filter).
    pub user_id: Option<Uuid>,
    /// Only orders in these statuses; empty means every status.
    pub statuses: Vec<Status>,
    /// Only orders whose customer's email key ([`crate::domain::email_key`]) starts with this key.
    pub customer_email: Option<String>,
    /// Only orders placed at or after this instant.
    pub placed_after: Option<DateTime<Utc>>,
    /// Only orders placed before this instant.
    pub placed_before: Option<DateTime<Utc>>,
}

/// Up to `limit` orders matching `filter`, newest first, older than `before` if given.
pub async fn list(pool: &PgPool, filter: ListFilter, before: Option<Uuid>, limit: i64) -> Result<Vec<Order>, Error> {
    let rows = db::orders::list(pool, filter, before, limit).await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let mut items = db::order_items::of_orders(pool, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            let mine = items.extract_if(.., |item| item.order_id == id).map(|item| item.line).collect();
            row.with_lines(mine)
        })
        .collect())
}
