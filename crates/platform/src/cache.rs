//! The optional Redis connection.
//!
//! A [`ConnectionManager`] is one multiplexed connection that reconnects by itself and is cheap to clone, so
//! the whole process shares one. Features that use Redis (rate limits, JWKS cache, login throttling,
//! idempotency fast path) take an `Option` of it and keep their state in process when it is `None`.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisArgs;

pub use redis::RedisError;

/// Connects to Redis when a URL is configured and checks that it answers.
pub async fn connect(args: &RedisArgs) -> Result<Option<ConnectionManager>, RedisError> {
    let Some(url) = &args.url else {
        tracing::info!("no REDIS_URL: shared state is kept in process");
        return Ok(None);
    };
    let client = redis::Client::open(url.as_str())?;
    // Bounded, so a Redis that is down fails start-up within seconds instead of retrying for long; once
    // connected, the manager reconnects on its own.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    let mut manager = ConnectionManager::new_with_config(client, config).await?;
    let _: String = redis::cmd("PING").query_async(&mut manager).await?;
    tracing::info!("connected to Redis");
    Ok(Some(manager))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::redis_url;

    #[tokio::test]
    async fn a_configured_redis_is_connected_and_answers() {
        let args = RedisArgs { url: Some(redis_url()), ..Default::default() };
        let mut redis = connect(&args)
            .await
            .expect("Redis must be running for these tests (see README: make test starts it)")
            .expect("a URL was given");
        let key = format!("ec:test:{}", uuid::Uuid::now_v7());
        let () = redis::cmd("SET").arg(&key).arg("1").arg("EX").arg(10).query_async(&mut redis).await.unwrap();
        let value: String = redis::cmd("GET").arg(&key).query_async(&mut redis).await.unwrap();
        assert_eq!(value, "1");
    }

    #[tokio::test]
    async fn no_url_means_no_redis_and_no_error() {
        assert!(connect(&RedisArgs::default()).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_an_error_at_start_up() {
        // Port 1 on loopback: nothing listens there.
        let args = RedisArgs { url: Some("redis://127.0.0.1:1".into()), ..Default::default() };
        assert!(connect(&args).await.is_err());
    }
}
