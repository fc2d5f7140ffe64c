//! What every service of the platform shares, so that each service crate holds only its own domain.
//!
//! - [`config`]: the settings common to all services, as `clap` argument groups with environment fallbacks.
//! - [`environment`]: where a process runs (`EC_ENV`), and the secrets production refuses.
//! - [`telemetry`]: JSON (or human) logs with an `RUST_LOG`-style filter, set up once per process.
//! - [`metrics`]: the Prometheus recorder, `/metrics`, and what every service counts (RPCs, SQL statements,
//!   pool use).
//! - [`shutdown`]: one cancellation token per process, fired by SIGINT/SIGTERM and handed to every server and
//!   background task, which drain and stop on it.
//! - [`db`]: the PostgreSQL pool and the per-schema migrator. Each service owns one schema
//!   (`user_service`, ...) and keeps its migration history *inside* that schema, so services share a database
//!   without their migration versions colliding.
//! - [`shared`]: state shared through Redis with an in-process fallback, the one way every feature uses Redis.
//! - [`claims`]: the claims of the platform's access tokens, one type for the login pages that write them, the
//!   embedded OAuth2 server that mints them and the BFF that reads them.
//! - [`access`]: the caller checks every service handler starts with (signed in, admin, internal caller).
//! - [`address`]: a postal address, checked one way for an order's shipping address and the address book.
//! - [`error`]: the answers every service gives for what goes wrong, and their one mapping to Connect codes.
//! - [`identity`]: the caller identity (and how the caller's token names them) the BFF passes to the services,
//!   and the shared secret that makes it trustworthy.
//! - [`media`]: the picture store (`MEDIA_STORE`: a directory or an S3 bucket) and its keys.
//! - [`net`]: the client's address behind trusted proxies.
//! - [`outbound`]: answers from other systems, read within a size limit.
//! - [`page_token`]: signed, filter-bound page tokens for keyset pagination.
//! - [`revocation`]: signing an account out of the access tokens it already holds.
//! - [`startup`]: what each service's `Application::build` shares: connecting and migrating its schema, and the
//!   dependencies the services of one process share (Redis, the internal secret, the revocation records).
//! - [`connections`]: every port's accept loop, holding clients to header-read, body-read and idle timeouts
//!   and to connection caps, so slow or greedy clients cannot starve a server.
//! - [`channel`]: calling another component's RPCs, over h2c or, when this process serves it too, in process.
//! - [`server`]: binds a port and serves a connectrpc router (Connect, gRPC and gRPC-Web over HTTP/1.1 and
//!   h2c) with the standard `grpc.health.v1` health service and server reflection mounted beside it.

pub mod access;
pub mod address;
pub mod channel;
pub mod claims;
pub mod config;
pub mod connections;
pub mod db;
pub mod environment;
pub mod error;
pub mod events;
pub mod identity;
pub mod media;
pub mod metrics;
pub mod net;
pub mod outbound;
pub mod page_token;
pub mod revocation;
pub mod server;
pub mod shared;
pub mod shutdown;
pub mod startup;
pub mod telemetry;
