//! The endpoints admins register, and their deliveries' log: SQL over `user_service.webhook_endpoints` and
//! `webhook_deliveries`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::EVENT_TYPES;
use crate::error::{Error, UserError};

/// The most endpoints a shop has.
pub const MAX_ENDPOINTS: i64 = 50;

/// The longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// How long the previous secret still signs after a rotation.
pub const ROTATION_GRACE: Duration = Duration::from_secs(24 * 3600);

const ENDPOINT_COLUMNS: &str = "id, url, description, event_types, enabled, disabled_reason, created_at, updated_at";

/// An endpoint, without its secrets.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A delivery as its log shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub latency_ms: Option<i32>,
    pub next_attempt_at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, status, attempts, created_at, last_attempt_at, \
     response_status, error, latency_ms, next_attempt_at";

/// Event types as asked for: each known, without repeats, sorted. Empty means every type.
pub fn event_types(asked: &[String]) -> Result<Vec<String>, Error> {
    let mut types = Vec::with_capacity(asked.len());
    for asked in asked {
        let Some(known) = EVENT_TYPES.iter().find(|known| **known == asked.trim()) else {
            let shown: String = asked.chars().take(60).collect();
            return Err(Error::InvalidArgument(format!("unknown event type {shown:?}")));
        };
        types.push((*known).to_owned());
    }
    types.sort();
    types.dedup();
    Ok(types)
}

/// A description as given: trimmed, at most [`MAX_DESCRIPTION_CHARS`], no control characters.
pub fn description(raw: &str) -> Result<String, Error> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_DESCRIPTION_CHARS || trimmed.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "the description must be at most {MAX_DESCRIPTION_CHARS} characters, without control characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Registers an endpoint with `secret`, unless the shop has [`MAX_ENDPOINTS`] already.
pub async fn create(
    pool: &PgPool,
    url: &str,
    description: &str,
    event_types: &[String],
    secret: &str,
) -> Result<EndpointRow, Error> {
    let mut tx = pool.begin().await?;
    // One creation at a time, so the limit holds under concurrent requests.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('user_service.webhook_endpoints'))").execute(&mut *tx).await?;
    let count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM user_service.webhook_endpoints").fetch_one(&mut *tx).await?;
    if count >= MAX_ENDPOINTS {
        return Err(UserError::TooMany(format!("the shop has {MAX_ENDPOINTS} webhook endpoints already")).into());
    }
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO user_service.webhook_endpoints (id, url, description, event_types, secret)
         VALUES ($1, $2, $3, $4, $5) RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(url)
    .bind(description)
    .bind(event_types)
    .bind(secret)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Every endpoint, newest first.
pub async fn list(pool: &PgPool) -> Result<Vec<EndpointRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ENDPOINT_COLUMNS} FROM user_service.webhook_endpoints ORDER BY id DESC"
    )))
    .fetch_all(pool)
    .await?)
}

/// A change to an endpoint; `None` fields are unchanged.
#[derive(Debug, Default)]
pub struct Change {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// Changes endpoint `id`; `None` when there is none. Enabling clears why it was disabled.
pub async fn update(pool: &PgPool, id: Uuid, change: &Change) -> Result<Option<EndpointRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE user_service.webhook_endpoints
         SET url = coalesce($2, url),
             description = coalesce($3, description),
             event_types = coalesce($4, event_types),
             enabled = coalesce($5, enabled),
             disabled_reason = CASE WHEN $5 THEN '' ELSE disabled_reason END,
             updated_at = now()
         WHERE id = $1
         RETURNING {ENDPOINT_COLUMNS}"
    )))
    .bind(id)
    .bind(change.url.as_deref())
    .bind(change.description.as_deref())
    .bind(change.event_types.as_deref())
    .bind(change.enabled)
    .fetch_optional(pool)
    .await?)
}

/// Deletes endpoint `id` with its deliveries; whether there was one.
pub async fn delete(pool: &PgPool, id: Uuid) -> Result<bool, Error> {
    let deleted =
        sqlx::query("DELETE FROM user_service.webhook_endpoints WHERE id = $1").bind(id).execute(pool).await?;
    Ok(deleted.rows_affected() == 1)
}

/// Gives endpoint `id` the secret `secret`; the current one keeps signing for [`ROTATION_GRACE`]. Whether there
/// was such an endpoint.
pub async fn rotate(pool: &PgPool, id: Uuid, secret: &str) -> Result<bool, Error> {
    let rotated = sqlx::query(
        "UPDATE user_service.webhook_endpoints
         SET previous_secret = secret, previous_secret_until = now() + make_interval(secs => $3::float8),
             secret = $2, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(secret)
    .bind(ROTATION_GRACE.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(rotated.rows_affected() == 1)
}

/// Whether endpoint `id` exists.
pub async fn exists(pool: &PgPool, id: Uuid) -> Result<bool, Error> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM user_service.webhook_endpoints WHERE id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await?)
}

/// Up to `limit` deliveries of endpoint `endpoint_id`, newest first, after delivery `after`.
pub async fn deliveries(
    pool: &PgPool,
    endpoint_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {DELIVERY_COLUMNS} FROM user_service.webhook_deliveries
         WHERE endpoint_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(endpoint_id)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Makes delivery `id` due now for a new round of attempts, if its endpoint is enabled. `Ok(None)` when there
/// is no such delivery; `failed_precondition` when its endpoint is disabled. A delivery being attempted right now
/// is answered as it is: its attempt's outcome decides, and it can be sent again after.
pub async fn redeliver(pool: &PgPool, id: Uuid) -> Result<Option<DeliveryRow>, Error> {
    let state: Option<(bool, bool)> = sqlx::query_as(
        "SELECT e.enabled, d.status = 'pending' AND d.locked_until > now() FROM user_service.webhook_deliveries d
         JOIN user_service.webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    match state {
        None => return Ok(None),
        Some((false, _)) => {
            return Err(Error::FailedPrecondition("the endpoint is disabled: enable it before redelivering".into()));
        }
        Some((true, _)) => {}
    }
    // Not while a deliverer holds it (the claim is checked in the statement, so one taken meanwhile is left to
    // its deliverer); should the endpoint be disabled in between, the deliverer finds it so and fails it.
    let due: Option<DeliveryRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE user_service.webhook_deliveries
         SET status = 'pending', attempts = 0, next_attempt_at = now(), locked_until = NULL
         WHERE id = $1 AND NOT (status = 'pending' AND locked_until > now()) RETURNING {DELIVERY_COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    match due {
        Some(due) => Ok(Some(due)),
        None => Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM user_service.webhook_deliveries WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
        .await?),
    }
}
