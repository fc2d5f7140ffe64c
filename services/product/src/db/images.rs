//! The `product_images` table: a product's images, in the order of their `position`: links, and pictures the
//! platform stores ([`crate::pictures`]).

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{domain::ImageUrl, error::Error};

/// An image of a product: a link (`url`), or a stored picture (`stored_widths`, with its full size).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ImageRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub url: Option<String>,
    pub alt_text: String,
    pub position: i32,
    pub stored_widths: Vec<i32>,
    pub width: Option<i32>,
    pub height: Option<i32>,
}

/// What an image is: a link, or the copies of a stored picture (its id names them in the picture store).
#[derive(Clone, Copy, Debug)]
pub enum ImageSource<'a> {
    Link(&'a ImageUrl),
    Stored { id: Uuid, widths: &'a [i32], width: i32, height: i32 },
}

/// The images of `products`, by position.
pub async fn of_products(pool: &PgPool, products: &[Uuid]) -> Result<Vec<ImageRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT id, product_id, url, alt_text, position, stored_widths, width, height
         FROM product_service.product_images
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
    source: ImageSource<'_>,
    alt_text: &str,
    position: i32,
) -> Result<(), Error> {
    let (id, url, widths, size) = match source {
        ImageSource::Link(url) => (Uuid::now_v7(), Some(url.as_str()), &[][..], None),
        ImageSource::Stored { id, widths, width, height } => (id, None, widths, Some((width, height))),
    };
    sqlx::query(
        "INSERT INTO product_service.product_images (id, product_id, url, alt_text, position, stored_widths, width, height)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(product_id)
    .bind(url)
    .bind(alt_text)
    .bind(position)
    .bind(widths)
    .bind(size.map(|(w, _)| w))
    .bind(size.map(|(_, h)| h))
    .execute(tx)
    .await?;
    Ok(())
}

/// Deletes one image of a product; the widths of its stored copies (empty for a link), or `None` if the
/// product had no such image.
pub async fn delete(tx: &mut PgConnection, product_id: Uuid, image_id: Uuid) -> Result<Option<Vec<i32>>, Error> {
    Ok(sqlx::query_scalar(
        "DELETE FROM product_service.product_images WHERE id = $1 AND product_id = $2 RETURNING stored_widths",
    )
    .bind(image_id)
    .bind(product_id)
    .fetch_optional(tx)
    .await?)
}
