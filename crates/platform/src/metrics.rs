//! What every process counts for Prometheus, and the `/metrics` route that serves it.
//!
//! One recorder per process ([`recorder`]), shared by every server in it; the metric names and labels say which
//! component counts. What the platform layer counts for every service:
//!
//! - `ec_rpc_requests_total{server, procedure, protocol, code}` and
//!   `ec_rpc_request_duration_seconds{server, procedure, protocol}`: every RPC a port handled ([`RpcMetrics`]:
//!   `server` is `bff`, `user`, `product` or `order`), so the rate, errors and duration of each (RED). The
//!   code is the real one in every protocol, gRPC trailers included.
//! - `ec_db_query_duration_seconds{statement}`: every SQL statement, by its first keyword (`select`, `insert`,
//!   `update`, `delete`, `with`, `begin`, `commit`, ...), read from sqlx's own per-statement event
//!   ([`SqlTimings`], installed by [`crate::telemetry::init`]).
//! - `ec_db_pool_connections{pool, state}` (`in_use`, `idle`) and `ec_db_pool_max_connections{pool}`: each
//!   pool's use, sampled every few seconds while its service runs ([`watch_pool`]).
//! - `ec_redis_fallback{feature}` and `ec_redis_fallbacks_total{feature}` ([`crate::shared`]): whether a feature
//!   decides in process because Redis failed, and how many of its decisions were made that way.
//!
//! The services add their own (`ec_saga_*`, `ec_orders_*`, `ec_reservations_expired_total`,
//! `ec_idempotent_replays_total`); docs/operations.md lists them all, with the alerts built on them.

use std::{
    sync::OnceLock,
    time::{Duration, Instant},
};

use axum::routing::get;
use connectrpc::{
    ConnectError, Protocol,
    interceptor::{Interceptor, Next, UnaryRequest, UnaryResponse},
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

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

/// Counts and times every unary RPC of one server.
pub struct RpcMetrics {
    server: &'static str,
}

fn protocol_name(protocol: Option<Protocol>) -> &'static str {
    match protocol {
        Some(Protocol::Connect) => "connect",
        Some(Protocol::Grpc) => "grpc",
        Some(Protocol::GrpcWeb) => "grpc_web",
        _ => "unknown",
    }
}

impl RpcMetrics {
    /// Counts the RPCs of the server named `server` (`bff`, `user`, `product`, `order`).
    pub fn new(server: &'static str) -> Self {
        // Installed before the first RPC, so what is counted from then on is recorded.
        recorder();
        Self { server }
    }
}

#[connectrpc::async_trait]
impl Interceptor for RpcMetrics {
    async fn intercept_unary(&self, req: UnaryRequest, next: Next<'_>) -> Result<UnaryResponse, ConnectError> {
        let procedure = req.ctx.path().unwrap_or("unknown").to_owned();
        let protocol = protocol_name(req.ctx.protocol());
        let started = Instant::now();
        let result = next.run(req).await;
        let code = match &result {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        };
        let (server, elapsed) = (self.server, started.elapsed().as_secs_f64());
        metrics::counter!("ec_rpc_requests_total", "server" => server, "protocol" => protocol,
            "procedure" => procedure.clone(), "code" => code)
        .increment(1);
        metrics::histogram!("ec_rpc_request_duration_seconds", "server" => server, "protocol" => protocol,
            "procedure" => procedure)
        .record(elapsed);
        result
    }
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
/// duration as `elapsed_secs` and its first words as `summary`). Only the first keyword becomes a label: the
/// rest of a statement would make a series per query text.
pub struct SqlTimings;

impl SqlTimings {
    /// The events this layer reads: sqlx's per-statement events, at any level (sqlx emits them at DEBUG, and
    /// at WARN when slow).
    pub fn filter() -> tracing_subscriber::filter::Targets {
        tracing_subscriber::filter::Targets::new().with_target("sqlx::query", tracing::Level::TRACE)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SqlTimings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        let mut fields = StatementFields::default();
        event.record(&mut fields);
        if let Some(elapsed) = fields.elapsed_secs {
            metrics::histogram!("ec_db_query_duration_seconds", "statement" => fields.statement).record(elapsed);
        }
    }
}

#[derive(Default)]
struct StatementFields {
    statement: &'static str,
    elapsed_secs: Option<f64>,
}

/// The first keyword of a statement, from a fixed list (anything else is `other`), so labels stay few.
fn keyword(summary: &str) -> &'static str {
    let first = summary.split_whitespace().next().unwrap_or("");
    const KNOWN: [&str; 10] =
        ["select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "set", "lock"];
    KNOWN.into_iter().find(|k| first.eq_ignore_ascii_case(k)).unwrap_or("other")
}

impl tracing::field::Visit for StatementFields {
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.elapsed_secs = Some(value);
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "summary" {
            self.statement = keyword(value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.statement = keyword(&format!("{value:?}").trim_matches('"').to_owned());
        }
    }
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
}
