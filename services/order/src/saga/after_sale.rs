//! After the sale: cancelling a confirmed order (CANCELLED at once, then the saga restocks and voids) and
//! shipping one (capturing its payment), each announced in the outbox with the change.

use std::time::Instant;

use uuid::Uuid;

use crate::{
    db,
    error::Error,
    events::{self, Placed},
    orders::{self, Status},
    payment::PaymentError,
};

use super::Saga;

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
        let failure_reason = format!("cancelled: {reason}").trim_end_matches([':', ' ']).to_owned();
        if !db::orders::cancel(&mut tx, id, user_id, &failure_reason).await? {
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
        db::order_events::insert(&mut tx, id, "cancel", "done", reason).await?;
        // What an order bought never changes, so it is read outside the transaction.
        let order = orders::get_own(&self.pool, user_id, id).await?;
        self.outbox.insert(&mut tx, &events::cancelled(&Placed::of(&order), reason)).await?;
        tx.commit().await?;
        self.outbox.written();
        self.run(id, until).await?;
        Ok(Cancelled::Now)
    }

    /// Marks confirmed order `id` as handed to the carrier under `tracking`, capturing its payment first.
    /// Shipping a shipped order again with the same tracking number leaves it as it is.
    pub async fn ship(&self, id: Uuid, tracking: &str) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        // Held until the order is marked shipped, so a cancellation waits and then finds it shipped.
        let Some(row) = db::orders::lock_for_shipping(&mut tx, id).await? else {
            return Err(Error::NotFound("order"));
        };
        match Status::parse(&row.status) {
            Status::Shipped if row.tracking_number.as_deref() == Some(tracking) => return Ok(()),
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
        let Some(authorization) = row.authorization_id else {
            return Err(Error::FailedPrecondition("the order has no payment to capture".into()));
        };
        match self.payments.capture(&format!("order:{id}:capture"), &authorization).await {
            Ok(()) => {}
            Err(PaymentError::Transient(_)) => {
                return Err(Error::Unavailable("the payment provider could not be reached; try again"));
            }
            Err(e) => return Err(Error::FailedPrecondition(format!("the payment could not be captured ({e})"))),
        }
        db::orders::mark_shipped(&mut tx, id, tracking).await?;
        db::order_events::insert(&mut tx, id, "ship", "done", tracking).await?;
        let Some(order) = orders::get(&self.pool, id).await? else { return Err(Error::NotFound("order")) };
        self.outbox.insert(&mut tx, &events::shipped(&Placed::of(&order), tracking)).await?;
        tx.commit().await?;
        self.outbox.written();
        Ok(())
    }
}
