//! The catalog in PostgreSQL: products and their SKUs, and the product status machine
//! (DRAFT -> PUBLISHED <-> HIDDEN).
//!
//! A SKU is created with its stock (an `inventory` row, and an `initial` movement when it starts with some),
//! and every change of a product's SKUs recomputes the product's `min_price`/`max_price` in the same
//! transaction, so price filters read an indexed column that is never stale.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{error::Error, inventory::Actor};

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

/// Locks a live product for the rest of `tx`.
async fn lock_product(tx: &mut Transaction<'_, Postgres>, id: Uuid) -> Result<ProductRow, Error> {
    let row: Option<ProductTuple> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product_service.products WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
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
    .map_err(|e| {
        if is_violation(&e, "skus_live_code") {
            Error::AlreadyExists("a live SKU already has this code".into())
        } else {
            e.into()
        }
    })?;
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
