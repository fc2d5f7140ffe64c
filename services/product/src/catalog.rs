//! The catalog in PostgreSQL: products and their SKUs, and the product status machine
//! (DRAFT -> PUBLISHED <-> HIDDEN).
//!
//! A SKU is created with its stock (an `inventory` row, and an `initial` movement when it starts with some),
//! and every change of a product's SKUs recomputes the product's `min_price`/`max_price` in the same
//! transaction, so price filters read an indexed column that is never stale.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ec_platform::db::GenericPlans;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{
    error::Error,
    inventory::{self, Actor, Stock},
};

/// Who can see a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductStatus {
    Draft,
    Published,
    Hidden,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Hidden => "hidden",
        }
    }

    fn parse(stored: &str) -> Self {
        match stored {
            "draft" => Self::Draft,
            "published" => Self::Published,
            "hidden" => Self::Hidden,
            other => unreachable!("product status {other:?} is not allowed by the schema"),
        }
    }
}

/// A product as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category_id: Option<Uuid>,
    pub status: ProductStatus,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub currency_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

type ProductTuple = (
    Uuid,
    String,
    String,
    Option<Uuid>,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    DateTime<Utc>,
    DateTime<Utc>,
);

const PRODUCT_COLUMNS: &str =
    "id, name, description, category_id, status, min_price, max_price, currency_code, created_at, updated_at";

fn product(row: ProductTuple) -> ProductRow {
    let (id, name, description, category_id, status, min_price, max_price, currency_code, created_at, updated_at) = row;
    ProductRow {
        id,
        name,
        description,
        category_id,
        status: ProductStatus::parse(&status),
        min_price,
        max_price,
        currency_code,
        created_at,
        updated_at,
    }
}

/// A product's name: 1 to 200 characters, trimmed, no control characters.
#[derive(Clone, Debug)]
pub struct ProductName(String);

impl ProductName {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let trimmed = raw.trim();
        let chars = trimmed.chars().take(201).count();
        if chars == 0 || chars > 200 || trimmed.chars().any(char::is_control) {
            return Err(Error::InvalidArgument("name must be 1 to 200 characters without control characters".into()));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

/// A product's description: at most 10,000 characters (line breaks allowed).
#[derive(Clone, Debug)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let text = raw.trim();
        if text.chars().take(10_001).count() > 10_000 {
            return Err(Error::InvalidArgument("description must be at most 10000 characters".into()));
        }
        if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r') {
            return Err(Error::InvalidArgument("description must not contain control characters".into()));
        }
        Ok(Self(text.to_owned()))
    }
}

/// A price: a non-negative amount in the minor unit of an ISO 4217 currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Price {
    pub amount: i64,
    pub currency_code: String,
}

impl Price {
    pub fn parse(amount: i64, currency_code: &str) -> Result<Self, Error> {
        if amount < 0 {
            return Err(Error::InvalidArgument("price.amount must not be negative".into()));
        }
        // Only currencies with a minor unit: not precious metals, funds or "no currency" (XAU, XXX...).
        let known = iso_currency::Currency::from_code(currency_code).and_then(|c| c.exponent()).is_some();
        if !known {
            return Err(Error::InvalidArgument(
                "price.currency_code must be an ISO 4217 currency code such as JPY or USD".into(),
            ));
        }
        Ok(Self { amount, currency_code: currency_code.to_owned() })
    }
}

/// A merchant's SKU code: a letter or digit, then letters, digits, `.`, `_` or `-`, 100 characters at most.
#[derive(Clone, Debug)]
pub struct SkuCode(String);

impl SkuCode {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let code = raw.trim();
        let valid = (1..=100).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_alphanumeric())
            && code.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
        if !valid {
            return Err(Error::InvalidArgument(
                "code must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit".into(),
            ));
        }
        Ok(Self(code.to_owned()))
    }
}

/// A SKU's attributes: at most 20, names of 1 to 64 characters, values of at most 256.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes(BTreeMap<String, String>);

impl Attributes {
    pub const MAX: usize = 20;

    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Error> {
        let mut attributes = BTreeMap::new();
        for (name, value) in pairs.into_iter().take(Self::MAX + 1) {
            let name_ok = (1..=64).contains(&name.chars().count()) && !name.chars().any(char::is_control);
            let value_ok = value.chars().count() <= 256 && !value.chars().any(char::is_control);
            if !name_ok || !value_ok {
                return Err(Error::InvalidArgument(
                    "attribute names must be 1 to 64 characters and values at most 256, without control characters"
                        .into(),
                ));
            }
            attributes.insert(name.to_owned(), value.to_owned());
        }
        if attributes.len() > Self::MAX {
            return Err(Error::InvalidArgument(format!("a SKU has at most {} attributes", Self::MAX)));
        }
        Ok(Self(attributes))
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a map of strings serialises")
    }
}

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

type SkuTuple = (Uuid, Uuid, String, i64, String, String, DateTime<Utc>, DateTime<Utc>);

const SKU_COLUMNS: &str = "id, product_id, code, price_amount, currency_code, attributes::text, created_at, updated_at";

fn sku(row: SkuTuple) -> SkuRow {
    let (id, product_id, code, amount, currency_code, attributes, created_at, updated_at) = row;
    SkuRow {
        id,
        product_id,
        code,
        price: Price { amount, currency_code },
        attributes: serde_json::from_str(&attributes).unwrap_or_default(),
        created_at,
        updated_at,
    }
}

fn is_violation(e: &sqlx::Error, constraint: &str) -> bool {
    e.as_database_error().is_some_and(|db| db.constraint() == Some(constraint))
}

/// A taken SKU code as `already_exists`; anything else as it is.
fn code_taken_or(e: sqlx::Error) -> Error {
    if is_violation(&e, "skus_live_code") {
        Error::AlreadyExists("a live SKU already has this code".into())
    } else {
        e.into()
    }
}

/// Adds a product in DRAFT.
pub async fn create_product(
    pool: &PgPool,
    name: &ProductName,
    description: &Description,
    category_id: Option<Uuid>,
) -> Result<ProductRow, Error> {
    let row: ProductTuple = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO product_service.products (id, name, description, category_id) VALUES ($1, $2, $3, $4)
         RETURNING {PRODUCT_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(&name.0)
    .bind(&description.0)
    .bind(category_id)
    .fetch_one(pool)
    .await
    .map_err(|e| if is_violation(&e, "products_category_id_fkey") { Error::NotFound("category") } else { e.into() })?;
    Ok(product(row))
}

/// Locks a live product against other edits for the rest of `tx` (`FOR NO KEY UPDATE`).
async fn lock_product(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<ProductRow, Error> {
    let row: Option<ProductTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product_service.products WHERE id = $1 AND deleted_at IS NULL
         FOR NO KEY UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(product).ok_or(Error::NotFound("product"))
}

/// Recomputes a locked product's price range and currency from its live SKUs.
async fn refresh_prices(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<(), Error> {
    sqlx::query(
        "UPDATE product_service.products p
         SET min_price = s.min_price, max_price = s.max_price, currency_code = s.currency_code, updated_at = now()
         FROM (SELECT min(price_amount) AS min_price, max(price_amount) AS max_price, min(currency_code) AS currency_code
               FROM product_service.skus WHERE product_id = $1 AND deleted_at IS NULL) s
         WHERE p.id = $1",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds a SKU to a live product, with `initial_quantity` units in stock.
pub async fn create_sku(
    pool: &PgPool,
    actor: &Actor,
    product_id: Uuid,
    code: &SkuCode,
    price: &Price,
    attributes: &Attributes,
    initial_quantity: i64,
) -> Result<SkuRow, Error> {
    if initial_quantity < 0 {
        return Err(Error::InvalidArgument("initial_quantity must not be negative".into()));
    }
    let mut tx = pool.begin().await?;
    let product = lock_product(&mut tx, product_id).await?;
    if product.currency_code.as_ref().is_some_and(|currency| *currency != price.currency_code) {
        return Err(Error::InvalidArgument(format!(
            "the product's other SKUs are priced in {}; one product has one currency",
            product.currency_code.unwrap_or_default()
        )));
    }
    let row: SkuTuple = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO product_service.skus (id, product_id, code, price_amount, currency_code, attributes)
         VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING {SKU_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(product_id)
    .bind(&code.0)
    .bind(price.amount)
    .bind(&price.currency_code)
    .bind(attributes.to_json())
    .fetch_one(&mut *tx)
    .await
    .map_err(code_taken_or)?;
    let sku = sku(row);
    sqlx::query("INSERT INTO product_service.inventory (sku_id, quantity) VALUES ($1, $2)")
        .bind(sku.id)
        .bind(initial_quantity)
        .execute(&mut *tx)
        .await?;
    if initial_quantity > 0 {
        sqlx::query(
            "INSERT INTO product_service.stock_movements (sku_id, quantity_delta, reserved_delta, kind, actor)
             VALUES ($1, $2, 0, 'initial', $3)",
        )
        .bind(sku.id)
        .bind(initial_quantity)
        .bind(&actor.0)
        .execute(&mut *tx)
        .await?;
    }
    refresh_prices(&mut tx, product_id).await?;
    tx.commit().await?;
    Ok(sku)
}

/// Puts a DRAFT or HIDDEN product with at least one SKU on sale.
pub async fn publish(pool: &PgPool, id: Uuid) -> Result<ProductRow, Error> {
    let mut tx = pool.begin().await?;
    let product = lock_product(&mut tx, id).await?;
    if product.status == ProductStatus::Published {
        return Err(Error::FailedPrecondition("the product is already published".into()));
    }
    if product.min_price.is_none() {
        return Err(Error::FailedPrecondition("a product needs a SKU before it can be published".into()));
    }
    let product = set_status(&mut tx, id, ProductStatus::Published).await?;
    tx.commit().await?;
    Ok(product)
}

/// Takes a PUBLISHED product off sale, keeping it readable by id.
pub async fn hide(pool: &PgPool, id: Uuid) -> Result<ProductRow, Error> {
    let mut tx = pool.begin().await?;
    let product = lock_product(&mut tx, id).await?;
    if product.status != ProductStatus::Published {
        return Err(Error::FailedPrecondition("only a published product can be hidden".into()));
    }
    let product = set_status(&mut tx, id, ProductStatus::Hidden).await?;
    tx.commit().await?;
    Ok(product)
}

async fn set_status(tx: &mut Transaction<'_, Postgres>, id: Uuid, status: ProductStatus) -> Result<ProductRow, Error> {
    let row: ProductTuple = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE product_service.products SET status = $2, updated_at = now() WHERE id = $1 RETURNING {PRODUCT_COLUMNS}"
    )))
    .bind(id)
    .bind(status.as_str())
    .fetch_one(&mut **tx)
    .await?;
    Ok(product(row))
}

/// Who is reading the catalog, which decides what they may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    /// Anyone: PUBLISHED products, and HIDDEN ones by id (for order history).
    Public,
    /// An admin: everything that is not deleted.
    Admin,
}

impl Reader {
    fn sees(self, status: ProductStatus) -> bool {
        self == Self::Admin || status != ProductStatus::Draft
    }
}

/// A product with its live SKUs (and their stock, when asked for) and its images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductView {
    pub product: ProductRow,
    pub skus: Vec<SkuRow>,
    pub images: Vec<ImageRow>,
}

/// An image of a product.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ImageRow {
    pub id: Uuid,
    pub product_id: Uuid,
    pub url: String,
    pub alt_text: String,
    pub position: i32,
}

/// The live SKUs and the images of `products`, attached to them, in the order given.
pub async fn with_details(pool: &PgPool, products: Vec<ProductRow>) -> Result<Vec<ProductView>, Error> {
    let ids: Vec<Uuid> = products.iter().map(|p| p.id).collect();
    let skus: Vec<SkuTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SKU_COLUMNS} FROM product_service.skus WHERE product_id = ANY($1) AND deleted_at IS NULL ORDER BY id"
    )))
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let images: Vec<ImageRow> = sqlx::query_as(
        "SELECT id, product_id, url, alt_text, position FROM product_service.product_images
         WHERE product_id = ANY($1) ORDER BY position",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let mut views: Vec<ProductView> =
        products.into_iter().map(|product| ProductView { product, skus: Vec::new(), images: Vec::new() }).collect();
    let index: std::collections::HashMap<Uuid, usize> =
        views.iter().enumerate().map(|(i, view)| (view.product.id, i)).collect();
    for row in skus {
        let sku = sku(row);
        views[index[&sku.product_id]].skus.push(sku);
    }
    for image in images {
        views[index[&image.product_id]].images.push(image);
    }
    Ok(views)
}

/// One product `reader` may see, with its SKUs and images.
pub async fn get_product(pool: &PgPool, reader: Reader, id: Uuid) -> Result<ProductView, Error> {
    let row: Option<ProductTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product_service.products WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    let product = row.map(product).filter(|p| reader.sees(p.status)).ok_or(Error::NotFound("product"))?;
    Ok(with_details(pool, vec![product]).await?.remove(0))
}

/// A change to a product; `None` keeps a field.
pub struct ProductChange {
    pub name: Option<ProductName>,
    pub description: Option<Description>,
    /// `Some(None)` takes it out of any category.
    pub category_id: Option<Option<Uuid>>,
}

/// Changes the fields of a live product that are set.
pub async fn update_product(pool: &PgPool, id: Uuid, change: ProductChange) -> Result<ProductView, Error> {
    let row: Option<ProductTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE product_service.products
         SET name = coalesce($2, name), description = coalesce($3, description),
             category_id = CASE WHEN $4 THEN $5 ELSE category_id END, updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL RETURNING {PRODUCT_COLUMNS}"
    )))
    .bind(id)
    .bind(change.name.map(|n| n.0))
    .bind(change.description.map(|d| d.0))
    .bind(change.category_id.is_some())
    .bind(change.category_id.flatten())
    .fetch_optional(pool)
    .await
    .map_err(|e| if is_violation(&e, "products_category_id_fkey") { Error::NotFound("category") } else { e.into() })?;
    let product = row.map(product).ok_or(Error::NotFound("product"))?;
    Ok(with_details(pool, vec![product]).await?.remove(0))
}

/// Soft-deletes a product and its SKUs, unless one of them is held by a pending reservation.
pub async fn delete_product(pool: &PgPool, id: Uuid) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    // The product, then its SKUs' stock (`lock_for_delete`): reservations in flight finish first and are seen;
    // later ones wait, then find the SKUs gone.
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM product_service.products WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if found.is_none() {
        return Err(Error::NotFound("product"));
    }
    let skus: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM product_service.skus WHERE product_id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
    if inventory::lock_for_delete(&mut tx, &skus).await? {
        return Err(Error::FailedPrecondition("one of its SKUs is held by a pending reservation".into()));
    }
    sqlx::query("UPDATE product_service.skus SET deleted_at = now(), updated_at = now() WHERE id = ANY($1)")
        .bind(&skus)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE product_service.products SET deleted_at = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Images a product may have.
pub const MAX_IMAGES: i64 = 20;

/// An image link: an absolute https URL of at most 2048 characters.
#[derive(Clone, Debug)]
pub struct ImageUrl(String);

impl ImageUrl {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidArgument("url must be an absolute https URL".into());
        if raw.len() > 2048 {
            return Err(invalid());
        }
        let url = url::Url::parse(raw).map_err(|_| invalid())?;
        let bad = url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) || !url.username().is_empty();
        // Checked again once normalised: percent-encoding and punycode make a URL longer.
        if bad || url.as_str().len() > 2048 {
            return Err(invalid());
        }
        Ok(Self(url.to_string()))
    }
}

/// Appends an image to a live product.
pub async fn add_image(pool: &PgPool, product_id: Uuid, url: &ImageUrl, alt_text: &str) -> Result<ProductView, Error> {
    if alt_text.chars().count() > 500 || alt_text.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            "alt_text must be at most 500 characters without control characters".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    let product = lock_product(&mut tx, product_id).await?;
    let (count, next): (i64, i32) = sqlx::query_as(
        "SELECT count(*), coalesce(max(position) + 1, 0) FROM product_service.product_images WHERE product_id = $1",
    )
    .bind(product_id)
    .fetch_one(&mut *tx)
    .await?;
    if count >= MAX_IMAGES {
        return Err(Error::FailedPrecondition(format!("a product has at most {MAX_IMAGES} images")));
    }
    sqlx::query(
        "INSERT INTO product_service.product_images (id, product_id, url, alt_text, position) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(product_id)
    .bind(&url.0)
    .bind(alt_text.trim())
    .bind(next)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(with_details(pool, vec![product]).await?.remove(0))
}

/// Removes one image of a live product.
pub async fn remove_image(pool: &PgPool, product_id: Uuid, image_id: Uuid) -> Result<ProductView, Error> {
    let mut tx = pool.begin().await?;
    let product = lock_product(&mut tx, product_id).await?;
    let removed = sqlx::query("DELETE FROM product_service.product_images WHERE id = $1 AND product_id = $2")
        .bind(image_id)
        .bind(product_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(Error::NotFound("image"));
    }
    tx.commit().await?;
    Ok(with_details(pool, vec![product]).await?.remove(0))
}

/// A live SKU and its product's status and name.
async fn find_sku(pool: &PgPool, id: Uuid) -> Result<Option<(SkuRow, ProductStatus, String)>, Error> {
    // A SKU's columns, then its product's status and name.
    type Row = (Uuid, Uuid, String, i64, String, String, DateTime<Utc>, DateTime<Utc>, String, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.id, s.product_id, s.code, s.price_amount, s.currency_code, s.attributes::text, s.created_at,
                    s.updated_at, p.status, p.name
             FROM product_service.skus s
             JOIN product_service.products p ON p.id = s.product_id AND p.deleted_at IS NULL
             WHERE s.id = $1 AND s.deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(id, product_id, code, amount, currency, attributes, created_at, updated_at, status, name)| {
        let sku = sku((id, product_id, code, amount, currency, attributes, created_at, updated_at));
        (sku, ProductStatus::parse(&status), name)
    }))
}

/// One SKU whose product `reader` may see.
pub async fn get_sku(pool: &PgPool, reader: Reader, id: Uuid) -> Result<SkuRow, Error> {
    match find_sku(pool, id).await? {
        Some((sku, status, _)) if reader.sees(status) => Ok(sku),
        _ => Err(Error::NotFound("SKU")),
    }
}

/// The purchasable SKUs among `ids` (live, of a live PUBLISHED product) with their stock and their product's
/// name, read in one statement, and the ids that are not purchasable, in the order asked. Every cart view,
/// add to cart and checkout asks, so the statement runs with a generic plan, on `lookups`: planned afresh for
/// each array of ids, it spent ten times longer being planned than being run.
pub async fn batch_get_skus(
    lookups: &GenericPlans,
    ids: &[Uuid],
) -> Result<(Vec<(SkuRow, Stock, String)>, Vec<Uuid>), Error> {
    type Row =
        (Uuid, Uuid, String, i64, String, String, DateTime<Utc>, DateTime<Utc>, String, i64, i64, i64, DateTime<Utc>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT s.id, s.product_id, s.code, s.price_amount, s.currency_code, s.attributes::text, s.created_at,
                s.updated_at, p.name, i.quantity, i.reserved, i.version, i.updated_at
         FROM product_service.skus s
         JOIN product_service.products p ON p.id = s.product_id AND p.deleted_at IS NULL AND p.status = 'published'
         JOIN product_service.inventory i ON i.sku_id = s.id
         WHERE s.id = ANY($1) AND s.deleted_at IS NULL",
    )
    .bind(ids)
    .fetch_all(lookups.pool())
    .await?;
    let mut found: std::collections::HashMap<Uuid, (SkuRow, Stock, String)> = rows
        .into_iter()
        .map(|(id, product_id, code, amount, currency, attributes, created_at, updated_at, name, q, r, v, at)| {
            let sku = sku((id, product_id, code, amount, currency, attributes, created_at, updated_at));
            let stock = Stock { sku_id: id, quantity: q, reserved: r, version: v, updated_at: at };
            (id, (sku, stock, name))
        })
        .collect();
    let (mut skus, mut missing): (Vec<(SkuRow, Stock, String)>, Vec<Uuid>) = (Vec::new(), Vec::new());
    for id in ids {
        match found.remove(id) {
            Some(hit) => skus.push(hit),
            None if !missing.contains(id) && !skus.iter().any(|(s, ..)| s.id == *id) => missing.push(*id),
            None => {}
        }
    }
    Ok((skus, missing))
}

/// A change to a SKU; `None` keeps a field.
pub struct SkuChange {
    pub code: Option<SkuCode>,
    pub price: Option<Price>,
    pub attributes: Option<Attributes>,
}

/// Changes a live SKU's code, price or attributes, keeping its product's price range up to date.
pub async fn update_sku(pool: &PgPool, id: Uuid, change: SkuChange) -> Result<SkuRow, Error> {
    let mut tx = pool.begin().await?;
    let product_id: Option<Uuid> =
        sqlx::query_scalar("SELECT product_id FROM product_service.skus WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let product_id = product_id.ok_or(Error::NotFound("SKU"))?;
    lock_product(&mut tx, product_id).await?;
    if let Some(price) = &change.price {
        let others: Option<String> = sqlx::query_scalar(
            "SELECT min(currency_code) FROM product_service.skus
             WHERE product_id = $1 AND id <> $2 AND deleted_at IS NULL",
        )
        .bind(product_id)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if others.as_ref().is_some_and(|currency| *currency != price.currency_code) {
            return Err(Error::InvalidArgument(format!(
                "the product's other SKUs are priced in {}; one product has one currency",
                others.unwrap_or_default()
            )));
        }
    }
    let row: Option<SkuTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE product_service.skus
         SET code = coalesce($2, code), price_amount = coalesce($3, price_amount),
             currency_code = coalesce($4, currency_code), attributes = coalesce($5::jsonb, attributes), updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL RETURNING {SKU_COLUMNS}"
    )))
    .bind(id)
    .bind(change.code.map(|c| c.0))
    .bind(change.price.as_ref().map(|p| p.amount))
    .bind(change.price.as_ref().map(|p| p.currency_code.clone()))
    .bind(change.attributes.as_ref().map(Attributes::to_json))
    .fetch_optional(&mut *tx)
    .await
    .map_err(code_taken_or)?;
    let sku = row.map(sku).ok_or(Error::NotFound("SKU"))?;
    refresh_prices(&mut tx, product_id).await?;
    tx.commit().await?;
    Ok(sku)
}

/// Soft-deletes a SKU, unless a pending reservation holds it.
pub async fn delete_sku(pool: &PgPool, id: Uuid) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    // Product first, then SKU, then its stock, as every catalog edit locks them (`lock_for_delete`):
    // reservations in flight finish first and are seen; later ones wait, then find the SKU gone.
    let product_id: Option<Uuid> =
        sqlx::query_scalar("SELECT product_id FROM product_service.skus WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let product_id = product_id.ok_or(Error::NotFound("SKU"))?;
    lock_product(&mut tx, product_id).await?;
    let still_live: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM product_service.skus WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    if still_live.is_none() {
        return Err(Error::NotFound("SKU"));
    }
    if inventory::lock_for_delete(&mut tx, &[id]).await? {
        return Err(Error::FailedPrecondition("the SKU is held by a pending reservation".into()));
    }
    sqlx::query("UPDATE product_service.skus SET deleted_at = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    refresh_prices(&mut tx, product_id).await?;
    tx.commit().await?;
    Ok(())
}

/// The live products with these ids that are in one of `statuses` (a product hidden or deleted since it was
/// found is left out), in the order given.
pub async fn products_by_id(pool: &PgPool, ids: &[Uuid], statuses: &[ProductStatus]) -> Result<Vec<ProductRow>, Error> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let rows: Vec<ProductTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product_service.products
         WHERE id = ANY($1) AND deleted_at IS NULL AND status = ANY($2)"
    )))
    .bind(ids)
    .bind(&statuses)
    .fetch_all(pool)
    .await?;
    let mut by_id: std::collections::HashMap<Uuid, ProductRow> = rows.into_iter().map(|r| (r.0, product(r))).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Whether a live SKU has any of these codes (in any case).
pub async fn any_live_sku_code(pool: &PgPool, codes: &[SkuCode]) -> Result<bool, Error> {
    let codes: Vec<String> = codes.iter().map(|c| c.0.to_uppercase()).collect();
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM product_service.skus WHERE upper(code) = ANY($1) AND deleted_at IS NULL)",
    )
    .bind(&codes)
    .fetch_one(pool)
    .await?)
}
