//! The order service, on gRPC port 50053: persistent carts, the checkout saga with idempotency keys, and
//! orders (`order.v1.CartService`, `order.v1.OrderService`).
//!
//! Layout: [`domain`] parses wire values into types that hold valid data; [`cart`] is carts in PostgreSQL;
//! [`orders`] is orders, their idempotency keys and their saga log; [`saga`] is the checkout saga over
//! [`catalog`] (the product service: prices, stock, reservations) and [`payment`] (the payment port and
//! its sandbox adapter), with [`recovery`], the worker that finishes sagas a crash left behind; [`shipping`] is
//! the fee per currency; [`api`]
//! implements the generated service traits on top; [`error`] is the one mapping to Connect/gRPC codes;
//! [`startup`] wires a server from an [`OrderConfig`](config::OrderConfig).
//!
//! Callers are identified by the metadata the BFF sends ([`ec_platform::identity`]): carts and orders are
//! always the signed-in caller's own (there is no user id in a request to trust), and another's order is
//! `not_found`; AdminListOrders and ShipOrder need the admin role.

pub mod api;
pub mod cart;
pub mod catalog;
pub mod config;
pub mod domain;
pub mod error;
pub mod orders;
pub mod payment;
pub mod recovery;
pub mod saga;
pub mod shipping;
pub mod startup;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "order_service";

/// This service's migrations, applied inside [`SCHEMA`].
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}
