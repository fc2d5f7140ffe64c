//! The `product.v1.ProductService` and `product.v1.InventoryService` handlers.
//!
//! Each handler checks who is calling before it looks at the request ([`ProductAccess`], over the platform's
//! [`Access`](ec_platform::access::Access)), so the unauthorised learn nothing; parses the wire message into
//! domain values ([`wire`]: bad input is `invalid_argument` before the database is touched); calls
//! [`crate::catalog`], [`crate::categories`], [`crate::listing`] or [`crate::inventory`]; and maps the result
//! back to the wire type ([`wire`]). Errors reach the wire through the one mapping of
//! [`ServiceError`](ec_platform::error::ServiceError) and [`crate::error::ProductError`].
//!
//! - [`access`]: who may call what, and how much of the catalog and of a stock record each caller sees;
//! - [`product_service`]: [`ProductApi`], the catalog's handlers (products, SKUs, images, categories,
//!   ListProducts);
//! - [`inventory_service`]: [`InventoryApi`], stock administration and the reservation RPCs;
//! - [`wire`]: conversions to and from the `ec_proto` types.

pub mod access;
pub mod inventory_service;
pub mod product_service;
pub mod wire;

pub use access::{ProductAccess, StockView};
pub use inventory_service::InventoryApi;
pub use product_service::ProductApi;
