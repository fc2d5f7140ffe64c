//! The order service's domain events (`order.v1.OrderEvent`, `proto/order/v1/events.proto`), written to its
//! outbox (`order_service.outbox`) in the transaction of the change each describes:
//!
//! | subject               | written by                                                          |
//! |-----------------------|---------------------------------------------------------------------|
//! | `order.v1.confirmed`  | the saga's last forward transition ([`crate::db::orders::record_step`]) |
//! | `order.v1.cancelled`  | CancelOrder ([`crate::saga::Saga::cancel`])                         |
//! | `order.v1.shipped`    | ShipOrder ([`crate::saga::Saga::ship`])                             |
//!
//! Each carries the order as it was placed ([`Placed`]): its lines, totals and address never change after.

use ec_platform::events::{Header, NewEvent, Outbox};
use ec_proto::order::v1 as wire;
use uuid::Uuid;

use crate::{
    api::wire::placed_order,
    domain::Address,
    orders::{Line, NewOrder, Order},
};

/// The service name in subjects and stream names.
pub const SERVICE: &str = "order";

/// The order service's outbox.
pub fn outbox() -> Outbox {
    Outbox::new(SERVICE, crate::SCHEMA)
}

/// What an order's events tell of it: what it bought, for whom, where to and for how much, all fixed when it
/// was placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    pub id: Uuid,
    pub user_id: Uuid,
    pub currency_code: String,
    pub subtotal: i64,
    pub shipping_fee: i64,
    pub address: Address,
    pub lines: Vec<Line>,
}

impl Placed {
    /// The order `new` places, to `address`.
    pub fn of_new(new: &NewOrder, address: &Address) -> Self {
        let mut lines = new.lines.clone();
        lines.sort_by(|a, b| (&a.product_name, &a.sku_code).cmp(&(&b.product_name, &b.sku_code)));
        Self {
            id: new.id,
            user_id: new.user_id,
            currency_code: new.currency_code.clone(),
            subtotal: new.subtotal,
            shipping_fee: new.shipping_fee,
            address: address.clone(),
            lines,
        }
    }

    /// `order` as it was placed.
    pub fn of(order: &Order) -> Self {
        Self {
            id: order.id,
            user_id: order.user_id,
            currency_code: order.currency_code.clone(),
            subtotal: order.subtotal,
            shipping_fee: order.shipping_fee,
            address: order.address.clone(),
            lines: order.lines.clone(),
        }
    }
}

/// `order.v1.confirmed`: the order's stock is sold to it and its payment authorised.
pub fn confirmed(order: &Placed) -> NewEvent {
    event("order.v1.confirmed", wire::OrderConfirmed { order: placed_order(order).into(), ..Default::default() })
}

/// `order.v1.cancelled`: the customer cancelled the confirmed order, saying `reason`.
pub fn cancelled(order: &Placed, reason: &str) -> NewEvent {
    event(
        "order.v1.cancelled",
        wire::OrderCancelled { order: placed_order(order).into(), reason: reason.to_owned(), ..Default::default() },
    )
}

/// `order.v1.shipped`: the order was handed to the carrier under `tracking_number`.
pub fn shipped(order: &Placed, tracking_number: &str) -> NewEvent {
    event(
        "order.v1.shipped",
        wire::OrderShipped {
            order: placed_order(order).into(),
            tracking_number: tracking_number.to_owned(),
            ..Default::default()
        },
    )
}

fn event(subject: &'static str, event: impl Into<Option<wire::__buffa::oneof::order_event::Event>>) -> NewEvent {
    let header = Header::now();
    let message = wire::OrderEvent {
        event_id: header.id.to_string(),
        occurred_at: buffa::MessageField::some(header.occurred_at.into()),
        traceparent: header.traceparent.clone().unwrap_or_default(),
        event: event.into(),
        ..Default::default()
    };
    NewEvent::new(&header, subject, &message)
}
