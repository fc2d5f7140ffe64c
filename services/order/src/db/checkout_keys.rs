//! The `checkout_keys` table: CreateOrder's idempotency keys, per account, each with a digest of the request
//! it was used for and the order it placed. A key is written only with its order, by
//! [`super::orders::place`], so it commits with that order or not at all; keys are forgotten after a while
//! ([`forget_older_than`]), and their orders stay.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::Error;

/// What a key was used for.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyRow {
    /// The digest of the request ([`crate::domain::Checkout::digest`]).
    pub request_hash: Vec<u8>,
    pub order_id: Uuid,
}

/// What `user_id`'s key `key` was used for, if it was.
pub async fn find(pool: &PgPool, user_id: Uuid, key: &str) -> Result<Option<KeyRow>, Error> {
    Ok(sqlx::query_as("SELECT request_hash, order_id FROM order_service.checkout_keys WHERE user_id = $1 AND key = $2")
        .bind(user_id)
        .bind(key)
        .fetch_optional(pool)
        .await?)
}

/// Deletes the keys recorded more than `age` ago (the orders stay), and returns how many.
pub async fn forget_older_than(pool: &PgPool, age: Duration) -> Result<u64, Error> {
    Ok(sqlx::query(
        "DELETE FROM order_service.checkout_keys WHERE created_at < now() - make_interval(secs => $1::double precision)",
    )
    .bind(age.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected())
}
