//! The issuer's signing keys (JWKS), cached.
//!
//! Keys are kept in process and, when Redis is configured, in Redis too (`{prefix}jwks:{url}`, through
//! [`ec_platform::shared`]), so replicas share one fetch (with a TTL). A token whose `kid` is not cached
//! triggers a refetch, but at most one at a time (concurrent callers wait for it instead of fetching again) and
//! at most one per `min_refresh_interval`, so a flood of made-up kids cannot hammer the issuer. When the issuer
//! is down, keys already cached keep working past their TTL: an outage of the issuer does not take down
//! requests with known keys.
//!
//! Whoever can write to Redis must not be able to plant a key of their own and mint tokens with it, so the
//! shared copy is authenticated: it is stored with an HMAC-SHA256 over the issuer's URL and the JWKS as
//! fetched, under a key derived from the internal secret ([`JWKS_CACHE_PURPOSE`]) that only the platform's
//! processes hold. A copy whose MAC does not verify is ignored and the keys are fetched from the issuer; a
//! BFF without the internal secret does not share its keys through Redis at all.

use std::time::{Duration, Instant};

use aws_lc_rs::hmac;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ec_platform::shared::{Redis, Shared};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use tokio::sync::{Mutex, RwLock};

/// What the key that authenticates the JWKS shared through Redis is derived for, from the internal secret.
pub const JWKS_CACHE_PURPOSE: &[u8] = b"ec jwks cache v1";

/// The largest JWKS read from the issuer: a few dozen keys, far more than any issuer publishes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// Why no key could be found.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The issuer publishes no key with this id.
    #[error("no signing key with this kid")]
    UnknownKey,
    /// The keys could not be fetched and none are cached.
    #[error("the issuer's JWKS could not be fetched: {0}")]
    Unavailable(String),
}

struct Cached {
    set: JwkSet,
    fetched: Instant,
}

/// A cached JWKS of one issuer.
pub struct Jwks {
    url: url::Url,
    http: reqwest::Client,
    ttl: Duration,
    min_refresh_interval: Duration,
    /// The shared copy in Redis and the key of its MAC; `None` when the keys are not shared.
    shared: Option<(Shared, hmac::Key)>,
    cache: RwLock<Option<Cached>>,
    /// Held while fetching (so there is one fetch at a time), and when the last fetch was.
    refresh: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwks").field("url", &self.url.as_str()).finish_non_exhaustive()
    }
}

impl Jwks {
    /// A cache of the JWKS at `url`, fresh for `ttl`, refetched for an unknown kid at most once per
    /// `min_refresh_interval`, and shared through `redis` when it is connected and there is a `shared_key`
    /// (derived from the internal secret for [`JWKS_CACHE_PURPOSE`]) to authenticate the shared copy with.
    pub fn new(
        url: url::Url,
        ttl: Duration,
        min_refresh_interval: Duration,
        redis: &Redis,
        shared_key: Option<[u8; 32]>,
    ) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("an HTTP client builds");
        let shared = match shared_key {
            Some(key) if redis.is_connected() => Some((redis.feature("jwks"), hmac::Key::new(hmac::HMAC_SHA256, &key))),
            Some(_) => None,
            None => {
                if redis.is_connected() {
                    tracing::warn!("no INTERNAL_AUTH_TOKEN: the issuer's keys are not shared through Redis");
                }
                None
            }
        };
        Self { url, http, ttl, min_refresh_interval, shared, cache: RwLock::new(None), refresh: Mutex::new(None) }
    }

    /// The key with id `kid`.
    pub async fn key(&self, kid: &str) -> Result<Jwk, JwksError> {
        if let Some(key) = self.cached(kid, true).await {
            return Ok(key);
        }
        let mut last = self.refresh.lock().await;
        // Someone else may have refreshed while this caller waited for the lock.
        if let Some(key) = self.cached(kid, true).await {
            return Ok(key);
        }
        if last.is_some_and(|at| at.elapsed() < self.min_refresh_interval) {
            return match self.cached(kid, false).await {
                Some(key) => Ok(key),
                None if self.cache.read().await.is_some() => Err(JwksError::UnknownKey),
                None => Err(JwksError::Unavailable("the last fetch failed moments ago".into())),
            };
        }
        // Refetches are rationed, and so are failed fetches; only the first successful fill of an empty cache
        // does not start the interval, so a key rotated in right after start-up is still picked up.
        let had_cache = self.cache.read().await.is_some();
        let fetched = self.fetch(kid).await;
        if had_cache || fetched.is_err() {
            *last = Some(Instant::now());
        }
        match fetched {
            Ok(set) => {
                let key = set.find(kid).cloned();
                *self.cache.write().await = Some(Cached { set, fetched: Instant::now() });
                key.ok_or(JwksError::UnknownKey)
            }
            Err(e) => {
                tracing::warn!(error = %e, url = %self.url, "cannot fetch the JWKS; using cached keys");
                match self.cached(kid, false).await {
                    Some(key) => Ok(key),
                    None if self.cache.read().await.is_some() => Err(JwksError::UnknownKey),
                    None => Err(e),
                }
            }
        }
    }

    /// Whether keys can be had now (for readiness): cached, or fetchable. Fetches are rationed as for unknown
    /// kids, so a flood of readiness probes while the issuer is down does not become a flood of fetches.
    pub async fn ready(&self) -> bool {
        if self.cache.read().await.is_some() {
            return true;
        }
        let mut last = self.refresh.lock().await;
        if self.cache.read().await.is_some() {
            return true;
        }
        if last.is_some_and(|at| at.elapsed() < self.min_refresh_interval) {
            return false;
        }
        match self.fetch("").await {
            Ok(set) => {
                *self.cache.write().await = Some(Cached { set, fetched: Instant::now() });
                true
            }
            Err(_) => {
                *last = Some(Instant::now());
                false
            }
        }
    }

    async fn cached(&self, kid: &str, fresh_only: bool) -> Option<Jwk> {
        let cache = self.cache.read().await;
        let cached = cache.as_ref()?;
        if fresh_only && cached.fetched.elapsed() > self.ttl {
            return None;
        }
        cached.set.find(kid).cloned()
    }

    /// The shared copy in Redis if it is authentic and has `kid`, else the issuer's (stored back to Redis).
    async fn fetch(&self, kid: &str) -> Result<JwkSet, JwksError> {
        if let Some(set) = self.shared_copy(kid).await {
            return Ok(set);
        }
        tracing::info!(url = %self.url, "fetching the issuer's JWKS");
        let fetched = self.fetch_from_issuer().await;
        metrics::counter!("ec_bff_jwks_fetches_total", "result" => if fetched.is_ok() { "ok" } else { "error" })
            .increment(1);
        let (text, set) = fetched?;
        if let Some((shared, mac_key)) = &self.shared {
            let (key, ttl) = (shared.key(&self.url), self.ttl.as_secs().max(1));
            let entry = format!("{}.{text}", URL_SAFE_NO_PAD.encode(self.mac(mac_key, &text)));
            shared
                .run(|mut redis| async move {
                    redis::cmd("SET").arg(key).arg(&entry).arg("EX").arg(ttl).query_async::<()>(&mut redis).await
                })
                .await;
        }
        Ok(set)
    }

    /// The copy in Redis, if there is one, its MAC verifies, and it has `kid`.
    async fn shared_copy(&self, kid: &str) -> Option<JwkSet> {
        let (shared, mac_key) = self.shared.as_ref()?;
        let key = shared.key(&self.url);
        let entry = shared
            .run(|mut redis| async move { redis::cmd("GET").arg(key).query_async::<Option<String>>(&mut redis).await })
            .await
            .flatten()?;
        let (mac, text) = entry.split_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if hmac::verify(mac_key, &self.mac_input(text), &mac).is_err() {
            tracing::warn!(url = %self.url, "the JWKS in Redis does not verify: ignored, fetching from the issuer");
            metrics::counter!("ec_bff_jwks_forged_total").increment(1);
            return None;
        }
        let set = serde_json::from_str::<JwkSet>(text).ok()?;
        set.find(kid).is_some().then_some(set)
    }

    /// What the MAC of a shared copy covers: the issuer's JWKS URL, so a copy cannot be moved to another
    /// issuer's key, and the JWKS as fetched.
    fn mac_input(&self, text: &str) -> Vec<u8> {
        [self.url.as_str().as_bytes(), b"\n", text.as_bytes()].concat()
    }

    fn mac(&self, key: &hmac::Key, text: &str) -> Vec<u8> {
        hmac::sign(key, &self.mac_input(text)).as_ref().to_vec()
    }

    async fn fetch_from_issuer(&self) -> Result<(String, JwkSet), JwksError> {
        let response =
            self.http.get(self.url.clone()).send().await.map_err(|e| JwksError::Unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(JwksError::Unavailable(format!("HTTP {}", response.status())));
        }
        let body = ec_platform::outbound::body_within(response, MAX_JWKS_BYTES)
            .await
            .map_err(|e| JwksError::Unavailable(e.to_string()))?;
        let text = String::from_utf8(body).map_err(|e| JwksError::Unavailable(e.to_string()))?;
        let set = serde_json::from_str(&text).map_err(|e| JwksError::Unavailable(e.to_string()))?;
        Ok((text, set))
    }
}
