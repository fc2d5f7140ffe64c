//! SQL for the `user_service` schema: plain functions over a pool, one statement (so one transaction) each
//! but [`soft_delete_user`], which says why it takes two.
//! Invariants live in the database: one live account per normalised email (a partial unique index), known
//! roles only, `customer` always present (check constraints).

use chrono::{DateTime, Utc};
use ec_platform::identity::Role;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    domain::{DisplayName, Email, UserId},
    error::{Error, UserError},
    mail::Language,
};

const USER_COLUMNS: &str =
    "id, email, email_verified_at IS NOT NULL AS email_verified, name, roles, language, created_at, updated_at";

/// An account row, without the password hash.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    /// Whether the holder followed the verification link mailed to `email`.
    pub email_verified: bool,
    pub name: Option<String>,
    pub roles: Vec<Role>,
    /// `en` or `ja`.
    pub language: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An account after [`update_user`], and whether its address changed (more than in letter case).
#[derive(Debug, sqlx::FromRow)]
pub struct Updated {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub email_changed: bool,
}

/// What a new account is made of.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub id: UserId,
    pub email: &'a Email,
    pub name: Option<&'a DisplayName>,
    pub password_hash: &'a str,
    pub language: Language,
}

/// What checking a password needs.
#[derive(Debug, sqlx::FromRow)]
pub struct Credentials {
    pub id: Uuid,
    pub roles: Vec<Role>,
    pub password_hash: String,
}

/// A change to the display name.
#[derive(Debug)]
pub enum NameChange<'a> {
    Keep,
    Remove,
    Set(&'a DisplayName),
}

/// The unique index live accounts' normalised emails are under.
const LIVE_EMAIL_KEY: &str = "users_live_email_key";

/// A taken email as [`UserError::EmailTaken`]; anything else as it is.
fn email_taken_or(e: sqlx::Error) -> Error {
    Error::on_violation(e, |constraint| (constraint == LIVE_EMAIL_KEY).then_some(UserError::EmailTaken.into()))
}

/// Inserts an account. A live account with the same normalised email makes this [`UserError::EmailTaken`]; the
/// unique index decides, so two concurrent sign-ups with one address cannot both succeed.
pub async fn insert_user(tx: &mut PgConnection, user: NewUser<'_>) -> Result<UserRow, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO user_service.users (id, email, email_normalized, password_hash, name, language)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING {USER_COLUMNS}"
    )))
    .bind(user.id.0)
    .bind(user.email.as_str())
    .bind(user.email.normalized())
    .bind(user.password_hash)
    .bind(user.name.map(DisplayName::as_str))
    .bind(user.language.as_str())
    .fetch_one(tx)
    .await
    .map_err(email_taken_or)
}

/// Where and how to write to a live account.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Contact {
    pub email: String,
    pub name: Option<String>,
    /// `en` or `ja`.
    pub language: String,
}

/// Where and how to write to live account `id`.
pub async fn contact_of(pool: &PgPool, id: Uuid) -> Result<Option<Contact>, sqlx::Error> {
    sqlx::query_as("SELECT email, name, language FROM user_service.users WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Reads a live account.
pub async fn find_user(pool: &PgPool, id: UserId) -> Result<Option<UserRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM user_service.users WHERE id = $1 AND deleted_at IS NULL"
    )))
    .bind(id.0)
    .fetch_optional(pool)
    .await?)
}

/// The credentials of the live account with this email.
pub async fn find_credentials_by_email(pool: &PgPool, email: &Email) -> Result<Option<Credentials>, Error> {
    Ok(sqlx::query_as(
        "SELECT id, roles, password_hash FROM user_service.users
         WHERE email_normalized = $1 AND deleted_at IS NULL",
    )
    .bind(email.normalized())
    .fetch_optional(pool)
    .await?)
}

/// The password hash of a live account.
pub async fn find_password_hash(pool: &PgPool, id: UserId) -> Result<Option<String>, Error> {
    Ok(sqlx::query_scalar("SELECT password_hash FROM user_service.users WHERE id = $1 AND deleted_at IS NULL")
        .bind(id.0)
        .fetch_optional(pool)
        .await?)
}

/// Changes email and/or name of a live account; `None` when there is no such account.
///
/// A new address (more than a change of letter case: judged on the address as written, not on the key that
/// folds look-alike characters together, so a verified look-alike never passes its verification on) is not
/// verified: `email_verified_at` is cleared and the account's open verification links end. Any new email ends
/// the open password-reset links, which were mailed to the old address.
pub async fn update_user(
    tx: &mut PgConnection,
    id: UserId,
    email: Option<&Email>,
    name: NameChange<'_>,
) -> Result<Option<Updated>, Error> {
    let (set_name, new_name) = match name {
        NameChange::Keep => (false, None),
        NameChange::Remove => (true, None),
        NameChange::Set(name) => (true, Some(name.as_str())),
    };
    // `before` holds the row as it was (locked), for RETURNING to compare with: in SET, columns are the old
    // values; in RETURNING, the new ones.
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH before AS (
             SELECT id AS before_id, lower(email) AS before_email FROM user_service.users
             WHERE id = $1 AND deleted_at IS NULL FOR UPDATE
         ), updated AS (
             UPDATE user_service.users
             SET email = coalesce($2, email),
                 email_normalized = coalesce($3, email_normalized),
                 email_verified_at = CASE WHEN lower($2) <> lower(email) THEN NULL ELSE email_verified_at END,
                 name = CASE WHEN $4 THEN $5 ELSE name END,
                 updated_at = now()
             FROM before
             WHERE id = before_id
             RETURNING {USER_COLUMNS}, lower(email) <> before_email AS email_changed
         ), resets_ended AS (
             UPDATE user_service.password_resets SET used_at = now()
             WHERE $2::text IS NOT NULL AND used_at IS NULL AND user_id IN (SELECT id FROM updated)
         ), verifications_ended AS (
             UPDATE user_service.email_verifications SET used_at = now()
             WHERE used_at IS NULL AND user_id IN (SELECT id FROM updated WHERE email_changed)
         )
         SELECT * FROM updated"
    )))
    .bind(id.0)
    .bind(email.map(Email::as_str))
    .bind(email.map(Email::normalized))
    .bind(set_name)
    .bind(new_name)
    .fetch_optional(tx)
    .await
    .map_err(email_taken_or)
}

/// Replaces the password hash of a live account, if it is still the `checked` one; `false` when there is no
/// such account or its password changed since it was checked (so of two concurrent changes that both checked
/// the same current password, only one lands). A changed password ends the account's open password-reset
/// links.
pub async fn set_password_hash(pool: &PgPool, id: UserId, checked: &str, hash: &str) -> Result<bool, Error> {
    let changed: i64 = sqlx::query_scalar(
        "WITH changed AS (
             UPDATE user_service.users SET password_hash = $3, updated_at = now()
             WHERE id = $1 AND deleted_at IS NULL AND password_hash = $2 RETURNING id
         ), ended AS (
             UPDATE user_service.password_resets SET used_at = now()
             WHERE used_at IS NULL AND user_id IN (SELECT id FROM changed)
         )
         SELECT count(*) FROM changed",
    )
    .bind(id.0)
    .bind(checked)
    .bind(hash)
    .fetch_one(pool)
    .await?;
    Ok(changed == 1)
}

/// Soft-deletes a live account, freeing its email, and deletes its address book; `false` when there is no such
/// account.
///
/// Two statements in one transaction: the first takes the account's row lock, so an address-book change under
/// way (which holds that lock, [`crate::addresses`]) commits first, and the second, reading anew, deletes what
/// it added. One statement would read the addresses as they were when it began.
pub async fn soft_delete_user(pool: &PgPool, id: UserId) -> Result<bool, Error> {
    let mut tx = pool.begin().await?;
    let deleted = sqlx::query(
        "UPDATE user_service.users SET deleted_at = now(), updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id.0)
    .execute(&mut *tx)
    .await?;
    if deleted.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM user_service.addresses WHERE user_id = $1").bind(id.0).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// Brings every live account's `email_normalized` up to `normalize` (after the normalisation changed, as when
/// look-alike characters began to count as one). Only addresses with non-ASCII characters can change. An account
/// whose new key another live account already has keeps its old key, and is logged for an operator to resolve.
pub async fn rekey_emails(pool: &PgPool, normalize: impl Fn(&str) -> String) -> Result<(), sqlx::Error> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT id, email, email_normalized FROM user_service.users
         WHERE deleted_at IS NULL AND email ~ '[^[:ascii:]]'",
    )
    .fetch_all(pool)
    .await?;
    for (id, email, old) in rows {
        let new = normalize(&email);
        if new == old {
            continue;
        }
        let updated = sqlx::query("UPDATE user_service.users SET email_normalized = $2 WHERE id = $1")
            .bind(id)
            .bind(&new)
            .execute(pool)
            .await;
        match updated {
            Ok(_) => tracing::info!(user_id = %id, "email key brought up to date"),
            Err(e) if ec_platform::db::violated_constraint(&e) == Some(LIVE_EMAIL_KEY) => {
                tracing::warn!(user_id = %id, "email looks like another account's; its old key is kept")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One page of live accounts, newest first (ids are UUID v7, so id order is creation order), starting after
/// `after`, optionally only those whose normalised email contains `email_contains` (normalised the same way).
pub async fn list_users(
    pool: &PgPool,
    after: Option<Uuid>,
    limit: i64,
    email_contains: Option<&str>,
) -> Result<Vec<UserRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {USER_COLUMNS} FROM user_service.users
         WHERE deleted_at IS NULL
           AND ($1::uuid IS NULL OR id < $1)
           AND ($2::text IS NULL OR strpos(email_normalized, $2) > 0)
         ORDER BY id DESC
         LIMIT $3"
    )))
    .bind(after)
    .bind(email_contains)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Grants (`granted`) or revokes a role on a live account; `None` when there is no such account, or when
/// `verified_only` and the role is granted to an account whose email is not verified.
pub async fn set_role(
    pool: &PgPool,
    id: UserId,
    role: Role,
    granted: bool,
    verified_only: bool,
) -> Result<Option<UserRow>, Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE user_service.users
         SET roles = CASE
                 WHEN $3 AND NOT ($2 = ANY (roles)) THEN array_append(roles, $2)
                 WHEN NOT $3 THEN array_remove(roles, $2)
                 ELSE roles
             END,
             updated_at = now()
         WHERE id = $1 AND deleted_at IS NULL AND NOT ($3 AND $4 AND email_verified_at IS NULL)
         RETURNING {USER_COLUMNS}"
    )))
    .bind(id.0)
    .bind(role)
    .bind(granted)
    .bind(verified_only)
    .fetch_optional(pool)
    .await
    .map_err(Error::from)
}
