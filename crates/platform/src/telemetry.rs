//! Logging, set up once per process, and the SQL statement timings read from sqlx's log events
//! ([`crate::metrics::SqlTimings`]).
//!
//! Logs are JSON lines by default (one object per event, with the span fields), which is what a log pipeline
//! wants; `pretty` is for a developer's terminal. The filter is `RUST_LOG` (default `info`).

use tracing_subscriber::{EnvFilter, Layer, Registry, fmt, prelude::*};

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

/// Installs the global subscriber and the metrics recorder. Later calls (as in tests that start several platforms in one process) are
/// no-ops, so this is safe to call from anywhere that starts a server.
pub fn init(args: &LogArgs) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match args.format {
        LogFormat::Json => fmt::layer().json().flatten_event(true).with_current_span(true).boxed(),
        LogFormat::Pretty => fmt::layer().boxed(),
    };
    // The filter is the log lines' own, so the statement timings see sqlx's events whatever RUST_LOG says.
    let result = tracing_subscriber::registry()
        .with(lines.with_filter(filter))
        .with(SqlTimings.with_filter(SqlTimings::filter()))
        .try_init();
    // An error only means a subscriber is already installed, which is what we want.
    drop(result);
    // The metrics recorder too, before anything counts.
    crate::metrics::recorder();
}
