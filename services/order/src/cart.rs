//! Carts in PostgreSQL: one per account, a line per SKU, every query scoped by the caller's account id (no
//! request can name another cart).
//!
//! The cart's row carries a version that every change of the cart raises, under the row's lock (creating it
//! with the first line), so the limits (50 lines, 99 units a line, one currency) hold under concurrent changes
//! of one cart: two adds of a 50th line cannot both pass. An add, the change a shop sees most, is checked
//! against the cart as its caller read it and made in one statement if the version is still the one read;
//! otherwise, and for every other change, the row is locked first and the lines read again under the lock.
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

/// A cart as stored: its lines, oldest first, when it last changed and its version (both `None` for a cart
/// never used).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cart {
    pub lines: Vec<Line>,
    pub updated_at: Option<DateTime<Utc>>,
    pub version: Option<i64>,
}

impl Cart {
    /// The SKUs in the cart.
    pub fn sku_ids(&self) -> Vec<Uuid> {
        self.lines.iter().map(|line| line.sku_id).collect()
    }
}

/// `user_id`'s cart, in one query.
pub async fn get(pool: &PgPool, user_id: Uuid) -> Result<Cart, Error> {
    type Row = (Option<DateTime<Utc>>, Option<i64>, Option<Uuid>, Option<i64>, Option<String>, Option<DateTime<Utc>>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT c.updated_at, c.version, i.sku_id, i.quantity, i.currency_code, i.added_at
         FROM (SELECT $1::uuid AS user_id) u
         LEFT JOIN order_service.carts c ON c.user_id = u.user_id
         LEFT JOIN order_service.cart_items i ON i.user_id = u.user_id
         ORDER BY i.added_at, i.sku_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let (updated_at, version) = rows.first().map_or((None, None), |row| (row.0, row.1));
    let lines = rows
        .into_iter()
        .filter_map(|(_, _, sku_id, quantity, currency_code, added_at)| {
            Some(Line { sku_id: sku_id?, quantity: quantity?, currency_code: currency_code?, added_at: added_at? })
        })
        .collect();
    Ok(Cart { lines, updated_at, version })
}

/// Locks `user_id`'s cart row, creating it if needed, and marks the cart changed; when it changed and its
/// new version.
async fn lock(tx: &mut Transaction<'_, Postgres>, user_id: Uuid) -> Result<(DateTime<Utc>, i64), Error> {
    Ok(sqlx::query_as(
        "INSERT INTO order_service.carts AS c (user_id) VALUES ($1)
         ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), version = c.version + 1
         RETURNING updated_at, version",
    )
    .bind(user_id)
    .fetch_one(&mut **tx)
    .await?)
}

/// Adds `quantity` units of `sku_id` (priced in `currency_code`) to `user_id`'s cart, merging with its line
/// if there is one; the cart as it is then. `read` is the cart as the caller read it: if no change came
/// between, the add is checked against it and made in one statement; otherwise under the cart's lock.
pub async fn add(
    unflushed: &Unflushed,
    user_id: Uuid,
    read: &Cart,
    sku_id: Uuid,
    quantity: i64,
    currency_code: &str,
) -> Result<Cart, Error> {
    check_add(&read.lines, sku_id, quantity, currency_code)?;
    // The cart row is created, or its version raised if it is still the one read (`c.version = NULL` for a
    // cart read as never used is never true); only then is the line written. A change that came between
    // leaves the row as it is, and nothing is written.
    type Row = (Uuid, i64, String, DateTime<Utc>, DateTime<Utc>, i64);
    let at_once: Option<Row> = sqlx::query_as(
        "WITH cart AS (
             INSERT INTO order_service.carts AS c (user_id) VALUES ($1)
             ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), version = c.version + 1 WHERE c.version = $5
             RETURNING updated_at, version
         )
         INSERT INTO order_service.cart_items AS i (user_id, sku_id, quantity, currency_code)
         SELECT $1, $2, $3, $4 FROM cart
         ON CONFLICT (user_id, sku_id) DO UPDATE SET quantity = i.quantity + EXCLUDED.quantity
         RETURNING sku_id, quantity, currency_code, added_at, (SELECT updated_at FROM cart), (SELECT version FROM cart)",
    )
    .bind(user_id)
    .bind(sku_id)
    .bind(quantity)
    .bind(currency_code)
    .bind(read.version)
    .fetch_optional(unflushed.pool())
    .await?;
    match at_once {
        Some((sku_id, quantity, currency_code, added_at, updated_at, version)) => {
            let line = Line { sku_id, quantity, currency_code, added_at };
            Ok(with_line(read.lines.clone(), line, updated_at, version))
        }
        None => add_locked(unflushed, user_id, sku_id, quantity, currency_code).await,
    }
}

/// [`add`] when the cart changed after it was read: under the cart's lock, against its lines read again.
async fn add_locked(
    unflushed: &Unflushed,
    user_id: Uuid,
    sku_id: Uuid,
    quantity: i64,
    currency_code: &str,
) -> Result<Cart, Error> {
    let mut tx = unflushed.pool().begin().await?;
    let (updated_at, version) = lock(&mut tx, user_id).await?;
    let lines: Vec<Line> = sqlx::query_as(
        "SELECT sku_id, quantity, currency_code, added_at FROM order_service.cart_items
         WHERE user_id = $1 ORDER BY added_at, sku_id",
    )
    .bind(user_id)
    .fetch_all(&mut *tx)
    .await?;
    check_add(&lines, sku_id, quantity, currency_code)?;
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
    Ok(with_line(lines, line, updated_at, version))
}

/// The cart of `lines` with `line` put in (or in place of the line of its SKU), as changed at `updated_at`
/// to `version`.
fn with_line(mut lines: Vec<Line>, line: Line, updated_at: DateTime<Utc>, version: i64) -> Cart {
    match lines.iter_mut().find(|old| old.sku_id == line.sku_id) {
        Some(old) => *old = line,
        None => {
            lines.push(line);
            // In the order `get` reads them in.
            lines.sort_by_key(|line| (line.added_at, line.sku_id));
        }
    }
    Cart { lines, updated_at: Some(updated_at), version: Some(version) }
}

/// Whether `quantity` units of `sku_id`, priced in `currency_code`, may be added to a cart of `lines`.
fn check_add(lines: &[Line], sku_id: Uuid, quantity: i64, currency_code: &str) -> Result<(), Error> {
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
    Ok(())
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
