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
//! - Locks are taken in one order: confirm, release, restock and expiry take a reservation row, then their
//!   idempotency key's index entry, then inventory rows in SKU-id order; a new reservation takes the
//!   inventory rows first, then its key's entry (a reservation's keys and a transition's never collide, so
//!   the two orders never meet on one key). Catalog edits lock a product, then its SKUs, and deletes then
//!   their inventory rows; no one locks a product or SKU after inventory. No two transactions can wait on
//!   each other in a cycle. A reservation that waited behind a delete sees it (its transaction re-reads the
//!   catalog once it holds its locks; its one statement finds the delete marked on the locked stock rows),
//!   and a delete that waited behind a reservation sees the reservation.
//!
//! Idempotency keys ([`record_key`]) are scoped per caller and operation and commit with the change they
//! record; a failed attempt leaves no key, so a retry is tried afresh.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction, postgres::PgArguments, query::QueryAs};
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
    if delta == 0 {
        return Ok(stock);
    }
    let stock = change_on_hand(&mut tx, sku_id, delta, "update", actor, "").await?;
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
    let stock = change_on_hand(&mut tx, sku_id, delta, "adjust", actor, note).await?;
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
    metrics::counter!("ec_idempotent_replays_total", "operation" => operation.to_owned()).increment(1);
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

/// Begins a transaction over stock. Its statements look rows up by
/// key, lists of keys included (`sku_id = ANY($1)`, `unnest($1)`), and one plan fits every call; but
/// PostgreSQL plans a prepared statement with an array parameter afresh on every execution, since the generic
/// plan's estimate for "some array" never beats a plan made for the actual one. `force_generic_plan` plans
/// each statement once per connection: reservations spread over many SKUs went from 39 % to 47 % of
/// pgbench's rate when PostgreSQL, not the disk, limits (docs/performance.md). A plan made while a table is
/// nearly empty can be a sequential scan; PostgreSQL makes it again whenever autovacuum analyzes the table,
/// which it does as the table grows. (At the default `random_page_cost` a generic plan scans a table of a
/// thousand rows whole; the embedded PostgreSQL runs with 1.1, as a server on SSD should.) A lookup by a list
/// of ids outside a transaction gets the same from a pool of generic plans ([`ec_platform::db::GenericPlans`]).
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
/// first, and says whether any is held by a pending reservation. If none is, it marks the stock rows deleted
/// too: a reservation waiting for those rows' locks then finds the deletion on the rows themselves, which it
/// reads as they are once it holds them (see [`reserve`]), whatever its snapshot of the catalog shows.
pub(crate) async fn lock_for_delete(tx: &mut Transaction<'_, Postgres>, sku_ids: &[Uuid]) -> Result<bool, Error> {
    lock_stock(tx, sku_ids).await?;
    let held: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM product_service.reservation_items ri
                        JOIN product_service.reservations r ON r.id = ri.reservation_id
                        WHERE ri.sku_id = ANY($1) AND r.status = 'pending')",
    )
    .bind(sku_ids)
    .fetch_one(&mut **tx)
    .await?;
    if !held {
        sqlx::query("UPDATE product_service.inventory SET deleted_at = now() WHERE sku_id = ANY($1)")
            .bind(sku_ids)
            .execute(&mut **tx)
            .await?;
    }
    Ok(held)
}

/// Adds `delta` to the on-hand quantity of a SKU whose stock `tx` has locked, writes the movement, and returns
/// the stock as it is now.
async fn change_on_hand(
    tx: &mut Transaction<'_, Postgres>,
    sku_id: Uuid,
    delta: i64,
    kind: &str,
    actor: &Actor,
    note: &str,
) -> Result<Stock, Error> {
    Ok(sqlx::query_as(
        "WITH moved AS (
             UPDATE product_service.inventory
             SET quantity = quantity + $2, version = version + 1, updated_at = now()
             WHERE sku_id = $1
             RETURNING sku_id, quantity, reserved, version, updated_at
         ), logged AS (
             INSERT INTO product_service.stock_movements (sku_id, quantity_delta, reserved_delta, kind, actor, note)
             SELECT sku_id, $2, 0, $3, $4, $5 FROM moved
         )
         SELECT * FROM moved",
    )
    .bind(sku_id)
    .bind(delta)
    .bind(kind)
    .bind(&actor.0)
    .bind(note)
    .fetch_one(&mut **tx)
    .await?)
}

/// Holds stock for every item or for none ("Try"), for `ttl`. `scope` is the caller the key belongs to.
///
/// Nearly every reservation is made in one statement (`reserve_at_once`); `pool` is best a pool of generic
/// plans ([`ec_platform::db::GenericPlans`]), since that statement looks stock up by a list of SKUs. What that
/// statement leaves (a shortage, a SKU not for sale, a key used before) is decided here, in a transaction of
/// two statements. Both take the same locks in the same order: the stock rows, in SKU-id order,
/// then the key; so a duplicate of a request waits on the stock the first one holds, and then finds its key.
pub async fn reserve(
    pool: &PgPool,
    scope: &str,
    key: &IdempotencyKey,
    items: &ReservationItems,
    ttl: Duration,
) -> Result<Reservation, Error> {
    let id = Uuid::now_v7();
    let digest = items.digest();
    let wanted = items.as_slice();
    let sku_ids: Vec<Uuid> = wanted.iter().map(|(sku_id, _)| *sku_id).collect();
    let quantities: Vec<i64> = wanted.iter().map(|(_, quantity)| *quantity).collect();
    // The reservation made, as it was made at `created_at`, to expire at `expires_at`.
    let made = |created_at, expires_at| Reservation {
        id,
        status: ReservationStatus::Pending,
        items: wanted.to_vec(),
        created_at,
        expires_at,
        updated_at: created_at,
    };
    let request = Request { id, scope, key, digest: &digest, sku_ids: &sku_ids, quantities: &quantities, ttl };
    if let Some((created_at, expires_at)) = reserve_at_once(pool, &request).await? {
        return Ok(made(created_at, expires_at));
    }
    let mut tx = begin(pool).await?;
    // The stock locked (as `lock_stock` locks it), then the reservation and its key, in one statement: the key
    // is inserted only once the stock is locked (the InitPlan of the one-row `locked` runs before the insert).
    // One row per locked SKU, or one without stock.
    type Row = (
        DateTime<Utc>,
        DateTime<Utc>,
        bool,
        Option<Uuid>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "WITH stock AS MATERIALIZED (
             SELECT sku_id, quantity, reserved, version, updated_at FROM product_service.inventory
             WHERE sku_id = ANY($6) ORDER BY sku_id FOR UPDATE
         ), reservation AS (
             INSERT INTO product_service.reservations (id, expires_at)
             VALUES ($1, now() + make_interval(secs => $2::double precision))
             RETURNING created_at, expires_at
         ), recorded AS (
             INSERT INTO product_service.idempotency_keys (scope, operation, key, request_hash, reservation_id)
             SELECT $3, 'reserve', $4, $5, $1 FROM (SELECT count(*) FROM stock) AS locked
             ON CONFLICT DO NOTHING RETURNING 1
         )
         SELECT r.created_at, r.expires_at, EXISTS (SELECT 1 FROM recorded),
                s.sku_id, s.quantity, s.reserved, s.version, s.updated_at
         FROM reservation r LEFT JOIN stock s ON true ORDER BY s.sku_id",
    )
    .bind(id)
    .bind(ttl.as_secs_f64())
    .bind(scope)
    .bind(key.as_str())
    .bind(&digest)
    .bind(&sku_ids)
    .fetch_all(&mut *tx)
    .await?;
    let &(created_at, expires_at, key_recorded, ..) = rows.first().expect("an INSERT … VALUES returns its row");
    if !key_recorded
        && let Recorded::Before { reservation_id } = record_key(&mut tx, scope, "reserve", key, &digest, id).await?
    {
        tx.rollback().await?;
        return get_reservation(pool, reservation_id).await;
    }
    // (A key not recorded and then recorded as new had been forgotten between the two inserts: it grew old.)
    let stock: Vec<Stock> = rows
        .into_iter()
        .filter_map(|(.., sku_id, quantity, reserved, version, updated_at)| {
            Some(Stock {
                sku_id: sku_id?,
                quantity: quantity?,
                reserved: reserved?,
                version: version?,
                updated_at: updated_at?,
            })
        })
        .collect();
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
    Ok(made(created_at, expires_at))
}

/// A reservation asked for: what [`reserve`] was given, and the id a new reservation gets.
struct Request<'a> {
    id: Uuid,
    scope: &'a str,
    key: &'a IdempotencyKey,
    digest: &'a [u8],
    sku_ids: &'a [Uuid],
    quantities: &'a [i64],
    ttl: Duration,
}

/// Makes the reservation in one statement, without a transaction around it, when nothing stands in the way:
/// the stock is locked (in SKU-id order), then, if every SKU is for sale with enough available and the key
/// is new, the key, the reservation, its items, the stock it holds and the movements are written; otherwise
/// nothing is, and `None` leaves the answer to [`reserve`]'s transaction. The stock's lock is held for this
/// one statement, so buyers of one SKU queue on it for less time than on the transaction's three round trips.
///
/// Whether a SKU is for sale is read in the statement's snapshot, taken before it waits for the locks, so a
/// delete that committed meanwhile is not seen there; but the stock rows, once locked, are read as they are
/// now, and a delete marks them too ([`lock_for_delete`]), so that is where the statement looks for it. (A
/// product hidden at the same moment is as racy as in the transaction: a reservation made just before a hide
/// commits holds its stock.)
async fn reserve_at_once(pool: &PgPool, r: &Request<'_>) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH wanted AS (
             SELECT * FROM unnest($6::uuid[], $7::bigint[]) AS w (sku_id, quantity)
         ), stock AS MATERIALIZED (
             SELECT sku_id, quantity, reserved, deleted_at FROM product_service.inventory
             WHERE sku_id = ANY($6) ORDER BY sku_id FOR UPDATE
         ), ready AS MATERIALIZED (
             SELECT count(*) = cardinality($6) AS ok
             FROM wanted w JOIN stock s ON s.sku_id = w.sku_id
             WHERE s.deleted_at IS NULL AND s.quantity - s.reserved >= w.quantity AND w.sku_id IN ({})
         ), recorded AS (
             INSERT INTO product_service.idempotency_keys (scope, operation, key, request_hash, reservation_id)
             SELECT $3, 'reserve', $4, $5, $1 FROM ready WHERE ok
             ON CONFLICT DO NOTHING RETURNING reservation_id
         ), reservation AS (
             INSERT INTO product_service.reservations (id, expires_at)
             SELECT reservation_id, now() + make_interval(secs => $2::double precision) FROM recorded
             RETURNING id, created_at, expires_at
         ), held AS (
             INSERT INTO product_service.reservation_items (reservation_id, sku_id, quantity)
             SELECT r.id, w.sku_id, w.quantity FROM reservation r, wanted w
             RETURNING sku_id, quantity
         ), moved AS (
             UPDATE product_service.inventory i
             SET reserved = i.reserved + held.quantity, version = i.version + 1, updated_at = now()
             FROM held WHERE i.sku_id = held.sku_id
         ), logged AS (
             INSERT INTO product_service.stock_movements
                 (sku_id, quantity_delta, reserved_delta, kind, actor, reservation_id)
             SELECT sku_id, 0, quantity, 'reserve', $3, $1 FROM held
         )
         SELECT created_at, expires_at FROM reservation",
        for_sale("$6")
    )))
    .bind(r.id)
    .bind(r.ttl.as_secs_f64())
    .bind(r.scope)
    .bind(r.key.as_str())
    .bind(r.digest)
    .bind(r.sku_ids)
    .bind(r.quantities)
    .fetch_optional(pool)
    .await?)
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
    // The reservation's columns, whether it is past its expiry by the database's clock, and whether the key
    // was recorded.
    type Locked = (Uuid, String, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, bool, bool);
    let operation = match transition {
        Transition::Confirm => "confirm",
        Transition::Release => "release",
        Transition::Restock => "restock",
    };
    let at_once = match transition {
        Transition::Confirm => Some(ReservationStatus::Confirmed),
        Transition::Release => Some(ReservationStatus::Released),
        Transition::Restock => None,
    };
    if let Some(to) = at_once
        && let Some(moved) = transition_at_once(pool, scope, operation, key, id, to).await?
    {
        return Ok(moved);
    }
    let mut tx = begin(pool).await?;
    // The reservation row first: whoever holds it decides its fate, and everyone after re-reads the status.
    // The key is recorded in the same statement, once the row is locked, for whatever the status turns out
    // to be: every answer below that does not commit rolls it back. The one that commits without keeping a
    // key, a late confirm expiring the reservation, is left out here.
    let locked: Option<Locked> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH locked AS MATERIALIZED (
             SELECT {RESERVATION_COLUMNS}, expires_at <= now() AS past_expiry
             FROM product_service.reservations WHERE id = $1 FOR UPDATE
         ), recorded AS (
             INSERT INTO product_service.idempotency_keys (scope, operation, key, request_hash, reservation_id)
             SELECT $2, $3, $4, $5, id FROM locked WHERE NOT ($3 = 'confirm' AND status = 'pending' AND past_expiry)
             ON CONFLICT DO NOTHING RETURNING 1
         )
         SELECT {RESERVATION_COLUMNS}, past_expiry, EXISTS (SELECT 1 FROM recorded) FROM locked"
    )))
    .bind(id)
    .bind(scope)
    .bind(operation)
    .bind(key.as_str())
    .bind(id.as_bytes().as_slice())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((_, status, created_at, expires_at, updated_at, past_expiry, key_recorded)) = locked else {
        return Err(Error::NotFound("reservation"));
    };
    let status = ReservationStatus::parse(&status);
    let actor = Actor(scope.to_owned());
    let to = match (transition, status) {
        (Transition::Confirm, ReservationStatus::Pending) if past_expiry => {
            // Late: expire it now rather than leave it to the worker, and say so. No key is kept.
            move_stock(&mut tx, &[id], ReservationStatus::Pending, ReservationStatus::Expired, &Actor::expiry())
                .await?;
            tx.commit().await?;
            return Err(Error::FailedPrecondition("the reservation has expired".into()));
        }
        (Transition::Confirm, ReservationStatus::Pending) => ReservationStatus::Confirmed,
        (Transition::Release, ReservationStatus::Pending) => ReservationStatus::Released,
        (Transition::Restock, ReservationStatus::Confirmed) => ReservationStatus::Restocked,
        // Already where it was asked to go: answered as it is (the key is still held to this reservation).
        (Transition::Confirm, ReservationStatus::Confirmed)
        | (Transition::Release, ReservationStatus::Released | ReservationStatus::Expired)
        | (Transition::Restock, ReservationStatus::Restocked) => {
            if !key_recorded {
                // Used before: for this same reservation (a repeat), or for another one (`already_exists`).
                record_key(&mut tx, scope, operation, key, id.as_bytes(), id).await?;
            }
            let items = items_of(&mut tx, &[id]).await?;
            tx.commit().await?;
            return Ok(reservation((id, status, created_at, expires_at, updated_at), items));
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
    if !key_recorded {
        record_key(&mut tx, scope, operation, key, id.as_bytes(), id).await?;
    }
    let (moved, items) = move_stock(&mut tx, &[id], status, to, &actor).await?;
    tx.commit().await?;
    let updated_at = moved.first().map_or(updated_at, |&(_, updated_at)| updated_at);
    Ok(reservation((id, to, created_at, expires_at, updated_at), items))
}

impl ReservationStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Restocked => "restocked",
        }
    }

    /// What moving a reservation from `self` to `to` does to its SKUs' stock, per unit of each item:
    /// (quantity delta, reserved delta), and the movement's kind.
    fn stock_change(self, to: Self) -> ((i64, i64), &'static str) {
        match (self, to) {
            (Self::Pending, Self::Confirmed) => ((-1, -1), "confirm"),
            (Self::Pending, Self::Released) => ((0, -1), "release"),
            (Self::Pending, Self::Expired) => ((0, -1), "expire"),
            (Self::Confirmed, Self::Restocked) => ((1, 0), "restock"),
            (from, to) => unreachable!("no transition from {from:?} to {to:?}"),
        }
    }
}

/// Moves those of the reservations `ids` that are still `from` to `to`, and their stock with them (see
/// [`ReservationStatus::stock_change`]), writing a movement for each item: one statement, which locks the
/// items' stock in SKU-id order (as [`lock_stock`] does) before it changes it. Returns the moved
/// reservations' ids and new `updated_at`, and their items as (reservation, SKU, quantity), sorted by SKU.
async fn move_stock(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[Uuid],
    from: ReservationStatus,
    to: ReservationStatus,
    actor: &Actor,
) -> Result<(Vec<(Uuid, DateTime<Utc>)>, Vec<(Uuid, Uuid, i64)>), Error> {
    let moving = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH moved AS (
             UPDATE product_service.reservations SET status = $3, updated_at = now()
             WHERE id = ANY($1) AND status = $2
             RETURNING {RESERVATION_TIMES}
         ), {MOVE_STOCK}"
    )))
    .bind(ids);
    let rows: Vec<MovedRow> = bind_move(moving, from, to, &actor.0).fetch_all(&mut **tx).await?;
    let mut moved: Vec<(Uuid, DateTime<Utc>)> =
        rows.iter().map(|&(id, .., updated_at, _, _)| (id, updated_at)).collect();
    moved.sort_unstable();
    moved.dedup();
    let items = rows
        .into_iter()
        .filter_map(|(reservation, .., sku_id, quantity)| Some((reservation, sku_id?, quantity?)))
        .collect();
    Ok((moved, items))
}

/// A reservation's times, in the order [`ReservationRow`] has them.
const RESERVATION_TIMES: &str = "id, created_at, expires_at, updated_at";

/// A row of a [`MOVE_STOCK`] statement: a moved reservation's times ([`RESERVATION_TIMES`]), then one of its
/// items' SKU and quantity (NULL for a reservation without items).
type MovedRow = (Uuid, DateTime<Utc>, DateTime<Utc>, DateTime<Utc>, Option<Uuid>, Option<i64>);

/// `moving`, a [`MOVE_STOCK`] statement with its `$1` bound, with `$2` to `$7` bound for a move from `from` to
/// `to` by `actor`.
fn bind_move<'q>(
    moving: QueryAs<'q, Postgres, MovedRow, PgArguments>,
    from: ReservationStatus,
    to: ReservationStatus,
    actor: &'q str,
) -> QueryAs<'q, Postgres, MovedRow, PgArguments> {
    let ((quantity_per_unit, reserved_per_unit), kind) = from.stock_change(to);
    moving.bind(from.as_str()).bind(to.as_str()).bind(quantity_per_unit).bind(reserved_per_unit).bind(kind).bind(actor)
}

/// The part of a statement that moves stock for the reservations a CTE named `moved` has just moved
/// (returning [`RESERVATION_TIMES`]), with the deltas and the movements' kind and actor in `$4` to `$7` (see
/// [`move_stock`]); it ends with one row per item of a moved reservation: the reservation's times, the SKU and
/// the quantity. The items' stock is locked in SKU-id order (as [`lock_stock`] locks it) before it changes.
const MOVE_STOCK: &str = "items AS MATERIALIZED (
         SELECT ri.reservation_id, ri.sku_id, ri.quantity
         FROM product_service.reservation_items ri JOIN product_service.inventory i ON i.sku_id = ri.sku_id
         WHERE ri.reservation_id IN (SELECT id FROM moved)
         ORDER BY ri.sku_id, ri.reservation_id FOR UPDATE OF i
     ), stock AS (
         UPDATE product_service.inventory i
         SET quantity = i.quantity + $4 * total.units, reserved = i.reserved + $5 * total.units,
             version = i.version + 1, updated_at = now()
         FROM (SELECT sku_id, sum(quantity)::bigint AS units FROM items GROUP BY sku_id) total
         WHERE i.sku_id = total.sku_id
     ), logged AS (
         INSERT INTO product_service.stock_movements
             (sku_id, quantity_delta, reserved_delta, kind, actor, reservation_id)
         SELECT sku_id, $4 * quantity, $5 * quantity, $6, $7, reservation_id FROM items
     )
     SELECT moved.id, moved.created_at, moved.expires_at, moved.updated_at, items.sku_id, items.quantity
     FROM moved LEFT JOIN items ON items.reservation_id = moved.id
     ORDER BY items.sku_id, moved.id";

/// Confirms or releases pending reservation `id` under a key not used before, in one statement and so without
/// a transaction around it: the way nearly every saga step goes. The reservation row is locked first, then the
/// key recorded, then the stock moved, as [`transition`] does in three round trips; `None` if the reservation
/// is anything but pending (and, to be confirmed, within its time) or the key was used before, with nothing
/// changed, and [`transition`] then decides the answer.
async fn transition_at_once(
    pool: &PgPool,
    scope: &str,
    operation: &str,
    key: &IdempotencyKey,
    id: Uuid,
    to: ReservationStatus,
) -> Result<Option<Reservation>, Error> {
    let in_time = if to == ReservationStatus::Confirmed { "AND expires_at > now()" } else { "" };
    let moving = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH locked AS MATERIALIZED (
             SELECT id FROM product_service.reservations WHERE id = $1 AND status = $2 {in_time} FOR UPDATE
         ), recorded AS (
             INSERT INTO product_service.idempotency_keys (scope, operation, key, request_hash, reservation_id)
             SELECT $7, $8, $9, $10, id FROM locked ON CONFLICT DO NOTHING RETURNING reservation_id
         ), moved AS (
             UPDATE product_service.reservations SET status = $3, updated_at = now()
             WHERE id IN (SELECT reservation_id FROM recorded) AND status = $2
             RETURNING {RESERVATION_TIMES}
         ), {MOVE_STOCK}"
    )))
    .bind(id);
    // `$7`, the movements' actor, is the key's scope too.
    let rows: Vec<MovedRow> = bind_move(moving, ReservationStatus::Pending, to, scope)
        .bind(operation)
        .bind(key.as_str())
        .bind(id.as_bytes().as_slice())
        .fetch_all(pool)
        .await?;
    let Some(&(_, created_at, expires_at, updated_at, ..)) = rows.first() else { return Ok(None) };
    let items = rows.into_iter().filter_map(|(id, .., sku_id, quantity)| Some((id, sku_id?, quantity?))).collect();
    Ok(Some(reservation((id, to, created_at, expires_at, updated_at), items)))
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
        move_stock(&mut tx, &due, ReservationStatus::Pending, ReservationStatus::Expired, &Actor::expiry()).await?;
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

fn reservation(
    (id, status, created_at, expires_at, updated_at): (
        Uuid,
        ReservationStatus,
        DateTime<Utc>,
        DateTime<Utc>,
        DateTime<Utc>,
    ),
    items: Vec<(Uuid, Uuid, i64)>,
) -> Reservation {
    Reservation {
        id,
        status,
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
    let Some((id, status, created_at, expires_at, updated_at)) = row else { return Ok(None) };
    let row = (id, ReservationStatus::parse(&status), created_at, expires_at, updated_at);
    Ok(Some(reservation(row, items_of(tx, &[id]).await?)))
}

/// A reservation and its items.
pub async fn get_reservation(pool: &PgPool, id: Uuid) -> Result<Reservation, Error> {
    let mut tx = begin(pool).await?;
    let found = read_reservation(&mut tx, id).await?;
    tx.commit().await?;
    found.ok_or(Error::NotFound("reservation"))
}
