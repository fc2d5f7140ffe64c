//! The `reservations` and `reservation_items` tables, and `idempotency_keys`, the keys of the reservation
//! RPCs: every statement that makes a reservation or moves one out of `pending`, and the stock with it.
//!
//! Each of these statements takes its locks in the order [`crate::inventory`] describes: a new reservation
//! locks its stock rows (in SKU-id order) and then records its key; a move locks the reservation row, then
//! records its key, then locks the stock rows (in SKU-id order). The one-statement paths
//! ([`reserve_at_once`], [`transition_at_once`]) are what nearly every checkout runs; they and the
//! transactions that decide everything else take the same locks in the same order.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, postgres::PgArguments, query::QueryAs};
use uuid::Uuid;

use crate::{
    db::skus::for_sale,
    domain::{Actor, IdempotencyKey, ReservationStatus},
    error::Error,
};

/// A reservation as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReservationRow {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub status: ReservationStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const RESERVATION_COLUMNS: &str = "id, status, created_at, expires_at, updated_at";

/// One item of a reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Item {
    pub reservation_id: Uuid,
    pub sku_id: Uuid,
    pub quantity: i64,
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

impl ReservationRow {
    /// The reservation with its items (of this reservation, sorted by SKU id).
    pub fn with_items(self, items: impl IntoIterator<Item = Item>) -> Reservation {
        Reservation {
            id: self.id,
            status: self.status,
            items: items.into_iter().map(|item| (item.sku_id, item.quantity)).collect(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            updated_at: self.updated_at,
        }
    }
}

/// A reservation to make: its id, the key it is made under (in `scope`, with the request's `digest`), its
/// items as two lists sorted by SKU id, and how long it holds them.
pub struct NewReservation<'a> {
    pub id: Uuid,
    pub scope: &'a str,
    pub key: &'a IdempotencyKey,
    pub digest: &'a [u8],
    pub sku_ids: &'a [Uuid],
    pub quantities: &'a [i64],
    pub ttl: Duration,
}

/// When a reservation was made, and when it expires.
#[derive(Clone, Copy, Debug, sqlx::FromRow)]
pub struct Made {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Makes the reservation in one statement, without a transaction around it, when nothing stands in the way:
/// the stock is locked (in SKU-id order), then, if every SKU is for sale with enough available and the key
/// is new, the key, the reservation, its items, the stock it holds and the movements are written; otherwise
/// nothing is, and `None` leaves the answer to [`crate::inventory::reserve`]'s transaction. The stock's lock
/// is held for this one statement, so buyers of one SKU queue on it for less time than on the transaction's
/// three round trips. `pool` is best a pool of generic plans ([`ec_platform::db::GenericPlans`]), since the
/// statement looks stock up by a list of SKUs.
///
/// Whether a SKU is for sale is read in the statement's snapshot, taken before it waits for the locks, so a
/// delete that committed meanwhile is not seen there; but the stock rows, once locked, are read as they are
/// now, and a delete marks them too ([`crate::inventory::lock_for_delete`]), so that is where the statement
/// looks for it. (A product hidden at the same moment is as racy as in the transaction: a reservation made
/// just before a hide commits holds its stock.)
pub async fn reserve_at_once(pool: &PgPool, r: &NewReservation<'_>) -> Result<Option<Made>, Error> {
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

/// What [`open`] returns: the reservation's times and whether its key was recorded (the same on every row),
/// and one locked SKU's stock (none when no SKU has stock).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Opened {
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[sqlx(rename = "exists")]
    pub key_recorded: bool,
    pub sku_id: Option<Uuid>,
    pub quantity: Option<i64>,
    pub reserved: Option<i64>,
    pub version: Option<i64>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The first statement of a reservation's transaction: the stock locked (as [`super::stock::lock`] locks
/// it), then the reservation and its key, in one statement: the key is inserted only once the stock is
/// locked (the InitPlan of the one-row `locked` runs before the insert). One row per locked SKU, or one
/// without stock, sorted by SKU id.
pub async fn open(tx: &mut PgConnection, r: &NewReservation<'_>) -> Result<Vec<Opened>, Error> {
    Ok(sqlx::query_as(
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
    .bind(r.id)
    .bind(r.ttl.as_secs_f64())
    .bind(r.scope)
    .bind(r.key.as_str())
    .bind(r.digest)
    .bind(r.sku_ids)
    .fetch_all(tx)
    .await?)
}

/// How many of `sku_ids` are for sale.
pub async fn count_for_sale(tx: &mut PgConnection, sku_ids: &[Uuid]) -> Result<i64, Error> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM ({}) f", for_sale("$1"))))
        .bind(sku_ids)
        .fetch_one(tx)
        .await?)
}

/// The last statement of a reservation's transaction: the items, the stock they hold and its movements (each
/// SKU once, so the joins are 1:1). Items are held only for SKUs that are for sale, read now the stock rows
/// are locked, in a statement of its own (so with a fresh snapshot). Returns how many items are held.
pub async fn hold(tx: &mut PgConnection, r: &NewReservation<'_>) -> Result<u64, Error> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
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
    .bind(r.id)
    .bind(r.sku_ids)
    .bind(r.quantities)
    .bind(r.scope)
    .execute(tx)
    .await?
    .rows_affected())
}

/// Inserts idempotency key `key` of `scope` for `operation` on `reservation_id`, with the request's digest,
/// unless the key is recorded already; whether it was inserted. A concurrent transaction inserting the same
/// key waits here until the first commits or rolls back.
pub async fn insert_key(
    tx: &mut PgConnection,
    scope: &str,
    operation: &str,
    key: &IdempotencyKey,
    digest: &[u8],
    reservation_id: Uuid,
) -> Result<bool, Error> {
    let inserted = sqlx::query(
        "INSERT INTO product_service.idempotency_keys (scope, operation, key, request_hash, reservation_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(scope)
    .bind(operation)
    .bind(key.as_str())
    .bind(digest)
    .bind(reservation_id)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// An idempotency key as recorded: the digest of the request it was first used for, and its reservation.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RecordedKey {
    pub request_hash: Vec<u8>,
    pub reservation_id: Uuid,
}

/// Idempotency key `key` of `scope` for `operation`, if it is recorded.
pub async fn find_key(
    tx: &mut PgConnection,
    scope: &str,
    operation: &str,
    key: &IdempotencyKey,
) -> Result<Option<RecordedKey>, Error> {
    Ok(sqlx::query_as(
        "SELECT request_hash, reservation_id FROM product_service.idempotency_keys
         WHERE scope = $1 AND operation = $2 AND key = $3",
    )
    .bind(scope)
    .bind(operation)
    .bind(key.as_str())
    .fetch_optional(tx)
    .await?)
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

/// A reservation locked for a move out of its status by [`lock_for_move`].
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LockedReservation {
    #[sqlx(flatten)]
    pub reservation: ReservationRow,
    /// Whether it is past its expiry by the database's clock.
    pub past_expiry: bool,
    /// Whether the move's key was recorded.
    #[sqlx(rename = "exists")]
    pub key_recorded: bool,
}

/// Locks reservation `id` for the rest of `tx` and records the move's key `key` (of `scope`, for
/// `operation`) in the same statement, once the row is locked, for whatever the status turns out to be; not
/// for a confirm of a pending reservation past its expiry, which commits without keeping a key. The
/// reservation row first: whoever holds it decides its fate, and everyone after re-reads the status.
pub async fn lock_for_move(
    tx: &mut PgConnection,
    id: Uuid,
    scope: &str,
    operation: &str,
    key: &IdempotencyKey,
) -> Result<Option<LockedReservation>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
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
    .fetch_optional(tx)
    .await?)
}

/// A reservation's times, in the order [`MovedRow`] has them.
const RESERVATION_TIMES: &str = "id, created_at, expires_at, updated_at";

/// A row of a [`MOVE_STOCK`] statement: a moved reservation's times ([`RESERVATION_TIMES`]), then one of its
/// items' SKU and quantity (NULL for a reservation without items).
#[derive(Clone, Copy, Debug, sqlx::FromRow)]
struct MovedRow {
    id: Uuid,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    sku_id: Option<Uuid>,
    quantity: Option<i64>,
}

impl MovedRow {
    /// The item this row carries, if any.
    fn item(self) -> Option<Item> {
        Some(Item { reservation_id: self.id, sku_id: self.sku_id?, quantity: self.quantity? })
    }
}

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
/// the quantity. The items' stock is locked in SKU-id order (as [`super::stock::lock`] locks it) before it
/// changes.
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

/// What [`move_stock`] moved: the reservations' ids and new `updated_at`, by id, and their items, sorted by
/// SKU.
pub struct Moved {
    pub reservations: Vec<(Uuid, DateTime<Utc>)>,
    pub items: Vec<Item>,
}

/// Moves those of the reservations `ids` that are still `from` to `to`, and their stock with them (see
/// [`ReservationStatus::stock_change`]), writing a movement for each item: one statement, which locks the
/// items' stock in SKU-id order (as [`super::stock::lock`] does) before it changes it.
pub async fn move_stock(
    tx: &mut PgConnection,
    ids: &[Uuid],
    from: ReservationStatus,
    to: ReservationStatus,
    actor: &Actor,
) -> Result<Moved, Error> {
    let moving = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH moved AS (
             UPDATE product_service.reservations SET status = $3, updated_at = now()
             WHERE id = ANY($1) AND status = $2
             RETURNING {RESERVATION_TIMES}
         ), {MOVE_STOCK}"
    )))
    .bind(ids);
    let rows: Vec<MovedRow> = bind_move(moving, from, to, &actor.0).fetch_all(tx).await?;
    let mut reservations: Vec<(Uuid, DateTime<Utc>)> = rows.iter().map(|row| (row.id, row.updated_at)).collect();
    reservations.sort_unstable();
    reservations.dedup();
    let items = rows.into_iter().filter_map(MovedRow::item).collect();
    Ok(Moved { reservations, items })
}

/// Moves pending reservation `id` to `to` (confirmed or released) under a key not used before, in one
/// statement and so without a transaction around it: the way nearly every saga step goes. The reservation
/// row is locked first, then the key (`key` of `scope`, for `operation`) recorded, then the stock moved, as
/// [`lock_for_move`] and [`move_stock`] do in a transaction; `None` if the reservation is anything but
/// pending (and, to be confirmed, within its time) or the key was used before, with nothing changed.
pub async fn transition_at_once(
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
    let Some(&first) = rows.first() else { return Ok(None) };
    let row = ReservationRow {
        id,
        status: to,
        created_at: first.created_at,
        expires_at: first.expires_at,
        updated_at: first.updated_at,
    };
    Ok(Some(row.with_items(rows.into_iter().filter_map(MovedRow::item))))
}

/// Locks up to `batch` pending reservations whose time is up, skipping rows another transaction holds (a
/// confirm or release in flight, another replica's worker), so any number of workers can run at once.
pub async fn lock_due(tx: &mut PgConnection, batch: i64) -> Result<Vec<Uuid>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM product_service.reservations
         WHERE status = 'pending' AND expires_at <= now()
         ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(batch)
    .fetch_all(tx)
    .await?)
}

/// The items of reservations `ids`, sorted by SKU.
pub async fn items_of(tx: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Item>, Error> {
    Ok(sqlx::query_as(
        "SELECT reservation_id, sku_id, quantity FROM product_service.reservation_items
         WHERE reservation_id = ANY($1) ORDER BY sku_id, reservation_id",
    )
    .bind(ids)
    .fetch_all(tx)
    .await?)
}

/// A reservation and its items.
pub async fn find(tx: &mut PgConnection, id: Uuid) -> Result<Option<Reservation>, Error> {
    let row: Option<ReservationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {RESERVATION_COLUMNS} FROM product_service.reservations WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let items = items_of(tx, &[id]).await?;
    Ok(Some(row.with_items(items)))
}

/// Whether a pending reservation holds any of `sku_ids`.
pub async fn any_pending_for(tx: &mut PgConnection, sku_ids: &[Uuid]) -> Result<bool, Error> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM product_service.reservation_items ri
                        JOIN product_service.reservations r ON r.id = ri.reservation_id
                        WHERE ri.sku_id = ANY($1) AND r.status = 'pending')",
    )
    .bind(sku_ids)
    .fetch_one(tx)
    .await?)
}
