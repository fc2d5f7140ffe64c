//! Writing events: a service's outbox, the table `<schema>.outbox`, written in the transaction of the change
//! each event describes.
//!
//! ```text
//! id          uuid         the event's id (UUID v7) and its Nats-Msg-Id
//! subject     text         its subject without the prefix: order.v1.confirmed
//! payload     text         the event message, proto3 JSON
//! traceparent text         the trace context of the call that caused it, if traced
//! occurred_at timestamptz  when it was written
//! attempts, next_attempt_at, last_error: what a relay that could not hand it over left
//! ```
//!
//! Each service's migrations create the table (the same columns in every schema); a row lives until the
//! relay has handed the event over, so the table holds only the backlog.

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use opentelemetry::propagation::TextMapPropagator as _;
use sqlx::PgConnection;
use tokio::sync::Notify;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use uuid::Uuid;

/// One service's outbox, and the nudge that wakes this process's relay for it.
#[derive(Clone, Debug)]
pub struct Outbox {
    service: &'static str,
    schema: &'static str,
    written: Arc<Notify>,
}

impl Outbox {
    /// The outbox of `service` (`order`), in its schema `schema` (`order_service`).
    pub fn new(service: &'static str, schema: &'static str) -> Self {
        Self { service, schema, written: Arc::new(Notify::new()) }
    }

    /// The service whose events these are: `order`.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The table, schema-qualified: `order_service.outbox`.
    pub fn table(&self) -> String {
        format!("{}.outbox", self.schema)
    }

    /// Writes `event` in `tx`. Once `tx` has committed, call [`Outbox::written`].
    pub async fn insert(&self, tx: &mut PgConnection, event: &NewEvent) -> Result<(), sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {} (id, subject, payload, traceparent, occurred_at) VALUES ($1, $2, $3, $4, $5)",
            self.table()
        )))
        .bind(event.id)
        .bind(event.subject)
        .bind(&event.payload)
        .bind(event.traceparent.as_deref())
        .bind(event.occurred_at)
        .execute(tx)
        .await?;
        Ok(())
    }

    /// Tells this process's relay that events were committed, so it hands them over now rather than at its
    /// next look.
    pub fn written(&self) {
        self.written.notify_one();
    }

    /// Resolves when [`Outbox::written`] is called (or was, since the last time).
    pub(crate) async fn wait_written(&self) {
        self.written.notified().await;
    }
}

/// What every event carries besides what happened: its id, when, and the trace of the call that caused it.
/// A service copies it into its event message (`OrderEvent.event_id`, ...).
#[derive(Clone, Debug)]
pub struct Header {
    /// UUID v7: events sort by when they were made.
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The W3C `traceparent` of the current span, when this process exports traces.
    pub traceparent: Option<String>,
}

impl Header {
    /// The header of an event happening now, in the current span.
    pub fn now() -> Self {
        Self { id: Uuid::now_v7(), occurred_at: Utc::now(), traceparent: current_traceparent() }
    }
}

/// The current span's trace context as a `traceparent` value, when this process exports traces.
fn current_traceparent() -> Option<String> {
    if !crate::telemetry::exporting() {
        return None;
    }
    let mut fields = HashMap::new();
    let context = tracing::Span::current().context();
    opentelemetry_sdk::propagation::TraceContextPropagator::new().inject_context(&context, &mut fields);
    fields.remove("traceparent")
}

/// An event ready to be written to an outbox.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub id: Uuid,
    /// Without the prefix: `order.v1.confirmed`.
    pub subject: &'static str,
    /// The event message, proto3 JSON.
    pub payload: String,
    pub traceparent: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl NewEvent {
    /// Event `message` (a generated event type, which encodes itself as proto3 JSON), on `subject`, with the
    /// id, time and trace of `header`, which `message` carries too.
    pub fn new<M: serde::Serialize>(header: &Header, subject: &'static str, message: &M) -> Self {
        Self {
            id: header.id,
            subject,
            payload: serde_json::to_string(message).expect("a generated message encodes as JSON"),
            traceparent: header.traceparent.clone(),
            occurred_at: header.occurred_at,
        }
    }
}
