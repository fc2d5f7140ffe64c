//! Orders in PostgreSQL: placing one under its idempotency key, reading and listing them, and the guarded
//! transitions the checkout saga, cancellation and shipping make.
//!
//! Every change of an order is one `UPDATE ... WHERE id = $1 AND <the state it must be in>`: of two racing
//! changes exactly one matches, and the other learns so from the row count instead of overwriting it. Each
//! saga step's outcome is written with the state change it causes, and logged in `order_events` in the same
//! transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{
    domain::{Address, Checkout},
    error::Error,
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
    fn parse(stored: &str) -> Self {
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
    pub lines: Vec<Line>,
}

/// An order's row as read (without its lines).
pub(crate) type OrderTuple = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    String,
    String,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

/// The columns an [`OrderTuple`] is read from.
pub(crate) const ORDER_COLUMNS: &str = "id, user_id, status, payment_status, currency_code, subtotal, \
     shipping_fee, total, shipping_address::text, failure_reason, tracking_number, created_at, updated_at, \
     cancelled_at, shipped_at";

/// The order `row` with its `lines`, which it shows by product name and SKU code.
pub(crate) fn order(row: OrderTuple, mut lines: Vec<Line>) -> Order {
    lines.sort_by(|a, b| (&a.product_name, &a.sku_code).cmp(&(&b.product_name, &b.sku_code)));
    let (
        id,
        user_id,
        status,
        payment,
        currency_code,
        subtotal,
        shipping_fee,
        total,
        address,
        failure,
        tracking,
        created_at,
        updated_at,
        cancelled_at,
        shipped_at,
    ) = row;
    Order {
        id,
        user_id,
        status: Status::parse(&status),
        payment_status: PaymentStatus::parse(&payment),
        currency_code,
        subtotal,
        shipping_fee,
        total,
        // Written by `place` from an `Address`, so it reads back as one.
        address: serde_json::from_str(&address).expect("a stored shipping address is an Address"),
        failure_reason: failure,
        tracking_number: tracking,
        created_at,
        updated_at,
        cancelled_at,
        shipped_at,
        lines,
    }
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
    let row: Option<(Vec<u8>, Uuid)> = sqlx::query_as(
        "SELECT request_hash, order_id FROM order_service.checkout_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(checkout.key.as_str())
    .fetch_optional(pool)
    .await?;
    match row {
        None => Ok(None),
        Some((hash, _)) if hash != checkout.digest() => Err(Error::AlreadyExists(
            "the idempotency key was already used for another checkout; use a new key for a new checkout".into(),
        )),
        Some((_, order_id)) => Ok(Some(order_id)),
    }
}

/// Places `new` under `checkout`'s idempotency key, with its lines, the payment token the saga will need and
/// its first event: one statement, so the key commits with the order it names, or not at all. Every insert
/// reads the key's, so none happens when the key is taken; a concurrent call with the same key waits on the
/// key, then finds the order this one placed. The order is placed held by its caller for `lease`, to drive
/// its saga at once; the recovery worker takes it only if that lease runs out.
pub async fn place(pool: &PgPool, checkout: &Checkout, new: &NewOrder, lease: Duration) -> Result<Placed, Error> {
    let placed: Option<Uuid> = sqlx::query_scalar(
        "WITH keyed AS (
             INSERT INTO order_service.checkout_keys (user_id, key, request_hash, order_id) VALUES ($2, $8, $9, $1)
             ON CONFLICT DO NOTHING RETURNING order_id
         ), placed AS (
             INSERT INTO order_service.orders
                 (id, user_id, currency_code, subtotal, shipping_fee, total, shipping_address, lease_until)
             SELECT order_id, $2, $3, $4, $5, $4 + $5, $6::text::jsonb,
                    now() + make_interval(secs => $7::double precision)
             FROM keyed RETURNING id
         ), lines AS (
             INSERT INTO order_service.order_items
                 (order_id, sku_id, product_id, product_name, sku_code, quantity, unit_price)
             SELECT placed.id, l.* FROM placed,
                 unnest($11::uuid[], $12::uuid[], $13::text[], $14::text[], $15::bigint[], $16::bigint[]) AS l
         ), token AS (
             INSERT INTO order_service.payment_tokens (order_id, token) SELECT id, $10 FROM placed
         )
         INSERT INTO order_service.order_events (order_id, step, outcome, detail)
         SELECT id, 'place', 'placed', '' FROM placed RETURNING order_id",
    )
    .bind(new.id)
    .bind(new.user_id)
    .bind(&new.currency_code)
    .bind(new.subtotal)
    .bind(new.shipping_fee)
    .bind(serde_json::to_string(&checkout.address).expect("an address serializes"))
    .bind(lease.as_secs_f64())
    .bind(checkout.key.as_str())
    .bind(checkout.digest())
    .bind(checkout.payment_token.as_str())
    .bind(new.lines.iter().map(|l| l.sku_id).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.product_id).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.product_name.clone()).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.sku_code.clone()).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.unit_price).collect::<Vec<_>>())
    .fetch_optional(pool)
    .await?;
    if placed.is_some() {
        return Ok(Placed::New(new.id));
    }
    match find_by_key(pool, new.user_id, checkout).await? {
        Some(order_id) => Ok(Placed::Earlier(order_id)),
        // The key was taken and let go again (purged) in between: rare enough to ask for a retry.
        None => Err(Error::StillRunning("a checkout with this key was just placed; retry")),
    }
}

/// Writes one line of an order's saga log.
pub(crate) async fn log(
    tx: &mut Transaction<'_, Postgres>,
    order_id: Uuid,
    step: &str,
    outcome: &str,
    detail: &str,
) -> Result<(), Error> {
    sqlx::query("INSERT INTO order_service.order_events (order_id, step, outcome, detail) VALUES ($1, $2, $3, $4)")
        .bind(order_id)
        .bind(step)
        .bind(outcome)
        .bind(detail)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Order `id`, whoever's it is.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<Order>, Error> {
    let row: Option<OrderTuple> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {ORDER_COLUMNS} FROM order_service.orders WHERE id = $1")))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let lines = lines_of(pool, &[id]).await?.into_iter().map(|(_, line)| line).collect();
    Ok(Some(order(row, lines)))
}

/// Order `id` if it is `user_id`'s: another's is as missing as one that does not exist.
pub async fn get_own(pool: &PgPool, user_id: Uuid, id: Uuid) -> Result<Order, Error> {
    match get(pool, id).await? {
        Some(order) if order.user_id == user_id => Ok(order),
        _ => Err(Error::NotFound("order")),
    }
}

async fn lines_of(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<(Uuid, Line)>, Error> {
    let rows: Vec<(Uuid, Uuid, Uuid, String, String, i64, i64)> = sqlx::query_as(
        "SELECT order_id, sku_id, product_id, product_name, sku_code, quantity, unit_price
         FROM order_service.order_items WHERE order_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(order_id, sku_id, product_id, product_name, sku_code, quantity, unit_price)| {
            (order_id, Line { sku_id, product_id, product_name, sku_code, quantity, unit_price })
        })
        .collect())
}

/// What to list.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListFilter {
    /// One account's orders (a customer's own; an admin's filter).
    pub user_id: Option<Uuid>,
    pub status: Option<Status>,
}

/// Up to `limit` orders matching `filter`, newest first, older than `before` if given.
pub async fn list(pool: &PgPool, filter: ListFilter, before: Option<Uuid>, limit: i64) -> Result<Vec<Order>, Error> {
    let rows: Vec<OrderTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ORDER_COLUMNS} FROM order_service.orders
         WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2)
           AND ($3::uuid IS NULL OR id < $3)
         ORDER BY id DESC LIMIT $4"
    )))
    .bind(filter.user_id)
    .bind(filter.status.map(Status::as_str))
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.0).collect();
    let mut lines = lines_of(pool, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.0;
            let mine = lines.extract_if(.., |(order_id, _)| *order_id == id).map(|(_, line)| line).collect();
            order(row, mine)
        })
        .collect())
}

/// How long the longest-waiting unfinished saga has been due without anyone driving it (no live lease), in
/// seconds; 0 when none is waiting. What the recovery worker has yet to catch up on.
pub async fn recovery_lag(pool: &PgPool) -> Result<f64, Error> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(next_attempt_at)), 0)::float8 FROM order_service.orders
         WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())",
    )
    .fetch_one(pool)
    .await?)
}

/// Deletes checkout idempotency keys recorded more than `age` ago (the orders stay), and returns how many.
pub async fn forget_keys(pool: &PgPool, age: Duration) -> Result<u64, Error> {
    Ok(sqlx::query(
        "DELETE FROM order_service.checkout_keys WHERE created_at < now() - make_interval(secs => $1::double precision)",
    )
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected())
}
