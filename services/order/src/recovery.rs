//! The recovery worker: finishes every saga a driver left unfinished (a crash, a restart, a step that kept
//! failing past the calling request's deadline), and forgets old checkout idempotency keys. Safe with any
//! number of replicas: orders are taken with `FOR UPDATE SKIP LOCKED` under a lease, so two workers never
//! run one order, and an order a live request is driving is left to it.

use std::time::Duration;

use ec_platform::shutdown::CancellationToken;
use sqlx::PgPool;

use crate::{db, saga::Saga};

/// Orders taken per round.
const BATCH: i64 = 20;
/// How long the worker drives one order per round before leaving it for the next.
const PER_ORDER: Duration = Duration::from_secs(30);

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct RecoverySchedule {
    /// Time between looks for unfinished sagas.
    pub interval: Duration,
    /// How long checkout idempotency keys are remembered.
    pub key_age: Duration,
}

/// Runs until `shutdown` fires. Stopping in the middle of a saga is safe: that is what it is built for.
pub async fn run(pool: PgPool, saga: Saga, schedule: RecoverySchedule, shutdown: CancellationToken) {
    let forget = || async {
        match db::checkout_keys::forget_older_than(&pool, schedule.key_age).await {
            Ok(0) => {}
            Ok(forgotten) => tracing::info!(forgotten, "old checkout idempotency keys forgotten"),
            Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "forgetting checkout keys failed"),
        }
    };
    let round = || async {
        note_lag(&pool).await;
        recover_all_due(&saga).await;
    };
    ec_platform::shutdown::every(schedule.interval, shutdown, round, forget).await;
}

/// Sets `ec_saga_recovery_lag_seconds`: how long the longest-waiting unfinished saga has been due, as this
/// round begins. It stays near zero while the worker keeps up.
async fn note_lag(pool: &PgPool) {
    match db::orders::recovery_lag(pool).await {
        Ok(lag) => metrics::gauge!("ec_saga_recovery_lag_seconds").set(lag),
        Err(e) => tracing::error!(error = &e as &dyn std::error::Error, "measuring the recovery lag failed"),
    }
}

/// Runs every unfinished saga that is due and held by no one, a batch at a time.
pub async fn recover_all_due(saga: &Saga) {
    loop {
        match saga.recover(BATCH, PER_ORDER).await {
            Ok(taken) => {
                if taken > 0 {
                    metrics::counter!("ec_sagas_recovered_total").increment(taken as u64);
                    tracing::info!(taken, "unfinished checkout sagas taken over");
                }
                if taken < BATCH as usize {
                    return;
                }
            }
            Err(e) => {
                tracing::error!(error = &e as &dyn std::error::Error, "recovering sagas failed; retrying next round");
                return;
            }
        }
    }
}
