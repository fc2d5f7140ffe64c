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
//!                   void (unless declined) ──▶ done (FAILED)
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
//! then answers that it has, which compensates. A forward step that gave up may have gone through unanswered,
//! and an earlier driver may have died before recording what it made: so release asks for the reservation
//! under its key when none is recorded, and void asks the provider for an authorisation under its key (unless
//! the provider declined under it), waiting for the provider as every compensation waits for what it calls.
//!
//! Each transition is one statement ([`db::orders::record_step`]): the order's row, its log lines and what
//! the outcome changes elsewhere (the card token, the cart, the `order.v1.confirmed` event in the outbox) are
//! written together, in one round trip.
//!
//! Here: driving a saga and recording its outcomes; in `steps.rs`, what each step calls and what its answer
//! comes to; in `after_sale.rs`, cancelling and shipping a confirmed order ([`Saga::cancel`], [`Saga::ship`]).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use ec_platform::{db::Unflushed, events::Outbox};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    db::{
        self,
        order_events::Event,
        orders::{OrderRow, StepRecord},
    },
    domain::Address,
    error::Error,
    events::{self, Placed},
    orders::{self, NewOrder, Order, PaymentStatus, Status, Step, Units},
    payment::{PaymentProvider, Unconfigured},
    product_client::ProductClient,
};

mod after_sale;
mod steps;

pub use after_sale::Cancelled;

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
    product: ProductClient,
    payments: Arc<dyn PaymentProvider>,
    /// Whether a payment provider is configured: without one, no checkout starts.
    takes_orders: bool,
    retry: RetryPolicy,
    /// Where the events of confirmed, cancelled and shipped orders are written.
    outbox: Outbox,
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
    /// Log lines of the steps run since `recorded`, to be recorded with the next outcome.
    unrecorded: Vec<Event>,
    /// The payment status those steps left (an authorisation), to be recorded with them.
    unrecorded_payment: Option<&'static str>,
    reservation_id: Option<Uuid>,
    authorization_id: Option<String>,
    /// Whether the provider declined the authorisation asked under the order's key: then it holds nothing, and
    /// the compensation need not ask it.
    declined: bool,
    attempts: i32,
    total: i64,
    currency_code: String,
    /// What the order buys, by SKU id.
    lines: Vec<Units>,
    payment_token: Option<String>,
    /// The order as placed, for the event that announces it confirmed.
    placed: Arc<Placed>,
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
        product: ProductClient,
        payments: Option<Arc<dyn PaymentProvider>>,
        retry: RetryPolicy,
        outbox: Outbox,
        pause_after: Option<Step>,
    ) -> Self {
        let takes_orders = payments.is_some();
        let payments = payments.unwrap_or_else(|| Arc::new(Unconfigured));
        Self { pool, unflushed, product, payments, takes_orders, retry, outbox, pause_after }
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

    /// Runs the saga of `new`, which this caller just placed holding its lease ([`crate::orders::place`]) to
    /// `address` with `payment_token`, until it is done or `until` passes; the order as the saga left it, if it
    /// finished.
    pub async fn run_placed(
        &self,
        new: &NewOrder,
        address: &Address,
        payment_token: &str,
        until: Instant,
    ) -> Result<Option<Order>, Error> {
        let mut lines: Vec<Units> =
            new.lines.iter().map(|line| Units { sku_id: line.sku_id, quantity: line.quantity }).collect();
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
            declined: false,
            attempts: 0,
            total: new.total(),
            currency_code: new.currency_code.clone(),
            lines,
            payment_token: Some(payment_token.to_owned()),
            placed: Arc::new(Placed::of_new(new, address)),
        };
        let finished = self.drive(running, until).await?;
        Ok(finished.map(|row| row.with_lines(new.lines.clone())))
    }

    /// Takes up to `batch` orders whose saga is unfinished, due, and held by no one, and runs them (each
    /// until it is done or `per_order` has passed); how many were taken.
    pub async fn recover(&self, batch: i64, per_order: Duration) -> Result<usize, Error> {
        let ids = db::orders::take_due(&self.pool, batch, self.retry.lease).await?;
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
        match db::orders::claim(&self.pool, id, self.retry.lease).await? {
            true => self.load(id).await,
            false => Ok(None),
        }
    }

    /// Order `id`'s saga as a driver needs it, if it is unfinished.
    async fn load(&self, id: Uuid) -> Result<Option<Running>, Error> {
        let Some(row) = db::orders::saga_state(&self.pool, id).await? else {
            return Ok(None);
        };
        let Some(order) = orders::get(&self.pool, id).await? else {
            return Ok(None);
        };
        let mut lines: Vec<Units> =
            order.lines.iter().map(|line| Units { sku_id: line.sku_id, quantity: line.quantity }).collect();
        lines.sort();
        Ok(Some(Running {
            id,
            status: Status::parse(&row.status),
            step: Step::parse(&row.step),
            recorded: Step::parse(&row.step),
            unrecorded: Vec::new(),
            unrecorded_payment: None,
            reservation_id: row.reservation_id,
            authorization_id: row.authorization_id,
            declined: order.payment_status == PaymentStatus::Declined,
            attempts: row.attempts,
            total: row.total,
            currency_code: row.currency_code,
            lines,
            payment_token: row.token,
            placed: Arc::new(Placed::of(&order)),
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
    async fn drive(&self, mut running: Running, until: Instant) -> Result<Option<OrderRow>, Error> {
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
                        running.unrecorded.push(Event { step: running.step.as_str(), detail: event });
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
                    running.declined |= change.payment_status == Some("declined");
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

    /// Records the outcome of the step `r` is at (logged as `event`), and of the steps before it not recorded
    /// yet, if the order is still where it was recorded last, in one statement ([`db::orders::record_step`],
    /// which also forgets the payment token when the saga is done and takes the bought units out of the cart
    /// when the order is confirmed). The order as it is now, or `None` if another driver moved it on first.
    async fn advance(
        &self,
        r: &Running,
        to: Step,
        status: Status,
        change: &Change,
        event: Option<&str>,
    ) -> Result<Option<OrderRow>, Error> {
        let mut events = r.unrecorded.clone();
        if let Some(event) = event {
            let detail =
                change.failure_reason.as_deref().map_or(event.to_owned(), |reason| format!("{event}: {reason}"));
            events.push(Event { step: r.step.as_str(), detail });
        }
        let announce = (to == Step::Done && status == Status::Confirmed).then(|| events::confirmed(&r.placed));
        let record = StepRecord {
            order_id: r.id,
            from: r.recorded.as_str(),
            to: to.as_str(),
            status: status.as_str(),
            reservation_id: change.reservation_id.or(r.reservation_id),
            authorization_id: change.authorization_id.as_deref().or(r.authorization_id.as_deref()),
            payment_status: change.payment_status.or(r.unrecorded_payment),
            failure_reason: change.failure_reason.as_deref(),
            lease: self.retry.lease,
            events: &events,
            bought: &r.lines,
            announce: announce.as_ref(),
        };
        let moved = if matches!(to, Step::Authorize | Step::Confirm) {
            // Progress on the way to CONFIRMED commits without waiting for the disk: were the database to
            // crash and lose it, the order would be back at `reserve`, whose calls (under the same keys) find
            // the first calls' results. Nobody has been told anything yet: the saga's last transition waits
            // for the disk, and with it for everything written before it.
            db::orders::record_step(self.unflushed.pool(), &record).await?
        } else {
            db::orders::record_step(&self.pool, &record).await?
        };
        if moved.is_some() && announce.is_some() {
            self.outbox.written();
        }
        if moved.is_some() && to == Step::Done {
            metrics::counter!("ec_orders_finished_total", "status" => status.as_str()).increment(1);
        }
        Ok(moved)
    }

    /// Records a transient failure: the step is tried again after `delay`.
    async fn retry_later(&self, r: &Running, error: &str, delay: Duration) -> Result<bool, Error> {
        let mut tx = self.pool.begin().await?;
        if !db::orders::schedule_retry(&mut tx, r.id, r.step.as_str(), delay).await? {
            return Ok(false);
        }
        db::order_events::insert(&mut tx, r.id, r.step.as_str(), "retry", error).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Gives up the lease, so the recovery worker takes the order when its next attempt is due.
    async fn let_go(&self, id: Uuid) -> Result<(), Error> {
        db::orders::release_lease(&self.pool, id).await
    }
}
