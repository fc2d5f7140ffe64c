//! The product service, on gRPC port 50052: catalog (categories, products, SKUs, images), inventory and the
//! stock reservations the order saga makes (`product.v1.ProductService`, `product.v1.InventoryService`).
//!
//! Layout, one concern per module:
//! - [`domain`]: the values parsed at the edge from wire messages, which can only hold valid data (names,
//!   prices, SKU codes, slugs, idempotency keys, reservation items), and the statuses of products and
//!   reservations;
//! - [`events`]: what the service announces (a product published or hidden, a SKU repriced), written to its
//!   outbox with the change and relayed to NATS JetStream ([`ec_platform::events`]).
//! - [`db`]: the SQL, one module per table (products, SKUs, images, categories, stock, reservations), plain
//!   functions over a pool or the caller's transaction, rows as named structs;
//! - [`catalog`]: products, SKUs and images, and the product status machine; [`categories`]: the category
//!   tree, without cycles; [`listing`]: ListProducts with its signed, filter-bound page tokens; [`inventory`]:
//!   stock and reservations, correct under any concurrency (its docs say how); [`expiry`]: the worker that
//!   expires reservations whose time is up; [`import`]: catalogs from JSON or CSV files (and the demo
//!   catalog); [`pictures`]: uploaded pictures checked, turned into WebP copies and stored;
//! - [`api`]: the generated service traits implemented on top, with who may call what ([`api::access`]) and
//!   the conversions to and from the wire ([`api::wire`]);
//! - [`error`]: the platform's errors plus the product's own (a stock shortage), with their one mapping to
//!   Connect/gRPC codes;
//! - [`startup`]: wires a server from a [`ProductConfig`](config::ProductConfig).
//!
//! Callers are identified by the metadata the BFF sends ([`ec_platform::identity`], checked through
//! [`ec_platform::access`]). Reads of the catalog are public (PUBLISHED products, HIDDEN ones by id); changing
//! it and reading drafts need the admin role, and so does stock administration; the reservation RPCs answer
//! only callers holding the platform's internal secret (the order service), and the BFF does not route them.

pub mod api;
pub mod catalog;
pub mod categories;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod expiry;
pub mod import;
pub mod inventory;
pub mod listing;
pub mod pictures;
pub mod startup;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "product_service";

/// This service's migrations, applied inside [`SCHEMA`].
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}
