//! The mailer's subscription to the order service's events (`order.v1.*`): each confirmed, cancelled or
//! shipped order becomes a message to its customer, in the customer's language, queued once per event.

use std::sync::Arc;

use ec_platform::events::{Delivered, Handler, HandlerError, Subscription};
use ec_proto::order::v1::{__buffa::oneof::order_event::Event, OrderEvent};
use futures::future::BoxFuture;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    Language,
    content::{OrderNews, Shop, order_mail},
    queue::{self, Queued},
    sender::Sender,
};
use crate::db;

/// The durable subscription: its name is the JetStream consumer's.
pub fn subscription() -> Subscription {
    Subscription { name: "mailer", subjects: vec!["order.v1.*".to_owned()] }
}

/// Queues the message each order event calls for, and tells `sender`.
pub fn handler(pool: PgPool, shop: Shop, sender: Sender) -> Handler {
    Arc::new(move |delivered: Delivered| -> BoxFuture<'static, Result<(), HandlerError>> {
        let (pool, shop, sender) = (pool.clone(), shop.clone(), sender.clone());
        Box::pin(async move {
            if queue_for(&pool, &shop, &delivered).await.map_err(|e| HandlerError(e.to_string()))? {
                sender.queued();
            }
            Ok(())
        })
    })
}

/// Queues the message `delivered` calls for; whether one was queued now. An event this version does not know,
/// or that cannot be read, is logged and let go: handing it over again would not change that.
async fn queue_for(pool: &PgPool, shop: &Shop, delivered: &Delivered) -> Result<bool, sqlx::Error> {
    let event: OrderEvent = match serde_json::from_slice(&delivered.payload) {
        Ok(event) => event,
        Err(e) => {
            tracing::error!(event = %delivered.id, subject = delivered.subject, error = %e, "an order event that cannot be read: no message");
            return Ok(false);
        }
    };
    let (kind, order, news) = match &event.event {
        Some(Event::OrderConfirmed(e)) => ("order_confirmed", &e.order, OrderNews::Confirmed),
        Some(Event::OrderCancelled(e)) => ("order_cancelled", &e.order, OrderNews::Cancelled { reason: &e.reason }),
        Some(Event::OrderShipped(e)) => {
            ("order_shipped", &e.order, OrderNews::Shipped { tracking_number: &e.tracking_number })
        }
        None => return Ok(false),
    };
    let Some(order) = order.as_option() else { return Ok(false) };
    let Ok(user_id) = order.user_id.parse::<Uuid>() else { return Ok(false) };
    // A deleted account is written to no more.
    let Some(contact) = db::contact_of(pool, user_id).await? else { return Ok(false) };
    let language = Language::from_tag(&contact.language);
    let mail = order_mail(shop, language, contact.name.as_deref(), order, news);
    let queued = Queued { event_id: delivered.id, kind, user_id: Some(user_id), to: &contact.email, mail: &mail };
    let mut connection = pool.acquire().await?;
    queue::insert(&mut connection, &queued).await
}
