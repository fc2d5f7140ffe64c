//! The relay: moves a service's outbox to the [`Events`] bus.
//!
//! One relay per service and process, woken by the service when it commits an event ([`Outbox::written`], then
//! waiting [`GATHER`] for more, so a burst is taken in one run) and every `EVENTS_RELAY_INTERVAL_MS` for events
//! written by other replicas or left by a crash. Each run,
//! in one transaction: take the outbox's transaction-level advisory lock (one replica relays at a time, so
//! events leave in the order they were written; the others find the lock taken and wait for their next
//! look), read up to a batch of due events oldest first, publish them and await every acknowledgement,
//! delete those the bus took, and put the others off with a growing pause. A relay that dies after
//! publishing and before its delete commits leaves the rows, and the next run publishes them again under
//! the same ids, which JetStream drops as duplicates.
//!
//! A process that stops runs the relay once more after its servers have drained ([`Relay::beside`]), for at most
//! [`FINAL_FLUSH`], so the events the drain committed leave now rather than at the next start.
//!
//! When NATS cannot be reached the rows stay as they are (the outbox backs up, nothing is counted against
//! the events) and the relay tries again after a pause that doubles up to `MAX_PAUSE`; it logs once when
//! the outage starts and once when it ends.
//!
//! Metrics, per service: `ec_events_published_total`, `ec_events_relay_errors_total`, and after each run
//! (at most once a second) `ec_outbox_backlog` and `ec_outbox_oldest_seconds`, the age of the oldest event
//! not yet handed over.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use super::{EventArgs, Events, Outbox, bus::Outgoing};
use crate::shutdown::CancellationToken;

/// Events read and published per run.
const BATCH: i64 = 100;

/// How long a relay woken by a commit waits for more before it runs: at 400 orders a second, a run takes
/// about eight events instead of one (docs/performance.md).
const GATHER: Duration = Duration::from_millis(20);

/// The longest pause between runs while the bus is unreachable.
const MAX_PAUSE: Duration = Duration::from_secs(30);

/// How long a stopping relay goes on handing over what is left; what it cannot hand over by then waits in the
/// outbox for the next start (late, not lost).
pub const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// The longest pause before an event the bus refused is tried again.
const MAX_EVENT_PAUSE: Duration = Duration::from_secs(300);

/// Where a relay stops for good, for crash tests (`EVENTS_RELAY_PAUSE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pause {
    /// Events read, none published.
    BeforePublish,
    /// Events published, their rows not yet deleted.
    AfterPublish,
}

impl Pause {
    /// `before-publish` or `after-publish`.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "before-publish" => Ok(Self::BeforePublish),
            "after-publish" => Ok(Self::AfterPublish),
            other => Err(format!("{other:?} is neither before-publish nor after-publish")),
        }
    }
}

/// Why a run handed nothing over.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("the outbox could not be read or updated")]
    Database(#[from] sqlx::Error),
    #[error("the events bus could not be reached: {0}")]
    Bus(String),
}

/// A service's relay.
pub struct Relay {
    pool: PgPool,
    outbox: Outbox,
    events: Events,
    interval: Duration,
    pause: Option<Pause>,
}

impl Relay {
    pub fn new(pool: PgPool, outbox: Outbox, events: Events, args: &EventArgs) -> Self {
        describe_metrics();
        // At zero from the start, so an alert on their increase has a series before the first event or error.
        let service = outbox.service();
        metrics::counter!("ec_events_published_total", "service" => service).increment(0);
        metrics::counter!("ec_events_relay_errors_total", "service" => service).increment(0);
        Self { pool, outbox, events, interval: args.relay_interval(), pause: args.relay_pause }
    }

    /// Relays until `shutdown` fires.
    pub async fn run(self, shutdown: CancellationToken) {
        let service = self.outbox.service();
        let mut failures = 0u32;
        let mut measured: Option<Instant> = None;
        loop {
            loop {
                match self.relay_once().await {
                    Ok(taken) => {
                        if failures > 0 {
                            tracing::info!(service, "the events relay is handing events over again");
                            failures = 0;
                        }
                        // A stopping relay leaves the rest to its bounded final flush.
                        if taken < BATCH as usize || shutdown.is_cancelled() {
                            break;
                        }
                    }
                    Err(e) => {
                        metrics::counter!("ec_events_relay_errors_total", "service" => service).increment(1);
                        if failures == 0 {
                            tracing::warn!(
                                service,
                                error = &e as &dyn std::error::Error,
                                "the events relay cannot hand events over; they wait in the outbox"
                            );
                        }
                        failures += 1;
                        break;
                    }
                }
            }
            if measured.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                measured = Some(Instant::now());
                if let Err(e) = self.measure().await {
                    tracing::debug!(service, error = %e, "the outbox backlog could not be measured");
                }
            }
            let wait = match failures {
                0 => self.interval,
                n => (Duration::from_millis(100) * 2u32.pow(n.min(9))).min(MAX_PAUSE),
            };
            tokio::select! {
                _ = shutdown.cancelled() => {
                    if failures == 0 {
                        self.flush().await;
                    }
                    return;
                }
                _ = self.outbox.wait_written(), if failures == 0 => {
                    // Events commit in bursts under load: a moment's wait lets one run take many.
                    tokio::time::sleep(GATHER).await;
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Runs the relay beside `serving` (a service's servers, which drain once told to stop) and, once `serving`
    /// has finished, hands over what was committed meanwhile ([`FINAL_FLUSH`] at most); answers `serving`'s
    /// outcome.
    pub async fn beside<T>(self, serving: impl Future<Output = T>) -> T {
        let stop = CancellationToken::new();
        let service = self.outbox.service();
        let relay = tokio::spawn(self.run(stop.clone()));
        let outcome = serving.await;
        stop.cancel();
        if let Err(e) = relay.await {
            tracing::error!(service, error = %e, "the events relay failed");
        }
        outcome
    }

    /// Hands over what is due, a batch after another, until the outbox is empty, the bus fails, or
    /// [`FINAL_FLUSH`] has passed.
    async fn flush(&self) {
        let flushed = tokio::time::timeout(FINAL_FLUSH, async {
            while let Ok(taken) = self.relay_once().await {
                if taken < BATCH as usize {
                    break;
                }
            }
        });
        if flushed.await.is_err() {
            tracing::warn!(
                service = self.outbox.service(),
                "the events relay stopped before the outbox was empty; the rest leaves at the next start"
            );
        }
    }

    /// Hands over up to a batch of due events; how many it read (0 when another replica holds the outbox).
    pub async fn relay_once(&self) -> Result<usize, RelayError> {
        let table = self.outbox.table();
        let mut tx = self.pool.begin().await?;
        // The lock first, in a statement of its own: the read that follows takes its snapshot after the lock,
        // so it never sees rows the replica that held it last has published and deleted.
        let leader: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(&table)
            .fetch_one(&mut *tx)
            .await?;
        if !leader {
            return Ok(0);
        }
        let due: Vec<Outgoing> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, subject, payload, traceparent, occurred_at, attempts FROM {table}
             WHERE next_attempt_at <= now() ORDER BY id LIMIT $1"
        )))
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if due.is_empty() {
            return Ok(0);
        }
        self.failpoint(Pause::BeforePublish).await;
        let outcomes = self.events.publish(self.outbox.service(), &due).await.map_err(RelayError::Bus)?;
        self.failpoint(Pause::AfterPublish).await;
        let mut taken = Vec::new();
        let (mut refused, mut errors, mut pauses) = (Vec::new(), Vec::new(), Vec::new());
        for (event, outcome) in due.iter().zip(outcomes) {
            match outcome {
                Ok(()) => taken.push(event.id),
                Err(error) => {
                    tracing::warn!(service = self.outbox.service(), event = %event.id, subject = event.subject, attempt = event.attempts + 1, error, "an event was not taken; it is tried again later");
                    refused.push(event.id);
                    errors.push(error);
                    pauses.push(event_pause(event.attempts + 1).as_secs_f64());
                }
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE id = ANY($1)")))
            .bind(&taken)
            .execute(&mut *tx)
            .await?;
        if !refused.is_empty() {
            put_off(&mut tx, &table, &refused, &errors, &pauses).await?;
        }
        tx.commit().await?;
        metrics::counter!("ec_events_published_total", "service" => self.outbox.service())
            .increment(taken.len() as u64);
        Ok(due.len())
    }

    /// Updates the backlog gauges.
    async fn measure(&self) -> Result<(), sqlx::Error> {
        let (count, oldest): (i64, f64) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(occurred_at)), 0)::float8 FROM {}",
            self.outbox.table()
        )))
        .fetch_one(&self.pool)
        .await?;
        let service = self.outbox.service();
        metrics::gauge!("ec_outbox_backlog", "service" => service).set(count as f64);
        metrics::gauge!("ec_outbox_oldest_seconds", "service" => service).set(oldest.max(0.0));
        Ok(())
    }

    async fn failpoint(&self, at: Pause) {
        if self.pause == Some(at) {
            tracing::warn!(service = self.outbox.service(), ?at, "failpoint: the events relay pauses for good");
            std::future::pending::<()>().await;
        }
    }
}

/// Counts a failed hand-over of each of `ids` and makes it due again after its pause.
async fn put_off(
    tx: &mut sqlx::PgConnection,
    table: &str,
    ids: &[Uuid],
    errors: &[String],
    pauses: &[f64],
) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {table} o SET attempts = o.attempts + 1, last_error = left(f.error, 1000),
             next_attempt_at = now() + make_interval(secs => f.pause)
         FROM unnest($1::uuid[], $2::text[], $3::float8[]) AS f (id, error, pause) WHERE o.id = f.id"
    )))
    .bind(ids)
    .bind(errors)
    .bind(pauses)
    .execute(tx)
    .await?;
    Ok(())
}

/// The pause before an event is tried again after its `attempts`-th failure: 1 s, doubling, at most five
/// minutes.
fn event_pause(attempts: i32) -> Duration {
    (Duration::from_secs(1) * 2u32.pow(attempts.clamp(1, 10) as u32 - 1)).min(MAX_EVENT_PAUSE)
}

/// Registers the relay's metrics with their help texts.
pub fn describe_metrics() {
    metrics::describe_counter!("ec_events_published_total", "Events a service's relay handed to the bus.");
    metrics::describe_counter!(
        "ec_events_relay_errors_total",
        "Relay runs that could not reach the bus or the outbox; the events wait in the outbox."
    );
    metrics::describe_gauge!("ec_outbox_backlog", "Events in a service's outbox not yet handed to the bus.");
    metrics::describe_gauge!(
        "ec_outbox_oldest_seconds",
        "Age of the oldest event in a service's outbox: how far behind its relay is."
    );
    metrics::describe_gauge!(
        "ec_events_consumer_pending",
        "Events a durable consumer has yet to take or acknowledge (JetStream)."
    );
    metrics::describe_counter!("ec_events_handled_total", "Events a subscriber handled, by outcome.");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_event_waits_longer_each_time_up_to_five_minutes() {
        assert_eq!(event_pause(1), Duration::from_secs(1));
        assert_eq!(event_pause(2), Duration::from_secs(2));
        assert_eq!(event_pause(5), Duration::from_secs(16));
        assert_eq!(event_pause(9), Duration::from_secs(256));
        assert_eq!(event_pause(10), MAX_EVENT_PAUSE);
        assert_eq!(event_pause(1000), MAX_EVENT_PAUSE);
    }

    #[test]
    fn the_pause_failpoint_takes_two_places() {
        assert_eq!(Pause::parse("before-publish"), Ok(Pause::BeforePublish));
        assert_eq!(Pause::parse("after-publish"), Ok(Pause::AfterPublish));
        assert!(Pause::parse("later").is_err());
    }
}
