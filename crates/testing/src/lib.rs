//! Helpers for tests that need a real PostgreSQL (a fresh database per test, so tests run in parallel without
//! seeing each other's rows), the Redis the tests share, or a Redis of their own to stop or pause; NATS
//! JetStream ([`nats`]: the shared server, one of a test's own, and a durable consumer to read events with); a
//! real SMTP server that keeps what it receives ([`smtp`]); a webhook receiver that verifies deliveries with the
//! Standard Webhooks library ([`webhooks`]) and an S3 API server ([`s3`], moto), the Python tools sharing
//! [`python`]; pictures with camera metadata for the upload tests ([`pictures`]); a
//! [`browser`] that signs in through the login pages as the storefront does; the one way tests run a child
//! process ([`Process`]: spawned, waited for until ready, signalled, always reaped); and the one way they wait
//! for a condition ([`eventually`]).
//!
//! A crate of its own, used only as a dev-dependency (and by the end-to-end harness), so nothing here is
//! compiled into a production binary.

pub mod browser;
mod eventually;
pub mod nats;
pub mod pictures;
mod process;
pub mod python;
pub mod s3;
pub mod smtp;
pub mod webhooks;

use std::time::Duration;

pub use eventually::{Observation, Seen, eventually};
pub use process::{Process, Signal};
use sqlx::{ConnectOptions, PgPool, postgres::PgConnectOptions};

/// The server tests create their databases on: `DATABASE_URL`, or the local PostgreSQL.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis tests use: `REDIS_URL`, or the local server.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A database of its own for one test, dropped by [`TestDatabase::drop_now`]. Missing PostgreSQL is a loud
/// failure, never a skip.
pub struct TestDatabase {
    pub pool: PgPool,
    options: PgConnectOptions,
    admin: PgPool,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database with a unique name.
    pub async fn create() -> Self {
        let admin_url = admin_database_url();
        let admin = PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL must be running at DATABASE_URL ({admin_url}); `make test` starts it: {e}")
        });
        let name = format!("ec_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("the DATABASE_URL role must be allowed to create databases");
        let options = admin_url.parse::<PgConnectOptions>().expect("DATABASE_URL is a valid URL").database(&name);
        let pool = PgPool::connect_with(options.clone()).await.expect("connect to the test database");
        Self { pool, options, admin, name }
    }

    /// The database's URL, for a child process.
    pub fn url(&self) -> String {
        self.options.to_url_lossy().to_string()
    }

    /// Closes every connection and drops the database.
    pub async fn drop_now(self) {
        self.pool.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&self.admin)
            .await
            .expect("drop the test database");
    }
}

/// A free port for a server that a test runs as a child process, possibly stopping and restarting it on the
/// same port.
///
/// A port from binding port 0 is no good for that: it is free again from the moment the probe closes until the
/// child binds it, and between a stop and a restart, and in those windows any outgoing connection of a test
/// running in parallel may be given it as its local port (CI once saw `ec dev` fail with "address in use" so).
/// The port is therefore drawn at random from below the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`), where neither outgoing connections nor listeners on port 0 ever land, and
/// checked to be free now.
pub fn child_port() -> u16 {
    use std::hash::{BuildHasher, RandomState};
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (low, high) = if ephemeral_low > 12000 { (10000, ephemeral_low) } else { (61000, u16::MAX) };
    for attempt in 0u32..1000 {
        let draw = RandomState::new().hash_one(attempt);
        let port = low + (draw % u64::from(high - low)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between {low} and {high}");
}

/// A `redis-server` of its own for one test, on a free port, so the test can stop or pause it without
/// disturbing the others. Killed when dropped.
pub struct PrivateRedis {
    server: Process,
    pub url: String,
}

impl PrivateRedis {
    /// Starts the server. A missing `redis-server` is a loud failure, never a skip.
    pub fn start() -> Self {
        let port = child_port();
        let mut command = std::process::Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null());
        // `make test` installs redis-server.
        let server = Process::spawn("redis-server", command);
        Self { server, url: format!("redis://127.0.0.1:{port}") }
    }

    /// A connection configured by `config`, once the server answers.
    pub async fn connect(&self, config: redis::aio::ConnectionManagerConfig) -> redis::aio::ConnectionManager {
        let client = redis::Client::open(self.url.as_str()).expect("a valid URL");
        let what = format!("the private redis-server at {} to answer", self.url);
        eventually(what, Duration::from_secs(5), || {
            redis::aio::ConnectionManager::new_with_config(client.clone(), config.clone())
        })
        .await
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers, like a hung Redis.
    pub fn pause(&self) {
        self.server.signal(Signal::Stop);
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        self.server.signal(Signal::Cont);
    }

    /// Stops the server for good.
    pub fn stop(&mut self) {
        self.server.kill();
    }
}
