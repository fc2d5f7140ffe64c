//! The `inventory` table, stock per SKU, and `stock_movements`, every change of it: each statement that
//! changes stock writes its movement too, so `quantity` is always the sum of its movements' `quantity_delta`
//! and `reserved` of `reserved_delta`. `0 <= reserved <= quantity` is a CHECK constraint.
//!
//! Stock rows are locked in SKU-id order ([`lock`]), the one order every transaction uses (see
//! [`crate::inventory`]).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{domain::Actor, error::Error};

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

const LIVE_SKU: &str = "JOIN product_service.skus s ON s.id = i.sku_id AND s.deleted_at IS NULL";

/// Gives a new SKU its stock, `quantity` units, with the `initial` movement when there are any.
pub async fn insert(tx: &mut PgConnection, actor: &Actor, sku_id: Uuid, quantity: i64) -> Result<(), Error> {
    sqlx::query("INSERT INTO product_service.inventory (sku_id, quantity) VALUES ($1, $2)")
        .bind(sku_id)
        .bind(quantity)
        .execute(&mut *tx)
        .await?;
    if quantity > 0 {
        sqlx::query(
            "INSERT INTO product_service.stock_movements (sku_id, quantity_delta, reserved_delta, kind, actor)
             VALUES ($1, $2, 0, 'initial', $3)",
        )
        .bind(sku_id)
        .bind(quantity)
        .bind(&actor.0)
        .execute(tx)
        .await?;
    }
    Ok(())
}

/// The stock of a live SKU.
pub async fn find(pool: &PgPool, sku_id: Uuid) -> Result<Option<Stock>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.sku_id, i.quantity, i.reserved, i.version, i.updated_at
         FROM product_service.inventory i {LIVE_SKU} WHERE i.sku_id = $1"
    )))
    .bind(sku_id)
    .fetch_optional(pool)
    .await?)
}

/// The stock of each live SKU of `sku_ids` (in no particular order).
pub async fn find_many(pool: &PgPool, sku_ids: &[Uuid]) -> Result<Vec<Stock>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.sku_id, i.quantity, i.reserved, i.version, i.updated_at
         FROM product_service.inventory i {LIVE_SKU} WHERE i.sku_id = ANY($1)"
    )))
    .bind(sku_ids)
    .fetch_all(pool)
    .await?)
}

/// Locks a live SKU's stock for the rest of `tx`.
pub async fn lock_one(tx: &mut PgConnection, sku_id: Uuid) -> Result<Option<Stock>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT i.sku_id, i.quantity, i.reserved, i.version, i.updated_at
         FROM product_service.inventory i {LIVE_SKU} WHERE i.sku_id = $1 FOR UPDATE OF i"
    )))
    .bind(sku_id)
    .fetch_optional(tx)
    .await?)
}

/// Locks the stock rows of `sku_ids` in SKU-id order (the one order every transaction uses).
///
/// Only stock rows: a SKU or product row is never locked by a reservation, so a popular product's row is not
/// a point every checkout queues on. What keeps reservations and deletes apart instead is that deleting a SKU
/// or a product locks its stock rows too ([`crate::inventory::lock_for_delete`]): whichever comes second
/// waits, then sees the other.
pub async fn lock(tx: &mut PgConnection, sku_ids: &[Uuid]) -> Result<Vec<Stock>, Error> {
    Ok(sqlx::query_as(
        "SELECT sku_id, quantity, reserved, version, updated_at FROM product_service.inventory
         WHERE sku_id = ANY($1) ORDER BY sku_id FOR UPDATE",
    )
    .bind(sku_ids)
    .fetch_all(tx)
    .await?)
}

/// Marks locked stock rows deleted with their SKUs, where a reservation waiting for their locks reads it.
pub async fn mark_deleted(tx: &mut PgConnection, sku_ids: &[Uuid]) -> Result<(), Error> {
    sqlx::query("UPDATE product_service.inventory SET deleted_at = now() WHERE sku_id = ANY($1)")
        .bind(sku_ids)
        .execute(tx)
        .await?;
    Ok(())
}

/// Adds `delta` to the on-hand quantity of a SKU whose stock `tx` has locked, writes the movement (`kind`, by
/// `actor`, because of `note`), and returns the stock as it is now.
pub async fn change_on_hand(
    tx: &mut PgConnection,
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
    .fetch_one(tx)
    .await?)
}
