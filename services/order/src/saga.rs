//! The checkout saga: reserve stock, authorise payment, confirm the reservation; and, when a step says no,
//! the compensations that undo what was done (release the stock, void the authorisation). Cancelling a
//! confirmed order runs the same machinery from `restock`.
//!
//! ```text
//! reserve ──ok──▶ authorize ──ok──▶ confirm ──ok──▶ done (CONFIRMED, cart lines cleared)
//!    │ no             │ declined        │ no (the hold ran out)
//!    ▼                ▼                 ▼
//!  done (FAILED)   release ◀────────────┘
//!                     │
//!                     ▼
//!                   void (if authorised) ──▶ done (FAILED)
//!
//! cancel (CONFIRMED) ──▶ restock ──▶ void ──▶ done (CANCELLED)
//! ```
//!
//! The state is the order row: the step to run next and what earlier steps left (the reservation id, the
//! authorisation id). A step calls out (to the product service or the payment provider) with an idempotency
//! key derived from the order id and the step, then records the outcome with a transition guarded by the
//! step it started from, logging it in the same transaction. So a driver that dies anywhere (before the
//! call, during it, after it but before recording) leaves the order at a step that is safe to run again: the
//! repeated call finds the first call's result under its key, and moves nothing twice.
//!
//! Who drives: the CreateOrder (or CancelOrder) call, at once; and the recovery worker, for every order whose
//! saga is unfinished and not held by a live driver (a lease, `lease_until`, taken with `FOR UPDATE SKIP
//! LOCKED`, so replicas share the work without waiting on each other). A step that fails transiently is
//! retried with exponential backoff; forward steps (reserve, authorise) give up after a number of attempts
//! and compensate; compensations and confirm are retried until they succeed, as they must. No order stays
//! PENDING forever: a reservation the saga could not confirm expires in the product service, and confirm
//! then answers that it has, which compensates.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use ec_platform::db::Unflushed;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    catalog::{Catalog, StepError},
    error::Error,
    orders::{self, NewOrder, ORDER_COLUMNS, Order, OrderTuple, Status, Step},
    payment::{Authorize, PaymentError, PaymentProvider, Unconfigured},
};

/// How steps are retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// The wait after a step's first transient failure; doubled after each further one.
    pub first_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// Attempts of a forward step (reserve, authorise) before the order fails and is compensated.
    pub forward_attempts: i32,
    /// How long a driver holds an order before another may take it over.
    pub lease: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
            forward_attempts: 5,
            lease: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The wait after `attempts` failures in a row, with up to a fifth of jitter so retries spread out.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let exponent = attempts.clamp(1, 20) as u32 - 1;
        let base = self.first_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        let jitter = (Uuid::new_v4().as_u128() % 1000) as u32;
        base + base / 5 * jitter / 1000
    }
}

/// The saga's machinery: the database, the product service and the payment provider.
#[derive(Clone)]
pub struct Saga {
    pool: PgPool,
    /// For the records on the way to CONFIRMED (see [`Saga::advance`]).
    unflushed: Unflushed,
    catalog: Catalog,
    payments: Arc<dyn PaymentProvider>,
    /// Whether a payment provider is configured: without one, no checkout starts.
    takes_orders: bool,
    retry: RetryPolicy,
    /// For crash tests: a step after whose call (before its outcome is recorded) the driver stops for good,
    /// so the test can kill the process right there.
    pause_after: Option<Step>,
}

/// An order's saga as a driver needs it.
#[derive(Clone, Debug)]
struct Running {
    id: Uuid,
    status: Status,
    /// The step to run next.
    step: Step,
    /// The step the order's row is at: `step`, unless the outcomes of the steps in `unrecorded` are still to
    /// be recorded.
    recorded: Step,
    /// Steps run since `recorded`, with their log lines, to be recorded with the next outcome.
    unrecorded: Vec<(Step, String)>,
    /// The payment status those steps left (an authorisation), to be recorded with them.
    unrecorded_payment: Option<&'static str>,
    reservation_id: Option<Uuid>,
    authorization_id: Option<String>,
    attempts: i32,
    total: i64,
    currency_code: String,
    lines: Vec<(Uuid, i64)>,
    payment_token: Option<String>,
}

/// What a step came to, to be recorded.
enum Outcome {
    /// Go on to `to` (in `status`), keeping what this step produced.
    Advance { to: Step, status: Status, change: Change, event: String },
    /// Try the same step again later.
    Retry { error: String },
}

/// What a transition sets besides the step and status.
#[derive(Default)]
struct Change {
    reservation_id: Option<Uuid>,
    authorization_id: Option<String>,
    payment_status: Option<&'static str>,
    failure_reason: Option<String>,
}

impl Saga {
    pub fn new(
        pool: PgPool,
        unflushed: Unflushed,
        catalog: Catalog,
        payments: Option<Arc<dyn PaymentProvider>>,
        retry: RetryPolicy,
        pause_after: Option<Step>,
    ) -> Self {
        let takes_orders = payments.is_some();
        let payments = payments.unwrap_or_else(|| Arc::new(Unconfigured));
        Self { pool, unflushed, catalog, payments, takes_orders, retry, pause_after }
    }

    /// Whether checkout can run: a payment provider is configured (`PAYMENT_PROVIDER` is not `none`).
    pub fn takes_orders(&self) -> bool {
        self.takes_orders
    }

    /// Takes order `id` (unless another driver holds it) and runs its saga until it is done or `until`
    /// passes; what is left then is the recovery worker's.
    pub async fn run(&self, id: Uuid, until: Instant) -> Result<(), Error> {
        if let Some(running) = self.claim(id).await? {
            self.drive(running, until).await?;
        }
        Ok(())
    }

    /// How long a driver holds an order.
    pub fn lease(&self) -> Duration {
        self.retry.lease
    }

    /// Runs the saga of `new`, which this caller just placed holding its lease ([`orders::place`]) with
    /// `payment_token`, until it is done or `until` passes; the order as the saga left it, if it finished.
    pub async fn run_placed(
        &self,
        new: &NewOrder,
        payment_token: &str,
        until: Instant,
    ) -> Result<Option<Order>, Error> {
        let mut lines: Vec<(Uuid, i64)> = new.lines.iter().map(|line| (line.sku_id, line.quantity)).collect();
        lines.sort();
        let running = Running {
            id: new.id,
            status: Status::Pending,
            step: Step::Reserve,
            recorded: Step::Reserve,
            unrecorded: Vec::new(),
            unrecorded_payment: None,
            reservation_id: None,
            authorization_id: None,
            attempts: 0,
            total: new.total(),
            currency_code: new.currency_code.clone(),
            lines,
            payment_token: Some(payment_token.to_owned()),
        };
        let finished = self.drive(running, until).await?;
        Ok(finished.map(|row| orders::order(row, new.lines.clone())))
    }

    /// Takes up to `batch` orders whose saga is unfinished, due, and held by no one, and runs them (each
    /// until it is done or `per_order` has passed); how many were taken.
    pub async fn recover(&self, batch: i64, per_order: Duration) -> Result<usize, Error> {
        let ids: Vec<Uuid> = sqlx::query_scalar(
            "WITH due AS (
                 SELECT id FROM order_service.orders
                 WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
             )
             UPDATE order_service.orders o SET lease_until = now() + make_interval(secs => $2::double precision)
             FROM due WHERE o.id = due.id RETURNING o.id",
        )
        .bind(batch)
        .bind(self.retry.lease.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let mut drivers = tokio::task::JoinSet::new();
        for id in &ids {
            let (saga, id) = (self.clone(), *id);
            drivers.spawn(async move {
                let Some(running) = saga.load(id).await? else { return Ok(()) };
                saga.drive(running, Instant::now() + per_order).await.map(|_| ())
            });
        }
        while let Some(done) = drivers.join_next().await {
            match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = &e as &dyn std::error::Error, "recovering an order failed"),
                Err(e) => tracing::error!(error = %e, "an order's recovery panicked"),
            }
        }
        Ok(ids.len())
    }

    /// Takes the lease on order `id` if its saga is unfinished and no live driver holds it.
    async fn claim(&self, id: Uuid) -> Result<Option<Running>, Error> {
        let claimed: Option<Uuid> = sqlx::query_scalar(
            "UPDATE order_service.orders SET lease_until = now() + make_interval(secs => $2::double precision)
             WHERE id = $1 AND step <> 'done' AND (lease_until IS NULL OR lease_until < now()) RETURNING id",
        )
        .bind(id)
        .bind(self.retry.lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        match claimed {
            Some(id) => self.load(id).await,
            None => Ok(None),
        }
    }

    async fn load(&self, id: Uuid) -> Result<Option<Running>, Error> {
        type Row = (String, String, Option<Uuid>, Option<String>, i32, i64, String, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT o.status, o.step, o.reservation_id, o.authorization_id, o.attempts, o.total,
                    o.currency_code, t.token
             FROM order_service.orders o LEFT JOIN order_service.payment_tokens t ON t.order_id = o.id
             WHERE o.id = $1 AND o.step <> 'done'",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((status, step, reservation_id, authorization_id, attempts, total, currency_code, token)) = row else {
            return Ok(None);
        };
        let lines: Vec<(Uuid, i64)> = sqlx::query_as(
            "SELECT sku_id, quantity FROM order_service.order_items WHERE order_id = $1 ORDER BY sku_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(Running {
            id,
            status: Status::parse(&status),
            step: Step::parse(&step),
            recorded: Step::parse(&step),
            unrecorded: Vec::new(),
            unrecorded_payment: None,
            reservation_id,
            authorization_id,
            attempts,
            total,
            currency_code,
            lines,
            payment_token: token,
        }))
    }

    /// Runs steps until the saga is done, another driver took it over, or `until` passes; the order's row if
    /// this driver finished it.
    ///
    /// The forward steps that succeed (a reservation, then an authorisation) are recorded with what the step
    /// after them comes to: an order that goes through is written twice, placed and then CONFIRMED, instead of
    /// once a step. What they made is recorded on its own only before a retry is scheduled. A driver lost in
    /// between leaves the order at `reserve`, and whoever runs it again gets the same reservation and the same
    /// authorisation under the same keys, and a confirmation that went through answers as confirmed.
    async fn drive(&self, mut running: Running, until: Instant) -> Result<Option<OrderTuple>, Error> {
        loop {
            let outcome = self.step(&running).await;
            if self.pause_after == Some(running.step) {
                tracing::warn!(order = %running.id, step = running.step.as_str(), "failpoint: pausing for good");
                std::future::pending::<()>().await;
            }
            match outcome {
                Outcome::Advance { to, status, change, event } => {
                    metrics::counter!("ec_saga_steps_total", "step" => running.step.as_str(), "outcome" => "advanced")
                        .increment(1);
                    if matches!((running.step, to), (Step::Reserve, Step::Authorize) | (Step::Authorize, Step::Confirm))
                    {
                        running.unrecorded.push((running.step, event));
                        running.step = to;
                        running.attempts = 0;
                        running.reservation_id = change.reservation_id.or(running.reservation_id);
                        running.authorization_id = change.authorization_id.or(running.authorization_id);
                        running.unrecorded_payment = change.payment_status.or(running.unrecorded_payment);
                        continue;
                    }
                    let Some(row) = self.advance(&running, to, status, &change, Some(&event)).await? else {
                        return Ok(None); // another driver moved it on
                    };
                    if to == Step::Done {
                        return Ok(Some(row));
                    }
                    running.step = to;
                    running.recorded = to;
                    running.unrecorded.clear();
                    running.unrecorded_payment = None;
                    running.status = status;
                    running.attempts = 0;
                    running.reservation_id = change.reservation_id.or(running.reservation_id);
                    running.authorization_id = change.authorization_id.or(running.authorization_id);
                }
                Outcome::Retry { error } => {
                    metrics::counter!("ec_saga_steps_total", "step" => running.step.as_str(), "outcome" => "retried")
                        .increment(1);
                    if !running.unrecorded.is_empty() {
                        // The retry is recorded at the step that failed, so what led there is recorded first.
                        if self
                            .advance(&running, running.step, running.status, &Change::default(), None)
                            .await?
                            .is_none()
                        {
                            return Ok(None);
                        }
                        running.recorded = running.step;
                        running.unrecorded.clear();
                        running.unrecorded_payment = None;
                    }
                    let delay = self.retry.backoff(running.attempts + 1);
                    if !self.retry_later(&running, &error, delay).await? {
                        return Ok(None);
                    }
                    running.attempts += 1;
                    if Instant::now() + delay >= until {
                        self.let_go(running.id).await?;
                        return Ok(None);
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Runs the order's current step once.
    async fn step(&self, r: &Running) -> Outcome {
        let key = |step: &str| format!("order:{}:{step}", r.id);
        let gives_up = r.attempts + 1 >= self.retry.forward_attempts;
        match r.step {
            Step::Reserve => match self.catalog.reserve(r.id, &r.lines).await {
                Ok(reservation) => Outcome::Advance {
                    to: Step::Authorize,
                    status: Status::Pending,
                    change: Change { reservation_id: Some(reservation), ..Change::default() },
                    event: format!("reservation {reservation}"),
                },
                Err(StepError::Refused { code, detail }) => fail(Step::Done, code, &detail, None),
                // Unanswered is not unheld: the last attempt may have gone through. Release finds out.
                Err(StepError::Transient(error)) if gives_up => {
                    fail(Step::Release, "stock_unavailable", &format!("the stock could not be held ({error})"), None)
                }
                Err(StepError::Transient(error)) => Outcome::Retry { error },
            },
            Step::Authorize => {
                let Some(token) = r.payment_token.as_deref() else {
                    return fail(Step::Release, "payment_unavailable", "the payment token is gone", None);
                };
                let token = match crate::domain::PaymentToken::parse(token) {
                    Ok(token) => token,
                    Err(_) => return fail(Step::Release, "payment_declined", "the payment token is malformed", None),
                };
                let reference = r.id.to_string();
                let request = Authorize {
                    key: &key("authorize"),
                    reference: &reference,
                    amount: r.total,
                    currency_code: &r.currency_code,
                    token: &token,
                };
                match self.payments.authorize(request).await {
                    Ok(authorization) => Outcome::Advance {
                        to: Step::Confirm,
                        status: Status::Pending,
                        event: format!("authorization {authorization}"),
                        change: Change {
                            authorization_id: Some(authorization),
                            payment_status: Some("authorized"),
                            ..Change::default()
                        },
                    },
                    Err(PaymentError::Declined { code }) => fail(
                        Step::Release,
                        "payment_declined",
                        &format!("the card was declined ({code})"),
                        Some("declined"),
                    ),
                    Err(PaymentError::Refused(why)) => fail(Step::Release, "payment_declined", &why, Some("declined")),
                    Err(PaymentError::Transient(error)) if gives_up => fail(
                        Step::Release,
                        "payment_unavailable",
                        &format!("the payment provider did not answer ({error})"),
                        None,
                    ),
                    Err(PaymentError::Transient(error)) => Outcome::Retry { error },
                }
            }
            Step::Confirm => {
                let Some(reservation) = r.reservation_id else {
                    return fail(Step::Release, "internal", "no reservation to confirm", None);
                };
                match self.catalog.confirm(r.id, reservation).await {
                    Ok(()) => Outcome::Advance {
                        to: Step::Done,
                        status: Status::Confirmed,
                        change: Change::default(),
                        event: "confirmed".into(),
                    },
                    Err(StepError::Refused { code, detail }) => fail(Step::Release, code, &detail, None),
                    Err(StepError::Transient(error)) => Outcome::Retry { error },
                }
            }
            Step::Release => {
                let next = if r.authorization_id.is_some() { Step::Void } else { Step::Done };
                let status = if next == Step::Done { Status::Failed } else { r.status };
                let reservation = match r.reservation_id {
                    Some(reservation) => reservation,
                    // Reserving gave up unanswered, and may have held stock all the same. Asking again under
                    // the same key names that hold (or makes one now, which goes straight back).
                    None => match self.catalog.reserve(r.id, &r.lines).await {
                        Ok(reservation) => reservation,
                        Err(StepError::Refused { .. }) => return compensated(next, status, "nothing was held"),
                        Err(StepError::Transient(error)) => return Outcome::Retry { error },
                    },
                };
                match self.catalog.release(r.id, reservation).await {
                    Ok(()) => compensated(next, status, &format!("stock released ({reservation})")),
                    // Sold after all (a confirm that went through unrecorded): put it back instead.
                    Err(StepError::Refused { .. }) => match self.catalog.restock(r.id, reservation).await {
                        Ok(()) => compensated(next, status, &format!("stock restocked ({reservation})")),
                        Err(StepError::Refused { detail, .. }) | Err(StepError::Transient(detail)) => {
                            Outcome::Retry { error: detail }
                        }
                    },
                    Err(StepError::Transient(error)) => Outcome::Retry { error },
                }
            }
            Step::Restock => {
                let next = if r.authorization_id.is_some() { Step::Void } else { Step::Done };
                let Some(reservation) = r.reservation_id else {
                    return compensated(next, r.status, "nothing was sold");
                };
                match self.catalog.restock(r.id, reservation).await {
                    Ok(()) => compensated(next, r.status, "stock restocked"),
                    Err(StepError::Refused { detail, .. }) => {
                        tracing::error!(order = %r.id, detail, "a cancelled order's stock could not be restocked");
                        compensated(next, r.status, &format!("not restocked: {detail}"))
                    }
                    Err(StepError::Transient(error)) => Outcome::Retry { error },
                }
            }
            Step::Void => {
                let status = if r.status == Status::Pending { Status::Failed } else { r.status };
                let Some(authorization) = r.authorization_id.as_deref() else {
                    return compensated(Step::Done, status, "nothing was authorised");
                };
                let voided = match self.payments.void(&key("void"), authorization).await {
                    // Captured after all: give the money back.
                    Err(PaymentError::Refused(_)) => {
                        self.payments.refund(&key("refund"), authorization).await.map(|()| "refunded")
                    }
                    other => other.map(|()| "voided"),
                };
                match voided {
                    Ok(payment) => Outcome::Advance {
                        to: Step::Done,
                        status,
                        change: Change { payment_status: Some(payment), ..Change::default() },
                        event: format!("payment {payment}"),
                    },
                    Err(e) => Outcome::Retry { error: e.to_string() },
                }
            }
            Step::Done => unreachable!("a finished saga runs no step"),
        }
    }

    /// Records the outcome of the step `r` is at (logged as `event`), and of the steps before it not recorded
    /// yet, if the order is still where it was recorded last: one statement moves the row and logs the steps;
    /// when the saga is done, it forgets the payment token, and when the order is confirmed, it takes the
    /// bought units out of the cart (locking the cart row first, as every change of a cart does, so this and
    /// a concurrent change of the cart queue instead of deadlocking). A line goes when no more than the
    /// bought units are left in it; units added since the checkout read the cart stay. Forward steps change
    /// no indexed column (`next_attempt_at` stays as it is unless a retry had pushed it out), so PostgreSQL
    /// updates the row in place (a HOT update). The order as it is now, or `None` if another driver moved it
    /// on first.
    async fn advance(
        &self,
        r: &Running,
        to: Step,
        status: Status,
        change: &Change,
        event: Option<&str>,
    ) -> Result<Option<OrderTuple>, Error> {
        let (skus, quantities): (Vec<Uuid>, Vec<i64>) = r.lines.iter().copied().unzip();
        let mut events = r.unrecorded.clone();
        if let Some(event) = event {
            let detail =
                change.failure_reason.as_deref().map_or(event.to_owned(), |reason| format!("{event}: {reason}"));
            events.push((r.step, detail));
        }
        let (steps, details): (Vec<&str>, Vec<String>) =
            events.into_iter().map(|(step, detail)| (step.as_str(), detail)).unzip();
        let sql = format!(
            "WITH moved AS (
                 UPDATE order_service.orders SET
                     step = $3, status = $4,
                     reservation_id = COALESCE($5, reservation_id),
                     authorization_id = COALESCE($6, authorization_id),
                     payment_status = COALESCE($7, payment_status),
                     failure_reason = COALESCE($8, failure_reason),
                     attempts = 0,
                     next_attempt_at = CASE WHEN $3 = 'done' THEN NULL ELSE LEAST(next_attempt_at, now()) END,
                     lease_until = CASE WHEN $3 = 'done' THEN NULL
                                        ELSE now() + make_interval(secs => $9::double precision) END,
                     updated_at = now()
                 WHERE id = $1 AND step = $2
                 RETURNING {ORDER_COLUMNS}
             ), logged AS (
                 INSERT INTO order_service.order_events (order_id, step, outcome, detail)
                 SELECT moved.id, e.step, 'done', e.detail
                 FROM moved, unnest($10::text[], $12::text[]) WITH ORDINALITY AS e (step, detail, n) ORDER BY e.n
             ), forgotten AS (
                 DELETE FROM order_service.payment_tokens WHERE $3 = 'done' AND order_id IN (SELECT id FROM moved)
             ), cart AS (
                 INSERT INTO order_service.carts AS c (user_id) SELECT user_id FROM moved WHERE $4 = 'confirmed'
                 ON CONFLICT (user_id) DO UPDATE SET updated_at = now(), version = c.version + 1 RETURNING user_id
             ), bought (sku_id, quantity) AS (
                 SELECT * FROM unnest($11::uuid[], $13::bigint[])
             ), emptied AS (
                 DELETE FROM order_service.cart_items c USING bought b
                 WHERE c.user_id IN (SELECT user_id FROM cart) AND c.sku_id = b.sku_id AND c.quantity <= b.quantity
             ), lessened AS (
                 UPDATE order_service.cart_items c SET quantity = c.quantity - b.quantity FROM bought b
                 WHERE c.user_id IN (SELECT user_id FROM cart) AND c.sku_id = b.sku_id AND c.quantity > b.quantity
             )
             SELECT * FROM moved"
        );
        let transition = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(r.id)
            .bind(r.recorded.as_str())
            .bind(to.as_str())
            .bind(status.as_str())
            .bind(change.reservation_id.or(r.reservation_id))
            .bind(change.authorization_id.as_deref().or(r.authorization_id.as_deref()))
            .bind(change.payment_status.or(r.unrecorded_payment))
            .bind(change.failure_reason.as_deref())
            .bind(self.retry.lease.as_secs_f64())
            .bind(steps)
            .bind(skus)
            .bind(details)
            .bind(quantities);
        let moved: Option<OrderTuple> = if matches!(to, Step::Authorize | Step::Confirm) {
            // Progress on the way to CONFIRMED commits without waiting for the disk: were the database to
            // crash and lose it, the order would be back at `reserve`, whose calls (under the same keys) find
            // the first calls' results. Nobody has been told anything yet: the saga's last transition waits
            // for the disk, and with it for everything written before it.
            transition.fetch_optional(self.unflushed.pool()).await?
        } else {
            transition.fetch_optional(&self.pool).await?
        };
        if moved.is_some() && to == Step::Done {
            metrics::counter!("ec_orders_finished_total", "status" => status.as_str()).increment(1);
        }
        Ok(moved)
    }

    /// Records a transient failure: the step is tried again after `delay`.
    async fn retry_later(&self, r: &Running, error: &str, delay: Duration) -> Result<bool, Error> {
        let mut tx = self.pool.begin().await?;
        let moved = sqlx::query(
            "UPDATE order_service.orders
             SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $3::double precision),
                 updated_at = now()
             WHERE id = $1 AND step = $2",
        )
        .bind(r.id)
        .bind(r.step.as_str())
        .bind(delay.as_secs_f64())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        orders::log(&mut tx, r.id, r.step.as_str(), "retry", error).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Gives up the lease, so the recovery worker takes the order when its next attempt is due.
    async fn let_go(&self, id: Uuid) -> Result<(), Error> {
        sqlx::query("UPDATE order_service.orders SET lease_until = NULL WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// The saga cannot go on: record why (`code: detail`) and go to the compensation `to`.
fn fail(to: Step, code: &str, detail: &str, payment_status: Option<&'static str>) -> Outcome {
    let status = if to == Step::Done { Status::Failed } else { Status::Pending };
    let reason: String = format!("{code}: {detail}").chars().take(1000).collect();
    Outcome::Advance {
        to,
        status,
        change: Change { failure_reason: Some(reason), payment_status, ..Change::default() },
        event: "refused".into(),
    }
}

/// A compensation is done: on to `to`.
fn compensated(to: Step, status: Status, event: &str) -> Outcome {
    Outcome::Advance { to, status, change: Change::default(), event: event.to_owned() }
}

/// What cancelling an order found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// This call cancelled it.
    Now,
    /// It was cancelled before.
    Before,
}

impl Saga {
    /// Cancels `user_id`'s confirmed order `id` with `reason`: it becomes CANCELLED at once, and the saga puts
    /// its stock back on hand and voids its authorisation (now, or, if a step fails transiently, in the
    /// recovery worker). A cancelled order is left as it is; another's order is `not_found`; one that has
    /// shipped, failed or is still being placed is `failed_precondition`.
    pub async fn cancel(&self, user_id: Uuid, id: Uuid, reason: &str, until: Instant) -> Result<Cancelled, Error> {
        let mut tx = self.pool.begin().await?;
        let status: Option<String> = sqlx::query_scalar(
            "UPDATE order_service.orders
             SET status = 'cancelled', step = 'restock', cancelled_at = now(), updated_at = now(),
                 failure_reason = $3, attempts = 0, next_attempt_at = now(), lease_until = NULL
             WHERE id = $1 AND user_id = $2 AND status = 'confirmed' RETURNING status",
        )
        .bind(id)
        .bind(user_id)
        .bind(format!("cancelled: {reason}").trim_end_matches([':', ' ']).to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        if status.is_none() {
            drop(tx);
            let order = orders::get_own(&self.pool, user_id, id).await?;
            return match order.status {
                Status::Cancelled => Ok(Cancelled::Before),
                Status::Shipped => Err(Error::FailedPrecondition("the order has shipped".into())),
                Status::Failed => Err(Error::FailedPrecondition("the order failed; there is nothing to cancel".into())),
                Status::Pending => Err(Error::FailedPrecondition("the order is still being placed".into())),
                Status::Confirmed => Err(Error::FailedPrecondition("the order changed meanwhile; try again".into())),
            };
        }
        orders::log(&mut tx, id, "cancel", "done", reason).await?;
        tx.commit().await?;
        self.run(id, until).await?;
        Ok(Cancelled::Now)
    }

    /// Marks confirmed order `id` as handed to the carrier under `tracking`, capturing its payment first.
    /// Shipping a shipped order again with the same tracking number leaves it as it is.
    pub async fn ship(&self, id: Uuid, tracking: &str) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        // Held until the order is marked shipped, so a cancellation waits and then finds it shipped.
        let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT status, tracking_number, authorization_id FROM order_service.orders WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status, shipped_with, authorization)) = row else { return Err(Error::NotFound("order")) };
        match Status::parse(&status) {
            Status::Shipped if shipped_with.as_deref() == Some(tracking) => return Ok(()),
            Status::Shipped => {
                return Err(Error::FailedPrecondition("the order was shipped with another tracking number".into()));
            }
            Status::Confirmed => {}
            other => {
                return Err(Error::FailedPrecondition(format!(
                    "only a confirmed order can ship; this one is {}",
                    other.as_str()
                )));
            }
        }
        let Some(authorization) = authorization else {
            return Err(Error::FailedPrecondition("the order has no payment to capture".into()));
        };
        match self.payments.capture(&format!("order:{id}:capture"), &authorization).await {
            Ok(()) => {}
            Err(PaymentError::Transient(_)) => {
                return Err(Error::Unavailable("the payment provider could not be reached; try again"));
            }
            Err(e) => return Err(Error::FailedPrecondition(format!("the payment could not be captured ({e})"))),
        }
        sqlx::query(
            "UPDATE order_service.orders
             SET status = 'shipped', payment_status = 'captured', tracking_number = $2, shipped_at = now(),
                 updated_at = now()
             WHERE id = $1",
        )
        .bind(id)
        .bind(tracking)
        .execute(&mut *tx)
        .await?;
        orders::log(&mut tx, id, "ship", "done", tracking).await?;
        tx.commit().await?;
        Ok(())
    }
}
