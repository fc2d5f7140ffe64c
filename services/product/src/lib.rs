//! The product service, on gRPC port 50052: catalog (categories, products, SKUs, images), inventory and the
//! stock reservations the order saga makes (`product.v1.ProductService`, `product.v1.InventoryService`).
//!
//! Layout: [`domain`] parses wire values into types that hold valid data; [`inventory`] is stock and
//! reservations in PostgreSQL, correct under any concurrency (its docs say how); [`expiry`] is the worker
//! that expires reservations whose time is up; [`catalog`] is products, SKUs and images, [`categories`] the
//! category tree, [`listing`] ListProducts with its page tokens, [`import`] catalogs from JSON or CSV files
//! (and the demo catalog); [`api`] implements the generated service traits on top; [`error`] is the one
//! mapping to Connect/gRPC codes; [`startup`] wires a server from a [`ProductConfig`](config::ProductConfig).
//!
//! Callers are identified by the metadata the BFF sends ([`ec_platform::identity`]). Reads of the catalog
//! are public (PUBLISHED products, HIDDEN ones by id); changing it and reading drafts need the admin role, and
//! so does stock administration; the reservation RPCs answer only callers holding the platform's internal
//! secret (the order service), and the BFF does not route them.

pub mod api;
pub mod catalog;
pub mod categories;
pub mod config;
pub mod domain;
pub mod error;
pub mod expiry;
pub mod import;
pub mod inventory;
pub mod listing;
pub mod startup;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "product_service";

/// This service's migrations, applied inside [`SCHEMA`].
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}
