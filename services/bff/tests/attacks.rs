//! Attacks on access token verification, each a test: forged algorithms, bad claims, a flood of unknown key
//! ids, tampering, key rotation and an issuer outage. The issuer is a real HTTP JWKS endpoint that counts its
//! hits.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use connectrpc::RequestContext;
use ec_bff::{
    auth::{AuthError, Authenticator},
    gate::Gate,
    jwks::Jwks,
    ratelimit::{Limit, RateLimiter},
};
use ec_oauth_server::keys::SigningKey;
use ec_platform::{
    config::RedisArgs,
    identity::{IdentityVerifier, InternalAuthArgs, Role},
    revocation::Revocations,
    shared::{self, Redis},
};
use serde_json::{Value, json};

const ISSUER: &str = "https://auth.shop.test/";
const AUDIENCE: &str = "ec-api";
const USER: &str = "01a223a3-39f9-7297-8de7-6bc0d3bc4a01";
/// What the replicas derive from their internal secret to authenticate the keys they share through Redis.
const SHARED_KEY: [u8; 32] = [7; 32];

#[derive(Default)]
struct Issuer {
    keys: Mutex<Vec<Value>>,
    hits: AtomicUsize,
    down: AtomicBool,
}

async fn jwks(State(issuer): State<Arc<Issuer>>) -> axum::response::Response {
    issuer.hits.fetch_add(1, Ordering::SeqCst);
    if issuer.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({ "keys": *issuer.keys.lock().unwrap() })).into_response()
}

struct Fixture {
    key: SigningKey,
    issuer: Arc<Issuer>,
    auth: Authenticator,
    jwks_url: url::Url,
}

impl Fixture {
    async fn new() -> Self {
        Self::with_redis(&Redis::local("")).await
    }

    /// A fixture whose key cache is shared through `redis` (as BFF replicas share it).
    async fn with_redis(redis: &Redis) -> Self {
        let key = SigningKey::generate().unwrap();
        let issuer = Arc::new(Issuer::default());
        issuer.keys.lock().unwrap().push(key.jwk().clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        let url: url::Url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap()).parse().unwrap();
        let jwks_url = url.clone();
        let app = axum::Router::new().route("/.well-known/jwks.json", get(jwks)).with_state(issuer.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let jwks = Jwks::new(url, Duration::from_secs(300), Duration::from_secs(5), redis, Some(SHARED_KEY));
        let auth = Authenticator::new(jwks, ISSUER.into(), AUDIENCE.into(), 30);
        Self { key, issuer, auth, jwks_url }
    }

    /// A second BFF replica in front of the same issuer, sharing the key cache through `redis`.
    fn replica(&self, redis: &Redis) -> Authenticator {
        let url = self.jwks_url.clone();
        let jwks = Jwks::new(url, Duration::from_secs(300), Duration::from_secs(5), redis, Some(SHARED_KEY));
        Authenticator::new(jwks, ISSUER.into(), AUDIENCE.into(), 30)
    }

    /// A BFF's gate in front of the same issuer, checking the revocations in `redis` (and its own).
    fn gate(&self, redis: &Redis) -> Gate {
        let generous = Limit { per_minute: 6000, burst: 1000 };
        Gate {
            authenticator: Some(self.replica(redis)),
            revocations: Revocations::new(redis),
            identity: IdentityVerifier::new(&InternalAuthArgs::default()).unwrap(),
            limiter: RateLimiter::new(redis),
            anonymous: generous,
            user: generous,
            sign_up: generous,
            media: generous,
            trusted_proxies: Vec::new(),
            public_cache_secs: 30,
        }
    }

    fn hits(&self) -> usize {
        self.issuer.hits.load(Ordering::SeqCst)
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims() -> Value {
    json!({
        "iss": ISSUER, "sub": USER, "aud": [AUDIENCE], "exp": now() + 600, "iat": now(), "nbf": now(),
        "jti": "j-1", "client_id": "ec-spa", "scp": ["openid"], "ext": {"roles": ["customer", "admin"]}
    })
}

fn with(changes: &[(&str, Value)]) -> Value {
    let mut claims = claims();
    for (name, value) in changes {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(*name);
        } else {
            claims[*name] = value.clone();
        }
    }
    claims
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A token with any header, signed (or not) by hand.
fn raw(header: Value, claims: &Value, signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(&header), b64(claims), URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test]
async fn a_well_formed_token_names_its_caller_and_roles() {
    let f = Fixture::new().await;
    let token = f.auth.verify(&f.key.sign(&claims())).await.unwrap();
    assert_eq!(token.caller.user_id.to_string(), USER);
    assert_eq!(token.caller.roles, vec![Role::Customer, Role::Admin]);
    assert_eq!(token.scopes, vec!["openid".to_owned()]);
}

#[tokio::test]
async fn alg_none_is_refused() {
    let f = Fixture::new().await;
    let token = raw(json!({"alg": "none", "typ": "JWT", "kid": f.key.kid()}), &claims(), b"");
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::Algorithm));
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let f = Fixture::new().await;
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": f.key.kid()});
    let signing_input = format!("{}.{}", b64(&header), b64(&claims()));
    // The classic confusion: the verifier's public key used as an HMAC secret.
    let secret = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, f.key.jwk().to_string().as_bytes());
    let signature = aws_lc_rs::hmac::sign(&secret, signing_input.as_bytes());
    let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::Algorithm));
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let f = Fixture::new().await;
    let token = f.key.sign(&with(&[("exp", json!(now() - 120))]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused_beyond_the_leeway() {
    let f = Fixture::new().await;
    let token = f.key.sign(&with(&[("nbf", json!(now() + 600))]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::NotYetValid));
    let token = f.key.sign(&with(&[("iat", json!(now() + 600))]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::NotYetValid));
    // Within the leeway, clock skew is forgiven.
    assert!(f.auth.verify(&f.key.sign(&with(&[("nbf", json!(now() + 10))]))).await.is_ok());
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let f = Fixture::new().await;
    let token = f.key.sign(&with(&[("iss", json!("https://evil.test/"))]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::Issuer));
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let f = Fixture::new().await;
    let token = f.key.sign(&with(&[("aud", json!(["another-api"]))]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::Audience));
}

#[tokio::test]
async fn a_token_without_iat_is_refused() {
    let f = Fixture::new().await;
    let token = f.key.sign(&with(&[("iat", Value::Null)]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::Claims));
}

/// The request headers of a call bearing `token`.
fn bearing(token: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    headers
}

/// The account a bearer token makes the call (`None`: anonymous, the token refused), as the gate decides it.
async fn caller_of(gate: &Gate, token: &str) -> Option<uuid::Uuid> {
    let ctx = RequestContext::new(bearing(token));
    gate.admit(&ctx).await.expect("not rate limited").map(|call| call.caller.user_id)
}

async fn tokens_issued_before_a_revocation_are_refused_and_later_ones_pass(
    f: &Fixture,
    gate: &Gate,
    revoker: &Revocations,
) {
    let user: uuid::Uuid = USER.parse().unwrap();
    let before = f.key.sign(&with(&[("iat", json!(now() - 60))]));
    assert_eq!(caller_of(gate, &before).await, Some(user));

    revoker.revoke(user, Duration::from_secs(3600)).await.unwrap();
    assert_eq!(caller_of(gate, &before).await, None, "revoked, though remembered as verified");
    let after = f.key.sign(&with(&[("iat", json!(now() + 1))]));
    assert_eq!(caller_of(gate, &after).await, Some(user));
    // Another account's tokens are untouched.
    let other_id = uuid::Uuid::now_v7();
    let other = f.key.sign(&with(&[("sub", json!(other_id.to_string())), ("iat", json!(now() - 60))]));
    assert_eq!(caller_of(gate, &other).await, Some(other_id));
}

#[tokio::test]
async fn tokens_revoked_in_this_process_are_refused_and_later_ones_pass() {
    let f = Fixture::new().await;
    let gate = f.gate(&Redis::local(""));
    let revoker = gate.revocations.clone(); // the user service, in the same process (`ec dev` without Redis)
    tokens_issued_before_a_revocation_are_refused_and_later_ones_pass(&f, &gate, &revoker).await;
}

#[tokio::test]
async fn tokens_revoked_by_another_process_are_refused_through_redis_in_the_rate_limit_round_trip() {
    let args =
        RedisArgs { url: Some(ec_testing::redis_url()), key_prefix: format!("ec-test:{}:", uuid::Uuid::now_v7()) };
    let redis = shared::connect(&args).await.expect("Redis must be running (make test starts it)");
    let f = Fixture::new().await;
    let gate = f.gate(&redis);
    let revoker = Revocations::new(&redis); // the user service, in its own process
    tokens_issued_before_a_revocation_are_refused_and_later_ones_pass(&f, &gate, &revoker).await;
}

#[tokio::test]
async fn a_remembered_token_still_expires() {
    let f = Fixture::new().await;
    // No leeway, so the token is dead one second after its exp.
    let jwks = Jwks::new(f.jwks_url.clone(), Duration::from_secs(300), Duration::from_secs(5), &Redis::local(""), None);
    let strict = Authenticator::new(jwks, ISSUER.into(), AUDIENCE.into(), 0);
    let token = f.key.sign(&with(&[("exp", json!(now() + 1))]));
    assert!(strict.token(&bearing(&token)).await.unwrap().is_some(), "verified, and remembered");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(strict.token(&bearing(&token)).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_token_without_exp_is_refused() {
    let f = Fixture::new().await;
    let token = f.key.sign(&with(&[("exp", Value::Null)]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::Claims));
}

#[tokio::test]
async fn a_token_whose_subject_is_not_an_account_is_refused() {
    let f = Fixture::new().await;
    // A client_credentials token: the subject is a client, not a user.
    let token = f.key.sign(&with(&[("sub", json!("back-office"))]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::NotAnAccount));
}

#[tokio::test]
async fn a_token_claiming_a_role_the_platform_does_not_know_is_refused_not_trimmed() {
    let f = Fixture::new().await;
    for roles in [json!(["customer", "root"]), json!("admin"), json!([1])] {
        let top = f.key.sign(&with(&[("roles", roles.clone())]));
        assert_eq!(f.auth.verify(&top).await, Err(AuthError::Claims), "top-level {roles}");
        let ext = f.key.sign(&with(&[("ext", json!({"roles": roles.clone()}))]));
        assert_eq!(f.auth.verify(&ext).await, Err(AuthError::Claims), "under ext {roles}");
    }
}

#[tokio::test]
async fn a_malformed_scope_claim_is_refused() {
    let f = Fixture::new().await;
    for (name, value) in [("scp", json!("openid")), ("scp", json!([1])), ("scope", json!(["openid"]))] {
        let token = f.key.sign(&with(&[(name, value.clone())]));
        assert_eq!(f.auth.verify(&token).await, Err(AuthError::Claims), "{name}: {value}");
    }
}

#[tokio::test]
async fn an_id_token_does_not_pass_as_an_access_token() {
    let f = Fixture::new().await;
    // Same issuer and key, audience set to the API, but no client_id: the shape of an ID token.
    let token = f.key.sign(&with(&[("client_id", Value::Null), ("at_hash", json!("x")), ("sid", json!("s"))]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::NotAnAccessToken));
}

#[tokio::test]
async fn a_client_credentials_token_does_not_pass_as_a_user() {
    let f = Fixture::new().await;
    let client = "01a223a3-39f9-7297-8de7-000000000001";
    let token = f.key.sign(&with(&[("sub", json!(client)), ("client_id", json!(client))]));
    assert_eq!(f.auth.verify(&token).await, Err(AuthError::ClientToken), "named as what it is, for the operator");
}

#[tokio::test]
async fn a_tampered_payload_fails_the_signature() {
    let f = Fixture::new().await;
    let token = f.key.sign(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let promoted = with(&[("sub", json!("01a223a3-0000-7000-8000-000000000000"))]);
    let forged = format!("{}.{}.{}", parts[0], b64(&promoted), parts[2]);
    assert_eq!(f.auth.verify(&forged).await, Err(AuthError::Signature));
}

#[tokio::test]
async fn a_wrong_typ_is_refused() {
    let f = Fixture::new().await;
    let token = f.key.sign(&claims());
    let (_, rest) = token.split_once('.').unwrap();
    let header = json!({"alg": "RS256", "typ": "dpop+jwt", "kid": f.key.kid()});
    let forged = format!("{}.{rest}", b64(&header));
    assert_eq!(f.auth.verify(&forged).await, Err(AuthError::Algorithm));
}

#[tokio::test]
async fn a_flood_of_unknown_key_ids_hits_the_issuer_at_most_a_handful_of_times() {
    let f = Fixture::new().await;
    f.auth.verify(&f.key.sign(&claims())).await.unwrap();
    let before = f.hits();
    let forged: Vec<String> = (0..200)
        .map(|i| raw(json!({"alg": "RS256", "typ": "JWT", "kid": format!("kid-{i}")}), &claims(), b"sig"))
        .collect();
    let results = futures::future::join_all(forged.iter().map(|t| f.auth.verify(t))).await;
    assert!(results.iter().all(|r| *r == Err(AuthError::UnknownKey)));
    assert!(f.hits() - before <= 1, "{} JWKS fetches for 200 unknown kids", f.hits() - before);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_with_one_fetch() {
    let f = Fixture::new().await;
    f.auth.verify(&f.key.sign(&claims())).await.unwrap();
    let rotated = SigningKey::generate().unwrap();
    f.issuer.keys.lock().unwrap().push(rotated.jwk().clone());
    let before = f.hits();
    assert!(f.auth.verify(&rotated.sign(&claims())).await.is_ok());
    assert!(f.auth.verify(&rotated.sign(&claims())).await.is_ok());
    assert_eq!(f.hits() - before, 1);
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_issuer_is_down() {
    let f = Fixture::new().await;
    f.auth.verify(&f.key.sign(&claims())).await.unwrap();
    f.issuer.down.store(true, Ordering::SeqCst);
    assert!(f.auth.verify(&f.key.sign(&claims())).await.is_ok());
    let unknown = SigningKey::generate().unwrap();
    assert_eq!(f.auth.verify(&unknown.sign(&claims())).await, Err(AuthError::UnknownKey));
}

#[tokio::test]
async fn without_any_key_an_unreachable_issuer_refuses_every_token() {
    let f = Fixture::new().await;
    f.issuer.down.store(true, Ordering::SeqCst);
    assert_eq!(f.auth.verify(&f.key.sign(&claims())).await, Err(AuthError::KeysUnavailable));
}

#[tokio::test]
async fn an_unreachable_issuer_is_not_retried_on_every_request() {
    let f = Fixture::new().await;
    f.issuer.down.store(true, Ordering::SeqCst);
    for _ in 0..20 {
        assert_eq!(f.auth.verify(&f.key.sign(&claims())).await, Err(AuthError::KeysUnavailable));
    }
    assert_eq!(f.hits(), 1, "one attempt per refresh interval");
}

#[tokio::test]
async fn readiness_probes_while_the_issuer_is_down_do_not_hammer_it() {
    let f = Fixture::new().await;
    f.issuer.down.store(true, Ordering::SeqCst);
    let probes = futures::future::join_all((0..20).map(|_| f.auth.ready())).await;
    assert!(probes.iter().all(|ready| !ready), "not ready without keys");
    assert!(!f.auth.ready().await);
    assert_eq!(f.hits(), 1, "one attempt per refresh interval");
    // The issuer is back, but the next attempt waits for the interval (5 s here).
    f.issuer.down.store(false, Ordering::SeqCst);
    assert!(!f.auth.ready().await);
    assert_eq!(f.hits(), 1);
}

#[tokio::test]
async fn replicas_sharing_redis_fetch_the_keys_once_between_them() {
    let args =
        RedisArgs { url: Some(ec_testing::redis_url()), key_prefix: format!("ec-test:{}:", uuid::Uuid::now_v7()) };
    let redis = shared::connect(&args).await.expect("Redis must be running (make test starts it)");
    let f = Fixture::with_redis(&redis).await;
    f.auth.verify(&f.key.sign(&claims())).await.unwrap();
    assert_eq!(f.hits(), 1);

    let replica = f.replica(&redis);
    replica.verify(&f.key.sign(&claims())).await.unwrap();
    assert_eq!(f.hits(), 1, "the second replica found the keys in Redis");
}

#[tokio::test]
async fn a_hung_redis_delays_a_key_fetch_by_its_budget_only_and_keys_still_come_from_the_issuer() {
    let server = ec_testing::PrivateRedis::start();
    // No response timeout of its own: only the shared state's budget keeps the fetch from hanging.
    let config = redis::aio::ConnectionManagerConfig::new().set_response_timeout(None).set_number_of_retries(0);
    let redis = Redis::new(Some(server.connect(config).await), "");
    let f = Fixture::with_redis(&redis).await;
    server.pause();

    let started = std::time::Instant::now();
    let verified = tokio::time::timeout(Duration::from_secs(10), f.auth.verify(&f.key.sign(&claims()))).await;
    assert!(verified.expect("not hung").is_ok());
    assert!(started.elapsed() < Duration::from_secs(3), "read and write each wait 250 ms: {:?}", started.elapsed());
    assert_eq!(f.hits(), 1, "fetched from the issuer instead");
    server.resume();
}

/// A BFF's Redis under a fresh key prefix, and the prefix.
async fn shared_redis() -> (Redis, String) {
    let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7());
    let args = RedisArgs { url: Some(ec_testing::redis_url()), key_prefix: prefix.clone() };
    (shared::connect(&args).await.expect("Redis must be running (make test starts it)"), prefix)
}

#[tokio::test]
async fn a_key_planted_in_the_shared_jwks_in_redis_is_not_trusted() {
    let (redis, prefix) = shared_redis().await;
    let f = Fixture::with_redis(&redis).await;
    f.auth.verify(&f.key.sign(&claims())).await.unwrap();
    assert_eq!(f.hits(), 1);

    // Whoever can write to Redis replaces the shared keys with their own (keeping the MAC that was there, with
    // none, with a made-up one) and signs an admin token with it.
    let attacker = SigningKey::generate().unwrap();
    let forged = attacker.jwk().clone();
    let client = redis::Client::open(ec_testing::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{prefix}jwks:*")).query_async(&mut connection).await.unwrap();
    assert_eq!(keys.len(), 1, "the first replica shared the keys: {keys:?}");
    let entry: String = redis::cmd("GET").arg(&keys[0]).query_async(&mut connection).await.unwrap();
    let (mac, _) = entry.split_once('.').unwrap();
    let plants = [
        format!("{mac}.{}", json!({"keys": [forged]})),
        json!({"keys": [forged]}).to_string(),
        format!("AAAA.{}", json!({"keys": [forged]})),
    ];
    for plant in plants {
        let _: () = redis::cmd("SET").arg(&keys[0]).arg(&plant).query_async(&mut connection).await.unwrap();
        // A replica that has not seen the keys yet reads Redis first.
        let replica = f.replica(&redis);
        let token = attacker.sign(&claims());
        assert_eq!(replica.verify(&token).await, Err(AuthError::UnknownKey), "{plant}");
        // The issuer's own keys still work: the planted copy was ignored and the keys fetched again.
        assert!(replica.verify(&f.key.sign(&claims())).await.is_ok());
    }
    assert_eq!(f.hits(), 4, "each replica went to the issuer instead of trusting Redis");
}

#[tokio::test]
async fn an_issuer_answering_with_an_oversized_jwks_is_refused_not_read() {
    let f = Fixture::new().await;
    // Past the limit (64 KiB): a JWKS padded with a thousand keys.
    let padding = SigningKey::generate().unwrap().jwk().clone();
    f.issuer.keys.lock().unwrap().extend(std::iter::repeat_n(padding, 1000));
    assert_eq!(f.auth.verify(&f.key.sign(&claims())).await, Err(AuthError::KeysUnavailable));
}
