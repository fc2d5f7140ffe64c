//! What can be done with accounts, and who may do it. Called by the RPC handlers ([`crate::api`]) with
//! parsed domain values and the caller the BFF vouched for, and by the `ec` command for operator tasks.
//!
//! The authorisation rule is the same everywhere: a caller acts on their own account; an admin on any.
//! Identity always comes from the caller metadata, never from the request body.

use ec_platform::{
    events::Outbox,
    identity::{Caller, Role},
    page_token::{self, PageTokens},
};
use sqlx::PgPool;

use crate::{
    db::{self, NameChange, NewUser, UserRow},
    domain::{DisplayName, Email, Password, UserId, normalize_email},
    error::{Error, UserError},
    events,
    mail::Language,
    password,
    throttle::{Client, Throttle, Verdict},
};

/// Whether the caller is an admin *now*. The token's roles are a claim made when it was issued; a demoted or
/// deleted admin's token says `admin` until it expires, so admin power is confirmed against the database.
async fn is_admin(pool: &PgPool, caller: &Caller) -> Result<bool, Error> {
    if !caller.is_admin() {
        return Ok(false);
    }
    let current = db::find_user(pool, UserId(caller.user_id)).await?;
    Ok(current.is_some_and(|user| user.roles.contains(&Role::Admin)))
}

pub(crate) async fn admin(pool: &PgPool, caller: &Caller) -> Result<(), Error> {
    if is_admin(pool, caller).await? { Ok(()) } else { Err(Error::PermissionDenied("this needs the admin role")) }
}

/// A caller acts on their own account; an admin on any.
pub(crate) async fn may_act_for(pool: &PgPool, caller: &Caller, id: UserId) -> Result<(), Error> {
    if caller.user_id == id.0 || is_admin(pool, caller).await? {
        Ok(())
    } else {
        Err(Error::PermissionDenied("you may only act on your own account"))
    }
}

/// Registers a customer account, announced in `outbox` (`user.v1.registered`).
pub async fn create(
    pool: &PgPool,
    outbox: &Outbox,
    email: Email,
    password: Password,
    name: Option<DisplayName>,
    language: Language,
) -> Result<UserRow, Error> {
    let password_hash = password::hash(password).await?;
    let id = UserId::new();
    let mut tx = pool.begin().await?;
    let new = NewUser { id, email: &email, name: name.as_ref(), password_hash: &password_hash, language };
    let row = db::insert_user(&mut tx, new).await?;
    outbox.insert(&mut tx, &events::registered(&row)).await?;
    tx.commit().await?;
    outbox.written();
    tracing::info!(user_id = %id, "account created");
    Ok(row)
}

/// Reads an account the caller may see.
pub async fn get(pool: &PgPool, caller: &Caller, id: UserId) -> Result<UserRow, Error> {
    may_act_for(pool, caller, id).await?;
    db::find_user(pool, id).await?.ok_or(Error::NotFound("user"))
}

/// A change to an account's details.
#[derive(Debug)]
pub struct Change<'a> {
    /// A new email, if any.
    pub email: Option<Email>,
    pub name: NameChange<'a>,
    /// The holder's current password: needed when the holder changes the email.
    pub current_password: &'a str,
}

/// Makes `change` to an account the caller may act on. A new address is announced in `outbox`
/// (`user.v1.email_changed`), which sends it a verification link ([`crate::verification`]).
pub async fn update(
    pool: &PgPool,
    outbox: &Outbox,
    throttle: &Throttle,
    caller: &Caller,
    id: UserId,
    change: Change<'_>,
) -> Result<UserRow, Error> {
    may_act_for(pool, caller, id).await?;
    let Change { email, name, current_password } = change;
    if email.is_some() && caller.user_id == id.0 {
        confirm_password(pool, throttle, id, current_password, "to change the email").await?;
    }
    let mut tx = pool.begin().await?;
    let updated = db::update_user(&mut tx, id, email.as_ref(), name).await?.ok_or(Error::NotFound("user"))?;
    if updated.email_changed {
        outbox.insert(&mut tx, &events::email_changed(&updated.user)).await?;
    }
    tx.commit().await?;
    if updated.email_changed {
        outbox.written();
    }
    tracing::info!(user_id = %id, by = %caller.user_id, email_changed = updated.email_changed, "account updated");
    Ok(updated.user)
}

/// Replaces the caller's own password after checking the current one, under the sign-in throttle: a stolen
/// access token must not be a faster way to guess the password than the sign-in page.
pub async fn change_password(
    pool: &PgPool,
    throttle: &Throttle,
    caller: &Caller,
    id: UserId,
    current: String,
    new: Password,
) -> Result<(), Error> {
    if caller.user_id != id.0 {
        return Err(Error::PermissionDenied("only the account holder can change its password"));
    }
    let stored = confirm_password(pool, throttle, id, &current, "to change the password").await?;
    let hash = password::hash(new).await?;
    // Conditional on the hash just checked: a concurrent change that checked the same password and landed
    // first makes this one's "current password" wrong.
    if !db::set_password_hash(pool, id, &stored, &hash).await? {
        return match db::find_password_hash(pool, id).await? {
            Some(_) => Err(Error::FailedPrecondition("the current password is wrong".into())),
            None => Err(Error::NotFound("user")),
        };
    }
    tracing::info!(user_id = %id, "password changed");
    Ok(())
}

/// Checks `current`, the account holder's password, before a change only the holder may make with it (a
/// new password or email, closing the account), under the sign-in throttle: a stolen access token must not be
/// a faster way to guess the password than the sign-in page. Answers the stored hash it matched.
async fn confirm_password(
    pool: &PgPool,
    throttle: &Throttle,
    id: UserId,
    current: &str,
    purpose: &'static str,
) -> Result<String, Error> {
    if current.is_empty() {
        return Err(Error::InvalidArgument(format!("current_password is required {purpose}")));
    }
    let account = db::find_user(pool, id).await?.ok_or(Error::NotFound("user"))?;
    // Keyed as the sign-in page keys it, so both count against one allowance.
    let throttle_key = normalize_email(&account.email);
    if let Verdict::Wait { retry_after } = throttle.begin(&throttle_key, Client::Api).await {
        return Err(UserError::TooManyAttempts { retry_after }.into());
    }
    let stored = db::find_password_hash(pool, id).await?.ok_or(Error::NotFound("user"))?;
    if !password::verify(current.to_owned(), Some(stored.clone())).await? {
        throttle.failed(&throttle_key, Client::Api).await;
        return Err(Error::FailedPrecondition("the current password is wrong".into()));
    }
    throttle.succeeded(&throttle_key, Client::Api).await;
    Ok(stored)
}

/// Soft-deletes an account the caller may act on: the holder with its current password, or an admin.
pub async fn delete(
    pool: &PgPool,
    throttle: &Throttle,
    caller: &Caller,
    id: UserId,
    current_password: &str,
) -> Result<(), Error> {
    may_act_for(pool, caller, id).await?;
    if caller.user_id == id.0 {
        confirm_password(pool, throttle, id, current_password, "to delete the account").await?;
    }
    if !db::soft_delete_user(pool, id).await? {
        return Err(Error::NotFound("user"));
    }
    tracing::info!(user_id = %id, by = %caller.user_id, "account deleted");
    Ok(())
}

/// One page of accounts and the token of the next (admin only). Tokens are signed with `tokens` and bound to
/// the filter, so a token of one search cannot page another.
pub async fn list(
    pool: &PgPool,
    tokens: &PageTokens,
    caller: &Caller,
    page_size: i32,
    page_token: &str,
    email_contains: &str,
) -> Result<(Vec<UserRow>, String), Error> {
    admin(pool, caller).await?;
    let size = page_token::page_size(page_size)?;
    let filter = Some(email_contains.trim()).filter(|f| !f.is_empty());
    if filter.is_some_and(|f| f.chars().count() > Email::MAX_CHARS) {
        return Err(Error::InvalidArgument("email_contains is too long".into()));
    }
    // Matched on the key addresses are unique under, so a look-alike spelling finds the account too.
    let filter = filter.map(normalize_email);
    let binding = page_token::binding(&[b"users", filter.as_deref().unwrap_or_default().as_bytes()]);
    let now = chrono::Utc::now().timestamp();
    let after = tokens.after_id(page_token, &binding, now)?;
    // One row more than asked tells whether another page exists.
    let mut rows = db::list_users(pool, after, size + 1, filter.as_deref()).await?;
    let next = if rows.len() > size as usize {
        rows.truncate(size as usize);
        rows.last().map(|last| tokens.encode(&binding, last.id.as_bytes(), now)).unwrap_or_default()
    } else {
        String::new()
    };
    Ok((rows, next))
}

/// Grants or revokes the admin role (admin only, never on oneself, and granted only to an account whose email
/// is verified).
pub async fn set_role(pool: &PgPool, caller: &Caller, id: UserId, role: Role, granted: bool) -> Result<UserRow, Error> {
    admin(pool, caller).await?;
    if role == Role::Customer {
        return Err(Error::InvalidArgument("every account has ROLE_CUSTOMER; it cannot be changed".into()));
    }
    if !granted && caller.user_id == id.0 {
        return Err(Error::FailedPrecondition("an admin cannot remove their own admin role".into()));
    }
    // Checked in the statement, so an address changed a moment before cannot slip through.
    let Some(row) = db::set_role(pool, id, role, granted, true).await? else {
        return match db::find_user(pool, id).await? {
            Some(_) => Err(Error::FailedPrecondition(
                "the account's email is not verified; only a verified account can be made an admin".into(),
            )),
            None => Err(Error::NotFound("user")),
        };
    };
    tracing::info!(user_id = %id, by = %caller.user_id, role = role.as_str(), granted, "role changed");
    Ok(row)
}

/// Makes the live account with `email` an admin. For operators (`ec user make-admin`), who are trusted by
/// having database access: the first admin of a shop with no mail server yet must be possible, so this does not
/// ask for a verified email as [`set_role`] does.
pub async fn make_admin_by_email(pool: &PgPool, email: &Email) -> Result<UserRow, Error> {
    let credentials = db::find_credentials_by_email(pool, email).await?.ok_or(Error::NotFound("user"))?;
    let id = UserId(credentials.id);
    let row = db::set_role(pool, id, Role::Admin, true, false).await?.ok_or(Error::NotFound("user"))?;
    tracing::info!(user_id = %id, "admin role granted by an operator");
    Ok(row)
}

/// The account an email and password pair belongs to. Every failure is the same [`UserError::InvalidCredentials`]
/// and costs one full hash check, whether the account exists or not.
pub async fn verify_password(pool: &PgPool, email: &str, password: String) -> Result<(UserId, Vec<Role>), Error> {
    // A malformed email cannot belong to an account, but still costs a check, like an unknown one.
    let credentials = match Email::parse(email) {
        Ok(email) => db::find_credentials_by_email(pool, &email).await?,
        Err(_) => None,
    };
    let (id, roles, stored) = match credentials {
        Some(c) => (Some(c.id), c.roles, Some(c.password_hash)),
        None => (None, Vec::new(), None),
    };
    match (password::verify(password, stored).await?, id) {
        (true, Some(id)) => Ok((UserId(id), roles)),
        _ => Err(UserError::InvalidCredentials.into()),
    }
}
