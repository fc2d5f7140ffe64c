//! Stock per SKU and the reservations the order saga makes against it (Try-Confirm-Cancel), in PostgreSQL.
//!
//! What keeps stock right under any concurrency:
//! - `0 <= reserved <= quantity` is a CHECK constraint on `inventory`; the code checks first to answer with
//!   the right error, the database has the last word.
//! - Every change of stock locks the SKUs' inventory rows **in SKU-id order** (`lock_stock`) before touching
//!   them, so transactions that reserve overlapping SKUs queue instead of deadlocking, and checks made under
//!   the lock hold until commit: there is no oversell.
//! - Every change writes its movements (`stock_movements`: who, why, the deltas, the reservation) in the same
//!   transaction, so `quantity` is always the sum of its movements' `quantity_delta`, and `reserved` of
//!   `reserved_delta`.
//! - A reservation leaves `pending` by one guarded transition (the row is locked, the status re-read under
//!   the lock), so of confirm, release and expiry racing on one reservation exactly one moves the stock. A
//!   confirmed one can be restocked (a cancelled order's units back on hand) by the same kind of transition,
//!   once.
//! - Locks are taken in one order: a reservation row, then an idempotency key's index entry, then inventory
//!   rows in SKU-id order. Catalog edits lock a product, then its SKUs, and deletes then their inventory
//!   rows; no one locks a product or SKU after inventory. No two transactions can wait on each other in a
//!   cycle. A reservation re-reads whether its SKUs are for sale once it holds its locks, so one that waited
//!   behind a delete sees it, and a delete that waited behind a reservation sees the reservation.
//!
//! Idempotency keys ([`record_key`]) are scoped per caller and operation and commit with the change they
//! record; a failed attempt leaves no key, so a retry is tried afresh.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{
    domain::{IdempotencyKey, ReservationItems},
    error::{Error, Shortage},
};

/// The stock of one SKU.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Stock {
    pub sku_id: Uuid,
    pub quantity: i64,
    pub reserved: i64,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

impl Stock {
    pub fn available(&self) -> i64 {
        self.quantity - self.reserved
    }
}

/// Where a reservation is in Try-Confirm-Cancel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReservationStatus {
    Pending,
    Confirmed,
    Released,
    Expired,
    /// Confirmed, then put back on hand (a cancelled order).
    Restocked,
}

impl ReservationStatus {
    fn parse(stored: &str) -> Self {
        match stored {
            "pending" => Self::Pending,
            "confirmed" => Self::Confirmed,
            "released" => Self::Released,
            "expired" => Self::Expired,
            "restocked" => Self::Restocked,
            // The column's CHECK constraint allows nothing else.
            other => unreachable!("reservation status {other:?} is not allowed by the schema"),
        }
    }
}

/// A reservation and what it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub id: Uuid,
    pub status: ReservationStatus,
    /// Sorted by SKU id.
    pub items: Vec<(Uuid, i64)>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who changed stock, as written to the movements: an account id, or the service itself.
#[derive(Clone, Debug)]
pub struct Actor(pub String);

impl Actor {
    /// The expiry worker.
    pub fn expiry() -> Self {
        Self("expiry".into())
    }
}

/// One change of one SKU's stock, as a movement records it.
struct Change {
    sku_id: Uuid,
    quantity_delta: i64,
    reserved_delta: i64,
    reservation: Option<Uuid>,
}

const LIVE_SKU: &str = "JOIN product_service.skus s ON s.id = i.sku_id AND s.deleted_at IS NULL";

/// The stock of a live SKU.
pub async fn get(pool: &PgPool, sku_id: Uuid) -> Result<Stock, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.sku_id, i.quantity, i.reserved, i.version, i.updated_at
         FROM product_service.inventory i {LIVE_SKU} WHERE i.sku_id = $1"
    )))
    .bind(sku_id)
    .fetch_optional(pool)
    .await?
    .ok_or(Error::NotFound("SKU"))
}

/// Locks a live SKU's stock for the rest of `tx`.
async fn lock_one(tx: &mut Transaction<'_, Postgres>, sku_id: Uuid) -> Result<Stock, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.sku_id, i.quantity, i.reserved, i.version, i.updated_at
         FROM product_service.inventory i {LIVE_SKU} WHERE i.sku_id = $1 FOR UPDATE OF i"
    )))
    .bind(sku_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(Error::NotFound("SKU"))
}

/// Sets a SKU's on-hand quantity, if `version` is still its version (optimistic concurrency for stock counts).
pub async fn update(pool: &PgPool, actor: &Actor, sku_id: Uuid, quantity: i64, version: i64) -> Result<Stock, Error> {
    if quantity < 0 {
        return Err(Error::InvalidArgument("quantity must not be negative".into()));
    }
    let mut tx = begin(pool).await?;
    let stock = lock_one(&mut tx, sku_id).await?;
    if stock.version != version {
        return Err(Error::Aborted("the stock changed since it was read; read it again and retry"));
    }
    if quantity < stock.reserved {
        return Err(Error::FailedPrecondition(format!(
            "quantity {quantity} is below the {} units reserved",
            stock.reserved
        )));
    }
    let delta = quantity - stock.quantity;
    if delta != 0 {
        let change = Change { sku_id, quantity_delta: delta, reserved_delta: 0, reservation: None };
        apply(&mut tx, &[change], "update", actor, "").await?;
    }
    let stock = lock_one(&mut tx, sku_id).await?;
    tx.commit().await?;
    Ok(stock)
}

/// Adds `delta` (negative to remove) to a SKU's on-hand quantity, recording `note` as the reason.
pub async fn adjust(pool: &PgPool, actor: &Actor, sku_id: Uuid, delta: i64, note: &str) -> Result<Stock, Error> {
    if delta == 0 {
        return Err(Error::InvalidArgument("delta must not be zero".into()));
    }
    if note.chars().count() > 500 || note.chars().any(char::is_control) {
        return Err(Error::InvalidArgument("reason must be at most 500 characters without control characters".into()));
    }
    let mut tx = begin(pool).await?;
    let stock = lock_one(&mut tx, sku_id).await?;
    let quantity =
        stock.quantity.checked_add(delta).ok_or_else(|| Error::InvalidArgument("delta is too large".into()))?;
    if quantity < stock.reserved {
        return Err(Error::FailedPrecondition(format!(
            "the quantity would drop to {quantity}, below the {} units reserved",
            stock.reserved
        )));
    }
    let change = Change { sku_id, quantity_delta: delta, reserved_delta: 0, reservation: None };
    apply(&mut tx, &[change], "adjust", actor, note).await?;
    let stock = lock_one(&mut tx, sku_id).await?;
    tx.commit().await?;
    Ok(stock)
}

/// Whether a key was new, or had been recorded for this same request before.
enum Recorded {
    New,
    Before { reservation_id: Uuid },
}

/// Records idempotency key `key` of `scope` for `operation` on `reservation_id`, with the request's digest.
/// A concurrent transaction recording the same key waits here until the first commits or rolls back. The same
/// key recorded earlier for another request is `already_exists`.
async fn record_key(
    tx: &mut Transaction<'_, Postgres>,
    scope: &str,
    operation: &str,
    key: &IdempotencyKey,
    digest: &[u8],
    reservation_id: Uuid,
) -> Result<Recorded, Error> {
    // Twice at most: the earlier record can be forgotten (it grew old) between the insert and the read.
    for _ in 0..2 {
        if let Some(recorded) = try_record_key(tx, scope, operation, key, digest, reservation_id).await? {
            return Ok(recorded);
        }
    }
    Err(Error::Aborted("the idempotency key changed while it was being recorded; retry"))
}

async fn try_record_key(
    tx: &mut Transaction<'_, Postgres>,
    scope: &str,
    operation: &str,
    key: &IdempotencyKey,
    digest: &[u8],
    reservation_id: Uuid,
) -> Result<Option<Recorded>, Error> {
    let inserted = sqlx::query(
        "INSERT INTO product_service.idempotency_keys (scope, operation, key, request_hash, reservation_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(scope)
    .bind(operation)
    .bind(key.as_str())
    .bind(digest)
    .bind(reservation_id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Some(Recorded::New));
    }
    let earlier: Option<(Vec<u8>, Uuid)> = sqlx::query_as(
        "SELECT request_hash, reservation_id FROM product_service.idempotency_keys
         WHERE scope = $1 AND operation = $2 AND key = $3",
    )
    .bind(scope)
    .bind(operation)
    .bind(key.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some((earlier_digest, reservation_id)) = earlier else { return Ok(None) };
    if earlier_digest != digest {
        return Err(Error::AlreadyExists("the idempotency key was already used for another request".into()));
    }
    Ok(Some(Recorded::Before { reservation_id }))
}

/// A query for the ids of the SKUs among `skus` (a `uuid[]` parameter) that are for sale: live, of a live
/// published product.
fn for_sale(skus: &str) -> String {
    format!(
        "SELECT s.id FROM product_service.skus s
         JOIN product_service.products p ON p.id = s.product_id AND p.deleted_at IS NULL AND p.status = 'published'
         WHERE s.id = ANY({skus}) AND s.deleted_at IS NULL"
    )
}

const NOT_FOR_SALE: &str = "SKU (or it is not for sale)";

/// Begins a transaction over stock (or one that reads SKUs by a list of ids). Its statements look rows up by
/// key, lists of keys included (`sku_id = ANY($1)`, `unnest($1)`), and one plan fits every call; but
/// PostgreSQL plans a prepared statement with an array parameter afresh on every execution, since the generic
/// plan's estimate for "some array" never beats a plan made for the actual one. `force_generic_plan` plans
/// each statement once per connection: reservations spread over many SKUs went from 39 % to 47 % of
/// pgbench's rate when PostgreSQL, not the disk, limits (docs/performance.md). A plan made while a table is
/// nearly empty can be a sequential scan; PostgreSQL makes it again whenever autovacuum analyzes the table,
/// which it does as the table grows. (At the default `random_page_cost` a generic plan scans a table of a
/// thousand rows whole; the embedded PostgreSQL runs with 1.1, as a server on SSD should.)
pub(crate) async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, Error> {
    Ok(pool.begin_with("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan").await?)
}

/// Locks the inventory rows of `sku_ids` in SKU-id order (the one order every transaction uses).
///
/// Only inventory rows: a SKU or product row is never locked by a reservation, so a popular product's row is
/// not a point every checkout queues on. What keeps reservations and deletes apart instead is that deleting a
/// SKU or a product locks its inventory rows too ([`lock_for_delete`]): whichever comes second waits, then
/// sees the other (the reservation re-reads whether its SKUs are for sale once it holds its locks).
pub(crate) async fn lock_stock(tx: &mut Transaction<'_, Postgres>, sku_ids: &[Uuid]) -> Result<Vec<Stock>, Error> {
    Ok(sqlx::query_as(
        "SELECT sku_id, quantity, reserved, version, updated_at FROM product_service.inventory
         WHERE sku_id = ANY($1) ORDER BY sku_id FOR UPDATE",
    )
    .bind(sku_ids)
    .fetch_all(&mut **tx)
    .await?)
}

/// For a delete of these SKUs (or their product): locks their stock, so reservations in flight finish
/// first, and says whether any is held by a pending reservation.
pub(crate) async fn lock_for_delete(tx: &mut Transaction<'_, Postgres>, sku_ids: &[Uuid]) -> Result<bool, Error> {
    lock_stock(tx, sku_ids).await?;
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM product_service.reservation_items ri
                        JOIN product_service.reservations r ON r.id = ri.reservation_id
                        WHERE ri.sku_id = ANY($1) AND r.status = 'pending')",
    )
    .bind(sku_ids)
    .fetch_one(&mut **tx)
    .await?)
}

/// Applies `changes` to stock whose rows `tx` has locked, and writes one movement for each.
async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    changes: &[Change],
    kind: &str,
    actor: &Actor,
    note: &str,
) -> Result<(), Error> {
    let sku_ids: Vec<Uuid> = changes.iter().map(|c| c.sku_id).collect();
    let quantity: Vec<i64> = changes.iter().map(|c| c.quantity_delta).collect();
    let reserved: Vec<i64> = changes.iter().map(|c| c.reserved_delta).collect();
    let reservations: Vec<Option<Uuid>> = changes.iter().map(|c| c.reservation).collect();
    sqlx::query(
        "WITH change AS (
             SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::uuid[])
                 AS c (sku_id, quantity_delta, reserved_delta, reservation_id)
         ), moved AS (
             UPDATE product_service.inventory i
             SET quantity = i.quantity + total.quantity_delta,
                 reserved = i.reserved + total.reserved_delta,
                 version = i.version + 1,
                 updated_at = now()
             FROM (SELECT sku_id, sum(quantity_delta) AS quantity_delta, sum(reserved_delta) AS reserved_delta
                   FROM change GROUP BY sku_id) total
             WHERE i.sku_id = total.sku_id
         )
         INSERT INTO product_service.stock_movements
             (sku_id, quantity_delta, reserved_delta, kind, actor, note, reservation_id)
         SELECT sku_id, quantity_delta, reserved_delta, $5, $6, $7, reservation_id FROM change",
    )
    .bind(&sku_ids)
    .bind(&quantity)
    .bind(&reserved)
    .bind(&reservations)
    .bind(kind)
    .bind(&actor.0)
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Holds stock for every item or for none ("Try"), for `ttl`. `scope` is the caller the key belongs to.
pub async fn reserve(
    pool: &PgPool,
    scope: &str,
    key: &IdempotencyKey,
    items: &ReservationItems,
    ttl: Duration,
) -> Result<Reservation, Error> {
    let mut tx = begin(pool).await?;
    let id = Uuid::now_v7();
    let digest = items.digest();
    // The reservation and its key in one statement, before any stock is locked: a duplicate of this request
    // waits here on the key, not holding rows others need.
    let (created_at, expires_at, key_recorded): (DateTime<Utc>, DateTime<Utc>, bool) = sqlx::query_as(
        "WITH reservation AS (
             INSERT INTO product_service.reservations (id, expires_at)
             VALUES ($1, now() + make_interval(secs => $2::double precision))
             RETURNING created_at, expires_at
         ), recorded AS (
             INSERT INTO product_service.idempotency_keys (scope, operation, key, request_hash, reservation_id)
             VALUES ($3, 'reserve', $4, $5, $1) ON CONFLICT DO NOTHING RETURNING 1
         )
         SELECT created_at, expires_at, EXISTS (SELECT 1 FROM recorded) FROM reservation",
    )
    .bind(id)
    .bind(ttl.as_secs_f64())
    .bind(scope)
    .bind(key.as_str())
    .bind(&digest)
    .fetch_one(&mut *tx)
    .await?;
    if !key_recorded
        && let Recorded::Before { reservation_id } = record_key(&mut tx, scope, "reserve", key, &digest, id).await?
    {
        tx.rollback().await?;
        return get_reservation(pool, reservation_id).await;
    }

    let wanted = items.as_slice();
    let sku_ids: Vec<Uuid> = wanted.iter().map(|(sku_id, _)| *sku_id).collect();
    let stock = lock_stock(&mut tx, &sku_ids).await?;
    if stock.len() != wanted.len() {
        return Err(Error::NotFound(NOT_FOR_SALE));
    }
    // Both lists are sorted by SKU id.
    let short: Vec<Shortage> = wanted
        .iter()
        .zip(&stock)
        .filter(|((_, quantity), stock)| stock.available() < *quantity)
        .map(|((sku_id, quantity), stock)| Shortage {
            sku_id: *sku_id,
            requested: *quantity,
            available: stock.available(),
        })
        .collect();
    if !short.is_empty() {
        // A SKU that is not for sale is not found, whatever its stock.
        let for_sale: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM ({}) f", for_sale("$1"))))
                .bind(&sku_ids)
                .fetch_one(&mut *tx)
                .await?;
        return Err(if for_sale == wanted.len() as i64 {
            Error::InsufficientStock(short)
        } else {
            Error::NotFound(NOT_FOR_SALE)
        });
    }

    // The items, the stock they hold and its movements, in one statement (each SKU once, so the joins are
    // 1:1). Items are held only for SKUs that are for sale, read now the stock rows are locked, in a statement
    // of its own (so with a fresh snapshot): a product hidden or a SKU deleted while this waited for the locks
    // holds nothing, and the transaction is dropped.
    let quantities: Vec<i64> = wanted.iter().map(|(_, quantity)| *quantity).collect();
    let held = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH held AS (
             INSERT INTO product_service.reservation_items (reservation_id, sku_id, quantity)
             SELECT $1, wanted.sku_id, wanted.quantity FROM unnest($2::uuid[], $3::bigint[]) AS wanted (sku_id, quantity)
             WHERE wanted.sku_id IN ({})
             RETURNING sku_id, quantity
         ), moved AS (
             UPDATE product_service.inventory i
             SET reserved = i.reserved + held.quantity, version = i.version + 1, updated_at = now()
             FROM held WHERE i.sku_id = held.sku_id
         )
         INSERT INTO product_service.stock_movements (sku_id, quantity_delta, reserved_delta, kind, actor, reservation_id)
         SELECT sku_id, 0, quantity, 'reserve', $4, $1 FROM held",
        for_sale("$2")
    )))
    .bind(id)
    .bind(&sku_ids)
    .bind(&quantities)
    .bind(scope)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if held != wanted.len() as u64 {
        return Err(Error::NotFound(NOT_FOR_SALE));
    }
    tx.commit().await?;
    Ok(Reservation {
        id,
        status: ReservationStatus::Pending,
        items: wanted.to_vec(),
        created_at,
        expires_at,
        updated_at: created_at,
    })
}

/// Turns a pending reservation into a sale ("Confirm"): quantity and reserved both drop. A confirmed one is
/// returned as it is; a released or expired one is `failed_precondition`, and so is a pending one past its
/// expiry, which is expired on the spot.
pub async fn confirm(pool: &PgPool, scope: &str, key: &IdempotencyKey, id: Uuid) -> Result<Reservation, Error> {
    transition(pool, scope, key, id, Transition::Confirm).await
}

/// Gives a pending reservation's stock back ("Cancel"). A released or expired one is returned as it is; a
/// confirmed one is `failed_precondition` (refunds restock through `adjust`).
pub async fn release(pool: &PgPool, scope: &str, key: &IdempotencyKey, id: Uuid) -> Result<Reservation, Error> {
    transition(pool, scope, key, id, Transition::Release).await
}

/// Puts a confirmed reservation's units back on hand (an order cancelled before it shipped): quantity rises
/// by each item's units. A restocked one is returned as it is; any other is `failed_precondition`.
pub async fn restock(pool: &PgPool, scope: &str, key: &IdempotencyKey, id: Uuid) -> Result<Reservation, Error> {
    transition(pool, scope, key, id, Transition::Restock).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transition {
    Confirm,
    Release,
    Restock,
}

async fn transition(
    pool: &PgPool,
    scope: &str,
    key: &IdempotencyKey,
    id: Uuid,
    transition: Transition,
) -> Result<Reservation, Error> {
    // The reservation's columns, and whether it is past its expiry by the database's clock.
    type Locked = (Uuid, String, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, bool);
    let mut tx = begin(pool).await?;
    // The reservation row first: whoever holds it decides its fate, and everyone after re-reads the status.
    let locked: Option<Locked> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RESERVATION_COLUMNS}, expires_at <= now() FROM product_service.reservations WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((_, status, created_at, expires_at, updated_at, past_expiry)) = locked else {
        return Err(Error::NotFound("reservation"));
    };
    let row: ReservationRow = (id, status.clone(), created_at, expires_at, updated_at);
    let operation = match transition {
        Transition::Confirm => "confirm",
        Transition::Release => "release",
        Transition::Restock => "restock",
    };
    let actor = Actor(scope.to_owned());
    let moved = match (transition, ReservationStatus::parse(&status)) {
        (Transition::Confirm, ReservationStatus::Pending) if past_expiry => {
            // Late: expire it now rather than leave it to the worker, and say so. No key is kept.
            expire(&mut tx, &[id]).await?;
            tx.commit().await?;
            return Err(Error::FailedPrecondition("the reservation has expired".into()));
        }
        (Transition::Confirm, ReservationStatus::Pending) => {
            record_key(&mut tx, scope, operation, key, id.as_bytes(), id).await?;
            move_stock(&mut tx, id, "confirmed", "confirm", &actor, |quantity| (-quantity, -quantity)).await?
        }
        (Transition::Release, ReservationStatus::Pending) => {
            record_key(&mut tx, scope, operation, key, id.as_bytes(), id).await?;
            move_stock(&mut tx, id, "released", "release", &actor, |quantity| (0, -quantity)).await?
        }
        (Transition::Restock, ReservationStatus::Confirmed) => {
            record_key(&mut tx, scope, operation, key, id.as_bytes(), id).await?;
            move_stock(&mut tx, id, "restocked", "restock", &actor, |quantity| (quantity, 0)).await?
        }
        // Already where it was asked to go: answered as it is (the key is still held to this reservation).
        (Transition::Confirm, ReservationStatus::Confirmed)
        | (Transition::Release, ReservationStatus::Released | ReservationStatus::Expired)
        | (Transition::Restock, ReservationStatus::Restocked) => {
            record_key(&mut tx, scope, operation, key, id.as_bytes(), id).await?;
            let items = items_of(&mut tx, &[id]).await?;
            tx.commit().await?;
            return Ok(reservation(row, items));
        }
        (Transition::Confirm, ReservationStatus::Released) => {
            return Err(Error::FailedPrecondition("the reservation was released".into()));
        }
        (Transition::Confirm, ReservationStatus::Expired) => {
            return Err(Error::FailedPrecondition("the reservation has expired".into()));
        }
        (Transition::Release, ReservationStatus::Confirmed) => {
            return Err(Error::FailedPrecondition(
                "the reservation was confirmed; a cancelled order's stock goes back through RestockReservation".into(),
            ));
        }
        (Transition::Confirm | Transition::Release, ReservationStatus::Restocked) => {
            return Err(Error::FailedPrecondition("the reservation was confirmed and restocked".into()));
        }
        (Transition::Restock, ReservationStatus::Pending) => {
            return Err(Error::FailedPrecondition("the reservation is still pending; release it instead".into()));
        }
        (Transition::Restock, ReservationStatus::Released | ReservationStatus::Expired) => {
            return Err(Error::FailedPrecondition("the reservation's stock was never sold".into()));
        }
    };
    tx.commit().await?;
    let (status, updated_at, items) = moved;
    Ok(reservation((id, status.to_owned(), created_at, expires_at, updated_at), items))
}

/// Moves the locked reservation `id` to `status` and its stock by `deltas(quantity)` = (quantity delta,
/// reserved delta) per item; the status, when it changed, and the items.
async fn move_stock<'s>(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    status: &'s str,
    kind: &str,
    actor: &Actor,
    deltas: impl Fn(i64) -> (i64, i64),
) -> Result<(&'s str, DateTime<Utc>, Vec<(Uuid, Uuid, i64)>), Error> {
    let updated_at: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE product_service.reservations SET status = $2, updated_at = now() WHERE id = $1 RETURNING updated_at",
    )
    .bind(id)
    .bind(status)
    .fetch_one(&mut **tx)
    .await?;
    let items = lock_items(tx, &[id]).await?;
    let changes: Vec<Change> = items
        .iter()
        .map(|&(reservation, sku_id, quantity)| {
            let (quantity_delta, reserved_delta) = deltas(quantity);
            Change { sku_id, quantity_delta, reserved_delta, reservation: Some(reservation) }
        })
        .collect();
    apply(tx, &changes, kind, actor, "").await?;
    Ok((status, updated_at, items))
}

/// Expires the locked, pending reservations `ids` and gives their stock back.
async fn expire(tx: &mut Transaction<'_, Postgres>, ids: &[Uuid]) -> Result<(), Error> {
    // Stock goes back only for the reservations this very statement moved out of `pending`.
    let expired: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE product_service.reservations SET status = 'expired', updated_at = now()
         WHERE id = ANY($1) AND status = 'pending' RETURNING id",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?;
    if expired.is_empty() {
        return Ok(());
    }
    let items = lock_items(tx, &expired).await?;
    let changes: Vec<Change> = items
        .into_iter()
        .map(|(reservation, sku_id, quantity)| Change {
            sku_id,
            quantity_delta: 0,
            reserved_delta: -quantity,
            reservation: Some(reservation),
        })
        .collect();
    apply(tx, &changes, "expire", &Actor::expiry(), "").await
}

/// Expires up to `batch` pending reservations whose time is up, giving their stock back, and returns how many.
/// Rows another transaction holds (a confirm or release in flight, another replica's worker) are skipped, so
/// any number of workers can run at once.
pub async fn expire_due(pool: &PgPool, batch: i64) -> Result<usize, Error> {
    let mut tx = begin(pool).await?;
    let due: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM product_service.reservations
         WHERE status = 'pending' AND expires_at <= now()
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(batch)
    .fetch_all(&mut *tx)
    .await?;
    if !due.is_empty() {
        expire(&mut tx, &due).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// Deletes idempotency keys recorded more than `age` ago, and returns how many.
pub async fn forget_keys(pool: &PgPool, age: Duration) -> Result<u64, Error> {
    Ok(sqlx::query(
        "DELETE FROM product_service.idempotency_keys
         WHERE created_at < now() - make_interval(secs => $1::double precision)",
    )
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected())
}

/// The items of reservations `ids`, as (reservation, SKU, quantity), sorted by SKU, with their SKUs' stock
/// locked for the rest of `tx` in that order (as [`lock_stock`] locks).
async fn lock_items(tx: &mut Transaction<'_, Postgres>, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid, i64)>, Error> {
    Ok(sqlx::query_as(
        "SELECT ri.reservation_id, ri.sku_id, ri.quantity
         FROM product_service.reservation_items ri JOIN product_service.inventory i ON i.sku_id = ri.sku_id
         WHERE ri.reservation_id = ANY($1) ORDER BY ri.sku_id, ri.reservation_id FOR UPDATE OF i",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?)
}

/// The items of reservations `ids`, as (reservation, SKU, quantity), sorted by SKU.
async fn items_of(tx: &mut Transaction<'_, Postgres>, ids: &[Uuid]) -> Result<Vec<(Uuid, Uuid, i64)>, Error> {
    Ok(sqlx::query_as(
        "SELECT reservation_id, sku_id, quantity FROM product_service.reservation_items
         WHERE reservation_id = ANY($1) ORDER BY sku_id, reservation_id",
    )
    .bind(ids)
    .fetch_all(&mut **tx)
    .await?)
}

type ReservationRow = (Uuid, String, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>);

const RESERVATION_COLUMNS: &str = "id, status, created_at, expires_at, updated_at";

fn reservation(row: ReservationRow, items: Vec<(Uuid, Uuid, i64)>) -> Reservation {
    let (id, status, created_at, expires_at, updated_at) = row;
    Reservation {
        id,
        status: ReservationStatus::parse(&status),
        items: items.into_iter().map(|(_, sku_id, quantity)| (sku_id, quantity)).collect(),
        created_at,
        expires_at,
        updated_at,
    }
}

async fn read_reservation(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<Option<Reservation>, Error> {
    let row: Option<ReservationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RESERVATION_COLUMNS} FROM product_service.reservations WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(reservation(row, items_of(tx, &[id]).await?)))
}

/// A reservation and its items.
pub async fn get_reservation(pool: &PgPool, id: Uuid) -> Result<Reservation, Error> {
    let mut tx = begin(pool).await?;
    let found = read_reservation(&mut tx, id).await?;
    tx.commit().await?;
    found.ok_or(Error::NotFound("reservation"))
}
