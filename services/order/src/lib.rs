//! The order service, on gRPC port 50053: persistent carts, the checkout saga with idempotency keys, and
//! orders (`order.v1.CartService`, `order.v1.OrderService`).
//!
//! Layout, one concern per module:
//! - [`domain`]: values parsed from wire messages that can only hold valid data (ids, quantities, the
//!   checkout's idempotency key, address and card token).
//! - [`cart`]: carts and the limits they keep, and the cart RPCs' work ([`cart::Carts`]).
//! - [`pricing`]: a cart priced from the catalog now (lines, subtotal, shipping fee, total), for the cart
//!   shown and the order placed; [`shipping`]: the shipping fee per currency (`SHIPPING_RULES`).
//! - [`checkout`]: CreateOrder, from its request to the order its saga left (the confirmed-total check, the
//!   idempotency key, starting the saga).
//! - [`orders`]: what an order is, placing one under its key, and reading and listing them.
//! - [`saga`]: the checkout saga (reserve, authorise, confirm, and the compensations), cancellation and
//!   shipping, over [`product_client`] (the order service's client of the product service: prices, stock,
//!   reservations) and [`payment`] (the payment port, and its sandbox adapter with its own ledger);
//!   [`recovery`] is the worker that finishes sagas a crash left behind.
//! - [`events`]: what the service announces (an order confirmed, cancelled, shipped), written to its outbox
//!   with the change and relayed to NATS JetStream ([`ec_platform::events`]).
//! - [`db`]: the SQL, a module per table of the `order_service` schema.
//! - [`api`]: the generated service traits implemented as thin handlers (check the caller, parse the wire, call
//!   the domain, convert to the wire in [`api::wire`]).
//! - [`error`]: [`error::Error`], the shared answers and the order service's own, mapped to Connect/gRPC codes
//!   once.
//! - [`config`] and [`startup`]: the settings, and [`startup::Application::build`], which wires a server from
//!   an [`OrderConfig`](config::OrderConfig).
//!
//! Callers are identified by the metadata the BFF sends ([`ec_platform::access`]): carts and orders are
//! always the signed-in caller's own (there is no user id in a request to trust), and another's order is
//! `not_found`; AdminListOrders and ShipOrder need the admin role.

pub mod api;
pub mod cart;
pub mod checkout;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod orders;
pub mod payment;
pub mod pricing;
pub mod product_client;
pub mod recovery;
pub mod report;
pub mod saga;
pub mod shipping;
pub mod startup;

/// The PostgreSQL schema this service owns.
pub const SCHEMA: &str = "order_service";

/// This service's migrations, applied inside [`SCHEMA`].
pub fn migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./migrations")
}
