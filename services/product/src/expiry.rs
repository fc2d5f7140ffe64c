//! The background worker that expires reservations whose time is up, giving their stock back, and forgets
//! old idempotency keys. Safe with any number of replicas: each batch takes only rows no one else holds
//! (`FOR UPDATE SKIP LOCKED`), so two workers never expire one reservation, and a confirm or release in
//! flight is never waited on.

use std::time::Duration;

use ec_platform::shutdown::CancellationToken;
use sqlx::PgPool;

use crate::inventory;

/// Reservations expired per transaction.
const BATCH: i64 = 100;

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct ExpirySchedule {
    /// Time between looks for due reservations.
    pub interval: Duration,
    /// How long idempotency keys are remembered.
    pub key_age: Duration,
}

/// Runs until `shutdown` fires.
pub async fn run(pool: PgPool, schedule: ExpirySchedule, shutdown: CancellationToken) {
    let forget = || async {
        match inventory::forget_keys(&pool, schedule.key_age).await {
            Ok(0) => {}
            Ok(forgotten) => tracing::info!(forgotten, "old idempotency keys forgotten"),
            Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "forgetting idempotency keys failed"),
        }
    };
    ec_platform::shutdown::every(schedule.interval, shutdown, || expire_all_due(&pool), forget).await;
}

/// Expires every reservation that is due now, a batch at a time.
pub async fn expire_all_due(pool: &PgPool) {
    loop {
        match inventory::expire_due(pool, BATCH).await {
            Ok(expired) => {
                if expired > 0 {
                    metrics::counter!("ec_reservations_expired_total").increment(expired as u64);
                    tracing::info!(expired, "reservations expired and their stock given back");
                }
                if expired < BATCH as usize {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(
                    error = &e as &dyn std::error::Error,
                    "expiring reservations failed; retrying next round"
                );
                return;
            }
        }
    }
}
