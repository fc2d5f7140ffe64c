//! Forgotten passwords: a link by e-mail to choose a new one.
//!
//! Asking ([`Resets::request`]) answers the same whether or not the address has an account, so the form tells
//! nobody who is a customer; it is throttled like sign-in by the login pages. For an account, it makes a token
//! (32 random bytes) and stores only its SHA-256, good for [`LIFETIME`] and one use; ends any earlier tokens of
//! the account; and, in one transaction, queues the message with the link and announces
//! `user.v1.password_reset_requested` (without the token: events leave the service). The token leaves the
//! service only in the message.
//!
//! Completing ([`Resets::complete`]) claims the token's row (`FOR UPDATE SKIP LOCKED`: of requests racing with
//! one link, one goes on and the others are refused at once), hashes and sets the new password, spends the
//! token and ends the account's other links, and leaves it to the caller to sign the account out everywhere.
//! A link that does not work costs no Argon2 hash. Changing the password or the email by other means ends the
//! open links too ([`end_open_links`]).

use std::time::Duration;

use uuid::Uuid;

use crate::{
    db,
    domain::{Email, Password, UserId},
    error::Error,
    events,
    links::{Links, hash, new_token},
    mail::{
        Language,
        content::password_reset_mail,
        queue::{self, Queued},
    },
    password,
};

/// How long a reset link works.
pub const LIFETIME: Duration = Duration::from_secs(3600);

/// Password resets, and what they need to send their links.
#[derive(Clone)]
pub struct Resets(pub Links);

impl Resets {
    /// Sends a reset link to the live account with address `email`, if there is one, in its language, and
    /// ends the account's earlier links.
    pub async fn request(&self, email: &str) -> Result<(), Error> {
        let Ok(email) = Email::parse(email) else { return Ok(()) };
        let links = &self.0;
        let Some(account) = db::find_credentials_by_email(&links.pool, &email).await? else { return Ok(()) };
        let Some(contact) = db::contact_of(&links.pool, account.id).await? else { return Ok(()) };
        let token = new_token();
        let reset_id = Uuid::now_v7();
        let link = links.to("oauth2/password/reset", &token);
        let language = Language::from_tag(&contact.language);
        let mail = password_reset_mail(&links.shop, language, contact.name.as_deref(), &link);
        let mut tx = links.pool.begin().await?;
        // The account's row is locked first, so two requests at once leave one link open, not two.
        let live: Option<Uuid> =
            sqlx::query_scalar("SELECT id FROM user_service.users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
                .bind(account.id)
                .fetch_optional(&mut *tx)
                .await?;
        if live.is_none() {
            return Ok(());
        }
        end_open_links(&mut tx, account.id).await?;
        sqlx::query(
            "INSERT INTO user_service.password_resets (id, user_id, token_hash, expires_at)
             VALUES ($1, $2, $3, now() + make_interval(secs => $4::float8))",
        )
        .bind(reset_id)
        .bind(account.id)
        .bind(hash(&token).as_ref())
        .bind(LIFETIME.as_secs_f64())
        .execute(&mut *tx)
        .await?;
        let queued = Queued {
            event_id: reset_id,
            kind: "password_reset",
            user_id: Some(account.id),
            to: &contact.email,
            mail: &mail,
        };
        queue::insert(&mut tx, &queued).await?;
        links.outbox.insert(&mut tx, &events::password_reset_requested(account.id)).await?;
        tx.commit().await?;
        links.outbox.written();
        links.sender.queued();
        tracing::info!(user_id = %account.id, "password reset asked for");
        Ok(())
    }

    /// Whether `token` is a reset link that still works (for the page that asks for the new password).
    pub async fn is_open(&self, token: &str) -> Result<bool, Error> {
        let open: Option<Uuid> = sqlx::query_scalar(
            "SELECT user_id FROM user_service.password_resets
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
        )
        .bind(hash(token).as_ref())
        .fetch_optional(&self.0.pool)
        .await?;
        Ok(open.is_some())
    }

    /// Spends `token` and gives its account the password `new`; the account. A token that is unknown, used,
    /// expired, or being spent by another request right now is `failed_precondition`, and costs no hash.
    pub async fn complete(&self, token: &str, new: Password) -> Result<UserId, Error> {
        let mut tx = self.0.pool.begin().await?;
        // Claimed (locked) before the costly hash: of requests racing with one link, one hashes, the others
        // find it taken and give up at once.
        let claimed: Option<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT id, user_id FROM user_service.password_resets
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() FOR UPDATE SKIP LOCKED",
        )
        .bind(hash(token).as_ref())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((_, user_id)) = claimed else { return Err(spent()) };
        let password_hash = password::hash(new).await?;
        let set = sqlx::query(
            "UPDATE user_service.users SET password_hash = $2, updated_at = now() WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(user_id)
        .bind(&password_hash)
        .execute(&mut *tx)
        .await?;
        if set.rows_affected() == 0 {
            return Err(spent());
        }
        end_open_links(&mut tx, user_id).await?;
        tx.commit().await?;
        tracing::info!(user_id = %user_id, "password reset");
        Ok(UserId(user_id))
    }
}

/// Ends every open reset link of account `user_id`: when one is used or a new one is asked for, and when the
/// account's password or email changes by other means.
pub async fn end_open_links(tx: &mut sqlx::PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE user_service.password_resets SET used_at = now() WHERE user_id = $1 AND used_at IS NULL")
        .bind(user_id)
        .execute(tx)
        .await?;
    Ok(())
}

fn spent() -> Error {
    Error::FailedPrecondition(
        "this reset link was used already, has expired, or is not one of ours; ask for a new one".into(),
    )
}
