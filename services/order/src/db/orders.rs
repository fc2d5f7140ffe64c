//! The `orders` table: an order's totals, address, status and payment status, and its saga's state (the step
//! it runs next, what earlier steps left, its attempts, when it is next due and who holds it).
//!
//! Every change of an order's status or step is one `UPDATE ... WHERE id = $1 AND <the state it must be in>`:
//! of two racing changes exactly one matches, and the other learns so from the row count instead of
//! overwriting it. (Releasing a saga's lease, and marking an order shipped under the row lock taken to ship
//! it, need no such condition.)
//! Two statements here write other tables too, and are one statement on purpose ([`place`],
//! [`record_step`]): each says what else it writes and why.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ec_platform::events::NewEvent;
use ec_platform::identity::Contact;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{
    domain::{Checkout, email_key},
    error::Error,
    orders::{Line, ListFilter, NewOrder, Order, PaymentStatus, Status, Units},
};

use super::order_events::Event;

/// The columns an [`OrderRow`] is read from.
const ORDER_COLUMNS: &str = "id, user_id, status, payment_status, currency_code, subtotal, \
     shipping_fee, total, shipping_address::text, failure_reason, tracking_number, created_at, updated_at, \
     cancelled_at, shipped_at, customer_email, customer_name";

/// An order's row as read (without its lines).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub payment_status: String,
    pub currency_code: String,
    pub subtotal: i64,
    pub shipping_fee: i64,
    pub total: i64,
    /// The address as JSON text.
    pub shipping_address: String,
    pub failure_reason: String,
    pub tracking_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub customer_email: String,
    pub customer_name: String,
}

impl OrderRow {
    /// The order of this row with its `lines`, which it shows by product name and SKU code.
    pub fn with_lines(self, mut lines: Vec<Line>) -> Order {
        lines.sort_by(|a, b| (&a.product_name, &a.sku_code).cmp(&(&b.product_name, &b.sku_code)));
        Order {
            id: self.id,
            user_id: self.user_id,
            status: Status::parse(&self.status),
            payment_status: PaymentStatus::parse(&self.payment_status),
            currency_code: self.currency_code,
            subtotal: self.subtotal,
            shipping_fee: self.shipping_fee,
            total: self.total,
            // Written by `place` from an `Address`, so it reads back as one.
            address: serde_json::from_str(&self.shipping_address).expect("a stored shipping address is an Address"),
            failure_reason: self.failure_reason,
            tracking_number: self.tracking_number,
            created_at: self.created_at,
            updated_at: self.updated_at,
            cancelled_at: self.cancelled_at,
            shipped_at: self.shipped_at,
            customer: Contact { email: self.customer_email, name: self.customer_name },
            lines,
        }
    }
}

/// Places `new` for `customer` under `checkout`'s idempotency key, held by its caller for `lease`; whether it was placed
/// (`false`: the key is taken, and nothing was written).
///
/// One statement writes five tables: the key (`checkout_keys`), the order, its lines (`order_items`), the
/// card token the saga will need (`payment_tokens`) and its first event (`order_events`), so the key commits
/// with the order it names, or not at all. Every insert reads the key's, so none happens when the key is
/// taken; a concurrent call with the same key waits on the key's index entry, then finds it taken.
pub async fn place(
    pool: &PgPool,
    checkout: &Checkout,
    customer: &Contact,
    new: &NewOrder,
    lease: Duration,
) -> Result<bool, Error> {
    let placed: Option<Uuid> = sqlx::query_scalar(
        "WITH keyed AS (
             INSERT INTO order_service.checkout_keys (user_id, key, request_hash, order_id) VALUES ($2, $8, $9, $1)
             ON CONFLICT DO NOTHING RETURNING order_id
         ), placed AS (
             INSERT INTO order_service.orders
                 (id, user_id, currency_code, subtotal, shipping_fee, total, shipping_address, lease_until,
                  customer_email, customer_name, customer_email_key)
             SELECT order_id, $2, $3, $4, $5, $4 + $5, $6::text::jsonb,
                    now() + make_interval(secs => $7::double precision), $17, $18, $19
             FROM keyed RETURNING id
         ), lines AS (
             INSERT INTO order_service.order_items
                 (order_id, sku_id, product_id, product_name, sku_code, quantity, unit_price)
             SELECT placed.id, l.* FROM placed,
                 unnest($11::uuid[], $12::uuid[], $13::text[], $14::text[], $15::bigint[], $16::bigint[]) AS l
         ), token AS (
             INSERT INTO order_service.payment_tokens (order_id, token) SELECT id, $10 FROM placed
         )
         INSERT INTO order_service.order_events (order_id, step, outcome, detail)
         SELECT id, 'place', 'placed', '' FROM placed RETURNING order_id",
    )
    .bind(new.id)
    .bind(new.user_id)
    .bind(&new.currency_code)
    .bind(new.subtotal)
    .bind(new.shipping_fee)
    .bind(serde_json::to_string(&checkout.address).expect("an address serializes"))
    .bind(lease.as_secs_f64())
    .bind(checkout.key.as_str())
    .bind(checkout.digest())
    .bind(checkout.payment_token.as_str())
    .bind(new.lines.iter().map(|l| l.sku_id).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.product_id).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.product_name.clone()).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.sku_code.clone()).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.quantity).collect::<Vec<_>>())
    .bind(new.lines.iter().map(|l| l.unit_price).collect::<Vec<_>>())
    .bind(&customer.email)
    .bind(&customer.name)
    .bind(email_key(&customer.email))
    .fetch_optional(pool)
    .await?;
    Ok(placed.is_some())
}

/// Order `id`'s row, whoever's it is.
pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<OrderRow>, Error> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {ORDER_COLUMNS} FROM order_service.orders WHERE id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

/// Up to `limit` orders' rows matching `filter`, newest first, older than `before` if given.
///
/// Only the filter's conditions are in the statement, so each combination is planned for what it asks (an
/// email's prefix from its index, an account's orders from theirs) rather than one plan for every case.
pub async fn list(pool: &PgPool, filter: ListFilter, before: Option<Uuid>, limit: i64) -> Result<Vec<OrderRow>, Error> {
    let mut query: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("SELECT {ORDER_COLUMNS} FROM order_service.orders WHERE true"));
    if let Some(user_id) = filter.user_id {
        query.push(" AND user_id = ").push_bind(user_id);
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        query.push(" AND status = ANY(").push_bind(statuses).push(")");
    }
    if let Some(prefix) = filter.customer_email {
        // A range of the index's byte order (text_pattern_ops): from the prefix to the first text after all
        // that start with it.
        query.push(" AND customer_email_key ~>=~ ").push_bind(prefix.clone());
        if let Some(end) = past_prefix(&prefix) {
            query.push(" AND customer_email_key ~<~ ").push_bind(end);
        }
    }
    if let Some(after) = filter.placed_after {
        query.push(" AND created_at >= ").push_bind(after);
    }
    if let Some(until) = filter.placed_before {
        query.push(" AND created_at < ").push_bind(until);
    }
    if let Some(before) = before {
        query.push(" AND id < ").push_bind(before);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
    Ok(query.build_query_as().fetch_all(pool).await?)
}

/// The first text, in code-point (so UTF-8 byte) order, after every text that starts with `prefix`: the
/// prefix with its last character's successor; `None` when there is no such text (nothing follows U+10FFFF).
fn past_prefix(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=0x10FFFF).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// Takes the lease, for `lease`, on up to `batch` orders whose saga is unfinished, due and held by no one
/// (`FOR UPDATE SKIP LOCKED`, so replicas share them without waiting on each other); their ids.
pub async fn take_due(pool: &PgPool, batch: i64, lease: Duration) -> Result<Vec<Uuid>, Error> {
    Ok(sqlx::query_scalar(
        "WITH due AS (
             SELECT id FROM order_service.orders
             WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
         )
         UPDATE order_service.orders o SET lease_until = now() + make_interval(secs => $2::double precision)
         FROM due WHERE o.id = due.id RETURNING o.id",
    )
    .bind(batch)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?)
}

/// Takes the lease, for `lease`, on order `id` if its saga is unfinished and no live driver holds it; whether
/// it was taken.
pub async fn claim(pool: &PgPool, id: Uuid, lease: Duration) -> Result<bool, Error> {
    let claimed: Option<Uuid> = sqlx::query_scalar(
        "UPDATE order_service.orders SET lease_until = now() + make_interval(secs => $2::double precision)
         WHERE id = $1 AND step <> 'done' AND (lease_until IS NULL OR lease_until < now()) RETURNING id",
    )
    .bind(id)
    .bind(lease.as_secs_f64())
    .fetch_optional(pool)
    .await?;
    Ok(claimed.is_some())
}

/// What a saga driver reads of an unfinished order (its lines are [`super::order_items::units_of`]).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SagaRow {
    pub status: String,
    pub step: String,
    pub reservation_id: Option<Uuid>,
    pub authorization_id: Option<String>,
    pub attempts: i32,
    pub total: i64,
    pub currency_code: String,
    /// The card token, while the saga may still need it (`payment_tokens`).
    pub token: Option<String>,
}

/// Order `id`'s saga state, with its card token, if its saga is unfinished.
pub async fn saga_state(pool: &PgPool, id: Uuid) -> Result<Option<SagaRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT o.status, o.step, o.reservation_id, o.authorization_id, o.attempts, o.total,
                o.currency_code, t.token
         FROM order_service.orders o LEFT JOIN order_service.payment_tokens t ON t.order_id = o.id
         WHERE o.id = $1 AND o.step <> 'done'",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?)
}

/// A saga transition for [`record_step`].
#[derive(Debug)]
pub struct StepRecord<'a> {
    pub order_id: Uuid,
    /// The step the row must still be at.
    pub from: &'a str,
    pub to: &'a str,
    pub status: &'a str,
    /// Set if given; otherwise kept as they are.
    pub reservation_id: Option<Uuid>,
    pub authorization_id: Option<&'a str>,
    pub payment_status: Option<&'a str>,
    pub failure_reason: Option<&'a str>,
    /// How long the driver goes on holding the order (unless the saga is done).
    pub lease: Duration,
    /// The log lines, one per step recorded (logged as `done`).
    pub events: &'a [Event],
    /// What the order bought: what leaves the cart when the order is confirmed.
    pub bought: &'a [Units],
    /// The event the transition announces, written to the outbox with it.
    pub announce: Option<&'a NewEvent>,
}

/// Moves order `record.order_id` from step `record.from` to `record.to`, if it is still at `from`; the order's
/// row as it is now, or `None` if another driver moved it on first.
///
/// One statement, so a transition is written whole or not at all, in one round trip: besides the order's row
/// it writes the step's log lines (`order_events`); when the saga is done it deletes the card token
/// (`payment_tokens`); and when the order is confirmed it takes the bought units out of the cart (`carts`,
/// `cart_items`), locking the cart's row first, as every change of a cart does, so this and a concurrent
/// change of the cart queue instead of deadlocking; and it writes the event it announces (`outbox`). A line goes when no more than the bought units are left
/// in it; units added since the checkout read the cart stay. Forward steps change no indexed column
/// (`next_attempt_at` stays as it is unless a retry had pushed it out), so PostgreSQL updates the row in
/// place (a HOT update).
pub async fn record_step(pool: &PgPool, record: &StepRecord<'_>) -> Result<Option<OrderRow>, Error> {
    let (skus, quantities): (Vec<Uuid>, Vec<i64>) = record.bought.iter().map(|u| (u.sku_id, u.quantity)).unzip();
    let (steps, details): (Vec<&str>, Vec<&str>) =
        record.events.iter().map(|event| (event.step, event.detail.as_str())).unzip();
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
         ), announced AS (
             INSERT INTO order_service.outbox (id, subject, payload, traceparent, occurred_at)
             SELECT $14, $15, $16, $17, $18 FROM moved WHERE $14::uuid IS NOT NULL
         )
         SELECT * FROM moved"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(record.order_id)
        .bind(record.from)
        .bind(record.to)
        .bind(record.status)
        .bind(record.reservation_id)
        .bind(record.authorization_id)
        .bind(record.payment_status)
        .bind(record.failure_reason)
        .bind(record.lease.as_secs_f64())
        .bind(steps)
        .bind(skus)
        .bind(details)
        .bind(quantities)
        .bind(record.announce.map(|event| event.id))
        .bind(record.announce.map(|event| event.subject))
        .bind(record.announce.map(|event| event.payload.as_str()))
        .bind(record.announce.and_then(|event| event.traceparent.as_deref()))
        .bind(record.announce.map(|event| event.occurred_at))
        .fetch_optional(pool)
        .await?)
}

/// Counts a failed attempt of order `id`'s `step` and makes it due again after `delay`, if the order is still
/// at that step; whether it was.
pub async fn schedule_retry(tx: &mut PgConnection, id: Uuid, step: &str, delay: Duration) -> Result<bool, Error> {
    let moved = sqlx::query(
        "UPDATE order_service.orders
         SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $3::double precision),
             updated_at = now()
         WHERE id = $1 AND step = $2",
    )
    .bind(id)
    .bind(step)
    .bind(delay.as_secs_f64())
    .execute(tx)
    .await?
    .rows_affected();
    Ok(moved > 0)
}

/// Gives up the lease on order `id`.
pub async fn release_lease(pool: &PgPool, id: Uuid) -> Result<(), Error> {
    sqlx::query("UPDATE order_service.orders SET lease_until = NULL WHERE id = $1").bind(id).execute(pool).await?;
    Ok(())
}

/// Makes `user_id`'s order `id` CANCELLED, with `reason` as its failure reason and its saga due at `restock`
/// at once, if it is CONFIRMED; whether it was.
pub async fn cancel(tx: &mut PgConnection, id: Uuid, user_id: Uuid, reason: &str) -> Result<bool, Error> {
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE order_service.orders
         SET status = 'cancelled', step = 'restock', cancelled_at = now(), updated_at = now(),
             failure_reason = $3, attempts = 0, next_attempt_at = now(), lease_until = NULL
         WHERE id = $1 AND user_id = $2 AND status = 'confirmed' RETURNING status",
    )
    .bind(id)
    .bind(user_id)
    .bind(reason)
    .fetch_optional(tx)
    .await?;
    Ok(status.is_some())
}

/// What shipping an order reads of it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ShippingRow {
    pub status: String,
    pub tracking_number: Option<String>,
    pub authorization_id: Option<String>,
}

/// Order `id`'s row, locked until `tx` ends, as shipping needs it.
pub async fn lock_for_shipping(tx: &mut PgConnection, id: Uuid) -> Result<Option<ShippingRow>, Error> {
    Ok(sqlx::query_as(
        "SELECT status, tracking_number, authorization_id FROM order_service.orders WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(tx)
    .await?)
}

/// Marks order `id` SHIPPED under `tracking`, its payment captured.
pub async fn mark_shipped(tx: &mut PgConnection, id: Uuid, tracking: &str) -> Result<(), Error> {
    sqlx::query(
        "UPDATE order_service.orders
         SET status = 'shipped', payment_status = 'captured', tracking_number = $2, shipped_at = now(),
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(tracking)
    .execute(tx)
    .await?;
    Ok(())
}

/// How long the longest-waiting unfinished saga has been due without anyone driving it (no live lease), in
/// seconds; 0 when none is waiting. What the recovery worker has yet to catch up on.
pub async fn recovery_lag(pool: &PgPool) -> Result<f64, Error> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(next_attempt_at)), 0)::float8 FROM order_service.orders
         WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())",
    )
    .fetch_one(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::past_prefix;

    #[test]
    fn the_end_of_a_prefix_range_is_the_prefix_with_its_last_character_raised() {
        assert_eq!(past_prefix("hanako@").as_deref(), Some("hanakoA"));
        assert_eq!(past_prefix("やまだ").as_deref(), Some("やまち"));
        // Past the last code point, the character before it is raised; the surrogates are skipped.
        assert_eq!(past_prefix("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(past_prefix("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(past_prefix("\u{10FFFF}"), None);
        for prefix in ["a", "hanako@example", "山"] {
            let end = past_prefix(prefix).unwrap();
            for text in [prefix.to_owned(), format!("{prefix}\u{10FFFF}zzz"), format!("{prefix}~")] {
                assert!(prefix.as_bytes() <= text.as_bytes() && text.as_bytes() < end.as_bytes(), "{text}");
            }
        }
    }
}
