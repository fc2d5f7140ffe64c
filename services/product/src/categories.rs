//! The category tree: what can be done with it, over the SQL of [`crate::db::categories`].
//!
//! The database keeps the tree sound where it can (a parent must exist and cannot be deleted while it has
//! children, slugs are unique among siblings, a category is not its own parent). What a constraint cannot
//! see, a cycle through several levels, is refused here: every move takes one transaction-level advisory
//! lock, so two moves cannot each pass the check and together make a loop.

use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    db::{
        self,
        categories::{CategoryChange, CategoryRow},
    },
    domain::{CategoryName, Slug},
    error::Error,
};

/// Adds a category at the root or under `parent_id`.
pub async fn create(
    pool: &PgPool,
    name: &CategoryName,
    slug: &Slug,
    parent_id: Option<Uuid>,
) -> Result<CategoryRow, Error> {
    db::categories::insert(pool, name, slug, parent_id).await
}

/// The category with `slug` under `parent` (a root when `None`), if there is one.
pub async fn find_by_slug(pool: &PgPool, parent: Option<Uuid>, slug: &Slug) -> Result<Option<Uuid>, Error> {
    db::categories::find_by_slug(pool, parent, slug).await
}

/// One category.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<CategoryRow, Error> {
    db::categories::find(pool, id).await?.ok_or(Error::NotFound("category"))
}

/// Every category, by name.
pub async fn list(pool: &PgPool) -> Result<Vec<CategoryRow>, Error> {
    db::categories::all(pool).await
}

/// A category and all its descendants' ids.
pub async fn subtree(pool: &PgPool, id: Uuid) -> Result<Vec<Uuid>, Error> {
    let ids = db::categories::subtree(pool, id).await?;
    if ids.is_empty() {
        return Err(Error::NotFound("category"));
    }
    Ok(ids)
}

/// Renames or moves a category. A move under itself or one of its descendants is `failed_precondition`.
pub async fn update(pool: &PgPool, id: Uuid, change: CategoryChange) -> Result<CategoryRow, Error> {
    let mut tx = pool.begin().await?;
    if let Some(Some(parent)) = change.parent_id {
        // One move at a time, tree-wide: the ancestry read below cannot be changed under us.
        db::categories::lock_moves(&mut tx).await?;
        if db::categories::is_in_subtree(&mut tx, parent, id).await? {
            return Err(Error::FailedPrecondition("a category cannot move under itself or its descendants".into()));
        }
    }
    let row = db::categories::update(&mut tx, id, &change).await?.ok_or(Error::NotFound("category"))?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes a category with no child categories and no live products.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    if !db::categories::lock_for_delete(&mut tx, id).await? {
        return Err(Error::NotFound("category"));
    }
    let contents = db::categories::contents(&mut tx, id).await?;
    if contents.children || contents.products {
        return Err(Error::FailedPrecondition("the category still has child categories or products".into()));
    }
    db::categories::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}
