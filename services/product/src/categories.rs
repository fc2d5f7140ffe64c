//! The category tree in PostgreSQL.
//!
//! The database keeps the tree sound where it can: a parent must exist and cannot be deleted while it has
//! children (a foreign key), slugs are unique among siblings (a unique index, roots included), a category
//! is not its own parent (a CHECK). What a constraint cannot see, a cycle through several levels, is refused
//! here: every move takes one transaction-level advisory lock, so two moves cannot each pass the check and
//! together make a loop.

use chrono::{DateTime, Utc};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::Error;

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

/// A category's name: 1 to 100 characters, trimmed, no control characters.
#[derive(Clone, Debug)]
pub struct CategoryName(String);

impl CategoryName {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let name = raw.trim();
        let chars = name.chars().take(101).count();
        if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
            return Err(Error::InvalidArgument("name must be 1 to 100 characters without control characters".into()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The slug derived from the name: ASCII letters and digits in lower case, everything else a dash.
    pub fn slug(&self) -> Result<Slug, Error> {
        let mut slug = String::new();
        for c in self.0.chars() {
            if c.is_ascii_alphanumeric() {
                slug.push(c.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        let slug: String = slug.chars().take(100).collect();
        Slug::parse(slug.trim_end_matches('-')).map_err(|_| {
            Error::InvalidArgument(
                "no slug can be made from this name; give one (lower-case letters, digits, dashes)".into(),
            )
        })
    }
}

/// A URL slug: lower-case ASCII letters and digits in dash-separated words, 100 characters at most.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let valid = (1..=100).contains(&raw.len())
            && raw
                .split('-')
                .all(|word| !word.is_empty() && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        if !valid {
            return Err(Error::InvalidArgument(
                "slug must be lower-case letters and digits in words joined by single dashes, at most 100".into(),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn slug_taken_or(e: sqlx::Error) -> Error {
    match e.as_database_error().and_then(|db| db.constraint()) {
        Some("categories_sibling_slug") => Error::AlreadyExists("the parent already has a child with this slug".into()),
        Some("categories_parent_id_fkey") => Error::NotFound("parent category"),
        _ => Error::Database(e),
    }
}

/// Adds a category at the root or under `parent_id`.
pub async fn create(
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
    .bind(&name.0)
    .bind(&slug.0)
    .fetch_one(pool)
    .await
    .map_err(slug_taken_or)
}

/// The category with `slug` under `parent` (a root when `None`), if there is one.
pub async fn find_by_slug(pool: &PgPool, parent: Option<Uuid>, slug: &Slug) -> Result<Option<Uuid>, Error> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM product_service.categories WHERE parent_id IS NOT DISTINCT FROM $1 AND slug = $2",
    )
    .bind(parent)
    .bind(&slug.0)
    .fetch_optional(pool)
    .await?)
}

/// One category.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<CategoryRow, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM product_service.categories WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(Error::NotFound("category"))
}

/// Every category, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<CategoryRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM product_service.categories ORDER BY name, id"
    )))
    .fetch_all(pool)
    .await?)
}

/// A category and all its descendants' ids.
pub async fn subtree(pool: &PgPool, id: Uuid) -> Result<Vec<Uuid>, Error> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "WITH RECURSIVE tree AS (
             SELECT id FROM product_service.categories WHERE id = $1
             UNION ALL
             SELECT c.id FROM product_service.categories c JOIN tree t ON c.parent_id = t.id
         ) SELECT id FROM tree",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    if ids.is_empty() {
        return Err(Error::NotFound("category"));
    }
    Ok(ids)
}

/// A change to a category; `None` keeps a field.
pub struct CategoryChange {
    pub name: Option<CategoryName>,
    pub slug: Option<Slug>,
    /// `Some(None)` makes it a root.
    pub parent_id: Option<Option<Uuid>>,
}

/// Renames or moves a category. A move under itself or one of its descendants is `failed_precondition`.
pub async fn update(pool: &PgPool, id: Uuid, change: CategoryChange) -> Result<CategoryRow, Error> {
    let mut tx = pool.begin().await?;
    if let Some(Some(parent)) = change.parent_id {
        // One move at a time, tree-wide: the ancestry read below cannot be changed under us.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('product_service.categories.move'))")
            .execute(&mut *tx)
            .await?;
        if is_in_subtree(&mut tx, parent, id).await? {
            return Err(Error::FailedPrecondition("a category cannot move under itself or its descendants".into()));
        }
    }
    let row: Option<CategoryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE product_service.categories
         SET name = coalesce($2, name), slug = coalesce($3, slug),
             parent_id = CASE WHEN $4 THEN $5 ELSE parent_id END, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    )))
    .bind(id)
    .bind(change.name.map(|n| n.0))
    .bind(change.slug.map(|s| s.0))
    .bind(change.parent_id.is_some())
    .bind(change.parent_id.flatten())
    .fetch_optional(&mut *tx)
    .await
    .map_err(|e| match slug_taken_or(e) {
        Error::NotFound(_) => Error::NotFound("new parent category"),
        other => other,
    })?;
    let row = row.ok_or(Error::NotFound("category"))?;
    tx.commit().await?;
    Ok(row)
}

/// Whether `node` is `root` or below it.
async fn is_in_subtree(tx: &mut Transaction<'_, Postgres>, node: Uuid, root: Uuid) -> Result<bool, Error> {
    Ok(sqlx::query_scalar(
        "WITH RECURSIVE ancestry AS (
             SELECT id, parent_id FROM product_service.categories WHERE id = $1
             UNION ALL
             SELECT c.id, c.parent_id FROM product_service.categories c JOIN ancestry a ON c.id = a.parent_id
         ) SELECT EXISTS (SELECT 1 FROM ancestry WHERE id = $2)",
    )
    .bind(node)
    .bind(root)
    .fetch_one(&mut **tx)
    .await?)
}

/// Deletes a category with no child categories and no live products.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    // Locked for update: a product or child being added to it (which key-share locks it) finishes first, and
    // is then counted below.
    let found: Option<Uuid> = sqlx::query_scalar("SELECT id FROM product_service.categories WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if found.is_none() {
        return Err(Error::NotFound("category"));
    }
    let (children, products): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM product_service.categories WHERE parent_id = $1),
                EXISTS (SELECT 1 FROM product_service.products WHERE category_id = $1 AND deleted_at IS NULL)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if children || products {
        return Err(Error::FailedPrecondition("the category still has child categories or products".into()));
    }
    sqlx::query("DELETE FROM product_service.categories WHERE id = $1").bind(id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}
