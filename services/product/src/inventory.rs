//! Stock per SKU and the reservations the order saga makes against it (Try-Confirm-Cancel): what can be done
//! with them, over the SQL of [`crate::db::stock`] and [`crate::db::reservations`].
//!
//! What keeps stock right under any concurrency:
//! - `0 <= reserved <= quantity` is a CHECK constraint on `inventory`; the code checks first to answer with
//!   the right error, the database has the last word.
//! - Every change of stock locks the SKUs' inventory rows **in SKU-id order** ([`db::stock::lock`]) before
//!   touching them, so transactions that reserve overlapping SKUs queue instead of deadlocking, and checks made
//!   under the lock hold until commit: there is no oversell.
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
//! - Nearly every reservation, confirm and release is one statement
//!   ([`db::reservations::reserve_at_once`], [`db::reservations::transition_at_once`]); what those leave (a
//!   shortage, a SKU not for sale, a key used before, a reservation not pending) is decided here in a
//!   transaction that takes the same locks in the same order.
//!
//! Idempotency keys (`record_key`) are scoped per caller and operation and commit with the change they
//! record; a failed attempt leaves no key, so a retry is tried afresh.

use std::time::Duration;

use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::{
        self,
        reservations::{NewReservation, Reservation, ReservationRow},
        stock::Stock,
    },
    domain::{Actor, IdempotencyKey, ReservationItems, ReservationStatus},
    error::{Error, ProductError, Shortage},
};

/// The stock of a live SKU.
pub async fn get(pool: &sqlx::PgPool, sku_id: Uuid) -> Result<Stock, Error> {
    db::stock::find(pool, sku_id).await?.ok_or(Error::NotFound("SKU"))
}

/// Locks a live SKU's stock for the rest of `tx`.
async fn lock_one(tx: &mut PgConnection, sku_id: Uuid) -> Result<Stock, Error> {
    db::stock::lock_one(tx, sku_id).await?.ok_or(Error::NotFound("SKU"))
}

/// Sets a SKU's on-hand quantity, if `version` is still its version (optimistic concurrency for stock counts).
pub async fn update(
    pool: &sqlx::PgPool,
    actor: &Actor,
    sku_id: Uuid,
    quantity: i64,
    version: i64,
) -> Result<Stock, Error> {
    if quantity < 0 {
        return Err(Error::InvalidArgument("quantity must not be negative".into()));
    }
    let mut tx = db::begin_planned_once(pool).await?;
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
    let stock = db::stock::change_on_hand(&mut tx, sku_id, delta, "update", actor, "").await?;
    tx.commit().await?;
    Ok(stock)
}

/// Adds `delta` (negative to remove) to a SKU's on-hand quantity, recording `note` as the reason.
pub async fn adjust(pool: &sqlx::PgPool, actor: &Actor, sku_id: Uuid, delta: i64, note: &str) -> Result<Stock, Error> {
    if delta == 0 {
        return Err(Error::InvalidArgument("delta must not be zero".into()));
    }
    if note.chars().count() > 500 || note.chars().any(char::is_control) {
        return Err(Error::InvalidArgument("reason must be at most 500 characters without control characters".into()));
    }
    let mut tx = db::begin_planned_once(pool).await?;
    let stock = lock_one(&mut tx, sku_id).await?;
    let quantity =
        stock.quantity.checked_add(delta).ok_or_else(|| Error::InvalidArgument("delta is too large".into()))?;
    if quantity < stock.reserved {
        return Err(Error::FailedPrecondition(format!(
            "the quantity would drop to {quantity}, below the {} units reserved",
            stock.reserved
        )));
    }
    let stock = db::stock::change_on_hand(&mut tx, sku_id, delta, "adjust", actor, note).await?;
    tx.commit().await?;
    Ok(stock)
}

/// For a delete of these SKUs (or their product): locks their stock, so reservations in flight finish
/// first, and says whether any is held by a pending reservation. If none is, it marks the stock rows deleted
/// too: a reservation waiting for those rows' locks then finds the deletion on the rows themselves, which it
/// reads as they are once it holds them (see [`db::reservations::reserve_at_once`]), whatever its snapshot of
/// the catalog shows.
pub async fn lock_for_delete(tx: &mut PgConnection, sku_ids: &[Uuid]) -> Result<bool, Error> {
    db::stock::lock(tx, sku_ids).await?;
    let held = db::reservations::any_pending_for(tx, sku_ids).await?;
    if !held {
        db::stock::mark_deleted(tx, sku_ids).await?;
    }
    Ok(held)
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
    tx: &mut PgConnection,
    scope: &str,
    operation: &str,
    key: &IdempotencyKey,
    digest: &[u8],
    reservation_id: Uuid,
) -> Result<Recorded, Error> {
    // Twice at most: the earlier record can be forgotten (it grew old) between the insert and the read.
    for _ in 0..2 {
        if db::reservations::insert_key(tx, scope, operation, key, digest, reservation_id).await? {
            return Ok(Recorded::New);
        }
        let Some(earlier) = db::reservations::find_key(tx, scope, operation, key).await? else { continue };
        if earlier.request_hash != digest {
            return Err(Error::AlreadyExists("the idempotency key was already used for another request".into()));
        }
        metrics::counter!("ec_idempotent_replays_total", "operation" => operation.to_owned()).increment(1);
        return Ok(Recorded::Before { reservation_id: earlier.reservation_id });
    }
    Err(Error::Aborted("the idempotency key changed while it was being recorded; retry"))
}

const NOT_FOR_SALE: &str = "SKU (or it is not for sale)";

/// Holds stock for every item or for none ("Try"), for `ttl`. `scope` is the caller the key belongs to.
///
/// Nearly every reservation is made in one statement ([`db::reservations::reserve_at_once`]); `pool` is best
/// a pool of generic plans ([`ec_platform::db::GenericPlans`]), since that statement looks stock up by a list
/// of SKUs. What that statement leaves (a shortage, a SKU not for sale, a key used before) is decided here, in
/// a transaction of two statements. Both take the same locks in the same order: the stock rows, in SKU-id
/// order, then the key; so a duplicate of a request waits on the stock the first one holds, and then finds
/// its key.
pub async fn reserve(
    pool: &sqlx::PgPool,
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
    let request = NewReservation { id, scope, key, digest: &digest, sku_ids: &sku_ids, quantities: &quantities, ttl };
    if let Some(at_once) = db::reservations::reserve_at_once(pool, &request).await? {
        return Ok(made(at_once.created_at, at_once.expires_at));
    }
    let mut tx = db::begin_planned_once(pool).await?;
    let rows = db::reservations::open(&mut tx, &request).await?;
    let first = rows.first().expect("an INSERT … VALUES returns its row");
    let (created_at, expires_at, key_recorded) = (first.created_at, first.expires_at, first.key_recorded);
    if !key_recorded
        && let Recorded::Before { reservation_id } = record_key(&mut tx, scope, "reserve", key, &digest, id).await?
    {
        tx.rollback().await?;
        return get_reservation(pool, reservation_id).await;
    }
    // (A key not recorded and then recorded as new had been forgotten between the two inserts: it grew old.)
    let stock: Vec<Stock> = rows
        .into_iter()
        .filter_map(|row| {
            Some(Stock {
                sku_id: row.sku_id?,
                quantity: row.quantity?,
                reserved: row.reserved?,
                version: row.version?,
                updated_at: row.updated_at?,
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
        let for_sale = db::reservations::count_for_sale(&mut tx, &sku_ids).await?;
        return Err(if for_sale == wanted.len() as i64 {
            ProductError::InsufficientStock(short).into()
        } else {
            Error::NotFound(NOT_FOR_SALE)
        });
    }
    // Items are held only for SKUs that are for sale, read now the stock rows are locked: a product hidden or
    // a SKU deleted while this waited for the locks holds nothing, and the transaction is dropped.
    let held = db::reservations::hold(&mut tx, &request).await?;
    if held != wanted.len() as u64 {
        return Err(Error::NotFound(NOT_FOR_SALE));
    }
    tx.commit().await?;
    Ok(made(created_at, expires_at))
}

/// Turns a pending reservation into a sale ("Confirm"): quantity and reserved both drop. A confirmed one is
/// returned as it is; a released or expired one is `failed_precondition`, and so is a pending one past its
/// expiry, which is expired on the spot.
pub async fn confirm(pool: &sqlx::PgPool, scope: &str, key: &IdempotencyKey, id: Uuid) -> Result<Reservation, Error> {
    transition(pool, scope, key, id, Transition::Confirm).await
}

/// Gives a pending reservation's stock back ("Cancel"). A released or expired one is returned as it is; a
/// confirmed one is `failed_precondition` (its stock goes back through [`restock`]).
pub async fn release(pool: &sqlx::PgPool, scope: &str, key: &IdempotencyKey, id: Uuid) -> Result<Reservation, Error> {
    transition(pool, scope, key, id, Transition::Release).await
}

/// Puts a confirmed reservation's units back on hand (an order cancelled before it shipped): quantity rises
/// by each item's units. A restocked one is returned as it is; any other is `failed_precondition`.
pub async fn restock(pool: &sqlx::PgPool, scope: &str, key: &IdempotencyKey, id: Uuid) -> Result<Reservation, Error> {
    transition(pool, scope, key, id, Transition::Restock).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transition {
    Confirm,
    Release,
    Restock,
}

async fn transition(
    pool: &sqlx::PgPool,
    scope: &str,
    key: &IdempotencyKey,
    id: Uuid,
    transition: Transition,
) -> Result<Reservation, Error> {
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
        && let Some(moved) = db::reservations::transition_at_once(pool, scope, operation, key, id, to).await?
    {
        return Ok(moved);
    }
    let mut tx = db::begin_planned_once(pool).await?;
    // The key is recorded with the lock, for whatever the status turns out to be: every answer below that does
    // not commit rolls it back. The one that commits without keeping a key, a late confirm expiring the
    // reservation, is left out there.
    let Some(locked) = db::reservations::lock_for_move(&mut tx, id, scope, operation, key).await? else {
        return Err(Error::NotFound("reservation"));
    };
    let (reservation, key_recorded) = (locked.reservation, locked.key_recorded);
    let status = reservation.status;
    let actor = Actor(scope.to_owned());
    let to = match (transition, status) {
        (Transition::Confirm, ReservationStatus::Pending) if locked.past_expiry => {
            // Late: expire it now rather than leave it to the worker, and say so. No key is kept.
            let (pending, expired) = (ReservationStatus::Pending, ReservationStatus::Expired);
            db::reservations::move_stock(&mut tx, &[id], pending, expired, &Actor::expiry()).await?;
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
            let items = db::reservations::items_of(&mut tx, &[id]).await?;
            tx.commit().await?;
            return Ok(reservation.with_items(items));
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
    let moved = db::reservations::move_stock(&mut tx, &[id], status, to, &actor).await?;
    tx.commit().await?;
    let updated_at = moved.reservations.first().map_or(reservation.updated_at, |&(_, updated_at)| updated_at);
    Ok(ReservationRow { status: to, updated_at, ..reservation }.with_items(moved.items))
}

/// Expires up to `batch` pending reservations whose time is up, giving their stock back, and returns how many.
/// Rows another transaction holds (a confirm or release in flight, another replica's worker) are skipped, so
/// any number of workers can run at once.
pub async fn expire_due(pool: &sqlx::PgPool, batch: i64) -> Result<usize, Error> {
    let mut tx = db::begin_planned_once(pool).await?;
    let due = db::reservations::lock_due(&mut tx, batch).await?;
    if !due.is_empty() {
        let (pending, expired) = (ReservationStatus::Pending, ReservationStatus::Expired);
        db::reservations::move_stock(&mut tx, &due, pending, expired, &Actor::expiry()).await?;
    }
    tx.commit().await?;
    Ok(due.len())
}

/// Deletes idempotency keys recorded more than `age` ago, and returns how many.
pub async fn forget_keys(pool: &sqlx::PgPool, age: Duration) -> Result<u64, Error> {
    db::reservations::forget_keys(pool, age).await
}

/// A reservation and its items.
pub async fn get_reservation(pool: &sqlx::PgPool, id: Uuid) -> Result<Reservation, Error> {
    let mut tx = db::begin_planned_once(pool).await?;
    let found = db::reservations::find(&mut tx, id).await?;
    tx.commit().await?;
    found.ok_or(Error::NotFound("reservation"))
}

/// A SKU for sale running out: `available` is at or below the low-stock threshold.
#[derive(Debug, sqlx::FromRow)]
pub struct LowStock {
    pub sku_id: Uuid,
    pub product_id: Uuid,
    pub product_name: String,
    pub sku_code: String,
    pub available: i64,
}

/// The SKUs for sale running out.
#[derive(Debug)]
pub struct Running {
    /// At most the limit asked for: sold out first, then the fewest left.
    pub skus: Vec<LowStock>,
    pub threshold: i64,
    pub sold_out: i64,
    pub low: i64,
}

/// Up to `limit` of the SKUs for sale (live SKUs of published products) whose available stock is at or below
/// the shop's low-stock threshold, and how many are sold out and low in all.
pub async fn running_out(pool: &sqlx::PgPool, limit: i64) -> Result<Running, Error> {
    const FOR_SALE: &str = "FROM product_service.inventory AS i
         JOIN product_service.skus AS s ON s.id = i.sku_id AND s.deleted_at IS NULL
         JOIN product_service.products AS p ON p.id = s.product_id AND p.deleted_at IS NULL AND p.status = 'published'
         CROSS JOIN product_service.stock_settings AS settings
         WHERE i.quantity - i.reserved <= settings.low_stock_threshold";
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let skus = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id AS sku_id, p.id AS product_id, p.name AS product_name, s.code AS sku_code,
                i.quantity - i.reserved AS available
         {FOR_SALE}
         ORDER BY available, p.name, s.code LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    let (threshold, sold_out, low): (i64, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT low_stock_threshold FROM product_service.stock_settings),
                count(*) FILTER (WHERE i.quantity - i.reserved <= 0),
                count(*) FILTER (WHERE i.quantity - i.reserved > 0)
         {FOR_SALE}"
    )))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Running { skus, threshold, sold_out, low })
}
