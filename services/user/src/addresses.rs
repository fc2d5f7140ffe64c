//! The address book: addresses an account's holder saved to ship to, offered at checkout.
//!
//! An address is checked as an order's shipping address is ([`Address::parse`]), so a saved one can always be
//! shipped to. An account keeps at most [`MAX_ADDRESSES`]; at most one is the default, and one is whenever the
//! book is not empty (the first saved becomes it; deleting it hands it to the newest left). Every change locks
//! the account's row first, so two changes to one book never interleave: the limit holds under concurrent
//! adds and the default never goes missing. The rule is the accounts' rule: a holder acts on their own book,
//! an admin on any; another account's address is not found.

use chrono::{DateTime, Utc};
use ec_platform::{address::Address, identity::Caller};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{accounts::may_act_for, domain::UserId, error::Error};

/// Most addresses one account keeps.
pub const MAX_ADDRESSES: i64 = 20;

const COLUMNS: &str = "id, recipient_name, line1, line2, city, region, postal_code, country_code, phone, is_default, \
                       created_at, updated_at";

/// A saved address.
#[derive(Debug, sqlx::FromRow)]
pub struct SavedAddress {
    pub id: Uuid,
    #[sqlx(flatten)]
    pub address: Address,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A saved address's id, as the client sent it.
pub fn parse_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::try_parse(raw).map_err(|_| Error::InvalidArgument("address_id must be a UUID".into()))
}

/// The account's addresses, the default first, then the newest.
pub async fn list(pool: &PgPool, caller: &Caller, user: UserId) -> Result<Vec<SavedAddress>, Error> {
    may_act_for(pool, caller, user).await?;
    if crate::db::find_user(pool, user).await?.is_none() {
        return Err(Error::NotFound("user"));
    }
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_service.addresses WHERE user_id = $1
         ORDER BY is_default DESC, created_at DESC, id DESC"
    )))
    .bind(user.0)
    .fetch_all(pool)
    .await?)
}

/// Saves `address` in the account's book; it becomes the default when `make_default` or when it is the first.
pub async fn add(
    pool: &PgPool,
    caller: &Caller,
    user: UserId,
    address: &Address,
    make_default: bool,
) -> Result<SavedAddress, Error> {
    may_act_for(pool, caller, user).await?;
    let mut tx = pool.begin().await?;
    lock_account(&mut tx, user).await?;
    let saved: i64 = sqlx::query_scalar("SELECT count(*) FROM user_service.addresses WHERE user_id = $1")
        .bind(user.0)
        .fetch_one(&mut *tx)
        .await?;
    if saved >= MAX_ADDRESSES {
        return Err(Error::FailedPrecondition(format!(
            "the address book holds {MAX_ADDRESSES} addresses already: delete one first"
        )));
    }
    let is_default = make_default || saved == 0;
    if is_default {
        clear_default(&mut tx, user).await?;
    }
    let row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO user_service.addresses
             (id, user_id, recipient_name, line1, line2, city, region, postal_code, country_code, phone, is_default)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user.0);
    let row = bind_address(row, address).bind(is_default).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    Ok(row)
}

/// Replaces a saved address (when `address` is given), and makes it the default when `make_default`.
pub async fn update(
    pool: &PgPool,
    caller: &Caller,
    user: UserId,
    id: Uuid,
    address: Option<&Address>,
    make_default: bool,
) -> Result<SavedAddress, Error> {
    may_act_for(pool, caller, user).await?;
    if address.is_none() && !make_default {
        return Err(Error::InvalidArgument("an address or make_default is needed: there is nothing to change".into()));
    }
    let mut tx = pool.begin().await?;
    lock_account(&mut tx, user).await?;
    if make_default {
        clear_default(&mut tx, user).await?;
    }
    // Without an address, each field keeps its value (COALESCE of NULL).
    let fields = address.map(|a| {
        [&a.recipient_name, &a.line1, &a.line2, &a.city, &a.region, &a.postal_code, &a.country_code, &a.phone]
    });
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "UPDATE user_service.addresses
         SET recipient_name = COALESCE($3, recipient_name), line1 = COALESCE($4, line1),
             line2 = COALESCE($5, line2), city = COALESCE($6, city), region = COALESCE($7, region),
             postal_code = COALESCE($8, postal_code), country_code = COALESCE($9, country_code),
             phone = COALESCE($10, phone), is_default = is_default OR $11, updated_at = now()
         WHERE user_id = $1 AND id = $2
         RETURNING {COLUMNS}"
    )))
    .bind(user.0)
    .bind(id);
    for n in 0..8 {
        query = query.bind(fields.map(|fields| fields[n]));
    }
    let row = query.bind(make_default).fetch_optional(&mut *tx).await?;
    // Not found rolls back the cleared default with the rest.
    let row = row.ok_or(Error::NotFound("address"))?;
    tx.commit().await?;
    Ok(row)
}

/// Removes a saved address; when it was the default, the newest left becomes the default.
pub async fn delete(pool: &PgPool, caller: &Caller, user: UserId, id: Uuid) -> Result<(), Error> {
    may_act_for(pool, caller, user).await?;
    let mut tx = pool.begin().await?;
    lock_account(&mut tx, user).await?;
    let was_default: bool =
        sqlx::query_scalar("DELETE FROM user_service.addresses WHERE user_id = $1 AND id = $2 RETURNING is_default")
            .bind(user.0)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(Error::NotFound("address"))?;
    if was_default {
        sqlx::query(
            "UPDATE user_service.addresses SET is_default = true, updated_at = now()
             WHERE id = (SELECT id FROM user_service.addresses WHERE user_id = $1
                         ORDER BY created_at DESC, id DESC LIMIT 1)",
        )
        .bind(user.0)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Locks the live account's row until the transaction ends (not found when there is no live account), so the
/// book's changes take turns. `NO KEY UPDATE` leaves the addresses' foreign-key checks free.
async fn lock_account(tx: &mut PgConnection, user: UserId) -> Result<(), Error> {
    sqlx::query("SELECT 1 FROM user_service.users WHERE id = $1 AND deleted_at IS NULL FOR NO KEY UPDATE")
        .bind(user.0)
        .fetch_optional(tx)
        .await?
        .map(|_: sqlx::postgres::PgRow| ())
        .ok_or(Error::NotFound("user"))
}

async fn clear_default(tx: &mut PgConnection, user: UserId) -> Result<(), Error> {
    sqlx::query(
        "UPDATE user_service.addresses SET is_default = false, updated_at = now() WHERE user_id = $1 AND is_default",
    )
    .bind(user.0)
    .execute(tx)
    .await?;
    Ok(())
}

type Query<'q> = sqlx::query::QueryAs<'q, sqlx::Postgres, SavedAddress, sqlx::postgres::PgArguments>;

/// Binds the address's fields in column order (`recipient_name` to `phone`).
fn bind_address<'q>(query: Query<'q>, address: &'q Address) -> Query<'q> {
    query
        .bind(&address.recipient_name)
        .bind(&address.line1)
        .bind(&address.line2)
        .bind(&address.city)
        .bind(&address.region)
        .bind(&address.postal_code)
        .bind(&address.country_code)
        .bind(&address.phone)
}
