//! The deliverer: a worker that POSTs the deliveries that are due and records what became of each.
//!
//! Each run claims up to a batch of due deliveries (one statement, `FOR UPDATE SKIP LOCKED`, so replicas share
//! the work; a claim lasts as long as the whole batch may take and a minute, so a deliverer that dies leaves
//! them for later) and sends
//! them a few at a time, with no transaction open. An attempt's outcome is recorded only on a delivery still
//! pending (one its endpoint's disabling failed meanwhile stays failed). An attempt is signed afresh ([`super::signing`]), and
//! succeeds when the endpoint answers 2xx within the timeout; redirects are not followed, and the answer's body
//! is not read. A failed attempt is tried again after the next pause of the schedule (`WEBHOOKS_RETRY_SECS`,
//! about three days in all); when the schedule is spent the delivery is `failed`, and if the endpoint has not
//! taken a single delivery since that one was made, it is disabled, its pending deliveries are failed with it,
//! and every admin is sent an e-mail. Delivery is at least once: a deliverer that dies after the endpoint
//! answered and before recording it sends it again when the claim runs out, with the same `webhook-id`.
//!
//! Metrics: `ec_webhook_deliveries_total{outcome}` (`succeeded`, `retried`, `failed`) and
//! `ec_webhook_endpoints_disabled_total`.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use ec_platform::shutdown::CancellationToken;
use futures::StreamExt as _;
use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use super::{Settings, address, signing};
use crate::mail::{
    Language,
    content::{Shop, webhook_disabled_mail},
    queue::{self, Queued},
    sender::Sender,
};

/// Deliveries claimed per run.
const BATCH: i64 = 32;

/// Deliveries sent at once.
const CONCURRENCY: usize = 8;

/// Tells the deliverer that deliveries were recorded, so it sends them now rather than at its next look.
#[derive(Clone, Debug, Default)]
pub struct Nudge(Arc<Notify>);

impl Nudge {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// The deliverer of one process.
#[derive(Clone)]
pub struct Deliverer {
    pool: PgPool,
    client: reqwest::Client,
    settings: Settings,
    nudge: Nudge,
    /// For the e-mail to the admins when an endpoint is disabled.
    sender: Sender,
    shop: Shop,
}

/// A delivery claimed for an attempt, with what the attempt needs.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    endpoint_id: Uuid,
    event_id: Uuid,
    payload: String,
    attempts: i32,
    created_at: DateTime<Utc>,
    url: String,
    enabled: bool,
    secret: String,
    previous_secret: Option<String>,
}

/// What an attempt came to.
#[derive(Debug)]
struct Attempt {
    /// The answer's status, when there was one.
    status: Option<u16>,
    /// Why it failed, when it did.
    error: Option<String>,
    latency: Duration,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|status| (200..300).contains(&status))
    }
}

impl Deliverer {
    /// A deliverer over `pool` under `settings`, nudged through `nudge`, writing to admins through `sender`.
    pub fn new(pool: PgPool, settings: Settings, nudge: Nudge, sender: Sender, shop: Shop) -> Result<Self, String> {
        let mut client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .user_agent(concat!("ec-webhooks/", env!("CARGO_PKG_VERSION")));
        if !settings.allow_private {
            client = client.dns_resolver(address::PublicOnly);
        }
        let client = client.build().map_err(|e| format!("the webhook client cannot be built: {e}"))?;
        Ok(Self { pool, client, settings, nudge, sender, shop })
    }

    /// Delivers until `shutdown` fires: when nudged, and every second.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            loop {
                match self.deliver_due().await {
                    Ok(taken) if taken as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = &e as &dyn std::error::Error, "webhook deliveries could not be read");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.nudge.0.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Attempts the deliveries due now (a batch at most); how many it took.
    pub async fn deliver_due(&self) -> Result<usize, sqlx::Error> {
        // Long enough for the whole batch, a few at a time, each taking the timeout at worst.
        let waves = (BATCH as u32).div_ceil(CONCURRENCY as u32);
        let lease = self.settings.timeout * waves + Duration::from_secs(60);
        let due: Vec<Claimed> = sqlx::query_as(
            "WITH due AS (
                 SELECT id FROM user_service.webhook_deliveries
                 WHERE status = 'pending' AND next_attempt_at <= now()
                   AND (locked_until IS NULL OR locked_until <= now())
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
             )
             UPDATE user_service.webhook_deliveries d
             SET locked_until = now() + make_interval(secs => $2::float8)
             FROM due, user_service.webhook_endpoints e
             WHERE d.id = due.id AND e.id = d.endpoint_id
             RETURNING d.id, d.endpoint_id, d.event_id, d.payload, d.attempts, d.created_at, e.url, e.enabled,
                       e.secret, CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END AS previous_secret",
        )
        .bind(BATCH)
        .bind(lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let taken = due.len();
        let outcomes: Vec<Result<(), sqlx::Error>> = futures::stream::iter(due)
            .map(|claimed| async move { self.deliver(claimed).await })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        outcomes.into_iter().collect::<Result<(), _>>()?;
        Ok(taken)
    }

    async fn deliver(&self, claimed: Claimed) -> Result<(), sqlx::Error> {
        if !claimed.enabled {
            return self.stop(claimed.id, "the endpoint is disabled").await;
        }
        let attempt = self.attempt(&claimed).await;
        let attempts = claimed.attempts + 1;
        let latency_ms = i32::try_from(attempt.latency.as_millis()).unwrap_or(i32::MAX);
        let status = attempt.status.map(i32::from);
        if attempt.succeeded() {
            sqlx::query(
                "UPDATE user_service.webhook_deliveries
                 SET status = 'succeeded', attempts = $2, last_attempt_at = now(), response_status = $3,
                     error = NULL, latency_ms = $4, locked_until = NULL
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(claimed.id)
            .bind(attempts)
            .bind(status)
            .bind(latency_ms)
            .execute(&self.pool)
            .await?;
            metrics::counter!("ec_webhook_deliveries_total", "outcome" => "succeeded").increment(1);
            return Ok(());
        }
        let error = attempt.error.unwrap_or_else(|| format!("answered {}", status.unwrap_or_default()));
        let pause = self.settings.retries.get(claimed.attempts as usize).copied();
        tracing::info!(delivery = %claimed.id, endpoint = %claimed.endpoint_id, attempts, error, "a webhook delivery failed");
        sqlx::query(
            "UPDATE user_service.webhook_deliveries
             SET status = CASE WHEN $6::float8 IS NULL THEN 'failed' ELSE 'pending' END,
                 next_attempt_at = now() + make_interval(secs => coalesce($6::float8, 0)),
                 attempts = $2, last_attempt_at = now(), response_status = $3, error = $4, latency_ms = $5,
                 locked_until = NULL
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(claimed.id)
        .bind(attempts)
        .bind(status)
        .bind(&error)
        .bind(latency_ms)
        .bind(pause.map(|pause| pause.as_secs_f64()))
        .execute(&self.pool)
        .await?;
        let outcome = if pause.is_some() { "retried" } else { "failed" };
        metrics::counter!("ec_webhook_deliveries_total", "outcome" => outcome).increment(1);
        if pause.is_none() {
            self.disable_if_failing(claimed.endpoint_id, claimed.created_at).await?;
        }
        Ok(())
    }

    /// One POST of `claimed`.
    async fn attempt(&self, claimed: &Claimed) -> Attempt {
        let started = Instant::now();
        let failed = |error: String| Attempt { status: None, error: Some(error), latency: started.elapsed() };
        let url = match url::Url::parse(&claimed.url) {
            Ok(url) => url,
            Err(e) => return failed(format!("the URL is not valid: {e}")),
        };
        if !address::literal_is_allowed(&url, &self.settings) {
            return failed("the URL's address is not a public internet address".into());
        }
        let id = claimed.event_id.to_string();
        let timestamp = Utc::now().timestamp();
        let secrets = std::iter::once(claimed.secret.as_str()).chain(claimed.previous_secret.as_deref());
        let signature = signing::signature(secrets, &id, timestamp, claimed.payload.as_bytes());
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(claimed.payload.clone())
            .send()
            .await;
        match sent {
            Ok(answer) => Attempt { status: Some(answer.status().as_u16()), error: None, latency: started.elapsed() },
            Err(e) if e.is_timeout() => failed(format!("no answer within {} s", self.settings.timeout.as_secs())),
            Err(e) => failed(describe(&e)),
        }
    }

    /// Records `id` failed without an attempt, for `reason`.
    async fn stop(&self, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE user_service.webhook_deliveries SET status = 'failed', error = $2, locked_until = NULL
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(reason)
        .execute(&self.pool)
        .await?;
        metrics::counter!("ec_webhook_deliveries_total", "outcome" => "failed").increment(1);
        Ok(())
    }

    /// Disables endpoint `endpoint_id` if no delivery to it succeeded since `since` (when the delivery that
    /// just ran out of retries was made): its pending deliveries fail with it, and every admin is written to.
    async fn disable_if_failing(&self, endpoint_id: Uuid, since: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let retried_for = self.settings.retries.iter().sum::<Duration>();
        let reason = format!(
            "every delivery failed for {} hours, through the whole retry schedule",
            retried_for.as_secs().div_ceil(3600)
        );
        let mut tx = self.pool.begin().await?;
        let disabled: Option<String> = sqlx::query_scalar(
            "WITH disabled AS (
                 UPDATE user_service.webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = now()
                 WHERE id = $1 AND enabled AND NOT EXISTS (
                     SELECT 1 FROM user_service.webhook_deliveries
                     WHERE endpoint_id = $1 AND status = 'succeeded' AND last_attempt_at >= $2
                 )
                 RETURNING id, url
             ), stopped AS (
                 UPDATE user_service.webhook_deliveries
                 SET status = 'failed', error = 'the endpoint was disabled', locked_until = NULL
                 WHERE endpoint_id IN (SELECT id FROM disabled) AND status = 'pending'
             )
             SELECT url FROM disabled",
        )
        .bind(endpoint_id)
        .bind(since)
        .bind(&reason)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(url) = disabled else { return Ok(()) };
        let admins: Vec<(Uuid, String, Option<String>, String)> = sqlx::query_as(
            "SELECT id, email, name, language FROM user_service.users
             WHERE 'admin' = ANY (roles) AND deleted_at IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, email, name, language) in &admins {
            let mail = webhook_disabled_mail(&self.shop, Language::from_tag(language), name.as_deref(), &url, &reason);
            let queued = Queued {
                event_id: Uuid::now_v7(),
                kind: "webhook_disabled",
                user_id: Some(*id),
                to: email,
                mail: &mail,
            };
            queue::insert(&mut tx, &queued).await?;
        }
        tx.commit().await?;
        self.sender.queued();
        metrics::counter!("ec_webhook_endpoints_disabled_total").increment(1);
        tracing::warn!(endpoint = %endpoint_id, admins = admins.len(), "a webhook endpoint kept failing and was disabled");
        Ok(())
    }
}

/// An HTTP client error with its causes, which say what went wrong (refused, reset, no public address...).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

/// Says what the deliverer counts, each starting at zero.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "ec_webhook_deliveries_total",
        "Webhook delivery attempts by outcome: succeeded (2xx), retried (failed, another attempt is due), failed \
         (for good: the retry schedule spent, or the endpoint disabled)."
    );
    metrics::describe_counter!(
        "ec_webhook_endpoints_disabled_total",
        "Webhook endpoints disabled because every delivery failed through the whole retry schedule."
    );
    for outcome in ["succeeded", "retried", "failed"] {
        metrics::counter!("ec_webhook_deliveries_total", "outcome" => outcome).increment(0);
    }
    metrics::counter!("ec_webhook_endpoints_disabled_total").increment(0);
}
