//! Retention: what the user service keeps about messages, links and webhook deliveries is deleted once it is
//! no use, so addresses, order details and tokens do not pile up for ever. A worker in each process runs
//! [`purge`] every [`EVERY`] (replicas may both run it: the deletes are idempotent), a batch at a time so no
//! statement holds many locks for long.
//!
//! | what | kept for |
//! |---|---|
//! | messages sent or given up (`mails`) | [`MAILS`] after they were queued: long enough to answer "did you send it?" |
//! | password-reset and verification links used or expired | [`LINKS`] after they were made |
//! | webhook deliveries that succeeded or failed for good | [`DELIVERIES`] after they were made: the back office's log |
//!
//! Messages still to send, links still open and deliveries still pending are never deleted.

use std::time::Duration;

use ec_platform::shutdown::CancellationToken;
use sqlx::PgPool;

/// How long sent and given-up messages are kept.
pub const MAILS: Duration = Duration::from_secs(90 * 24 * 3600);

/// How long used and expired links are kept.
pub const LINKS: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long finished webhook deliveries are kept.
pub const DELIVERIES: Duration = Duration::from_secs(30 * 24 * 3600);

/// How often the worker purges.
pub const EVERY: Duration = Duration::from_secs(3600);

/// Rows deleted per statement.
const BATCH: i64 = 5000;

/// What each purge deletes: the table, and the condition a row it may delete meets, `$1` being the age (in
/// seconds) past which it goes.
const RULES: [(&str, &str, Duration); 4] = [
    ("user_service.mails", "status IN ('sent', 'failed') AND created_at < now() - make_interval(secs => $1)", MAILS),
    (
        "user_service.password_resets",
        "(used_at IS NOT NULL OR expires_at < now()) AND created_at < now() - make_interval(secs => $1)",
        LINKS,
    ),
    (
        "user_service.email_verifications",
        "(used_at IS NOT NULL OR expires_at < now()) AND created_at < now() - make_interval(secs => $1)",
        LINKS,
    ),
    (
        "user_service.webhook_deliveries",
        "status IN ('succeeded', 'failed') AND created_at < now() - make_interval(secs => $1)",
        DELIVERIES,
    ),
];

/// Deletes what is past its retention; how many rows in all.
pub async fn purge(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let mut deleted = 0;
    for (table, condition, age) in RULES {
        loop {
            let batch = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {condition} LIMIT $2)"
            )))
            .bind(age.as_secs_f64())
            .bind(BATCH)
            .execute(pool)
            .await?
            .rows_affected();
            deleted += batch;
            if batch < BATCH as u64 {
                break;
            }
        }
    }
    Ok(deleted)
}

/// Purges every [`EVERY`] until `shutdown`, starting a minute after start.
pub async fn run(pool: PgPool, shutdown: CancellationToken) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = EVERY;
        match purge(&pool).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "old messages, links and webhook deliveries deleted"),
            Err(e) => {
                tracing::warn!(error = &e as &dyn std::error::Error, "the retention purge failed; it runs again later")
            }
        }
    }
}
