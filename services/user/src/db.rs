//! SQL for the `user_service` schema. Plain functions over a pool; each statement is one transaction.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    domain::{DisplayName, Email, UserId},
    error::Error,
};

/// An account row, without the password hash (which only [`password_hash_by_email`]-style queries read).
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a new account is made of.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a Email,
    pub name: Option<&'a DisplayName>,
    pub password_hash: &'a str,
}

/// Inserts an account. A live account with the same normalised email makes this [`Error::EmailTaken`]; the
/// partial unique index decides, so two concurrent sign-ups with one address cannot both succeed.
pub async fn insert_user(pool: &PgPool, user: NewUser<'_>) -> Result<UserRow, Error> {
    sqlx::query_as(
        r#"
        INSERT INTO user_service.users (id, email, email_normalized, password_hash, name)
        VALUES ($1, $2, $3, $4, $5)
        RETURNING id, email, name, roles, created_at, updated_at
        "#,
    )
    .bind(user.id.0)
    .bind(user.email.as_str())
    .bind(user.email.normalized())
    .bind(user.password_hash)
    .bind(user.name.map(DisplayName::as_str))
    .fetch_one(pool)
    .await
    .map_err(|e| match e.as_database_error() {
        Some(db) if db.constraint() == Some("users_live_email_key") => Error::EmailTaken,
        _ => Error::Database(e),
    })
}

/// Reads a live account.
pub async fn find_user(pool: &PgPool, id: UserId) -> Result<Option<UserRow>, Error> {
    Ok(sqlx::query_as(
        r#"
        SELECT id, email, name, roles, created_at, updated_at
        FROM user_service.users
        WHERE id = $1 AND deleted_at IS NULL
        "#,
    )
    .bind(id.0)
    .fetch_optional(pool)
    .await?)
}
