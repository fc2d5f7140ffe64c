//! Logging, set up once per process.
//!
//! Logs are JSON lines by default (one object per event, with the span fields), which is what a log pipeline
//! wants; `pretty` is for a developer's terminal. The filter is `RUST_LOG` (default `info`).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

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

/// Installs the global subscriber. Later calls (as in tests that start several platforms in one process) are
/// no-ops, so this is safe to call from anywhere that starts a server.
pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match args.format {
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true).with_current_span(true)).try_init(),
        LogFormat::Pretty => registry.with(fmt::layer()).try_init(),
    };
    // An error only means a subscriber is already installed, which is what we want.
    drop(result);
}

/// The process's Prometheus recorder, installed on first use; render it to serve `/metrics`. One per process,
/// shared by every server in it (the metric names say which component counts).
pub fn metrics() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
            PrometheusBuilder::new()
                .set_buckets(&buckets)
                .expect("fixed buckets are valid")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}
