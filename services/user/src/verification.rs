//! Email verification: a link mailed to an account's address, which the holder follows to show the address
//! reaches them.
//!
//! The shop sends one by itself: this module subscribes to its own service's events ([`subscription`]) and
//! answers `user.v1.registered` and `user.v1.email_changed` with a link to the address the event names, queued
//! once per event. SendVerificationEmail sends another ([`Verifications::resend`]), at most one a minute. A
//! link works for [`LIFETIME`], once, and only while the account still has the address it was sent to; a newer
//! link or a change of address ends it. Following it ([`Verifications::verify`], the login pages'
//! `/oauth2/email/verify`) marks the address verified and announces `user.v1.email_verified`.
//!
//! What an unverified account may do: everything a customer does (shop, pay, see its orders), because the
//! shop's mail reaching it is not what makes an order legitimate. It cannot be made an admin
//! ([`crate::accounts::set_role`]): back-office power goes to an address shown to reach its holder. Tokens say
//! which it is in the standard `email_verified` claim ([`crate::login`]), as of when they were issued.

use std::{sync::Arc, time::Duration};

use ec_platform::{
    events::{Delivered, Handler, HandlerError, Subscription},
    identity::Caller,
};
use ec_proto::user::v1::{__buffa::oneof::user_event::Event, UserEvent};
use futures::future::BoxFuture;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    accounts,
    domain::UserId,
    error::{Error, UserError},
    events,
    links::{Links, hash, new_token},
    mail::{
        Language,
        content::verification_mail,
        queue::{self, Queued},
    },
};

/// How long a verification link works.
pub const LIFETIME: Duration = Duration::from_secs(3 * 24 * 3600);

/// How long after a link another can be asked for.
pub const RESEND_AFTER: Duration = Duration::from_secs(60);

/// The mail kind of verification links.
const KIND: &str = "email_verification";

/// Email verification, and what it needs to send its links.
#[derive(Clone)]
pub struct Verifications(pub Links);

/// What following a link did.
#[derive(Debug, PartialEq, Eq)]
pub enum Followed {
    /// The account's address, `email`, is verified now.
    Verified { email: String },
    /// The link is unknown, used, expired, or for an address the account no longer has.
    Spent,
}

impl Verifications {
    /// Mails a new link to account `id`'s address for a `caller` who may act on it, unless the address is
    /// verified already or a link went less than [`RESEND_AFTER`] ago.
    pub async fn resend(&self, caller: &Caller, id: UserId) -> Result<(), Error> {
        accounts::may_act_for(&self.0.pool, caller, id).await?;
        let mut tx = self.0.pool.begin().await?;
        // The account's row is locked first, in a statement of its own, so the time of the last link is read
        // after any request that held the lock has committed its link: of requests at once, one sends.
        let verified: Option<bool> = sqlx::query_scalar(
            "SELECT email_verified_at IS NOT NULL FROM user_service.users
             WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        )
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let since_last: Option<f64> = sqlx::query_scalar(
            "SELECT extract(epoch FROM now() - max(created_at))::float8
             FROM user_service.email_verifications WHERE user_id = $1",
        )
        .bind(id.0)
        .fetch_one(&mut *tx)
        .await?;
        let state = verified.map(|verified| (verified, since_last));
        let Some((verified, since_last)) = state else { return Err(Error::NotFound("user")) };
        if verified {
            return Err(Error::FailedPrecondition("the email address is verified already".into()));
        }
        if let Some(since_last) = since_last.filter(|s| *s < RESEND_AFTER.as_secs_f64()) {
            let retry_after = RESEND_AFTER.saturating_sub(Duration::from_secs_f64(since_last.max(0.0)));
            return Err(UserError::TooSoon { retry_after }.into());
        }
        self.send_in(&mut tx, Uuid::now_v7(), id.0, None).await?;
        tx.commit().await?;
        self.0.sender.queued();
        tracing::info!(user_id = %id, by = %caller.user_id, "verification link sent again");
        Ok(())
    }

    /// Spends the link's `token` and marks the address it was sent to verified, if the account still has it.
    pub async fn verify(&self, token: &str) -> Result<Followed, Error> {
        let mut tx = self.0.pool.begin().await?;
        // The account's row is locked before the link's, in the order an address change and a resend take them,
        // so a link followed at the same moment deadlocks with neither.
        let owner: Option<Uuid> =
            sqlx::query_scalar("SELECT user_id FROM user_service.email_verifications WHERE token_hash = $1")
                .bind(hash(token).as_ref())
                .fetch_optional(&mut *tx)
                .await?;
        let Some(owner) = owner else { return Ok(Followed::Spent) };
        sqlx::query("SELECT 1 FROM user_service.users WHERE id = $1 FOR UPDATE").bind(owner).execute(&mut *tx).await?;
        let claimed: Option<(Uuid, Uuid, String)> = sqlx::query_as(
            "SELECT id, user_id, email FROM user_service.email_verifications
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() FOR UPDATE SKIP LOCKED",
        )
        .bind(hash(token).as_ref())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((link_id, user_id, email)) = claimed else { return Ok(Followed::Spent) };
        // The address it was sent to, whatever its letter case now (a change of case is no change).
        let verified = sqlx::query(
            "UPDATE user_service.users SET email_verified_at = now(), updated_at = now()
             WHERE id = $1 AND deleted_at IS NULL AND lower(email) = lower($2) AND email_verified_at IS NULL",
        )
        .bind(user_id)
        .bind(&email)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        sqlx::query("UPDATE user_service.email_verifications SET used_at = now() WHERE id = $1")
            .bind(link_id)
            .execute(&mut *tx)
            .await?;
        if !verified {
            tx.commit().await?;
            return Ok(Followed::Spent);
        }
        self.0.outbox.insert(&mut tx, &events::email_verified(user_id, &email)).await?;
        tx.commit().await?;
        self.0.outbox.written();
        tracing::info!(user_id = %user_id, "email verified");
        Ok(Followed::Verified { email })
    }

    /// Queues a link to account `user_id`'s address in `tx`, because of `cause` (an event's id, or a fresh id
    /// for a resend), unless: the account is gone or verified; `expected` is given and the account's address
    /// is another by now (that change sends its own); or `cause` sent one already (an event handed over
    /// again). Ends the account's earlier links. Whether a link was queued.
    async fn send_in(
        &self,
        tx: &mut PgConnection,
        cause: Uuid,
        user_id: Uuid,
        expected: Option<&str>,
    ) -> Result<bool, Error> {
        let account: Option<(String, Option<String>, String, bool, bool)> = sqlx::query_as(
            "SELECT email, name, language, email_verified_at IS NOT NULL,
                    EXISTS (SELECT 1 FROM user_service.email_verifications WHERE id = $2)
             FROM user_service.users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        )
        .bind(user_id)
        .bind(cause)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((email, name, language, verified, sent)) = account else { return Ok(false) };
        if verified || sent || expected.is_some_and(|expected| expected.to_lowercase() != email.to_lowercase()) {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE user_service.email_verifications SET used_at = now() WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let token = new_token();
        sqlx::query(
            "INSERT INTO user_service.email_verifications (id, user_id, email, token_hash, expires_at)
             VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::float8))",
        )
        .bind(cause)
        .bind(user_id)
        .bind(&email)
        .bind(hash(&token).as_ref())
        .bind(LIFETIME.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        let links = &self.0;
        let link = links.to("oauth2/email/verify", &token);
        let mail = verification_mail(&links.shop, Language::from_tag(&language), name.as_deref(), &link);
        let queued = Queued { event_id: cause, kind: KIND, user_id: Some(user_id), to: &email, mail: &mail };
        queue::insert(tx, &queued).await?;
        Ok(true)
    }

    /// Queues the link `delivered` calls for (a sign-up or a new address); whether one was queued.
    async fn answer(&self, delivered: &Delivered) -> Result<bool, Error> {
        let event: UserEvent = match serde_json::from_slice(&delivered.payload) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(event = %delivered.id, subject = delivered.subject, error = %e, "a user event that cannot be read: no link");
                return Ok(false);
            }
        };
        let (user_id, email) = match &event.event {
            Some(Event::AccountRegistered(e)) => (&e.user_id, &e.email),
            Some(Event::EmailChanged(e)) => (&e.user_id, &e.email),
            _ => return Ok(false),
        };
        let Ok(user_id) = user_id.parse::<Uuid>() else { return Ok(false) };
        let mut tx = self.0.pool.begin().await?;
        let queued = self.send_in(&mut tx, delivered.id, user_id, Some(email)).await?;
        tx.commit().await?;
        Ok(queued)
    }
}

/// The durable subscription to the user service's own events: its name is the JetStream consumer's.
pub fn subscription() -> Subscription {
    Subscription { name: "verifier", subjects: vec!["user.v1.*".to_owned()] }
}

/// Sends the link each sign-up and new address calls for, and tells the sender.
pub fn handler(verifications: Verifications) -> Handler {
    Arc::new(move |delivered: Delivered| -> BoxFuture<'static, Result<(), HandlerError>> {
        let verifications = verifications.clone();
        Box::pin(async move {
            if verifications.answer(&delivered).await.map_err(|e| HandlerError(e.to_string()))? {
                verifications.0.sender.queued();
            }
            Ok(())
        })
    })
}

/// Marks live account `id`'s current address verified without a link. For operators and the development
/// demo accounts, whose addresses are trusted by whoever has the database.
pub async fn mark_verified(pool: &sqlx::PgPool, id: UserId) -> Result<(), Error> {
    sqlx::query(
        "UPDATE user_service.users SET email_verified_at = coalesce(email_verified_at, now())
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id.0)
    .execute(pool)
    .await?;
    Ok(())
}
