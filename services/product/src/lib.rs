//! The product service, on gRPC port 50052: catalog (categories, products, SKUs, images), inventory and the
//! stock reservations the order saga makes (`product.v1.ProductService`, `product.v1.InventoryService`).
//!
//! Status: the process, its schema and its health and reflection endpoints are in place; the catalog and
//! inventory RPCs are specified in `proto/product/v1` and are not served yet, so their paths answer
//! `unimplemented` and reflection does not list them.

pub mod config;
pub mod startup;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "product_service";

/// This service's migrations, applied inside [`SCHEMA`]. None yet: the first arrives with the catalog, and
/// running this still creates the schema and its migration history table.
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate::Migrator::with_migrations(Vec::new())
}
