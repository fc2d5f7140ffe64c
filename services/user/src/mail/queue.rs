//! The `mails` table: messages queued, sent, and refused.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::content::Mail;

/// A message to queue.
#[derive(Clone, Debug)]
pub struct Queued<'a> {
    /// What caused it: an event's id, or the id of the change that asks for it.
    pub event_id: Uuid,
    /// `order_confirmed`, `password_reset`, ...
    pub kind: &'static str,
    pub user_id: Option<Uuid>,
    pub to: &'a str,
    pub mail: &'a Mail,
}

/// Queues `queued` in `tx`, unless a message of its kind for its event is queued already; whether it was.
pub async fn insert(tx: &mut PgConnection, queued: &Queued<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO user_service.mails (id, event_id, kind, user_id, to_address, subject, text_body, html_body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (event_id, kind) DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(queued.event_id)
    .bind(queued.kind)
    .bind(queued.user_id)
    .bind(queued.to)
    .bind(&queued.mail.subject)
    .bind(&queued.mail.text)
    .bind(&queued.mail.html)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// A message as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MailRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub to_address: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const MAIL_COLUMNS: &str = "id, event_id, kind, user_id, to_address, subject, text_body, html_body, status, attempts, \
     last_error, created_at, sent_at";

/// Claims up to `limit` messages due now, oldest first, for `lease`: they are due again only after it, so a
/// sender that dies while sending leaves them to be sent later, and replicas never take the same ones
/// (`FOR UPDATE SKIP LOCKED`, in this one short statement: nothing is held while a message is sent).
pub async fn claim_due(pool: &PgPool, limit: i64, lease: Duration) -> Result<Vec<MailRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH due AS (
             SELECT id FROM user_service.mails WHERE next_attempt_at <= now()
             ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED
         )
         UPDATE user_service.mails m SET next_attempt_at = now() + make_interval(secs => $2::float8)
         FROM due WHERE m.id = due.id
         RETURNING {}",
        MAIL_COLUMNS.split(", ").map(|column| format!("m.{column}")).collect::<Vec<_>>().join(", ")
    )))
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await
}

/// Kinds of message whose body holds a secret (a one-use link): the body is forgotten once the message has
/// left for an SMTP server, so the table does not keep working links.
pub const SECRET_KINDS: &[&str] = &["password_reset", "email_verification"];

/// Records pending message `id` as sent, forgetting its body if `forget_body`.
pub async fn sent(pool: &PgPool, id: Uuid, forget_body: bool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE user_service.mails SET status = 'sent', sent_at = now(), next_attempt_at = NULL, attempts = attempts + 1,
             last_error = NULL, updated_at = now(),
             text_body = CASE WHEN $2 THEN '' ELSE text_body END, html_body = CASE WHEN $2 THEN '' ELSE html_body END
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(forget_body)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failed attempt to send pending message `id`: tried again after `retry`, or, without one, failed
/// for good; a message of a [`SECRET_KINDS`] kind failed for good forgets its body (its link will never be read).
pub async fn failed(pool: &PgPool, id: Uuid, error: &str, retry: Option<Duration>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE user_service.mails
         SET attempts = attempts + 1, last_error = left($2, 1000), updated_at = now(),
             status = CASE WHEN $3::float8 IS NULL THEN 'failed' ELSE 'pending' END,
             next_attempt_at = now() + make_interval(secs => $3::float8),
             text_body = CASE WHEN $3::float8 IS NULL AND kind = ANY ($4) THEN '' ELSE text_body END,
             html_body = CASE WHEN $3::float8 IS NULL AND kind = ANY ($4) THEN '' ELSE html_body END
         WHERE id = $1 AND status = 'pending'",
    )
    .bind(id)
    .bind(error)
    .bind(retry.map(|pause| pause.as_secs_f64()))
    .bind(SECRET_KINDS)
    .execute(pool)
    .await?;
    Ok(())
}

/// The latest `limit` messages, newest first: the development mailbox.
pub async fn latest(pool: &PgPool, limit: i64) -> Result<Vec<MailRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {MAIL_COLUMNS} FROM user_service.mails ORDER BY id DESC LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Message `id`.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<MailRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {MAIL_COLUMNS} FROM user_service.mails WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await
}
