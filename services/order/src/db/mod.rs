//! SQL for the `order_service` schema: plain functions over a pool, or over a connection where the caller
//! holds a transaction (the transaction is explicit in the signature). One module per table, named for it;
//! each statement lives in the module of the table it reads or changes.
//!
//! | table | module |
//! |---|---|
//! | `carts` | [`carts`] |
//! | `cart_items` (cart lines) | [`cart_items`] |
//! | `orders` (with the saga's state) | [`orders`] |
//! | `order_items` (order lines) | [`order_items`] |
//! | `order_events` (the saga's log) | [`order_events`] |
//! | `checkout_keys` (CreateOrder's idempotency keys) | [`checkout_keys`] |
//! | `payment_tokens` | none: written only inside [`orders::place`] and [`orders::record_step`], read with the saga's state ([`orders::saga_state`]) |
//!
//! A few statements write several tables through CTEs, and stay one statement on purpose: what they write
//! commits together or not at all, in one round trip (the checkout path was tuned around this;
//! docs/performance.md). Each lives in the module of the table it transitions and says what else it writes:
//! [`orders::place`] (an order with its key, lines, card token and first event), [`orders::record_step`] (a
//! saga transition with its log lines; at the end it forgets the token, and a confirmation takes the bought
//! units out of the cart) and [`cart_items::add_at_version`] (a line, with its cart's version raised).
//!
//! Invariants are the schema's (`migrations/`): quantities and lengths in range, an order's status and saga
//! step consistent with each other, its total its subtotal plus its fee. No statement here breaks one as the
//! service uses it, so none maps a constraint violation to an answer; one that needs to goes through
//! [`Error::on_violation`](ec_platform::error::ServiceError::on_violation).
//!
//! The payment sandbox's ledger is not here: it is the sandbox's, in its own schema ([`crate::payment::sandbox`]).

pub mod cart_items;
pub mod carts;
pub mod checkout_keys;
pub mod order_events;
pub mod order_items;
pub mod orders;
