//! What every process counts for Prometheus, and the `/metrics` route that serves it.
//!
//! One recorder per process ([`recorder`]), shared by every server in it; the metric names and labels say which
//! component counts. What the platform layer counts for every service:
//!
//! - `ec_rpc_requests_total{server, procedure, protocol, code}` and
//!   `ec_rpc_request_duration_seconds{server, procedure, protocol}`: every RPC a port handled
//!   ([`crate::telemetry::RpcTelemetry`]: `server` is `bff`, `user`, `product` or `order`), so the rate,
//!   errors and duration of each (RED). The code is the real one in every protocol, gRPC trailers included.
//! - `ec_db_query_duration_seconds{statement}`: every SQL statement, by its first keyword (`select`, `insert`,
//!   `update`, `delete`, `with`, `begin`, `commit`, ...), read from sqlx's own per-statement event
//!   ([`SqlTimings`], installed by [`crate::telemetry::init`]).
//! - `ec_db_pool_connections{pool, state}` (`in_use`, `idle`) and `ec_db_pool_max_connections{pool}`: each
//!   pool's use, sampled every few seconds while its service runs ([`watch_pool`]).
//! - `ec_redis_fallback{feature}` and `ec_redis_fallbacks_total{feature}` ([`crate::shared`]): whether a feature
//!   decides in process because Redis failed, and how many of its decisions were made that way.
//!
//! - `ec_events_published_total{service}`, `ec_events_relay_errors_total{service}`,
//!   `ec_outbox_backlog{service}`, `ec_outbox_oldest_seconds{service}` ([`crate::events::relay`]) and
//!   `ec_events_consumer_pending{consumer, stream}`, `ec_events_handled_total{consumer, outcome}`: events on
//!   their way out of each service's outbox, and into each durable consumer.
//!
//! The services add their own (`ec_saga_*`, `ec_orders_*`, `ec_reservations_expired_total`,
//! `ec_idempotent_replays_total`); docs/operations.md lists them all, with the alerts built on them.

use std::{
    sync::OnceLock,
    time::{Duration, SystemTime},
};

use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::{
    KeyValue,
    trace::{Span as _, SpanKind, Tracer as _},
};
use opentelemetry_sdk::trace::SdkTracer;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::dispatcher::WeakDispatch;

/// The process's Prometheus recorder, installed on first use; render it to serve `/metrics`.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            PrometheusBuilder::new()
                .set_buckets(&buckets)
                .expect("fixed buckets are valid")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// `GET /metrics`: what this process counted, in Prometheus's text format.
pub fn route() -> axum::Router {
    let handle = recorder();
    axum::Router::new().route("/metrics", get(move || std::future::ready(handle.render())))
}

/// How often [`watch_pool`] samples.
const POOL_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Reports the use of `pool`, named `name`, until `stop` fires: a sample now and then every few seconds.
pub async fn watch_pool(name: &'static str, pool: PgPool, stop: CancellationToken) {
    recorder();
    let max = pool.options().get_max_connections();
    metrics::gauge!("ec_db_pool_max_connections", "pool" => name).set(f64::from(max));
    let in_use = metrics::gauge!("ec_db_pool_connections", "pool" => name, "state" => "in_use");
    let idle = metrics::gauge!("ec_db_pool_connections", "pool" => name, "state" => "idle");
    loop {
        let (size, free) = (pool.size(), pool.num_idle());
        in_use.set(f64::from(size) - free as f64);
        idle.set(free as f64);
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(POOL_SAMPLE_EVERY) => {}
        }
    }
}

/// Times every SQL statement, from the event sqlx emits when one finishes (target `sqlx::query`, with its
/// duration as `elapsed_secs`, its first words as `summary` and its text as `db.statement`). Only the first
/// keyword becomes a label: the rest of a statement would make a series per query text.
///
/// When traces are exported, each statement run within a traced span (an RPC) also becomes a span of its own,
/// ending when sqlx's event came and as long as the statement took, named by its keyword and first table
/// (`SELECT order_service.orders`). Its text and values are never recorded.
pub struct SqlTimings {
    tracer: Option<SdkTracer>,
    dispatch: OnceLock<WeakDispatch>,
}

impl SqlTimings {
    /// Statement timings, and statement spans when `tracer` is given.
    pub fn new(tracer: Option<SdkTracer>) -> Self {
        Self { tracer, dispatch: OnceLock::new() }
    }

    /// What this layer sees: sqlx's per-statement events, at any level (sqlx emits them at DEBUG, and at WARN
    /// when slow), and, when it makes spans, our crates' spans too, so it finds the RPC a statement runs in.
    /// (Every layer a span is enabled for is told each time the span's future is polled.)
    pub fn filter(&self) -> tracing_subscriber::filter::Targets {
        let statements = tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::TRACE);
        if self.tracer.is_none() {
            return statements;
        }
        let ours = ["ec_platform", "ec_user", "ec_product", "ec_order", "ec_bff"];
        ours.into_iter().fold(statements, |targets, crate_name| targets.with_target(crate_name, tracing::Level::INFO))
    }

    /// The span of a statement that ended now after `elapsed` seconds, within the current span's trace.
    fn trace<S>(
        &self,
        tracer: &SdkTracer,
        fields: &StatementFields,
        elapsed: f64,
        ctx: &tracing_subscriber::layer::Context<'_, S>,
    ) where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let Some(current) = ctx.lookup_current() else { return };
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else { return };
        let Some(parent) = tracing_opentelemetry::get_otel_context(&current.id(), &dispatch) else { return };
        let end = SystemTime::now();
        let start = end.checked_sub(Duration::from_secs_f64(elapsed)).unwrap_or(end);
        let operation = fields.statement.to_ascii_uppercase();
        let mut attributes =
            vec![KeyValue::new("db.system.name", "postgresql"), KeyValue::new("db.operation.name", operation.clone())];
        let name = match &fields.table {
            Some(table) => {
                attributes.push(KeyValue::new("db.collection.name", table.clone()));
                format!("{operation} {table}")
            }
            None => operation,
        };
        let mut span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(tracer, &parent);
        span.end_with_timestamp(end);
    }
}

impl<S> tracing_subscriber::Layer<S> for SqlTimings
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut fields = StatementFields { tracing: self.tracer.is_some(), ..StatementFields::default() };
        event.record(&mut fields);
        let Some(elapsed) = fields.elapsed_secs else { return };
        statement_histogram(fields.statement).record(elapsed);
        if let Some(tracer) = &self.tracer {
            self.trace(tracer, &fields, elapsed, &ctx);
        }
    }
}

#[derive(Default)]
struct StatementFields {
    /// Whether the statement's span is made, which needs its table.
    tracing: bool,
    statement: &'static str,
    table: Option<String>,
    elapsed_secs: Option<f64>,
}

/// The keywords statements are labelled by; anything else is `other`, so labels stay few.
const KEYWORDS: [&str; 11] =
    ["select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "set", "lock", "other"];

/// The first keyword of a statement, from [`KEYWORDS`].
fn keyword(summary: &str) -> &'static str {
    let first = summary.split_whitespace().next().unwrap_or("");
    KEYWORDS.into_iter().find(|k| first.eq_ignore_ascii_case(k)).unwrap_or("other")
}

/// The histogram of the statements starting with `keyword`, looked up in the registry once: every statement
/// is timed.
fn statement_histogram(keyword: &'static str) -> &'static metrics::Histogram {
    static HISTOGRAMS: OnceLock<[metrics::Histogram; KEYWORDS.len()]> = OnceLock::new();
    let histograms = HISTOGRAMS.get_or_init(|| {
        recorder();
        KEYWORDS.map(|keyword| metrics::histogram!("ec_db_query_duration_seconds", "statement" => keyword))
    });
    let index = KEYWORDS.iter().position(|k| *k == keyword).unwrap_or(KEYWORDS.len() - 1);
    &histograms[index]
}

/// The first schema-qualified table a statement reads or writes (after FROM, INTO, UPDATE or JOIN): every
/// table of ours is named with its schema, so that is enough to find them.
fn first_table(sql: &str) -> Option<String> {
    let words: Vec<&str> =
        sql.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',').filter(|w| !w.is_empty()).collect();
    words.windows(2).find_map(|pair| {
        let follows = ["from", "into", "update", "join"].iter().any(|k| pair[0].eq_ignore_ascii_case(k));
        let table = pair[1].trim_matches('"');
        let named = table.split_once('.').is_some_and(|(schema, name)| {
            [schema, name]
                .iter()
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        });
        (follows && named).then(|| table.to_owned())
    })
}

impl tracing::field::Visit for StatementFields {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = Some(value);
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => {
                self.statement = keyword(value);
                if self.tracing && self.table.is_none() {
                    self.table = first_table(value);
                }
            }
            // The whole text, when the summary is not all of it.
            "db.statement" if self.tracing && !value.is_empty() => {
                self.table = first_table(value).or(self.table.take())
            }
            _ => {}
        }
    }

    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_labelled_by_their_first_keyword_only() {
        assert_eq!(keyword("SELECT id, name FROM …"), "select");
        assert_eq!(keyword("  with due AS ("), "with");
        assert_eq!(keyword("INSERT INTO product_service.x"), "insert");
        assert_eq!(keyword("VACUUM"), "other");
        assert_eq!(keyword(""), "other");
    }

    #[test]
    fn statements_are_named_by_their_first_table_and_never_by_their_values() {
        let insert = "INSERT INTO order_service.orders (id, user_id) VALUES ($1, 'x.y')";
        assert_eq!(first_table(insert).as_deref(), Some("order_service.orders"));
        let with = "WITH due AS ( SELECT id FROM order_service.orders WHERE x ) UPDATE order_service.orders o";
        assert_eq!(first_table(with).as_deref(), Some("order_service.orders"));
        assert_eq!(first_table("SELECT 1").as_deref(), None);
        assert_eq!(first_table("BEGIN").as_deref(), None);
        assert_eq!(first_table("SELECT * FROM unqualified").as_deref(), None);
    }
}
