//! The `cart_items` table: a cart's lines, a line per SKU, what and how many (not what it costs: that is read
//! from the catalog when the cart is shown). Every change here is made under the cart's lock
//! ([`super::carts::lock`]), or, for [`add_at_version`], raises the cart's version in the same statement.
//!
//! Lines also leave a cart when an order of them is confirmed: that is part of the saga's one-statement
//! transition, [`super::orders::record_step`].

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{cart::Line, error::Error};

use super::carts::Changed;

/// What [`add_at_version`] wrote: the line as it is now, and the cart's row as the add left it.
#[derive(sqlx::FromRow)]
pub struct Added {
    #[sqlx(flatten)]
    pub line: Line,
    #[sqlx(flatten)]
    pub cart: Changed,
}

/// Adds `quantity` units of `sku_id` (priced in `currency_code`) to `user_id`'s cart, merging with its line if
/// it has one, in one statement, if the cart is still at `version` (the version it was read at; `None` for a
/// cart read as never used): the cart row is created, or its version raised if it is still the one read
/// (`c.version = NULL` is never true), and only then is the line written. A change that came between leaves
/// the row as it is, nothing is written, and the answer is `None`.
pub async fn add_at_version(
    pool: &PgPool,
    user_id: Uuid,
    sku_id: Uuid,
    quantity: i64,
    currency_code: &str,
    version: Option<i64>,
) -> Result<Option<Added>, Error> {
    Ok(sqlx::query_as(
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
    .bind(version)
    .fetch_optional(pool)
    .await?)
}

/// The lines of `user_id`'s cart, oldest first (read under the cart's lock).
pub async fn of_cart(tx: &mut PgConnection, user_id: Uuid) -> Result<Vec<Line>, Error> {
    Ok(sqlx::query_as(
        "SELECT sku_id, quantity, currency_code, added_at FROM order_service.cart_items
         WHERE user_id = $1 ORDER BY added_at, sku_id",
    )
    .bind(user_id)
    .fetch_all(tx)
    .await?)
}

/// Adds `quantity` units of `sku_id` (priced in `currency_code`) to `user_id`'s cart, merging with its line if
/// it has one (under the cart's lock); the line as it is now.
pub async fn add(
    tx: &mut PgConnection,
    user_id: Uuid,
    sku_id: Uuid,
    quantity: i64,
    currency_code: &str,
) -> Result<Line, Error> {
    Ok(sqlx::query_as(
        "INSERT INTO order_service.cart_items AS c (user_id, sku_id, quantity, currency_code) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, sku_id) DO UPDATE SET quantity = c.quantity + EXCLUDED.quantity
         RETURNING sku_id, quantity, currency_code, added_at",
    )
    .bind(user_id)
    .bind(sku_id)
    .bind(quantity)
    .bind(currency_code)
    .fetch_one(tx)
    .await?)
}

/// Sets the quantity of `sku_id`'s line in `user_id`'s cart; whether there was such a line.
pub async fn set_quantity(tx: &mut PgConnection, user_id: Uuid, sku_id: Uuid, quantity: i64) -> Result<bool, Error> {
    let changed = sqlx::query("UPDATE order_service.cart_items SET quantity = $3 WHERE user_id = $1 AND sku_id = $2")
        .bind(user_id)
        .bind(sku_id)
        .bind(quantity)
        .execute(tx)
        .await?;
    Ok(changed.rows_affected() > 0)
}

/// Deletes `sku_id`'s line from `user_id`'s cart; whether there was such a line.
pub async fn delete(tx: &mut PgConnection, user_id: Uuid, sku_id: Uuid) -> Result<bool, Error> {
    let deleted = sqlx::query("DELETE FROM order_service.cart_items WHERE user_id = $1 AND sku_id = $2")
        .bind(user_id)
        .bind(sku_id)
        .execute(tx)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// Deletes every line of `user_id`'s cart.
pub async fn delete_all(tx: &mut PgConnection, user_id: Uuid) -> Result<(), Error> {
    sqlx::query("DELETE FROM order_service.cart_items WHERE user_id = $1").bind(user_id).execute(tx).await?;
    Ok(())
}
