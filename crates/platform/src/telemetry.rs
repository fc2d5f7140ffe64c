//! Logs, traces and the per-RPC telemetry, set up once per process ([`init`]).
//!
//! **Logs** are JSON lines by default (one object per event, with the span fields), which is what a log
//! pipeline wants; `pretty` is for a developer's terminal. The filter is `RUST_LOG` (default `info`). A line
//! logged while an RPC runs carries the RPC's span, when there is one (always at the BFF, at a service only
//! when it exports traces: [`RpcTelemetry`]): its procedure, request id and `trace_id`.
//!
//! **Traces** are OpenTelemetry's, exported with OTLP over HTTP (protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; otherwise nothing is recorded and nothing is sent. The
//! SDK's standard variables apply (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
//! `OTEL_BSP_*`); each process names itself `ec-<part>` unless `OTEL_SERVICE_NAME` says otherwise. A trace
//! holds:
//! - a server span per RPC on every port ([`RpcTelemetry`]), continuing the caller's trace from its W3C
//!   `traceparent` header: the browser's at the BFF, the BFF's at a service, the order service's at the
//!   product service;
//! - a client span per call to another component, whose context goes out in `traceparent`
//!   ([`crate::channel::Channel`] calls [`outgoing`]);
//! - a span per SQL statement, named by its first keyword and table (`SELECT order_service.orders`), never
//!   with its values ([`crate::metrics::SqlTimings`], from sqlx's per-statement event);
//! - a span per Redis call (`redis`, with the feature: `rate`, `jwks`, `revoked`, `login-attempts`).

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Instant,
};

use connectrpc::{
    ConnectError, Protocol,
    interceptor::{Interceptor, Next, UnaryRequest, UnaryResponse},
};
use opentelemetry::{
    propagation::{Extractor, Injector},
    trace::{TraceContextExt, TracerProvider as _},
};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing::{Instrument, field::Empty};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, filter::filter_fn, fmt, prelude::*};

use crate::metrics::SqlTimings;

/// The shape of log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    #[default]
    Json,
    /// Human-readable, coloured when the output is a terminal.
    Pretty,
}

/// Logging settings.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LogArgs {
    /// Log line format. The level filter is read from RUST_LOG (default "info").
    #[arg(long = "log-format", env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub format: LogFormat,
}

/// The process's telemetry, kept until it exits: [`Telemetry::shutdown`] sends the spans not yet exported.
#[must_use = "shut it down at exit, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "the last spans could not be exported");
        }
    }
}

/// Whether this process exports traces. Spans made only for traces (calls, Redis) are not made otherwise:
/// every request would pay for them and nobody would see them.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans made only for traces are worth making: this process exports its traces.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Whether the environment asks for traces to be exported.
fn export_requested() -> bool {
    ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()))
}

/// Installs the global subscriber (log lines, SQL timings and, when exporting, traces) and the metrics
/// recorder. `service` names the process in its traces (`ec-user`, ...); a command that serves nothing (a
/// migration, a health check) passes none and exports no traces. Later calls (as in tests that start several
/// platforms in one process) install nothing, so this is safe to call from anywhere that starts a server.
pub fn init(args: &LogArgs, service: Option<&str>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match args.format {
        LogFormat::Json => fmt::layer().json().flatten_event(true).with_current_span(true).boxed(),
        LogFormat::Pretty => fmt::layer().boxed(),
    };
    let provider = service.filter(|_| export_requested()).map(tracer_provider).transpose();
    let (provider, failure) = match provider {
        Ok(provider) => (provider, None),
        Err(e) => (None, Some(e)),
    };
    let traces = provider.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        opentelemetry::global::set_tracer_provider(provider.clone());
        // The spans made to be traced (those that say their `otel.kind`: RPCs, calls, Redis) and our log
        // events within them; not the libraries' internals, nor spans that only give log lines context.
        let ours = filter_fn(|meta| {
            meta.target().starts_with("ec_")
                && *meta.level() <= tracing::Level::INFO
                && (meta.is_event() || meta.fields().field("otel.kind").is_some())
        });
        tracing_opentelemetry::layer().with_tracer(provider.tracer("ec")).with_filter(ours)
    });
    let statements = SqlTimings::new(provider.as_ref().map(|provider| provider.tracer("ec-sql")));
    let statements_filter = statements.filter();
    // The filter is the log lines' own, so the statement timings see sqlx's events whatever RUST_LOG says.
    let result = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(traces)
        .with(statements.with_filter(statements_filter))
        .try_init();
    // The metrics recorder too, before anything counts.
    crate::metrics::recorder();
    if let Some(e) = failure {
        tracing::error!(error = %e, "traces cannot be exported; running without");
    }
    match result {
        Ok(()) => {
            EXPORTING.store(provider.is_some(), Ordering::Relaxed);
            Telemetry { provider }
        }
        // A subscriber is already installed, which is what we want; this one's exporter is not used.
        Err(_) => Telemetry { provider: None },
    }
}

fn tracer_provider(service: &str) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .build()?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service.to_owned());
    }
    Ok(SdkTracerProvider::builder().with_resource(resource.build()).with_batch_exporter(exporter).build())
}

/// The caller's trace id, to log with a request: from the trace context extracted for export, or else from
/// the `traceparent` header itself, so log lines can be matched to the caller's trace even when this process
/// exports none.
fn trace_id_of(parent: Option<&opentelemetry::Context>, headers: &http::HeaderMap) -> Option<String> {
    if let Some(parent) = parent {
        let context = parent.span().span_context().clone();
        return context.is_valid().then(|| context.trace_id().to_string());
    }
    let traceparent = headers.get("traceparent")?.to_str().ok()?;
    let mut parts = traceparent.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    (trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()) && trace_id != "0".repeat(32))
        .then(|| trace_id.to_owned())
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeadersMut<'a>(&'a mut http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(key), http::HeaderValue::try_from(value)) {
            self.0.insert(name, value);
        }
    }
}

/// A client span for the call `request` makes to another component, with its context written into the
/// request's headers (`traceparent`), so the callee's server span continues this trace. When this process
/// exports no traces, no span is made and nothing is written.
pub fn outgoing<B>(request: &mut http::Request<B>) -> tracing::Span {
    if !exporting() {
        return tracing::Span::none();
    }
    let path = request.uri().path();
    let span = tracing::info_span!("call", otel.name = path, otel.kind = "client", rpc.system = "connect_rpc");
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeadersMut(request.headers_mut()))
    });
    span
}

/// Counts, times and traces every unary RPC of one server (`bff`, `user`, `product`, `order`):
///
/// - `ec_rpc_requests_total{server, procedure, protocol, code}` and
///   `ec_rpc_request_duration_seconds{server, procedure, protocol}`: the rate, errors and duration of each
///   procedure (RED), with the code that was really sent in every protocol, gRPC trailers included;
/// - a server span (`rpc`) continuing the caller's trace, in which the handler runs, so its log lines carry
///   the procedure, the request id and the trace id.
///
/// A span costs each RPC CPU time (the JSON log layer formats its fields when it is made, and every layer is
/// told each time its future is polled): a checkout, whose eight RPCs behind the BFF had none before, cost the
/// `ec` process a quarter more with them (docs/operations.md). So the public edge ([`RpcTelemetry::edge`], the
/// BFF) always makes it, for log lines that name the browser's request and trace; a backend
/// ([`RpcTelemetry::new`]) only when this process exports traces, where the span is what is exported.
pub struct RpcTelemetry {
    server: &'static str,
    always_span: bool,
}

impl RpcTelemetry {
    /// The telemetry of the backend server named `server`: a span per RPC only when traces are exported.
    pub fn new(server: &'static str) -> Self {
        // Installed before the first RPC, so what is counted from then on is recorded.
        crate::metrics::recorder();
        Self { server, always_span: false }
    }

    /// The telemetry of the public edge named `server`, the BFF: a span per RPC always.
    pub fn edge(server: &'static str) -> Self {
        Self { always_span: true, ..Self::new(server) }
    }

    /// The span an RPC runs in, continuing the caller's trace; none for a backend that exports no traces.
    fn span(&self, procedure: &str, headers: &http::HeaderMap) -> tracing::Span {
        let exporting = exporting();
        if !exporting && !self.always_span {
            return tracing::Span::none();
        }
        let request_id = headers.get("x-request-id").and_then(|id| id.to_str().ok());
        let parent = exporting.then(|| {
            opentelemetry::global::get_text_map_propagator(|propagator| propagator.extract(&Headers(headers)))
        });
        // The caller's trace, when there is one, is known before the span is made, so the span's fields are
        // set once (a field recorded later makes the JSON log layer format the span again).
        let caller_trace = trace_id_of(parent.as_ref(), headers);
        // At ERROR level, so it is enabled whatever RUST_LOG says: a warning logged within an RPC under
        // `RUST_LOG=warn` still names the request and the trace.
        let span = tracing::error_span!(
            "rpc",
            otel.name = procedure,
            otel.kind = "server",
            otel.status_code = Empty,
            server = self.server,
            request_id,
            trace_id = caller_trace.as_deref(),
        );
        if let Some(parent) = parent {
            // Without a caller's trace, the span starts a new one, whose id is known only now.
            let continued = parent.span().span_context().is_valid();
            let _ = span.set_parent(parent);
            if !continued {
                span.record("trace_id", span.context().span().span_context().trace_id().to_string());
            }
        }
        span
    }
}

fn protocol_name(protocol: Option<Protocol>) -> &'static str {
    match protocol {
        Some(Protocol::Connect) => "connect",
        Some(Protocol::Grpc) => "grpc",
        Some(Protocol::GrpcWeb) => "grpc_web",
        _ => "unknown",
    }
}

#[connectrpc::async_trait]
impl Interceptor for RpcTelemetry {
    async fn intercept_unary(&self, req: UnaryRequest, next: Next<'_>) -> Result<UnaryResponse, ConnectError> {
        let procedure = req.ctx.path().unwrap_or("unknown").to_owned();
        let protocol = protocol_name(req.ctx.protocol());
        let server = self.server;
        let span = self.span(&procedure, req.ctx.headers());
        let started = Instant::now();
        let result = next.run(req).instrument(span.clone()).await;
        let code = match &result {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        };
        if result.is_err() {
            span.record("otel.status_code", "ERROR");
        }
        let elapsed = started.elapsed().as_secs_f64();
        metrics::counter!("ec_rpc_requests_total", "server" => server, "protocol" => protocol,
            "procedure" => procedure.clone(), "code" => code)
        .increment(1);
        metrics::histogram!("ec_rpc_request_duration_seconds", "server" => server, "protocol" => protocol,
            "procedure" => procedure)
        .record(elapsed);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_trace_id_is_logged_when_nothing_is_exported() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(trace_id_of(None, &headers), None);
        headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
        assert_eq!(trace_id_of(None, &headers).as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        for bad in ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-xyz-00f067aa0ba902b7-01", "junk"] {
            headers.insert("traceparent", bad.parse().unwrap());
            assert_eq!(trace_id_of(None, &headers), None, "{bad}");
        }
    }
}
