//! The durable subscription to every service's events: each event becomes a delivery to every enabled endpoint
//! that wants its type, with the body every attempt sends (and signs):
//!
//! ```json
//! {"type": "order.v1.confirmed", "timestamp": "2026-12-06T10:00:00Z", "data": {"eventId": "…", "orderConfirmed": {…}}}
//! ```
//!
//! `type` is the event's subject without the prefix, `timestamp` when it happened, and `data` the event message
//! as published (proto3 JSON: `proto/<service>/v1/events.proto`).

use std::sync::Arc;

use ec_platform::events::{Delivered, Handler, HandlerError, Subscription};
use futures::future::BoxFuture;
use sqlx::PgPool;
use uuid::Uuid;

use super::deliverer::Nudge;

/// The subscription: every event of every service.
pub fn subscription() -> Subscription {
    Subscription { name: "webhooks", subjects: ["user.v1.*", "product.v1.*", "order.v1.*"].map(str::to_owned).to_vec() }
}

/// Records the deliveries each event calls for, and nudges the deliverer.
pub fn handler(pool: PgPool, nudge: Nudge) -> Handler {
    Arc::new(move |delivered: Delivered| -> BoxFuture<'static, Result<(), HandlerError>> {
        let (pool, nudge) = (pool.clone(), nudge.clone());
        Box::pin(async move {
            if fan_out(&pool, &delivered).await.map_err(|e| HandlerError(e.to_string()))? > 0 {
                nudge.wake();
            }
            Ok(())
        })
    })
}

/// The body sent for `delivered`, or `None` for one whose payload is not a JSON object.
pub fn body(delivered: &Delivered) -> Option<String> {
    let data: serde_json::Value = serde_json::from_slice(&delivered.payload).ok()?;
    let timestamp = data.get("occurredAt").and_then(|t| t.as_str()).map(str::to_owned);
    let timestamp =
        timestamp.unwrap_or_else(|| chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    data.is_object()
        .then(|| serde_json::json!({"type": delivered.subject, "timestamp": timestamp, "data": data}).to_string())
}

/// Records a delivery of `delivered` to each enabled endpoint that wants its type, once per endpoint and event;
/// how many were new.
async fn fan_out(pool: &PgPool, delivered: &Delivered) -> Result<u64, sqlx::Error> {
    let endpoints: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM user_service.webhook_endpoints
         WHERE enabled AND (cardinality(event_types) = 0 OR $1 = ANY (event_types))",
    )
    .bind(&delivered.subject)
    .fetch_all(pool)
    .await?;
    if endpoints.is_empty() {
        return Ok(0);
    }
    let Some(body) = body(delivered) else {
        tracing::error!(event = %delivered.id, subject = delivered.subject, "an event that is not a JSON object: not delivered");
        return Ok(0);
    };
    let ids: Vec<Uuid> = endpoints.iter().map(|_| Uuid::now_v7()).collect();
    // An endpoint deleted in between fails the foreign key: the event is handed over again, and then skips it.
    let recorded = sqlx::query(
        "INSERT INTO user_service.webhook_deliveries (id, endpoint_id, event_id, event_type, payload)
         SELECT id, endpoint_id, $3, $4, $5 FROM unnest($1::uuid[], $2::uuid[]) AS t (id, endpoint_id)
         ON CONFLICT (endpoint_id, event_id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&endpoints)
    .bind(delivered.id)
    .bind(&delivered.subject)
    .bind(&body)
    .execute(pool)
    .await?;
    Ok(recorded.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_wraps_the_event_with_its_type_and_time() {
        let delivered = Delivered {
            id: Uuid::now_v7(),
            subject: "order.v1.shipped".into(),
            payload: br#"{"eventId":"e","occurredAt":"2026-12-06T10:00:00Z","orderShipped":{"trackingNumber":"JP1"}}"#
                .to_vec()
                .into(),
            traceparent: None,
            attempt: 1,
        };
        let body: serde_json::Value = serde_json::from_str(&body(&delivered).unwrap()).unwrap();
        assert_eq!(body["type"], "order.v1.shipped");
        assert_eq!(body["timestamp"], "2026-12-06T10:00:00Z");
        assert_eq!(body["data"]["orderShipped"]["trackingNumber"], "JP1");
        let not_json = Delivered { payload: b"[1]".to_vec().into(), ..delivered };
        assert_eq!(super::body(&not_json), None);
    }
}
