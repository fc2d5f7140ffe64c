//! The optional Redis connection.
//!
//! A [`ConnectionManager`] is one multiplexed connection that reconnects by itself and is cheap to clone, so
//! the whole process shares one. Features that use Redis (rate limits, JWKS cache, login throttling,
//! idempotency fast path) take an `Option` of it and keep their state in process when it is `None`.

use redis::aio::ConnectionManager;

use crate::config::RedisArgs;

pub use redis::RedisError;

/// Connects to Redis when a URL is configured and checks that it answers.
pub async fn connect(args: &RedisArgs) -> Result<Option<ConnectionManager>, RedisError> {
    let Some(url) = &args.url else {
        tracing::info!("no REDIS_URL: shared state is kept in process");
        return Ok(None);
    };
    let client = redis::Client::open(url.as_str())?;
    let mut manager = ConnectionManager::new(client).await?;
    let _: String = redis::cmd("PING").query_async(&mut manager).await?;
    tracing::info!("connected to Redis");
    Ok(Some(manager))
}
