//! The order service, on gRPC port 50053: persistent carts, the checkout saga with idempotency keys, and
//! orders (`order.v1.CartService`, `order.v1.OrderService`).
//!
//! Status: the process, its schema and its health and reflection endpoints are in place; the cart and order
//! RPCs are specified in `proto/order/v1` and are not served yet, so their paths answer `unimplemented` and
//! reflection does not list them.

pub mod config;
pub mod startup;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "order_service";

/// This service's migrations, applied inside [`SCHEMA`]. None yet: the first arrives with carts, and running
/// this still creates the schema and its migration history table.
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate::Migrator::with_migrations(Vec::new())
}
