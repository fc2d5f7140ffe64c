//! CreateOrder: a checkout of the caller's cart, from its request to the order its saga left.
//!
//! The request is parsed ([`OrderRequest::parse`]); the cart is priced from the catalog now
//! ([`crate::pricing`]) and checked against the total the shopper confirmed, if the client sent one (a
//! price or the fee that changed meanwhile is `failed_precondition` naming the new total, and nothing is
//! ordered); the order is placed under the caller's idempotency key ([`orders::place`]: the key commits with
//! the order, so a concurrent duplicate finds the order this call placed); and its saga runs at once
//! ([`crate::saga`]) until it settles or the call's time is up, when the recovery worker carries on and the
//! same key answers with the outcome.
//!
//! The cart is priced first and the key looked up only if that fails (a repeat usually finds the cart emptied
//! by the order it placed): placing the order finds a key used before, so a first call, the common one, costs
//! no lookup of its own.

use std::time::{Duration, Instant};

use ec_platform::identity::Contact;
use ec_proto::order::v1::CreateOrderRequest;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    cart,
    domain::{Address, Checkout, CheckoutKey, PaymentToken},
    error::{Error, OrderError},
    orders::{self, NewOrder, Order, Placed, Status},
    pricing::Pricing,
    saga::Saga,
};

/// How often a call waiting for another's saga looks again.
const POLL: Duration = Duration::from_millis(25);

/// The total a shopper confirmed, as the client sent it: never trusted, only compared with the total of the
/// moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfirmedTotal {
    pub amount: i64,
    pub currency_code: String,
}

impl ConfirmedTotal {
    /// Whether this is what `new` charges.
    pub fn is_total_of(&self, new: &NewOrder) -> bool {
        self.amount == new.total() && self.currency_code == new.currency_code
    }
}

/// A CreateOrder request, parsed.
#[derive(Clone, Debug)]
pub struct OrderRequest {
    /// What the idempotency key is bound to.
    pub checkout: Checkout,
    /// `None`: the client accepts the total of the moment.
    pub confirmed_total: Option<ConfirmedTotal>,
    /// Who places it, as their access token names them: recorded on the order, not part of what the key is
    /// bound to (a retry after a change of name is the same request).
    pub customer: Contact,
}

impl OrderRequest {
    /// Parses the wire request of `customer`: bad input is `invalid_argument`, field by field in order (the key,
    /// the address, the card token).
    pub fn parse(wire: &CreateOrderRequest, customer: Contact) -> Result<Self, Error> {
        let key = CheckoutKey::parse(&wire.idempotency_key)?;
        let address = wire
            .shipping_address
            .as_option()
            .ok_or_else(|| Error::InvalidArgument("shipping_address is required".into()))?;
        let checkout = Checkout {
            key,
            address: Address::parse(address, "shipping_address")?,
            payment_token: PaymentToken::parse(&wire.payment_token)?,
        };
        let confirmed_total = wire
            .expected_total
            .as_option()
            .map(|total| ConfirmedTotal { amount: total.amount, currency_code: total.currency_code.clone() });
        Ok(Self { checkout, confirmed_total, customer })
    }
}

/// Checkouts: the CreateOrder flow over the carts, the catalog's prices and the saga.
#[derive(Clone)]
pub struct Checkouts {
    pool: PgPool,
    pricing: Pricing,
    saga: Saga,
}

impl Checkouts {
    pub fn new(pool: PgPool, pricing: Pricing, saga: Saga) -> Self {
        Self { pool, pricing, saga }
    }

    /// Whether the shop takes orders: `failed_precondition` when no payment provider is configured (checked
    /// before the request is read).
    pub fn open(&self) -> Result<(), Error> {
        if !self.saga.takes_orders() {
            return Err(Error::FailedPrecondition(
                "this shop takes no orders yet: no payment provider is configured".into(),
            ));
        }
        Ok(())
    }

    /// Checks out `user_id`'s cart as `request` asks, and waits for the order's saga until `until` at most: the
    /// order as it settled (CONFIRMED or FAILED), or `deadline_exceeded` while it is still being placed. The
    /// same key again answers with the same order.
    pub async fn create(&self, user_id: Uuid, request: &OrderRequest, until: Instant) -> Result<Order, Error> {
        let checkout = &request.checkout;
        let priced = self.price(user_id).await.and_then(|new| match &request.confirmed_total {
            Some(confirmed) if !confirmed.is_total_of(&new) => Err(Error::FailedPrecondition(format!(
                "the order total is now {} {} (prices or shipping changed since it was confirmed); nothing was \
                 ordered: check the cart and confirm the new total",
                new.total(),
                new.currency_code
            ))),
            _ => Ok(new),
        });
        let new = match priced {
            Ok(new) => new,
            Err(cannot) => match orders::find_by_key(&self.pool, user_id, checkout).await? {
                Some(earlier) => {
                    replayed();
                    return self.settled(earlier, until).await;
                }
                None => return Err(cannot),
            },
        };
        match orders::place(&self.pool, checkout, &request.customer, &new, self.saga.lease()).await? {
            Placed::New(id) => {
                metrics::counter!("ec_orders_placed_total").increment(1);
                match self.saga.run_placed(&new, &checkout.address, checkout.payment_token.as_str(), until).await? {
                    Some(finished) => Ok(finished),
                    None => self.settled(id, until).await,
                }
            }
            Placed::Earlier(id) => {
                replayed();
                self.settled(id, until).await
            }
        }
    }

    /// `user_id`'s cart priced now as a new order.
    async fn price(&self, user_id: Uuid) -> Result<NewOrder, Error> {
        let cart = cart::get(&self.pool, user_id).await?;
        self.pricing.order(user_id, &cart.lines).await
    }

    /// Order `id` once its saga has settled (not PENDING), waiting until `until` at most.
    async fn settled(&self, id: Uuid, until: Instant) -> Result<Order, Error> {
        loop {
            let order = orders::get(&self.pool, id).await?.ok_or(Error::NotFound("order"))?;
            if order.status != Status::Pending {
                return Ok(order);
            }
            if Instant::now() + POLL >= until {
                return Err(OrderError::StillRunning(
                    "the order is still being placed; call again with the same idempotency key for the outcome",
                )
                .into());
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Counts a CreateOrder answered with the order an earlier call under the same key placed.
fn replayed() {
    metrics::counter!("ec_idempotent_replays_total", "operation" => "create_order").increment(1);
}
