//! The `skus` table: a product's variants, each with a code unique among live SKUs (whatever its case), a
//! price and attributes; and what "for sale" means ([`for_sale`]), which every reservation statement reads.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ec_platform::db::GenericPlans;
use sqlx::{FromRow, PgConnection, PgPool, Row, postgres::PgRow};
use uuid::Uuid;

use crate::{
    db::stock::Stock,
    domain::{Attributes, Price, ProductStatus, SkuCode},
    error::Error,
};

/// A SKU as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkuRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub code: String,
    pub price: Price,
    pub attributes: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SKU_COLUMNS: &str = "id, product_id, code, price_amount, currency_code, attributes::text, created_at, updated_at";

/// The attributes as the statements select them, `attributes::text`: a JSON object of strings.
fn attributes(row: &PgRow) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let text: String = row.try_get("attributes")?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

impl<'r> FromRow<'r, PgRow> for SkuRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            product_id: row.try_get("product_id")?,
            code: row.try_get("code")?,
            price: Price { amount: row.try_get("price_amount")?, currency_code: row.try_get("currency_code")? },
            attributes: attributes(row)?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// A taken SKU code as `already_exists`.
fn code_taken(constraint: &str) -> Option<Error> {
    (constraint == "skus_live_code").then(|| Error::AlreadyExists("a live SKU already has this code".into()))
}

/// Inserts a SKU of a product that `tx` has locked.
pub async fn insert(
    tx: &mut PgConnection,
    product_id: Uuid,
    code: &SkuCode,
    price: &Price,
    attributes: &Attributes,
) -> Result<SkuRow, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO product_service.skus (id, product_id, code, price_amount, currency_code, attributes)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING {SKU_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(product_id)
    .bind(code.as_str())
    .bind(price.amount)
    .bind(&price.currency_code)
    .bind(attributes.to_json())
    .fetch_one(tx)
    .await
    .map_err(|e| Error::on_violation(e, code_taken))
}

/// The live SKUs of `products`, by id.
pub async fn of_products(pool: &PgPool, products: &[Uuid]) -> Result<Vec<SkuRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SKU_COLUMNS} FROM product_service.skus WHERE product_id = ANY($1) AND deleted_at IS NULL ORDER BY id"
    )))
    .bind(products)
    .fetch_all(pool)
    .await?)
}

/// The ids of a product's live SKUs.
pub async fn live_ids_of_product(tx: &mut PgConnection, product_id: Uuid) -> Result<Vec<Uuid>, Error> {
    Ok(sqlx::query_scalar("SELECT id FROM product_service.skus WHERE product_id = $1 AND deleted_at IS NULL")
        .bind(product_id)
        .fetch_all(tx)
        .await?)
}

/// A live SKU of a live product, with its product's status and name.
#[derive(Clone, Debug, FromRow)]
pub struct SkuOfProduct {
    #[sqlx(flatten)]
    pub sku: SkuRow,
    #[sqlx(try_from = "String")]
    pub status: ProductStatus,
    pub name: String,
}

/// A live SKU of a live product, with its product's status and name.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<SkuOfProduct>, Error> {
    Ok(sqlx::query_as(
        "SELECT s.id, s.product_id, s.code, s.price_amount, s.currency_code, s.attributes::text, s.created_at,
                    s.updated_at, p.status, p.name
             FROM product_service.skus s
             JOIN product_service.products p ON p.id = s.product_id AND p.deleted_at IS NULL
             WHERE s.id = $1 AND s.deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// A purchasable SKU as [`purchasable`] reads it: the SKU, its product's name and its stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurchasableSku {
    pub sku: SkuRow,
    pub product_name: String,
    pub stock: Stock,
}

/// [`purchasable`]'s statement (measured, so kept as it is) selects two columns named `updated_at`, the SKU's
/// (the 8th) and the stock's (the 13th): those two are read by position, every other column by name.
impl<'r> FromRow<'r, PgRow> for PurchasableSku {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        const SKU_UPDATED_AT: usize = 7;
        const STOCK_UPDATED_AT: usize = 12;
        let id: Uuid = row.try_get("id")?;
        let sku = SkuRow {
            id,
            product_id: row.try_get("product_id")?,
            code: row.try_get("code")?,
            price: Price { amount: row.try_get("price_amount")?, currency_code: row.try_get("currency_code")? },
            attributes: attributes(row)?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get(SKU_UPDATED_AT)?,
        };
        let stock = Stock {
            sku_id: id,
            quantity: row.try_get("quantity")?,
            reserved: row.try_get("reserved")?,
            version: row.try_get("version")?,
            updated_at: row.try_get(STOCK_UPDATED_AT)?,
        };
        Ok(Self { sku, product_name: row.try_get("name")?, stock })
    }
}

/// The purchasable SKUs among `ids` (live, of a live PUBLISHED product) with their stock and their product's
/// name, in one statement, in no particular order. Every cart view, add to cart and checkout asks, so the
/// statement runs with a generic plan, on `lookups`: planned afresh for each array of ids, it would spend far
/// longer being planned than being run (docs/performance.md).
pub async fn purchasable(lookups: &GenericPlans, ids: &[Uuid]) -> Result<Vec<PurchasableSku>, Error> {
    Ok(sqlx::query_as(
        "SELECT s.id, s.product_id, s.code, s.price_amount, s.currency_code, s.attributes::text, s.created_at,
                s.updated_at, p.name, i.quantity, i.reserved, i.version, i.updated_at
         FROM product_service.skus s
         JOIN product_service.products p ON p.id = s.product_id AND p.deleted_at IS NULL AND p.status = 'published'
         JOIN product_service.inventory i ON i.sku_id = s.id
         WHERE s.id = ANY($1) AND s.deleted_at IS NULL",
    )
    .bind(ids)
    .fetch_all(lookups.pool())
    .await?)
}

/// The product of a live SKU.
pub async fn product_of(tx: &mut PgConnection, id: Uuid) -> Result<Option<Uuid>, Error> {
    Ok(sqlx::query_scalar("SELECT product_id FROM product_service.skus WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(tx)
        .await?)
}

/// The currency of a product's live SKUs other than `id`, if it has any.
pub async fn currency_of_others(tx: &mut PgConnection, product_id: Uuid, id: Uuid) -> Result<Option<String>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT min(currency_code) FROM product_service.skus
             WHERE product_id = $1 AND id <> $2 AND deleted_at IS NULL",
    )
    .bind(product_id)
    .bind(id)
    .fetch_one(tx)
    .await?)
}

/// A change to a SKU; `None` keeps a field.
pub struct SkuChange {
    pub code: Option<SkuCode>,
    pub price: Option<Price>,
    pub attributes: Option<Attributes>,
}

/// Changes a live SKU's fields that are set; `None` if there is no such SKU.
pub async fn update(tx: &mut PgConnection, id: Uuid, change: &SkuChange) -> Result<Option<SkuRow>, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE product_service.skus
         SET code = coalesce($2, code), price_amount = coalesce($3, price_amount),
             currency_code = coalesce($4, currency_code), attributes = coalesce($5::jsonb, attributes), updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL RETURNING {SKU_COLUMNS}"
    )))
    .bind(id)
    .bind(change.code.as_ref().map(SkuCode::as_str))
    .bind(change.price.as_ref().map(|p| p.amount))
    .bind(change.price.as_ref().map(|p| p.currency_code.clone()))
    .bind(change.attributes.as_ref().map(Attributes::to_json))
    .fetch_optional(tx)
    .await
    .map_err(|e| Error::on_violation(e, code_taken))
}

/// A live SKU's price.
pub async fn price_of(tx: &mut PgConnection, id: Uuid) -> Result<Option<Price>, Error> {
    let price: Option<(i64, String)> = sqlx::query_as(
        "SELECT price_amount, currency_code FROM product_service.skus WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(tx)
    .await?;
    Ok(price.map(|(amount, currency_code)| Price { amount, currency_code }))
}

/// Locks a live SKU for its deletion (`FOR UPDATE`); whether it is still live.
pub async fn lock_for_delete(tx: &mut PgConnection, id: Uuid) -> Result<bool, Error> {
    let still_live: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM product_service.skus WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
            .bind(id)
            .fetch_optional(tx)
            .await?;
    Ok(still_live.is_some())
}

/// Marks a SKU deleted.
pub async fn mark_deleted(tx: &mut PgConnection, id: Uuid) -> Result<(), Error> {
    sqlx::query("UPDATE product_service.skus SET deleted_at = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Marks SKUs deleted (a deleted product's).
pub async fn mark_all_deleted(tx: &mut PgConnection, ids: &[Uuid]) -> Result<(), Error> {
    sqlx::query("UPDATE product_service.skus SET deleted_at = now(), updated_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(tx)
        .await?;
    Ok(())
}

/// Whether a live SKU has any of these codes (in any case).
pub async fn any_live_code(pool: &PgPool, codes: &[SkuCode]) -> Result<bool, Error> {
    let codes: Vec<String> = codes.iter().map(|c| c.as_str().to_uppercase()).collect();
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM product_service.skus WHERE upper(code) = ANY($1) AND deleted_at IS NULL)",
    )
    .bind(&codes)
    .fetch_one(pool)
    .await?)
}

/// A query for the ids of the SKUs among `skus` (a `uuid[]` parameter) that are for sale: live, of a live
/// published product.
pub fn for_sale(skus: &str) -> String {
    format!(
        "SELECT s.id FROM product_service.skus s
         JOIN product_service.products p ON p.id = s.product_id AND p.deleted_at IS NULL AND p.status = 'published'
         WHERE s.id = ANY({skus}) AND s.deleted_at IS NULL"
    )
}
