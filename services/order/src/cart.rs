//! Carts in PostgreSQL: one per account, a line per SKU, every query scoped by the caller's account id (no
//! request can name another cart).
//!
//! A change locks the cart's row first (creating it with the first line), so the limits (50 lines, 99 units a
//! line, one currency) hold under concurrent changes of one cart: two adds of a 50th line cannot both pass.
//!
//! A change commits without waiting for the disk (on the service's [`Unflushed`] pool). A cart is a shopper's
//! scratch pad: a database crash could lose its last fraction of a second of changes (never a change half
//! made, and never out of order), which is a disk flush a click cheaper. Orders are another matter: placing
//! one waits for the disk, and so makes every cart change before it durable too.

use chrono::{DateTime, Utc};
use ec_platform::db::Unflushed;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{
    domain::{MAX_CART_LINES, MAX_LINE_QUANTITY},
    error::Error,
};

/// A line as stored: what and how many, not what it costs (that is read from the catalog when shown).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Line {
    pub sku_id: Uuid,
    pub quantity: i64,
    pub currency_code: String,
    pub added_at: DateTime<Utc>,
}

/// A cart as stored: its lines, oldest first, and when it last changed (`None` for a cart never used).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cart {
    pub lines: Vec<Line>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Cart {
    /// The SKUs in the cart.
    pub fn sku_ids(&self) -> Vec<Uuid> {
        self.lines.iter().map(|line| line.sku_id).collect()
    }
}

/// `user_id`'s cart, in one query.
pub async fn get(pool: &PgPool, user_id: Uuid) -> Result<Cart, Error> {
    type Row = (Option<DateTime<Utc>>, Option<Uuid>, Option<i64>, Option<String>, Option<DateTime<Utc>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.updated_at, i.sku_id, i.quantity, i.currency_code, i.added_at
         FROM (SELECT $1::uuid AS user_id) u
         LEFT JOIN order_service.carts c ON c.user_id = u.user_id
         LEFT JOIN order_service.cart_items i ON i.user_id = u.user_id
         ORDER BY i.added_at, i.sku_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let updated_at = rows.first().and_then(|row| row.0);
    let lines = rows
        .into_iter()
        .filter_map(|(_, sku_id, quantity, currency_code, added_at)| {
            Some(Line { sku_id: sku_id?, quantity: quantity?, currency_code: currency_code?, added_at: added_at? })
        })
        .collect();
    Ok(Cart { lines, updated_at })
}

/// Locks `user_id`'s cart row, creating it if needed, and marks the cart changed; when it changed.
async fn lock(tx: &mut Transaction<'_, Postgres>, user_id: Uuid) -> Result<DateTime<Utc>, Error> {
    Ok(sqlx::query_scalar(
        "INSERT INTO order_service.carts (user_id) VALUES ($1)
         ON CONFLICT (user_id) DO UPDATE SET updated_at = now() RETURNING updated_at",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?)
}

/// Adds `quantity` units of `sku_id` (priced in `currency_code`), merging with its line if there is one;
/// the cart as it is then.
pub async fn add(
    unflushed: &Unflushed,
    user_id: Uuid,
    sku_id: Uuid,
    quantity: i64,
    currency_code: &str,
) -> Result<Cart, Error> {
    let mut tx = unflushed.pool().begin().await?;
    let updated_at = lock(&mut tx, user_id).await?;
    let mut lines: Vec<Line> = sqlx::query_as(
        "SELECT sku_id, quantity, currency_code, added_at FROM order_service.cart_items
         WHERE user_id = $1 ORDER BY added_at, sku_id",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    if let Some(other) = lines.iter().find(|line| line.currency_code != currency_code) {
        return Err(Error::FailedPrecondition(format!(
            "the cart is in {} and this SKU is priced in {currency_code}; a cart holds one currency",
            other.currency_code
        )));
    }
    match lines.iter().find(|line| line.sku_id == sku_id) {
        None if lines.len() as i64 >= MAX_CART_LINES => {
            return Err(Error::FailedPrecondition(format!("a cart holds at most {MAX_CART_LINES} different SKUs")));
        }
        Some(line) if line.quantity + quantity > MAX_LINE_QUANTITY => {
            return Err(Error::InvalidArgument(format!(
                "a line holds at most {MAX_LINE_QUANTITY} units; this one has {}",
                line.quantity
            )));
        }
        _ => {}
    }
    let line: Line = sqlx::query_as(
        "INSERT INTO order_service.cart_items AS c (user_id, sku_id, quantity, currency_code) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, sku_id) DO UPDATE SET quantity = c.quantity + EXCLUDED.quantity
         RETURNING sku_id, quantity, currency_code, added_at",
    )
    .bind(user_id)
    .bind(sku_id)
    .bind(quantity)
    .bind(currency_code)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    match lines.iter_mut().find(|old| old.sku_id == sku_id) {
        Some(old) => *old = line,
        None => {
            lines.push(line);
            // In the order `get` reads them in.
            lines.sort_by_key(|line| (line.added_at, line.sku_id));
        }
    }
    Ok(Cart { lines, updated_at: Some(updated_at) })
}

/// Sets the quantity of `sku_id`'s line; 0 removes it. `not_found` if the cart has no such line.
pub async fn set_quantity(unflushed: &Unflushed, user_id: Uuid, sku_id: Uuid, quantity: i64) -> Result<(), Error> {
    let mut tx = unflushed.pool().begin().await?;
    lock(&mut tx, user_id).await?;
    let changed = if quantity == 0 {
        sqlx::query("DELETE FROM order_service.cart_items WHERE user_id = $1 AND sku_id = $2")
            .bind(user_id)
            .bind(sku_id)
            .execute(&mut *tx)
            .await?
    } else {
        sqlx::query("UPDATE order_service.cart_items SET quantity = $3 WHERE user_id = $1 AND sku_id = $2")
            .bind(user_id)
            .bind(sku_id)
            .bind(quantity)
            .execute(&mut *tx)
            .await?
    };
    if changed.rows_affected() == 0 {
        return Err(Error::NotFound("cart line"));
    }
    tx.commit().await?;
    Ok(())
}

/// Empties the cart.
pub async fn clear(unflushed: &Unflushed, user_id: Uuid) -> Result<(), Error> {
    let mut tx = unflushed.pool().begin().await?;
    lock(&mut tx, user_id).await?;
    sqlx::query("DELETE FROM order_service.cart_items WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}
