//! What every service of the platform shares, so that each service crate holds only its own domain.
//!
//! - [`config`]: the settings common to all services, as `clap` argument groups with environment fallbacks.
//! - [`telemetry`]: JSON (or human) logs with an `RUST_LOG`-style filter, and the Prometheus recorder, each
//!   set up once per process.
//! - [`shutdown`]: one cancellation token per process, fired by SIGINT/SIGTERM and handed to every server and
//!   background task, which drain and stop on it.
//! - [`db`]: the PostgreSQL pool and the per-schema migrator. Each service owns one schema
//!   (`user_service`, ...) and keeps its migration history *inside* that schema, so services share a database
//!   without their migration versions colliding.
//! - [`cache`]: the optional Redis connection.
//! - [`identity`]: the caller identity the BFF passes to the services, and the shared secret that makes it
//!   trustworthy.
//! - [`net`]: the client's address behind trusted proxies.
//! - [`revocation`]: signing an account out of the access tokens it already holds.
//! - [`server`]: binds a port and serves a connectrpc router (Connect, gRPC and gRPC-Web over HTTP/1.1 and
//!   h2c) with the standard `grpc.health.v1` health service and server reflection mounted beside it.
//! - [`testing`]: a fresh PostgreSQL database per test.

pub mod cache;
pub mod config;
pub mod db;
pub mod identity;
pub mod net;
pub mod revocation;
pub mod server;
pub mod shutdown;
pub mod telemetry;
pub mod testing;
