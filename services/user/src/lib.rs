//! The user service: accounts, roles and credentials, on gRPC port 50051.
//!
//! Layout: [`domain`] holds the value types that can only hold valid data (`Email`, `Password`, ...), parsed at
//! the edge from wire messages; [`password`] hashes with Argon2id off the async runtime; [`db`] is plain SQL
//! against the `user_service` schema; [`accounts`] is what can be done with accounts and who may do it, and
//! [`addresses`] the account's address book, offered at checkout;
//! [`events`] are the domain events it writes to its outbox with each change they describe; [`mail`] is what
//! the shop writes to its customers (queued, sent over SMTP, shown in a development mailbox);
//! [`api`] implements the generated `UserService` and `CredentialService` traits on top; [`error`] is what only the user
//! service answers (the platform's `ServiceError` maps the rest); [`startup`] wires a server from a
//! [`UserConfig`](config::UserConfig).
//!
//! The same process serves Hydra's login, consent and logout pages ([`login`], on port 8051), talking to Hydra's
//! admin API through [`hydra`], with brute-force protection in [`throttle`], the forgotten-password pages over
//! [`resets`], and the email-verification link over [`verification`] (both one-time [`links`] by e-mail). It
//! also sends the platform's events to the shop's other systems as [`webhooks`], and deletes what it no longer
//! needs of them ([`retention`]).
//!
//! Callers are identified by the metadata the BFF sends ([`ec_platform::identity`]); a customer acts on their
//! own account, an admin on any. `CredentialService` (VerifyPassword) answers only internal callers.
//! Deleting an account, changing its password or taking a role signs it out everywhere ([`api::SignOut`]):
//! Hydra's sessions and refresh tokens end, and its access tokens are revoked ([`ec_platform::revocation`]).
//!
//! Passwords and emails are never logged. A deadlock or serialization failure is answered `aborted` (retry);
//! any other database error is logged with its cause and answered with a generic `internal` error.

pub mod accounts;
pub mod addresses;
pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod hydra;
pub mod links;
pub mod login;
pub mod mail;
pub mod password;
pub mod resets;
pub mod retention;
pub mod startup;
pub mod throttle;
pub mod verification;
pub mod webhooks;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "user_service";

/// This service's migrations, applied inside [`SCHEMA`].
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}
