//! The `order_items` table: an order's lines, priced from the catalog when it was placed. They are written
//! with their order, in [`super::orders::place`], and never change.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    error::Error,
    orders::{Line, Units},
};

/// A line with the order it belongs to.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ItemRow {
    pub order_id: Uuid,
    #[sqlx(flatten)]
    pub line: Line,
}

/// The lines of the orders `ids`.
pub async fn of_orders(pool: &PgPool, ids: &[Uuid]) -> Result<Vec<ItemRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT order_id, sku_id, product_id, product_name, sku_code, quantity, unit_price
         FROM order_service.order_items WHERE order_id = ANY($1)",
    )
    .bind(ids)
    .fetch_all(pool)
    .await?)
}

/// The units order `order_id` buys of each SKU, by SKU id: what its saga reserves.
pub async fn units_of(pool: &PgPool, order_id: Uuid) -> Result<Vec<Units>, Error> {
    Ok(sqlx::query_as("SELECT sku_id, quantity FROM order_service.order_items WHERE order_id = $1 ORDER BY sku_id")
        .bind(order_id)
        .fetch_all(pool)
        .await?)
}
