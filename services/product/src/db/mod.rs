//! SQL for the `product_service` schema, one module per table: plain functions over a pool, or over the
//! caller's transaction (`tx: &mut PgConnection`) where the statement only makes sense inside one (it locks,
//! or it is one step of a change). Rows come back as named structs.
//!
//! - [`products`]: products, their price range and status, and ListProducts' keyset query;
//! - [`skus`]: SKUs, and which of them are for sale (`skus::for_sale`, shared by every reservation statement);
//! - [`images`]: product images;
//! - [`categories`]: the category tree;
//! - [`stock`]: stock per SKU (`inventory`) and its movements (`stock_movements`);
//! - [`reservations`]: reservations, their items and the idempotency keys of the reservation RPCs, including
//!   the one-statement paths that reserve, confirm and release.
//!
//! Invariants live in the database where they can: `0 <= reserved <= quantity`, one live SKU per code, slugs
//! unique among siblings; a violated constraint becomes its answer at the query that meets it, through
//! [`Error::on_violation`](ec_platform::error::ServiceError::on_violation).
//!
//! The statements on the reservation and catalog paths were tuned under the benchmarks of
//! docs/performance.md: move them as they are, and measure before changing one.

use sqlx::{PgPool, Postgres, Transaction};

use crate::error::Error;

pub mod categories;
pub mod images;
pub mod products;
pub mod reservations;
pub mod skus;
pub mod stock;

/// Begins a transaction whose statements are planned once per connection
/// (`SET LOCAL plan_cache_mode = force_generic_plan`), for the transactions over stock and reservations.
///
/// Their statements look rows up by key, lists of keys included (`sku_id = ANY($1)`, `unnest($1)`), and one
/// plan fits every call; but PostgreSQL plans a prepared statement with an array parameter afresh on every
/// execution, since the generic plan's estimate for "some array" never beats a plan made for the actual one,
/// though both are the same index lookups. Planning them once lets reservations spread over many SKUs go
/// measurably faster when PostgreSQL, not the disk, limits (docs/performance.md). A plan made while a table
/// is nearly empty can be a sequential scan; PostgreSQL makes it again whenever autovacuum analyzes the
/// table, which it does as the table grows. (At the default `random_page_cost` a generic plan scans a small
/// table whole; the embedded PostgreSQL runs with 1.1, as a server on SSD should.) A lookup by a list of ids
/// outside a transaction gets the same from a pool of generic plans ([`ec_platform::db::GenericPlans`]).
pub async fn begin_planned_once(pool: &PgPool) -> Result<Transaction<'static, Postgres>, Error> {
    Ok(pool.begin_with("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan").await?)
}
