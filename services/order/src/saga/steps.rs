//! What each saga step calls (the product service, the payment provider) under its idempotency key, and what
//! the answer comes to: on to the next step (or a compensation), or a retry.

use crate::{
    domain::PaymentToken,
    orders::{Status, Step},
    payment::{Authorize, PaymentError},
    product_client::StepError,
};

use super::{Change, Outcome, Running, Saga};

impl Saga {
    /// Runs the order's current step once.
    pub(super) async fn step(&self, r: &Running) -> Outcome {
        let key = |step: &str| format!("order:{}:{step}", r.id);
        let gives_up = r.attempts + 1 >= self.retry.forward_attempts;
        match r.step {
            Step::Reserve => match self.product.reserve(r.id, &r.lines).await {
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
                let token = match PaymentToken::parse(token) {
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
                match self.product.confirm(r.id, reservation).await {
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
                // Void next even with no authorisation recorded, unless the provider declined under the key: one
                // may have been made unanswered, or by a driver lost before it recorded it (Void looks it up).
                let next = if r.authorization_id.is_none() && r.declined { Step::Done } else { Step::Void };
                let status = if next == Step::Done { Status::Failed } else { r.status };
                let reservation = match r.reservation_id {
                    Some(reservation) => reservation,
                    // Reserving gave up unanswered, and may have held stock all the same. Asking again under
                    // the same key names that hold (or makes one now, which goes straight back).
                    None => match self.product.reserve(r.id, &r.lines).await {
                        Ok(reservation) => reservation,
                        Err(StepError::Refused { .. }) => return compensated(next, status, "nothing was held"),
                        Err(StepError::Transient(error)) => return Outcome::Retry { error },
                    },
                };
                match self.product.release(r.id, reservation).await {
                    Ok(()) => compensated(next, status, &format!("stock released ({reservation})")),
                    // Sold after all (a confirm that went through unrecorded): put it back instead.
                    Err(StepError::Refused { .. }) => match self.product.restock(r.id, reservation).await {
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
                match self.product.restock(r.id, reservation).await {
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
                let authorization = match r.authorization_id.clone() {
                    Some(authorization) => authorization,
                    // Unrecorded is not unheld: an authorisation whose answer was lost holds the shopper's money
                    // all the same. The provider says under the key whether there is one.
                    None => match self.payments.authorized(&key("authorize"), &r.id.to_string()).await {
                        Ok(Some(authorization)) => {
                            tracing::warn!(order = %r.id, authorization, "voiding an authorisation never recorded");
                            authorization
                        }
                        Ok(None) => return compensated(Step::Done, status, "nothing was authorised"),
                        Err(e) => return Outcome::Retry { error: e.to_string() },
                    },
                };
                let voided = match self.payments.void(&key("void"), &authorization).await {
                    // Captured after all: give the money back.
                    Err(PaymentError::Refused(_)) => {
                        self.payments.refund(&key("refund"), &authorization).await.map(|()| "refunded")
                    }
                    other => other.map(|()| "voided"),
                };
                match voided {
                    Ok(payment) => Outcome::Advance {
                        to: Step::Done,
                        status,
                        change: Change {
                            authorization_id: Some(authorization),
                            payment_status: Some(payment),
                            ..Change::default()
                        },
                        event: format!("payment {payment}"),
                    },
                    Err(e) => Outcome::Retry { error: e.to_string() },
                }
            }
            Step::Done => unreachable!("a finished saga runs no step"),
        }
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
