//! The `categories` table: the category tree.
//!
//! The database keeps the tree sound where it can: a parent must exist and cannot be deleted while it has
//! children (a foreign key), slugs are unique among siblings (a unique index, roots included), a category is
//! not its own parent (a CHECK). A cycle through several levels, which no constraint sees, is kept out by
//! [`crate::categories::update`] with [`lock_moves`] and [`is_in_subtree`].

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    domain::{CategoryName, Slug},
    error::Error,
};

/// A category as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CategoryRow {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub slug: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, parent_id, name, slug, created_at, updated_at";

const SIBLING_SLUG_TAKEN: &str = "the parent already has a child with this slug";

/// Inserts a category at the root or under `parent_id`.
pub async fn insert(
    pool: &PgPool,
    name: &CategoryName,
    slug: &Slug,
    parent_id: Option<Uuid>,
) -> Result<CategoryRow, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO product_service.categories (id, parent_id, name, slug) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(parent_id)
    .bind(name.as_str())
    .bind(slug.as_str())
    .fetch_one(pool)
    .await
    .map_err(|e| {
        Error::on_violation(e, |constraint| match constraint {
            "categories_sibling_slug" => Some(Error::AlreadyExists(SIBLING_SLUG_TAKEN.into())),
            "categories_parent_id_fkey" => Some(Error::NotFound("parent category")),
            _ => None,
        })
    })
}

/// The category with `slug` under `parent` (a root when `None`), if there is one.
pub async fn find_by_slug(pool: &PgPool, parent: Option<Uuid>, slug: &Slug) -> Result<Option<Uuid>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM product_service.categories WHERE parent_id IS NOT DISTINCT FROM $1 AND slug = $2",
    )
    .bind(parent)
    .bind(slug.as_str())
    .fetch_optional(pool)
    .await?)
}

/// One category.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<CategoryRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM product_service.categories WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// Every category, by name.
pub async fn all(pool: &PgPool) -> Result<Vec<CategoryRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM product_service.categories ORDER BY name, id"
    )))
    .fetch_all(pool)
    .await?)
}

/// A category's id and all its descendants' ids; empty if there is no such category.
pub async fn subtree(pool: &PgPool, id: Uuid) -> Result<Vec<Uuid>, Error> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE tree AS (
             SELECT id FROM product_service.categories WHERE id = $1
             UNION ALL
             SELECT c.id FROM product_service.categories c JOIN tree t ON c.parent_id = t.id
         ) SELECT id FROM tree",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

/// Takes the tree-wide lock every move holds for the rest of `tx`, so the ancestry a move reads cannot be
/// changed under it.
pub async fn lock_moves(tx: &mut PgConnection) -> Result<(), Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('product_service.categories.move'))").execute(tx).await?;
    Ok(())
}

/// Whether `node` is `root` or below it.
pub async fn is_in_subtree(tx: &mut PgConnection, node: Uuid, root: Uuid) -> Result<bool, Error> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE ancestry AS (
             SELECT id, parent_id FROM product_service.categories WHERE id = $1
             UNION ALL
             SELECT c.id, c.parent_id FROM product_service.categories c JOIN ancestry a ON c.id = a.parent_id
         ) SELECT EXISTS (SELECT 1 FROM ancestry WHERE id = $2)",
    )
    .bind(node)
    .bind(root)
    .fetch_one(tx)
    .await?)
}

/// A change to a category; `None` keeps a field.
pub struct CategoryChange {
    pub name: Option<CategoryName>,
    pub slug: Option<Slug>,
    /// `Some(None)` makes it a root.
    pub parent_id: Option<Option<Uuid>>,
}

/// Renames or moves a category; `None` if there is no such category.
pub async fn update(tx: &mut PgConnection, id: Uuid, change: &CategoryChange) -> Result<Option<CategoryRow>, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE product_service.categories
         SET name = coalesce($2, name), slug = coalesce($3, slug),
             parent_id = CASE WHEN $4 THEN $5 ELSE parent_id END, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(change.name.as_ref().map(CategoryName::as_str))
    .bind(change.slug.as_ref().map(Slug::as_str))
    .bind(change.parent_id.is_some())
    .bind(change.parent_id.flatten())
    .fetch_optional(tx)
    .await
    .map_err(|e| {
        Error::on_violation(e, |constraint| match constraint {
            "categories_sibling_slug" => Some(Error::AlreadyExists(SIBLING_SLUG_TAKEN.into())),
            "categories_parent_id_fkey" => Some(Error::NotFound("new parent category")),
            _ => None,
        })
    })
}

/// Locks a category for its deletion (`FOR UPDATE`): a product or child being added to it (which key-share
/// locks it) finishes first, and is then seen. Whether there is one.
pub async fn lock_for_delete(tx: &mut PgConnection, id: Uuid) -> Result<bool, Error> {
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM product_service.categories WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(tx)
        .await?;
    Ok(found.is_some())
}

/// What is in a category: child categories, live products.
#[derive(Clone, Copy, Debug, sqlx::FromRow)]
pub struct Contents {
    pub children: bool,
    pub products: bool,
}

/// Whether a category has child categories, and live products.
pub async fn contents(tx: &mut PgConnection, id: Uuid) -> Result<Contents, Error> {
    Ok(sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM product_service.categories WHERE parent_id = $1) AS children,
                EXISTS (SELECT 1 FROM product_service.products WHERE category_id = $1 AND deleted_at IS NULL) AS products",
    )
    .bind(id)
    .fetch_one(tx)
    .await?)
}

/// Deletes a category that `tx` has locked.
pub async fn delete(tx: &mut PgConnection, id: Uuid) -> Result<(), Error> {
    sqlx::query("DELETE FROM product_service.categories WHERE id = $1").bind(id).execute(tx).await?;
    Ok(())
}
