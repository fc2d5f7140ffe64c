//! The sender: a worker that sends the queued messages that are due, and records what became of each.
//!
//! Each run claims up to a batch of due messages (one short statement, `FOR UPDATE SKIP LOCKED`: replicas share
//! the queue; a claim lasts [`CLAIM`], so a sender that dies leaves them for later) and sends them one by one,
//! with no transaction open. A message the server accepts is `sent`. One whose recipient it refuses for good
//! (550, 551, 553: no such mailbox, the address refused) or that cannot be built or addressed is `failed` at
//! once, with the answer in `last_error`, and never retried; other 5xx answers (authentication, TLS, relay
//! policy) are the shop's configuration and are retried, so the queue goes out once it is fixed. Anything else (the server unreachable, a 4xx answer) is tried
//! again after a pause that doubles from 30 s (`MAIL_FIRST_RETRY_SECS`) up to an hour, and given up as `failed` after
//! [`MAX_ATTEMPTS`]. Delivery is at least once: a sender that dies after the server took a message and before
//! recording it sends it again when the claim runs out; the message carries its row's id as its `Message-ID`
//! both times.
//!
//! Metrics: `ec_mails_total{kind, outcome}` (`sent`, `retried`, `refused`, `abandoned`).

use std::{sync::Arc, time::Duration};

use ec_platform::shutdown::CancellationToken;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
    message::{Mailbox, MultiPart},
};
use sqlx::PgPool;
use tokio::sync::Notify;

use super::{MailArgs, queue};

/// Messages sent per run.
const BATCH: i64 = 20;

/// How long a claimed message is left to its sender before another may take it: longer than a batch takes.
const CLAIM: Duration = Duration::from_secs(15 * 60);

/// Attempts before a message that keeps failing transiently is given up.
pub const MAX_ATTEMPTS: i32 = 12;

/// Where messages go.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Development: the `mails` table is the mailbox (`/dev/mail` on the login pages).
    Mailbox,
}

/// The sender of one process.
#[derive(Clone)]
pub struct Sender {
    pool: PgPool,
    transport: Transport,
    from: Mailbox,
    /// The domain of the `Message-ID`s: the sender address's.
    domain: String,
    queued: Arc<Notify>,
    first_retry: Duration,
}

impl Sender {
    /// A sender over `pool` as `args` configure it: SMTP when `SMTP_URL` is set, else the development mailbox.
    pub fn new(pool: PgPool, args: &MailArgs) -> Result<Self, String> {
        let from: Mailbox =
            args.from.parse().map_err(|e| format!("MAIL_FROM {:?} is not an address: {e}", args.from))?;
        let domain = from.email.domain().to_owned();
        let transport = match &args.smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("SMTP_URL is not an SMTP server's URL: {e}"))?
                    .timeout(Some(Duration::from_secs(30)))
                    .build(),
            ),
            None => Transport::Mailbox,
        };
        let first_retry = Duration::from_secs(args.first_retry_secs.max(1));
        Ok(Self { pool, transport, from, domain, queued: Arc::new(Notify::new()), first_retry })
    }

    /// Whether messages stay in the development mailbox.
    pub fn is_mailbox(&self) -> bool {
        matches!(self.transport, Transport::Mailbox)
    }

    /// Tells the sender a message was queued, so it sends it now rather than at its next look.
    pub fn queued(&self) {
        self.queued.notify_one();
    }

    /// Sends until `shutdown` fires: when told a message was queued, and every few seconds.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            loop {
                match self.send_due().await {
                    Ok(taken) if taken as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = &e as &dyn std::error::Error, "the mail queue could not be read");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.queued.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5).min(self.first_retry)) => {}
            }
        }
    }

    /// Sends the messages due now (a batch at most); how many it took. Each is claimed first, and sent with no
    /// transaction open; its outcome is recorded on its own.
    pub async fn send_due(&self) -> Result<usize, sqlx::Error> {
        let due = queue::claim_due(&self.pool, BATCH, CLAIM).await?;
        for mail in &due {
            let outcome = match &self.transport {
                Transport::Mailbox => Ok(()),
                Transport::Smtp(smtp) => self.send(smtp, mail).await,
            };
            let kind = mail.kind.clone();
            match outcome {
                Ok(()) => {
                    let forget_body = !self.is_mailbox() && queue::SECRET_KINDS.contains(&mail.kind.as_str());
                    queue::sent(&self.pool, mail.id, forget_body).await?;
                    metrics::counter!("ec_mails_total", "kind" => kind, "outcome" => "sent").increment(1);
                }
                Err(Failure::Refused(error)) => {
                    tracing::warn!(mail = %mail.id, kind = mail.kind, error, "a message was refused for good");
                    queue::failed(&self.pool, mail.id, &error, None).await?;
                    metrics::counter!("ec_mails_total", "kind" => kind, "outcome" => "refused").increment(1);
                }
                Err(Failure::Transient(error)) if mail.attempts + 1 >= MAX_ATTEMPTS => {
                    tracing::warn!(mail = %mail.id, kind = mail.kind, error, "a message was given up");
                    queue::failed(&self.pool, mail.id, &error, None).await?;
                    metrics::counter!("ec_mails_total", "kind" => kind, "outcome" => "abandoned").increment(1);
                }
                Err(Failure::Transient(error)) => {
                    tracing::info!(mail = %mail.id, kind = mail.kind, attempt = mail.attempts + 1, error, "a message will be tried again");
                    let pause = retry_pause(self.first_retry, mail.attempts + 1);
                    queue::failed(&self.pool, mail.id, &error, Some(pause)).await?;
                    metrics::counter!("ec_mails_total", "kind" => kind, "outcome" => "retried").increment(1);
                }
            }
        }
        Ok(due.len())
    }

    async fn send(&self, smtp: &AsyncSmtpTransport<Tokio1Executor>, mail: &queue::MailRow) -> Result<(), Failure> {
        let to: Mailbox =
            mail.to_address.parse().map_err(|e| Failure::Refused(format!("the address cannot be written to: {e}")))?;
        let message = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!("<{}@{}>", mail.id, self.domain)))
            .multipart(MultiPart::alternative_plain_html(mail.text_body.clone(), mail.html_body.clone()))
            .map_err(|e| Failure::Refused(format!("the message cannot be built: {e}")))?;
        match smtp.send(message).await {
            Ok(_) => Ok(()),
            // The message as built cannot be sent, however often it is tried.
            Err(e) if e.is_client() => Err(Failure::Refused(e.to_string())),
            // The recipient refused for good. Other 5xx answers (authentication, TLS, relay or sender policy)
            // are the shop's configuration, not the recipient: tried again, so the messages go once it is fixed.
            Err(e) if e.status().is_some_and(|code| matches!(u16::from(code), 550 | 551 | 553)) => {
                Err(Failure::Refused(e.to_string()))
            }
            Err(e) => Err(Failure::Transient(e.to_string())),
        }
    }
}

enum Failure {
    /// Never to be tried again.
    Refused(String),
    /// Worth another try.
    Transient(String),
}

/// The pause after a message's `attempts`-th transient failure: `first` (30 s), doubling, at most an hour.
fn retry_pause(first: Duration, attempts: i32) -> Duration {
    (first * 2u32.pow(attempts.clamp(1, 8) as u32 - 1)).min(Duration::from_secs(3600))
}

/// Says what the mail sender counts.
pub fn describe_metrics() {
    metrics::describe_counter!(
        "ec_mails_total",
        "Messages the sender handled, by kind and outcome: sent, retried (a transient failure), refused (for good), \
         abandoned (too many transient failures)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_tried_again_after_a_growing_pause_up_to_an_hour() {
        let first = Duration::from_secs(30);
        assert_eq!(retry_pause(first, 1), Duration::from_secs(30));
        assert_eq!(retry_pause(first, 2), Duration::from_secs(60));
        assert_eq!(retry_pause(first, 7), Duration::from_secs(1920));
        assert_eq!(retry_pause(first, 8), Duration::from_secs(3600));
        assert_eq!(retry_pause(first, MAX_ATTEMPTS), Duration::from_secs(3600));
    }
}
