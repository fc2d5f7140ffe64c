//! The bus events travel on once they leave an outbox: NATS JetStream, or this process.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use async_nats::jetstream::{self, consumer::pull, stream};
use bytes::Bytes;
use futures::{StreamExt as _, future::BoxFuture};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{EventArgs, Prefix};
use crate::shutdown::CancellationToken;

/// How long JetStream remembers a message id to drop a copy published again. A relay that published, then
/// died and stayed down longer than this before deleting its rows, publishes copies that get through; the
/// consumers skip those by event id.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long a consumer has to handle a message before JetStream delivers it again.
const ACK_WAIT: Duration = Duration::from_secs(30);

/// The events bus of a process: NATS JetStream when `NATS_URL` is set, else this process's subscribers.
/// Cheap to clone; every service of a process shares one.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: Prefix,
    transport: Transport,
    /// Whether this process runs its durable consumers (`EVENT_CONSUMERS`).
    consumers: bool,
}

enum Transport {
    JetStream(Box<JetStream>),
    InProcess { subscribers: RwLock<Vec<InProcessSubscriber>> },
}

struct JetStream {
    context: jetstream::Context,
    replicas: usize,
    max_age: Duration,
    /// The streams known to exist, so each is checked once per process.
    streams: Mutex<HashSet<String>>,
}

struct InProcessSubscriber {
    subscription: Subscription,
    handler: Handler,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let transport = match self.inner.transport {
            Transport::JetStream(_) => "jetstream",
            Transport::InProcess { .. } => "in-process",
        };
        f.debug_struct("Events").field("prefix", &self.inner.prefix).field("transport", &transport).finish()
    }
}

/// Why the bus could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("NATS_URL is required in production: without NATS, events would reach only this process")]
    Required,
    #[error("cannot connect to NATS")]
    Connect(#[source] async_nats::ConnectError),
    #[error("EVENT_CONSUMERS=false needs NATS_URL: in process, events would reach nobody")]
    ConsumersNeedNats,
}

/// An event as a subscriber receives it.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub id: Uuid,
    /// Without the prefix: `order.v1.confirmed`.
    pub subject: String,
    /// The event message, proto3 JSON.
    pub payload: Bytes,
    pub traceparent: Option<String>,
    /// 1 the first time this subscriber is handed the event, then 2, 3, ...
    pub attempt: u64,
}

/// Why a subscriber could not handle an event now; it is handed the event again later.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(pub String);

/// What a subscriber does with each event it is handed; handed the same event again if it fails, or if the
/// process dies before its success is recorded, so it must be idempotent (by [`Delivered::id`]).
pub type Handler = Arc<dyn Fn(Delivered) -> BoxFuture<'static, Result<(), HandlerError>> + Send + Sync>;

/// A durable subscriber: its name (the JetStream consumer's, kept by the server with its position) and the
/// subjects it takes, without the prefix, with NATS wildcards (`order.v1.*`, `user.>`).
#[derive(Clone, Debug)]
pub struct Subscription {
    pub name: &'static str,
    pub subjects: Vec<String>,
}

impl Events {
    /// The bus `args` configure: JetStream when `NATS_URL` is set (connecting in the background, so a NATS
    /// that is down at start-up only makes the outboxes back up), else in process (which production refuses
    /// to relay an outbox to: [`crate::startup::Dependencies::relay`]).
    pub async fn connect(args: &EventArgs) -> Result<Self, EventsError> {
        let Some(url) = &args.nats_url else {
            if !args.consumers {
                return Err(EventsError::ConsumersNeedNats);
            }
            return Ok(Self::in_process(args.prefix.clone()));
        };
        let client = async_nats::ConnectOptions::new()
            .name("ec")
            .retry_on_initial_connect()
            .event_callback(|event| async move { tracing::info!(%event, "NATS") })
            .connect(url.as_str())
            .await
            .map_err(EventsError::Connect)?;
        let transport = Transport::JetStream(Box::new(JetStream {
            context: jetstream::new(client),
            replicas: args.replicas.max(1),
            max_age: Duration::from_secs(args.max_age_days.max(1) * 24 * 3600),
            streams: Mutex::default(),
        }));
        Ok(Self { inner: Arc::new(Inner { prefix: args.prefix.clone(), transport, consumers: args.consumers }) })
    }

    /// A bus that hands events to this process's subscribers only.
    pub fn in_process(prefix: Prefix) -> Self {
        let transport = Transport::InProcess { subscribers: RwLock::default() };
        Self { inner: Arc::new(Inner { prefix, transport, consumers: true }) }
    }

    /// Whether events go through NATS JetStream.
    pub fn brokered(&self) -> bool {
        matches!(self.inner.transport, Transport::JetStream(_))
    }

    /// The prefix of the subjects and streams.
    pub fn prefix(&self) -> &Prefix {
        &self.inner.prefix
    }

    /// Hands `events` of `service` over: published to its JetStream stream (all at once, then every
    /// acknowledgement awaited), or handed to every subscriber of this process that takes its subject. What
    /// became of each, in order; `Err` for all of them when NATS cannot be reached.
    pub(crate) async fn publish(&self, service: &str, events: &[Outgoing]) -> Result<Vec<Result<(), String>>, String> {
        match &self.inner.transport {
            Transport::JetStream(bus) => {
                let context = &bus.context;
                self.ensure_stream(service).await.map_err(|e| format!("the {service} stream: {e}"))?;
                let mut acks = Vec::with_capacity(events.len());
                for event in events {
                    let mut message =
                        jetstream::message::PublishMessage::build().payload(Bytes::from(event.payload.clone()));
                    message = message
                        .message_id(event.id.to_string())
                        .header("Content-Type", "application/json")
                        .header("Ec-Occurred-At", event.occurred_at.to_rfc3339());
                    if let Some(traceparent) = &event.traceparent {
                        message = message.header("traceparent", traceparent.as_str());
                    }
                    let subject = self.inner.prefix.subject(&event.subject);
                    acks.push(context.send_publish(subject, message).await);
                }
                let mut outcomes = Vec::with_capacity(acks.len());
                for ack in acks {
                    outcomes.push(match ack {
                        Ok(future) => future.await.map(|_| ()).map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    });
                }
                if !outcomes.is_empty() && outcomes.iter().all(Result::is_err) {
                    return Err(outcomes.into_iter().find_map(Result::err).unwrap_or_default());
                }
                Ok(outcomes)
            }
            Transport::InProcess { subscribers } => {
                let mut outcomes = Vec::with_capacity(events.len());
                for event in events {
                    let handlers: Vec<Handler> = subscribers
                        .read()
                        .expect("the subscribers lock is never poisoned")
                        .iter()
                        .filter(|s| s.subscription.subjects.iter().any(|pattern| matches(pattern, &event.subject)))
                        .map(|s| s.handler.clone())
                        .collect();
                    let mut outcome = Ok(());
                    for handler in handlers {
                        let delivered = Delivered {
                            id: event.id,
                            subject: event.subject.clone(),
                            payload: Bytes::from(event.payload.clone()),
                            traceparent: event.traceparent.clone(),
                            attempt: event.attempts as u64 + 1,
                        };
                        if let Err(e) = handler(delivered).await {
                            outcome = Err(e.0);
                        }
                    }
                    outcomes.push(outcome);
                }
                Ok(outcomes)
            }
        }
    }

    /// Makes sure `service`'s stream exists (once per process). A stream that exists is left as it is: its
    /// settings are changed with `nats stream edit`, not by restarting a service.
    async fn ensure_stream(&self, service: &str) -> Result<(), String> {
        let Transport::JetStream(bus) = &self.inner.transport else {
            return Ok(());
        };
        let JetStream { context, replicas, max_age, streams } = bus.as_ref();
        let name = self.inner.prefix.stream(service);
        if streams.lock().expect("the streams lock is never poisoned").contains(&name) {
            return Ok(());
        }
        context
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                description: Some(format!("The {service} service's domain events")),
                subjects: vec![self.inner.prefix.stream_subjects(service)],
                storage: stream::StorageType::File,
                num_replicas: *replicas,
                max_age: *max_age,
                duplicate_window: DUPLICATE_WINDOW,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        streams.lock().expect("the streams lock is never poisoned").insert(name);
        Ok(())
    }

    /// Starts handing `subscription`'s events to `handler` until `shutdown` fires. On JetStream: a durable
    /// consumer per stream the subjects are in, acknowledging each event once `handler` succeeds and asking
    /// for it again, after a growing pause, when it fails. In process: `handler` is called by the relays of
    /// this process.
    pub fn subscribe(
        &self,
        subscription: Subscription,
        handler: Handler,
        shutdown: CancellationToken,
    ) -> JoinHandle<()> {
        if !self.inner.consumers {
            tracing::info!(consumer = subscription.name, "EVENT_CONSUMERS=false: another process runs this consumer");
            return tokio::spawn(async {});
        }
        match &self.inner.transport {
            Transport::JetStream(_) => {
                let mut services: Vec<String> =
                    subscription.subjects.iter().map(|s| s.split('.').next().unwrap_or_default().to_owned()).collect();
                services.sort();
                services.dedup();
                let consumers: Vec<_> = services
                    .into_iter()
                    .map(|service| {
                        let (events, subscription, handler, shutdown) =
                            (self.clone(), subscription.clone(), handler.clone(), shutdown.clone());
                        tokio::spawn(async move { events.consume(service, subscription, handler, shutdown).await })
                    })
                    .collect();
                tokio::spawn(async move {
                    for consumer in consumers {
                        let _ = consumer.await;
                    }
                })
            }
            Transport::InProcess { subscribers } => {
                subscribers
                    .write()
                    .expect("the subscribers lock is never poisoned")
                    .push(InProcessSubscriber { subscription, handler });
                tokio::spawn(async {})
            }
        }
    }

    /// One durable consumer of `service`'s stream, until `shutdown`; set up again after any failure.
    async fn consume(
        &self,
        service: String,
        subscription: Subscription,
        handler: Handler,
        shutdown: CancellationToken,
    ) {
        let mut failures = 0u32;
        while !shutdown.is_cancelled() {
            let outcome = tokio::select! {
                _ = shutdown.cancelled() => return,
                outcome = self.consume_once(&service, &subscription, &handler, &shutdown) => outcome,
            };
            if let Err(e) = outcome {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(consumer = subscription.name, service, error = %e, "an events consumer stopped; retrying");
                }
                let pause = Duration::from_millis(250 * 2u64.pow(failures.min(7)));
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(pause) => {}
                }
            } else {
                failures = 0;
            }
        }
    }

    async fn consume_once(
        &self,
        service: &str,
        subscription: &Subscription,
        handler: &Handler,
        shutdown: &CancellationToken,
    ) -> Result<(), String> {
        let Transport::JetStream(bus) = &self.inner.transport else { return Ok(()) };
        let context = &bus.context;
        self.ensure_stream(service).await?;
        let stream_name = self.inner.prefix.stream(service);
        let stream = context.get_stream(&stream_name).await.map_err(|e| e.to_string())?;
        let prefix = &self.inner.prefix;
        let mut filters: Vec<String> = subscription
            .subjects
            .iter()
            .filter(|s| s.split('.').next() == Some(service))
            .map(|s| prefix.subject(s))
            .collect();
        // One filter goes in `filter_subject`, which servers before 2.10 know too; several need 2.10.
        let (filter_subject, filter_subjects) =
            if filters.len() == 1 { (filters.remove(0), Vec::new()) } else { (String::new(), filters) };
        let mut consumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(subscription.name.to_owned()),
                filter_subject,
                filter_subjects,
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                max_deliver: -1,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        let mut messages = consumer.messages().await.map_err(|e| e.to_string())?;
        let mut lag = tokio::time::interval(Duration::from_secs(10));
        loop {
            let message = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = lag.tick() => {
                    if let Ok(info) = consumer.info().await {
                        metrics::gauge!("ec_events_consumer_pending", "consumer" => subscription.name, "stream" => stream_name.clone())
                            .set((info.num_pending + info.num_ack_pending as u64) as f64);
                    }
                    continue;
                }
                message = messages.next() => message,
            };
            let Some(message) = message else { return Err("the consumer's message stream ended".into()) };
            let message = message.map_err(|e| e.to_string())?;
            let attempt = message.info().map(|info| info.delivered.max(1) as u64).unwrap_or(1);
            let headers = message.headers.as_ref();
            let id = headers.and_then(|h| h.get("Nats-Msg-Id")).and_then(|id| id.as_str().parse::<Uuid>().ok());
            let Some(id) = id else {
                tracing::error!(consumer = subscription.name, subject = %message.subject, "an event without an id: dropped");
                message.ack_with(jetstream::AckKind::Term).await.map_err(|e| e.to_string())?;
                continue;
            };
            let delivered = Delivered {
                id,
                subject: prefix.strip(&message.subject).unwrap_or(&message.subject).to_owned(),
                payload: message.payload.clone(),
                traceparent: headers.and_then(|h| h.get("traceparent")).map(|v| v.as_str().to_owned()),
                attempt,
            };
            match handler(delivered).await {
                Ok(()) => {
                    metrics::counter!("ec_events_handled_total", "consumer" => subscription.name, "outcome" => "ok")
                        .increment(1);
                    // A plain ack, not waiting for the server to confirm it: handlers are idempotent, so an ack
                    // lost on the way costs a redelivery, and waiting would hold the next event back a round trip.
                    message.ack().await.map_err(|e| e.to_string())?;
                }
                Err(e) => {
                    metrics::counter!("ec_events_handled_total", "consumer" => subscription.name, "outcome" => "failed")
                        .increment(1);
                    tracing::warn!(consumer = subscription.name, event = %id, attempt, error = %e, "an event could not be handled; it comes again");
                    let pause = Duration::from_secs(2u64.pow(attempt.min(8) as u32)).min(Duration::from_secs(300));
                    message.ack_with(jetstream::AckKind::Nak(Some(pause))).await.map_err(|e| e.to_string())?;
                }
            }
        }
    }
}

/// An event on its way out of an outbox.
#[derive(Clone, Debug, sqlx::FromRow)]
pub(crate) struct Outgoing {
    pub id: Uuid,
    pub subject: String,
    pub payload: String,
    pub traceparent: Option<String>,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub attempts: i32,
}

/// Whether `subject` matches `pattern`, NATS style: `*` stands for one token, a final `>` for one or more.
fn matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for want in pattern.split('.') {
        match (want, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (want, Some(token)) if want == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::{EventArgs, Events, EventsError, matches};

    #[tokio::test]
    async fn a_process_without_consumers_needs_nats_for_someone_else_to_run_them() {
        let alone = EventArgs { consumers: false, nats_url: None, ..EventArgs::default() };
        assert!(matches!(Events::connect(&alone).await, Err(EventsError::ConsumersNeedNats)));
        assert!(EventArgs::default().consumers, "consumers run unless told not to");
    }

    #[test]
    fn subjects_match_as_in_nats() {
        assert!(matches("order.v1.confirmed", "order.v1.confirmed"));
        assert!(matches("order.v1.*", "order.v1.shipped"));
        assert!(matches("order.>", "order.v1.shipped"));
        assert!(!matches("order.>", "order"));
        assert!(!matches("order.v1.*", "order.v1"));
        assert!(!matches("order.v1.*", "order.v1.shipped.late"));
        assert!(!matches("order.v1.confirmed", "order.v1.cancelled"));
        assert!(!matches("user.>", "order.v1.confirmed"));
    }
}
