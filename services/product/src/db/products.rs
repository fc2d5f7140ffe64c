//! The `products` table: products, their status, and their price range, which every change of a product's
//! SKUs recomputes in its transaction ([`refresh_prices`]), so price filters read an indexed column that is
//! never stale; and ListProducts' keyset query ([`page`]).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{
    domain::{Description, ProductName, ProductStatus},
    error::Error,
    listing::{Cursor, Filters, Sort, SortKey, Words},
};

/// A product as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ProductRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub status: ProductStatus,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub currency_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const PRODUCT_COLUMNS: &str =
    "id, name, description, category_id, status, min_price, max_price, currency_code, created_at, updated_at";

/// An unknown category as `not_found`.
fn category_not_found(constraint: &str) -> Option<Error> {
    (constraint == "products_category_id_fkey").then_some(Error::NotFound("category"))
}

/// Inserts a product in DRAFT.
pub async fn insert(
    pool: &PgPool,
    name: &ProductName,
    description: &Description,
    category_id: Option<Uuid>,
) -> Result<ProductRow, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO product_service.products (id, name, description, category_id) VALUES ($1, $2, $3, $4)
         RETURNING {PRODUCT_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(name.as_str())
    .bind(description.as_str())
    .bind(category_id)
    .fetch_one(pool)
    .await
    .map_err(|e| Error::on_violation(e, category_not_found))
}

/// A live product.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<ProductRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product_service.products WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// Locks a live product against other edits for the rest of `tx` (`FOR NO KEY UPDATE`).
pub async fn lock(tx: &mut PgConnection, id: Uuid) -> Result<ProductRow, Error> {
    let row: Option<ProductRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product_service.products WHERE id = $1 AND deleted_at IS NULL
         FOR NO KEY UPDATE"
    )))
    .bind(id)
    .fetch_optional(tx)
    .await?;
    row.ok_or(Error::NotFound("product"))
}

/// Locks a live product for its deletion (`FOR UPDATE`); whether there was one.
pub async fn lock_for_delete(tx: &mut PgConnection, id: Uuid) -> Result<bool, Error> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM product_service.products WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
            .bind(id)
            .fetch_optional(tx)
            .await?;
    Ok(found.is_some())
}

/// Recomputes a locked product's price range and currency from its live SKUs.
pub async fn refresh_prices(tx: &mut PgConnection, id: Uuid) -> Result<(), Error> {
    sqlx::query(
        "UPDATE product_service.products p
         SET min_price = s.min_price, max_price = s.max_price, currency_code = s.currency_code, updated_at = now()
         FROM (SELECT min(price_amount) AS min_price, max(price_amount) AS max_price, min(currency_code) AS currency_code
               FROM product_service.skus WHERE product_id = $1 AND deleted_at IS NULL) s
         WHERE p.id = $1",
    )
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Sets a locked product's status.
pub async fn set_status(tx: &mut PgConnection, id: Uuid, status: ProductStatus) -> Result<ProductRow, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE product_service.products SET status = $2, updated_at = now() WHERE id = $1 RETURNING {PRODUCT_COLUMNS}"
    )))
    .bind(id)
    .bind(status.as_str())
    .fetch_one(tx)
    .await?)
}

/// A change to a product; `None` keeps a field.
pub struct ProductChange {
    pub name: Option<ProductName>,
    pub description: Option<Description>,
    /// `Some(None)` takes it out of any category.
    pub category_id: Option<Option<Uuid>>,
}

/// Changes the fields of a live product that are set; `None` if there is no such product.
pub async fn update(pool: &PgPool, id: Uuid, change: &ProductChange) -> Result<Option<ProductRow>, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE product_service.products
         SET name = coalesce($2, name), description = coalesce($3, description),
             category_id = CASE WHEN $4 THEN $5 ELSE category_id END, updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL RETURNING {PRODUCT_COLUMNS}"
    )))
    .bind(id)
    .bind(change.name.as_ref().map(ProductName::as_str))
    .bind(change.description.as_ref().map(Description::as_str))
    .bind(change.category_id.is_some())
    .bind(change.category_id.flatten())
    .fetch_optional(pool)
    .await
    .map_err(|e| Error::on_violation(e, category_not_found))
}

/// Marks a locked product deleted.
pub async fn mark_deleted(tx: &mut PgConnection, id: Uuid) -> Result<(), Error> {
    sqlx::query("UPDATE product_service.products SET deleted_at = now(), updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(tx)
        .await?;
    Ok(())
}

/// The live products with these ids that are in one of `statuses` (a product hidden or deleted since it was
/// found is left out), in the order given.
pub async fn by_ids(pool: &PgPool, ids: &[Uuid], statuses: &[ProductStatus]) -> Result<Vec<ProductRow>, Error> {
    let statuses: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let rows: Vec<ProductRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product_service.products
         WHERE id = ANY($1) AND deleted_at IS NULL AND status = ANY($2)"
    )))
    .bind(ids)
    .bind(&statuses)
    .fetch_all(pool)
    .await?;
    let mut by_id: std::collections::HashMap<Uuid, ProductRow> = rows.into_iter().map(|r| (r.id, r)).collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Whether the catalog has no product at all, deleted ones included.
pub async fn none_yet(pool: &PgPool) -> Result<bool, Error> {
    Ok(sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM product_service.products)").fetch_one(pool).await?)
}

/// A product ListProducts found: its id, its rank when searching, and its lowest price.
#[derive(Clone, Copy, Debug, sqlx::FromRow)]
pub struct Hit {
    pub id: Uuid,
    pub rank: Option<f32>,
    pub price: Option<i64>,
}

/// Up to `limit` products matching `filters` (a search's `words`) after `after`, in `filters.sort`: newest
/// first (ids are UUID v7), by relevance (`ts_rank` over the weighted name and description, so products
/// matching more of the words, and in their name, come first; a GIN index finds the matches), or by lowest
/// price (the `(min_price, id)` index), each then by id.
pub async fn page(
    pool: &PgPool,
    filters: &Filters,
    words: Option<Words>,
    after: Option<Cursor>,
    limit: i64,
) -> Result<Vec<Hit>, Error> {
    let mut query: QueryBuilder<Postgres> = QueryBuilder::new("WITH q AS (SELECT ");
    match (&filters.search, words) {
        // All the words, as a web search engine reads them ("quoted phrases", -excluded words).
        (Some(search), Some(Words::All) | None) => {
            query.push("websearch_to_tsquery('english', ").push_bind(search.clone()).push(")")
        }
        // Any of the words: `plainto_tsquery` stems them and drops stop words and punctuation (so nothing typed
        // is an operator), and its ANDs become ORs (lexemes never hold " & ", so only operators are replaced).
        (Some(search), Some(Words::Any)) => {
            query.push("replace(plainto_tsquery('english', ").push_bind(search.clone());
            query.push(")::text, ' & ', ' | ')::tsquery")
        }
        (None, _) => query.push("NULL::tsquery"),
    };
    query.push(" AS words) SELECT p.id, ");
    query.push(if filters.search.is_some() { "ts_rank(p.search, q.words)" } else { "NULL::real" });
    query.push(" AS rank, p.min_price AS price FROM product_service.products p, q WHERE p.deleted_at IS NULL");
    query.push(" AND p.status = ANY(");
    query.push_bind(filters.statuses.iter().map(|s| s.as_str().to_owned()).collect::<Vec<String>>());
    query.push(")");
    if let Some((_, subtree)) = &filters.category {
        query.push(" AND p.category_id = ANY(").push_bind(subtree.clone()).push(")");
    }
    if let Some(min) = filters.min_price {
        query.push(" AND p.min_price >= ").push_bind(min);
    }
    if let Some(max) = filters.max_price {
        query.push(" AND p.min_price <= ").push_bind(max);
    }
    if filters.search.is_some() {
        query.push(" AND p.search @@ q.words");
    }
    let key = after.map(|cursor| (cursor.key, cursor.id));
    let order = match (filters.sort, key) {
        (Sort::Newest, after) => {
            if let Some((_, id)) = after {
                query.push(" AND p.id < ").push_bind(id);
            }
            " ORDER BY p.id DESC"
        }
        (Sort::Relevance, after) => {
            if let Some((SortKey::Rank(rank), id)) = after {
                query.push(" AND (ts_rank(p.search, q.words), p.id) < (").push_bind(rank);
                query.push("::real, ").push_bind(id).push(")");
            }
            " ORDER BY rank DESC, p.id DESC"
        }
        (Sort::PriceAscending, after) => {
            query.push(" AND p.min_price IS NOT NULL");
            if let Some((SortKey::Price(price), id)) = after {
                query.push(" AND (p.min_price, p.id) > (").push_bind(price).push(", ").push_bind(id).push(")");
            }
            " ORDER BY p.min_price, p.id"
        }
        (Sort::PriceDescending, after) => {
            query.push(" AND p.min_price IS NOT NULL");
            if let Some((SortKey::Price(price), id)) = after {
                query.push(" AND (p.min_price, p.id) < (").push_bind(price).push(", ").push_bind(id).push(")");
            }
            " ORDER BY p.min_price DESC, p.id DESC"
        }
    };
    query.push(order).push(" LIMIT ").push_bind(limit);
    Ok(query.build_query_as().fetch_all(pool).await?)
}
