//! The `order_events` table: an order's saga log, every step's outcome, written in the transaction of the
//! change it records. Besides [`insert`], the log is written by the statements that place an order and record
//! a saga step ([`super::orders::place`], [`super::orders::record_step`]).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Error;

/// A line of the log a saga step leaves: the step, and what it came to in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub step: &'static str,
    pub detail: String,
}

/// Writes one line of order `order_id`'s log.
pub async fn insert(
    tx: &mut PgConnection,
    order_id: Uuid,
    step: &str,
    outcome: &str,
    detail: &str,
) -> Result<(), Error> {
    sqlx::query("INSERT INTO order_service.order_events (order_id, step, outcome, detail) VALUES ($1, $2, $3, $4)")
        .bind(order_id)
        .bind(step)
        .bind(outcome)
        .bind(detail)
        .execute(tx)
        .await?;
    Ok(())
}
