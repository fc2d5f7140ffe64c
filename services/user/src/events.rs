//! The user service's domain events (`user.v1.UserEvent`, `proto/user/v1/events.proto`), written to its
//! outbox (`user_service.outbox`) in the transaction of the change each describes:
//!
//! | subject               | written by                                  |
//! |-----------------------|---------------------------------------------|
//! | `user.v1.registered`  | CreateUser ([`crate::accounts::create`])    |
//! | `user.v1.password_reset_requested` | the forgotten-password page ([`crate::resets::Resets::request`]) |
//! | `user.v1.email_changed` | UpdateUser with a new address ([`crate::accounts::update`]) |
//! | `user.v1.email_verified` | the verification link ([`crate::verification::Verifications::verify`]) |

use ec_platform::events::{Header, NewEvent, Outbox};
use ec_proto::user::v1 as wire;

use crate::db::UserRow;

/// The service name in subjects and stream names.
pub const SERVICE: &str = "user";

/// The user service's outbox.
pub fn outbox() -> Outbox {
    Outbox::new(SERVICE, crate::SCHEMA)
}

/// `user.v1.registered`: the account of `row` was created.
pub fn registered(row: &UserRow) -> NewEvent {
    event(
        "user.v1.registered",
        wire::AccountRegistered {
            user_id: row.id.to_string(),
            email: row.email.clone(),
            name: row.name.clone(),
            ..Default::default()
        },
    )
}

/// `user.v1.password_reset_requested`: a reset link was sent to account `user_id`.
pub fn password_reset_requested(user_id: uuid::Uuid) -> NewEvent {
    event(
        "user.v1.password_reset_requested",
        wire::PasswordResetRequested { user_id: user_id.to_string(), ..Default::default() },
    )
}

/// `user.v1.email_changed`: the account of `row` has a new address, `row.email`.
pub fn email_changed(row: &UserRow) -> NewEvent {
    event(
        "user.v1.email_changed",
        wire::EmailChanged { user_id: row.id.to_string(), email: row.email.clone(), ..Default::default() },
    )
}

/// `user.v1.email_verified`: the holder of account `user_id` followed the link mailed to `email`.
pub fn email_verified(user_id: uuid::Uuid, email: &str) -> NewEvent {
    event(
        "user.v1.email_verified",
        wire::EmailVerified { user_id: user_id.to_string(), email: email.to_owned(), ..Default::default() },
    )
}

fn event(subject: &'static str, event: impl Into<Option<wire::__buffa::oneof::user_event::Event>>) -> NewEvent {
    let header = Header::now();
    let message = wire::UserEvent {
        event_id: header.id.to_string(),
        occurred_at: buffa::MessageField::some(header.occurred_at.into()),
        traceparent: header.traceparent.clone().unwrap_or_default(),
        event: event.into(),
        ..Default::default()
    };
    NewEvent::new(&header, subject, &message)
}
