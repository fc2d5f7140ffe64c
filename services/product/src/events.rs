//! The product service's domain events (`product.v1.ProductEvent`, `proto/product/v1/events.proto`), written
//! to its outbox (`product_service.outbox`) in the transaction of the change each describes:
//!
//! | subject                 | written by                                   |
//! |-------------------------|----------------------------------------------|
//! | `product.v1.published`  | PublishProduct ([`crate::catalog::publish`]) |
//! | `product.v1.hidden`     | HideProduct ([`crate::catalog::hide`])       |
//! | `product.v1.repriced`   | UpdateSku with a new price ([`crate::catalog::update_sku`]) |
//! | `product.v1.stock_low`, `product.v1.sold_out` | the database: a trigger on `inventory` (migration 0005), in the transaction of any change that makes a SKU's stock for sale cross `LOW_STOCK_THRESHOLD` or reach zero |

use ec_platform::events::{Header, NewEvent, Outbox};
use ec_proto::product::v1 as wire;

use crate::{
    db::{products::ProductRow, skus::SkuRow},
    domain::Price,
};

/// The service name in subjects and stream names.
pub const SERVICE: &str = "product";

/// The product service's outbox.
pub fn outbox() -> Outbox {
    Outbox::new(SERVICE, crate::SCHEMA)
}

/// `product.v1.published`: `product` went on sale.
pub fn published(product: &ProductRow) -> NewEvent {
    let event =
        wire::ProductPublished { product_id: product.id.to_string(), name: product.name.clone(), ..Default::default() };
    self::event("product.v1.published", event)
}

/// `product.v1.hidden`: `product` was taken off sale.
pub fn hidden(product: &ProductRow) -> NewEvent {
    let event =
        wire::ProductHidden { product_id: product.id.to_string(), name: product.name.clone(), ..Default::default() };
    self::event("product.v1.hidden", event)
}

/// `product.v1.repriced`: `sku`, as it is now, was priced at `old` before.
pub fn repriced(sku: &SkuRow, old: &Price) -> NewEvent {
    let money = |price: &Price| wire::Money {
        amount: price.amount,
        currency_code: price.currency_code.clone(),
        ..Default::default()
    };
    let event = wire::SkuRepriced {
        sku_id: sku.id.to_string(),
        product_id: sku.product_id.to_string(),
        sku_code: sku.code.clone(),
        old_price: buffa::MessageField::some(money(old)),
        new_price: buffa::MessageField::some(money(&sku.price)),
        ..Default::default()
    };
    self::event("product.v1.repriced", event)
}

fn event(subject: &'static str, event: impl Into<Option<wire::__buffa::oneof::product_event::Event>>) -> NewEvent {
    let header = Header::now();
    let message = wire::ProductEvent {
        event_id: header.id.to_string(),
        occurred_at: buffa::MessageField::some(header.occurred_at.into()),
        traceparent: header.traceparent.clone().unwrap_or_default(),
        event: event.into(),
        ..Default::default()
    };
    NewEvent::new(&header, subject, &message)
}
