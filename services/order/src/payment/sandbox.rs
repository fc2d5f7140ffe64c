//! The payment sandbox: a [`PaymentProvider`] that behaves like a real provider's test mode, over a ledger of
//! its own in PostgreSQL (schema `payment_sandbox`, apart from the shop's books, as a provider's would be, so
//! its SQL is here and not in [`crate::db`]), so tests can check that no money moved for a failed order.
//!
//! Its writes commit without waiting for the disk (`synchronous_commit = off`): in production this is a call to
//! a provider, which costs the shop's database nothing, and the sandbox should not cost it a disk flush per
//! checkout either. A database crash could lose the last moments of the ledger, but never out of order with
//! the shop's own books in the same database: the order's next durable commit flushes the ledger lines written
//! before it. Its cards:
//!
//! | token | outcome |
//! |---|---|
//! | `4242424242424242` | approved |
//! | `4000000000000002` | declined (`card_declined`) |
//! | `4000000000009995` | declined (`insufficient_funds`) |
//! | `4000000000000119` | fails transiently (`processing_error`) the first few attempts of a key, then approved |
//! | anything else | declined (`card_not_supported`): the sandbox takes only its test cards |

use aws_lc_rs::digest;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Authorize, PaymentError, PaymentFuture, PaymentProvider};

/// The schema the sandbox keeps its ledger in.
pub const SANDBOX_SCHEMA: &str = "payment_sandbox";

/// The sandbox ledger's migrations, applied inside [`SANDBOX_SCHEMA`].
pub fn sandbox_migrator() -> sqlx::migrate::Migrator {
    sqlx::migrate!("./sandbox_migrations")
}

/// The sandbox provider over its ledger in PostgreSQL.
#[derive(Clone)]
pub struct SandboxPayments {
    /// The ledger's pool: its commits do not wait for the disk (see the module docs).
    pool: PgPool,
    /// How many attempts of one key the transient-failure card fails before it is approved.
    transient_failures: i32,
}

/// An operation recorded under its key, as a repeat of it reads it.
#[derive(sqlx::FromRow)]
struct Operation {
    request_hash: Vec<u8>,
    outcome: String,
    authorization_id: Option<String>,
    decline_reason: String,
}

/// A line of the sandbox's ledger.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LedgerEntry {
    pub id: String,
    pub reference: String,
    pub amount: i64,
    pub currency_code: String,
    pub status: String,
    pub captured_amount: i64,
    pub refunded_amount: i64,
}

impl SandboxPayments {
    pub fn new(ledger: &ec_platform::db::Unflushed, transient_failures: u32) -> Self {
        Self { pool: ledger.pool().clone(), transient_failures: transient_failures.min(1000) as i32 }
    }

    /// Every authorisation made for `reference`: what tests read to see where money stands.
    pub async fn ledger(&self, reference: &str) -> Result<Vec<LedgerEntry>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, reference, amount, currency_code, status, captured_amount, refunded_amount
             FROM payment_sandbox.authorizations WHERE reference = $1 ORDER BY created_at, id",
        )
        .bind(reference)
        .fetch_all(&self.pool)
        .await
    }

    async fn authorize_now(&self, request: Authorize<'_>) -> Result<String, PaymentError> {
        let hash = request_hash(&[
            request.reference,
            &request.amount.to_string(),
            request.currency_code,
            request.token.as_str(),
        ]);
        let decline = match request.token.as_str() {
            "4242424242424242" => None,
            "4000000000000002" => Some("card_declined"),
            "4000000000009995" => Some("insufficient_funds"),
            // Fails the first few attempts under a key; after that (a repeat of an answered call too) it works.
            "4000000000000119" => {
                if self.fail_transiently(request.key).await? {
                    return Err(PaymentError::Transient("processing_error".into()));
                }
                None
            }
            _ => Some("card_not_supported"),
        };
        // The operation under its key and the authorisation it makes, in one statement; when the key was used
        // before, neither is written and that use's outcome is the answer.
        let authorization = decline.is_none().then(|| format!("auth_{}", Uuid::now_v7().simple()));
        let token = request.token.as_str();
        let recorded: bool = sqlx::query_scalar(
            "WITH recorded AS (
                 INSERT INTO payment_sandbox.operations
                     (operation, key, request_hash, outcome, authorization_id, decline_reason)
                 VALUES ('authorize', $1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING authorization_id
             ), held AS (
                 INSERT INTO payment_sandbox.authorizations (id, reference, amount, currency_code, card_last4, status)
                 SELECT authorization_id, $6, $7, $8, $9, 'authorized' FROM recorded WHERE authorization_id IS NOT NULL
             )
             SELECT EXISTS (SELECT 1 FROM recorded)",
        )
        .bind(request.key)
        .bind(&hash)
        .bind(if decline.is_some() { "declined" } else { "approved" })
        .bind(authorization.as_deref())
        .bind(decline.unwrap_or(""))
        .bind(request.reference)
        .bind(request.amount)
        .bind(request.currency_code)
        .bind(&token[token.len().saturating_sub(4)..])
        .fetch_one(&self.pool)
        .await
        .map_err(transient)?;
        if !recorded {
            return self.earlier("authorize", request.key, &hash).await?.unwrap_or_else(|| {
                Err(PaymentError::Transient("a concurrent attempt with this key did not finish".into()))
            });
        }
        match (authorization, decline) {
            (Some(id), _) => Ok(id),
            (None, code) => Err(PaymentError::Declined { code: code.unwrap_or("card_declined").to_owned() }),
        }
    }

    /// Whether this attempt of `key` is one the transient-failure card fails (the first few are).
    async fn fail_transiently(&self, key: &str) -> Result<bool, PaymentError> {
        let failures: i32 = sqlx::query_scalar(
            "INSERT INTO payment_sandbox.transient_failures AS t (key, failures) VALUES ($1, 1)
             ON CONFLICT (key) DO UPDATE SET failures = t.failures + 1 RETURNING failures",
        )
        .bind(key)
        .fetch_one(&self.pool)
        .await
        .map_err(transient)?;
        Ok(failures <= self.transient_failures)
    }

    /// The outcome an earlier call with `operation` and `key` had, if there was one.
    async fn earlier(
        &self,
        operation: &str,
        key: &str,
        hash: &[u8],
    ) -> Result<Option<Result<String, PaymentError>>, PaymentError> {
        let row: Option<Operation> = sqlx::query_as(
            "SELECT request_hash, outcome, authorization_id, decline_reason FROM payment_sandbox.operations
             WHERE operation = $1 AND key = $2",
        )
        .bind(operation)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(transient)?;
        let Some(earlier) = row else { return Ok(None) };
        if earlier.request_hash != hash {
            return Err(PaymentError::Refused(format!("the {operation} key was used for another request")));
        }
        Ok(Some(match (earlier.outcome.as_str(), earlier.authorization_id) {
            ("approved", Some(id)) => Ok(id),
            ("approved", None) => Ok(String::new()),
            _ => Err(PaymentError::Declined { code: earlier.decline_reason }),
        }))
    }

    /// Moves authorisation `authorization` from one of `from` to `to` (or leaves it if it is at `to`
    /// already), under `operation`'s key.
    async fn transition(
        &self,
        operation: &str,
        key: &str,
        authorization: &str,
        from: &str,
        to: &str,
    ) -> Result<(), PaymentError> {
        let hash = request_hash(&[authorization]);
        if let Some(outcome) = self.earlier(operation, key, &hash).await? {
            return outcome.map(|_| ());
        }
        let mut tx = self.pool.begin().await.map_err(transient)?;
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM payment_sandbox.authorizations WHERE id = $1 FOR UPDATE")
                .bind(authorization)
                .fetch_optional(&mut *tx)
                .await
                .map_err(transient)?;
        let Some(status) = status else {
            return Err(PaymentError::Refused(format!("no authorization {authorization}")));
        };
        if status == from {
            sqlx::query(
                "UPDATE payment_sandbox.authorizations SET status = $2, updated_at = now(),
                     captured_amount = CASE WHEN $2 = 'captured' THEN amount ELSE captured_amount END,
                     refunded_amount = CASE WHEN $2 = 'refunded' THEN captured_amount ELSE refunded_amount END
                 WHERE id = $1",
            )
            .bind(authorization)
            .bind(to)
            .execute(&mut *tx)
            .await
            .map_err(transient)?;
        } else if status != to {
            return Err(PaymentError::Refused(format!("cannot {operation} an authorization that is {status}")));
        }
        record(&mut tx, operation, key, &hash, Some(authorization), None).await?;
        tx.commit().await.map_err(transient)?;
        Ok(())
    }
}

impl PaymentProvider for SandboxPayments {
    fn authorize<'a>(&'a self, request: Authorize<'a>) -> PaymentFuture<'a, String> {
        Box::pin(self.authorize_now(request))
    }

    fn authorized<'a>(&'a self, key: &'a str, reference: &'a str) -> PaymentFuture<'a, Option<String>> {
        Box::pin(async move {
            sqlx::query_scalar(
                "SELECT a.id FROM payment_sandbox.operations o
                 JOIN payment_sandbox.authorizations a ON a.id = o.authorization_id
                 WHERE o.operation = 'authorize' AND o.key = $1 AND o.outcome = 'approved' AND a.reference = $2",
            )
            .bind(key)
            .bind(reference)
            .fetch_optional(&self.pool)
            .await
            .map_err(transient)
        })
    }

    fn capture<'a>(&'a self, key: &'a str, authorization: &'a str) -> PaymentFuture<'a, ()> {
        Box::pin(self.transition("capture", key, authorization, "authorized", "captured"))
    }

    fn void<'a>(&'a self, key: &'a str, authorization: &'a str) -> PaymentFuture<'a, ()> {
        Box::pin(self.transition("void", key, authorization, "authorized", "voided"))
    }

    fn refund<'a>(&'a self, key: &'a str, authorization: &'a str) -> PaymentFuture<'a, ()> {
        Box::pin(self.transition("refund", key, authorization, "captured", "refunded"))
    }
}

/// Records an operation under its key; false if a concurrent call recorded one first.
async fn record(
    tx: &mut PgConnection,
    operation: &str,
    key: &str,
    hash: &[u8],
    authorization: Option<&str>,
    decline: Option<&str>,
) -> Result<bool, PaymentError> {
    let inserted = sqlx::query(
        "INSERT INTO payment_sandbox.operations (operation, key, request_hash, outcome, authorization_id, decline_reason)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(operation)
    .bind(key)
    .bind(hash)
    .bind(if decline.is_some() { "declined" } else { "approved" })
    .bind(authorization)
    .bind(decline.unwrap_or(""))
    .execute(tx)
    .await
    .map_err(transient)?
    .rows_affected();
    Ok(inserted == 1)
}

fn request_hash(fields: &[&str]) -> Vec<u8> {
    let mut context = digest::Context::new(&digest::SHA256);
    for field in fields {
        context.update(&(field.len() as u64).to_be_bytes());
        context.update(field.as_bytes());
    }
    context.finish().as_ref().to_vec()
}

fn transient(e: sqlx::Error) -> PaymentError {
    tracing::warn!(error = &e as &dyn std::error::Error, "the payment sandbox's ledger failed");
    PaymentError::Transient("the payment provider had a problem".into())
}
