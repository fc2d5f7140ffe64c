//! The `carts` table: a row per account that has used its cart, with the version every change of the cart
//! raises under the row's lock ([`crate::cart`] says why). Its lines are [`super::cart_items`].

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    cart::{Cart, Line},
    error::Error,
};

/// A cart's row as a change left it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Changed {
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

/// One row of [`get`]: the cart's row beside one of its lines; all `None` where there is no such row.
#[derive(sqlx::FromRow)]
struct CartLineRow {
    updated_at: Option<DateTime<Utc>>,
    version: Option<i64>,
    sku_id: Option<Uuid>,
    quantity: Option<i64>,
    currency_code: Option<String>,
    added_at: Option<DateTime<Utc>>,
}

/// `user_id`'s cart with its lines (oldest first), in one query; a cart never used reads as empty, without a
/// version.
pub async fn get(pool: &PgPool, user_id: Uuid) -> Result<Cart, Error> {
    let rows: Vec<CartLineRow> = sqlx::query_as(
        "SELECT c.updated_at, c.version, i.sku_id, i.quantity, i.currency_code, i.added_at
         FROM (SELECT $1::uuid AS user_id) u
         LEFT JOIN order_service.carts c ON c.user_id = u.user_id
         LEFT JOIN order_service.cart_items i ON i.user_id = u.user_id
         ORDER BY i.added_at, i.sku_id",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?;
    let (updated_at, version) = rows.first().map_or((None, None), |row| (row.updated_at, row.version));
    let lines = rows
        .into_iter()
        .filter_map(|row| {
            Some(Line {
                sku_id: row.sku_id?,
                quantity: row.quantity?,
                currency_code: row.currency_code?,
                added_at: row.added_at?,
            })
        })
        .collect();
    Ok(Cart { lines, updated_at, version })
}

/// Locks `user_id`'s cart row, creating it if needed, and marks the cart changed: when, and its new version.
/// Held until `tx` ends, so changes of one cart queue here.
pub async fn lock(tx: &mut PgConnection, user_id: Uuid) -> Result<Changed, Error> {
    Ok(sqlx::query_as(
        "INSERT INTO order_service.carts AS c (user_id) VALUES ($1)
         ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), version = c.version + 1
         RETURNING updated_at, version",
    )
    .bind(user_id)
    .fetch_one(tx)
    .await?)
}
