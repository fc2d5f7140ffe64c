//! The `product_images` table: a product's images, in the order of their `position`.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{domain::ImageUrl, error::Error};

/// An image of a product.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ImageRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub url: String,
    pub alt_text: String,
    pub position: i32,
}

/// The images of `products`, by position.
pub async fn of_products(pool: &PgPool, products: &[Uuid]) -> Result<Vec<ImageRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT id, product_id, url, alt_text, position FROM product_service.product_images
         WHERE product_id = ANY($1) ORDER BY position",
    )
    .bind(products)
    .fetch_all(pool)
    .await?)
}

/// How many images a product has, and the position after its last.
#[derive(Clone, Copy, Debug, sqlx::FromRow)]
pub struct ImageCount {
    pub images: i64,
    pub next_position: i32,
}

/// How many images a product that `tx` has locked has, and where the next one goes.
pub async fn count(tx: &mut PgConnection, product_id: Uuid) -> Result<ImageCount, Error> {
    Ok(sqlx::query_as(
        "SELECT count(*) AS images, coalesce(max(position) + 1, 0) AS next_position
         FROM product_service.product_images WHERE product_id = $1",
    )
    .bind(product_id)
    .fetch_one(tx)
    .await?)
}

/// Adds an image at `position` to a product that `tx` has locked.
pub async fn insert(
    tx: &mut PgConnection,
    product_id: Uuid,
    url: &ImageUrl,
    alt_text: &str,
    position: i32,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO product_service.product_images (id, product_id, url, alt_text, position) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(product_id)
    .bind(url.as_str())
    .bind(alt_text)
    .bind(position)
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes one image of a product; whether it had it.
pub async fn delete(tx: &mut PgConnection, product_id: Uuid, image_id: Uuid) -> Result<bool, Error> {
    let removed = sqlx::query("DELETE FROM product_service.product_images WHERE id = $1 AND product_id = $2")
        .bind(image_id)
        .bind(product_id)
        .execute(tx)
        .await?
        .rows_affected();
    Ok(removed > 0)
}
