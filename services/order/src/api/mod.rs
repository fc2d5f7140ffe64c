//! The `order.v1.CartService` and `order.v1.OrderService` handlers ([`CartApi`], [`OrderApi`]).
//!
//! Each handler checks who is calling before it looks at the request ([`ec_platform::access::Access`]), parses
//! the wire message into domain values (bad input is `invalid_argument` before anything is read), calls the
//! domain ([`crate::cart`], [`crate::checkout`], [`crate::orders`], [`crate::saga`]) with the caller's account
//! id from the identity the BFF vouches for (no request names a cart, and another's order is as missing as
//! one that does not exist), and converts the answer to the wire ([`wire`], the one place that does).

mod cart_service;
mod order_service;
pub mod wire;

pub use cart_service::CartApi;
pub use order_service::OrderApi;
