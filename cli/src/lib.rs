//! The `ec` command's library: what `ec dev`, `ec serve`, `ec migrate` and `ec check-health` do, kept out of `main.rs` so the
//! end-to-end tests start exactly the platform a user starts.
//!
//! - [`platform`]: every service, the BFF, the login pages and (without Hydra) the embedded OAuth2 server in
//!   one process, each on its own port, sharing one shutdown token, after migrating every schema.
//! - [`web`]: the storefront (the built single-page app in `web/dist`) and the `/config.json` it reads, served by
//!   `ec dev` or on its own by `ec serve web`.
//! - [`health`]: `ec check-health`, the containers' health check.
//! - [`demo`]: the demo accounts and start-up banner of `ec dev`.
//! - [`embedded_pg`]: a development PostgreSQL run from the locally installed server binaries (`initdb`,
//!   `pg_ctl`), with its data kept between runs.

pub mod demo;
pub mod embedded_pg;
pub mod health;
pub mod platform;
pub mod web;
