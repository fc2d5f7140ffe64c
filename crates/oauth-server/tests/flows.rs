//! The embedded OAuth2 server driven the way Hydra is: a browser (an HTTP client with a cookie jar that does
//! not follow redirects, so every hop is checked), a login/consent app calling the admin API, and a client
//! exchanging codes. Checks every way a flow can go wrong, and holds every JSON answer of the admin API,
//! discovery, the JWKS and the token endpoint to the schema Hydra's published OpenAPI document gives for it
//! ([`hydra`]), allowing only the [`KNOWN_DIFFERENCES`].

mod hydra;

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ec_oauth_server::{OAuthServer, config::OAuthServerConfig};
use ec_platform::{environment::Environment, shutdown::CancellationToken};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use reqwest::{StatusCode, header::LOCATION, redirect::Policy};
use serde_json::{Value, json};

use crate::hydra::{Mismatch, Problem};

/// Where the embedded server is known to answer differently from Hydra's published schemas: the schema, the
/// property, and what the checker finds there. None today: every answer must match its schema (Hydra v2.3.0's,
/// which `hydra::spec` compares the contract with); an entry is a difference someone chose to live with.
const KNOWN_DIFFERENCES: &[(&str, &str, Problem)] = &[];

/// Reads an answer of `method path` and holds it to what Hydra documents for its status: an empty body, or
/// JSON matching the documented schema but for the [`KNOWN_DIFFERENCES`]. The body, `null` when empty.
async fn hydra_shaped(method: &str, path: &str, response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let bytes = response.bytes().await.unwrap();
    let Some(schema) = hydra::documented_body(method, path, status.as_u16()) else {
        assert!(bytes.is_empty(), "{method} {path} {status}: Hydra documents an empty answer");
        return (status, Value::Null);
    };
    assert!(json, "{method} {path} {status}: Hydra answers application/json");
    let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{method} {path} {status}: {e}"));
    let mut known: Vec<Mismatch> = KNOWN_DIFFERENCES
        .iter()
        .filter(|(s, _, _)| *s == schema)
        .map(|(_, path, problem)| Mismatch { path: (*path).into(), problem: problem.clone() })
        .collect();
    known.sort();
    let found = hydra::check(schema, &body);
    let list = |m: &[Mismatch]| m.iter().map(|m| format!("\n  {m}")).collect::<String>();
    assert!(
        found == known,
        "{method} {path} {status} differs from Hydra's {schema} other than as known.\nfound:{}\nknown:{}\nbody: {body:#}",
        list(&found),
        list(&known),
    );
    (status, body)
}

const SPA: &str = "ec-spa";
const REDIRECT: &str = "http://127.0.0.1:5173/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more";

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

struct Server {
    public: String,
    admin: String,
    issuer: String,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut OAuthServerConfig)) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut config = OAuthServerConfig::local(any, any);
        config.login_url = "http://login.test/oauth2/login".parse().unwrap();
        config.consent_url = "http://login.test/oauth2/consent".parse().unwrap();
        config.logout_url = "http://login.test/oauth2/logout".parse().unwrap();
        adjust(&mut config);
        let server = OAuthServer::bind(&config, Environment::Development).await.unwrap();
        let public = format!("http://{}", server.public_addr());
        let admin = format!("http://{}", server.admin_addr());
        let issuer = server.issuer().to_owned();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move { server.serve(stop, Duration::from_secs(2)).await.unwrap() });
        Self { public, admin, issuer, shutdown, task }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap();
    }

    fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        let challenge = challenge_of(VERIFIER);
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", SPA),
            ("redirect_uri", REDIRECT),
            ("scope", "openid offline_access email"),
            ("audience", "ec-api"),
            ("state", "state-1234567"),
            ("nonce", "nonce-abc"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        format!("{}/oauth2/auth?{query}", self.public)
    }

    async fn admin_get(&self, what: &str, challenge: &str) -> (StatusCode, Value) {
        let path = format!("/admin/oauth2/auth/requests/{what}");
        let response = reqwest::Client::new()
            .get(format!("{}{path}", self.admin))
            .query(&[(format!("{what}_challenge"), challenge)])
            .send()
            .await
            .unwrap();
        hydra_shaped("GET", &path, response).await
    }

    async fn admin_put(&self, what: &str, action: &str, challenge: &str, body: Value) -> (StatusCode, Value) {
        let path = format!("/admin/oauth2/auth/requests/{what}/{action}");
        let response = reqwest::Client::new()
            .put(format!("{}{path}", self.admin))
            .query(&[(format!("{what}_challenge"), challenge)])
            .json(&body)
            .send()
            .await
            .unwrap();
        hydra_shaped("PUT", &path, response).await
    }

    async fn admin_delete(&self, what: &str, query: &[(&str, &str)]) -> StatusCode {
        let path = format!("/admin/oauth2/auth/sessions/{what}");
        let response =
            reqwest::Client::new().delete(format!("{}{path}", self.admin)).query(query).send().await.unwrap();
        hydra_shaped("DELETE", &path, response).await.0
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response =
            reqwest::Client::new().post(format!("{}/oauth2/token", self.public)).form(form).send().await.unwrap();
        hydra_shaped("POST", "/oauth2/token", response).await
    }

    /// Discovery or the JWKS, as JSON.
    async fn well_known(&self, document: &str) -> Value {
        let path = format!("/.well-known/{document}");
        let (status, body) =
            hydra_shaped("GET", &path, reqwest::get(format!("{}{path}", self.public)).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        body
    }

    async fn jwks(&self) -> JwkSet {
        reqwest::get(format!("{}/.well-known/jwks.json", self.public)).await.unwrap().json().await.unwrap()
    }

    async fn verify(&self, token: &str, audience: &str) -> Value {
        let header = jsonwebtoken::decode_header(token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        let jwks = self.jwks().await;
        let jwk = jwks.find(header.kid.as_deref().expect("a kid")).expect("the kid is published");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[audience]);
        jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).unwrap().claims
    }
}

/// A browser: keeps cookies, never follows redirects.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap()
}

async fn visit(browser: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let response = browser.get(url).send().await.unwrap();
    let status = response.status();
    let location = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location)
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// Runs a flow up to the login challenge.
async fn start_flow(server: &Server, browser: &reqwest::Client, extra: &[(&str, &str)]) -> String {
    let (status, location) = visit(browser, &server.authorize_url(extra)).await;
    assert_eq!(status, StatusCode::FOUND, "{location}");
    assert!(location.starts_with("http://login.test/oauth2/login?"), "{location}");
    query_of(&location)["login_challenge"].clone()
}

fn accept_consent_body() -> Value {
    json!({
        "grant_scope": ["openid", "offline_access", "email"],
        "grant_access_token_audience": ["ec-api"],
        "remember": true,
        "session": {
            "access_token": {"email": "ada@example.com", "roles": ["customer"], "internal_note": "ext only"},
            "id_token": {"email": "ada@example.com", "name": "Ada"}
        }
    })
}

/// A whole flow through to the client's redirect; returns the code.
async fn code_for(server: &Server, browser: &reqwest::Client, subject: &str) -> String {
    let login_challenge = start_flow(server, browser, &[]).await;
    let (_, accepted) =
        server.admin_put("login", "accept", &login_challenge, json!({"subject": subject, "remember": true})).await;
    let (_, location) = visit(browser, accepted["redirect_to"].as_str().unwrap()).await;
    let consent_challenge = query_of(&location)["consent_challenge"].clone();
    let (_, accepted) = server.admin_put("consent", "accept", &consent_challenge, accept_consent_body()).await;
    let (_, location) = visit(browser, accepted["redirect_to"].as_str().unwrap()).await;
    assert!(location.starts_with(REDIRECT), "{location}");
    query_of(&location)["code"].clone()
}

async fn exchange(server: &Server, code: &str) -> (StatusCode, Value) {
    server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", SPA),
            ("code_verifier", VERIFIER),
        ])
        .await
}

#[tokio::test]
async fn the_authorization_code_flow_with_pkce_issues_tokens_shaped_like_hydras() {
    let server = Server::start().await;
    let browser = browser();

    let login_challenge = start_flow(&server, &browser, &[]).await;
    let (status, login) = server.admin_get("login", &login_challenge).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(login["challenge"], login_challenge.as_str());
    assert_eq!(login["skip"], false);
    assert_eq!(login["subject"], "");
    assert_eq!(login["requested_scope"], json!(["openid", "offline_access", "email"]));
    assert_eq!(login["requested_access_token_audience"], json!(["ec-api"]));
    assert_eq!(login["client"]["client_id"], SPA);
    assert_eq!(login["client"]["skip_consent"], true);
    assert!(login["client"].get("client_secret").is_none());
    assert!(login["request_url"].as_str().unwrap().starts_with(&format!("{}/oauth2/auth?", server.public)));

    let (status, accepted) = server
        .admin_put(
            "login",
            "accept",
            &login_challenge,
            json!({"subject": "user-1", "remember": true, "remember_for": 3600}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, location) = visit(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::FOUND);
    let consent_challenge = query_of(&location)["consent_challenge"].clone();

    let (status, consent) = server.admin_get("consent", &consent_challenge).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(consent["subject"], "user-1");
    assert_eq!(consent["skip"], false);
    assert_eq!(consent["login_challenge"], login_challenge.as_str());
    assert_eq!(consent["requested_access_token_audience"], json!(["ec-api"]));

    let (_, accepted) = server.admin_put("consent", "accept", &consent_challenge, accept_consent_body()).await;
    let (_, location) = visit(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    let callback = query_of(&location);
    assert_eq!(callback["state"], "state-1234567");
    assert_eq!(callback["scope"], "openid offline_access email");

    let (status, tokens) = exchange(&server, &callback["code"]).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert_eq!(tokens["scope"], "openid offline_access email");
    assert!(tokens["refresh_token"].is_string());

    let access = server.verify(tokens["access_token"].as_str().unwrap(), "ec-api").await;
    assert_eq!(access["sub"], "user-1");
    assert_eq!(access["iss"], server.issuer.as_str());
    assert_eq!(access["aud"], json!(["ec-api"]));
    assert_eq!(access["client_id"], SPA);
    assert_eq!(access["scp"], json!(["openid", "offline_access", "email"]));
    assert_eq!(access["ext"]["internal_note"], "ext only");
    assert_eq!(access["email"], "ada@example.com", "allowed top-level claims are copied");
    assert_eq!(access["roles"], json!(["customer"]));
    assert!(access.get("internal_note").is_none(), "other claims stay under ext");
    for claim in ["exp", "iat", "nbf", "jti"] {
        assert!(access.get(claim).is_some(), "{claim}");
    }

    let id = server.verify(tokens["id_token"].as_str().unwrap(), SPA).await;
    assert_eq!(id["sub"], "user-1");
    assert_eq!(id["nonce"], "nonce-abc");
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["name"], "Ada");
    assert_eq!(id["sid"], login["session_id"]);
    let at_hash = URL_SAFE_NO_PAD
        .encode(&digest::digest(&digest::SHA256, tokens["access_token"].as_str().unwrap().as_bytes()).as_ref()[..16]);
    assert_eq!(id["at_hash"], at_hash.as_str());

    server.stop().await;
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_the_key_in_the_jwks() {
    let server = Server::start().await;
    let discovery = server.well_known("openid-configuration").await;
    assert_eq!(discovery["issuer"], server.issuer.as_str());
    assert_eq!(discovery["jwks_uri"], format!("{}/.well-known/jwks.json", server.public));
    assert_eq!(discovery["token_endpoint"], format!("{}/oauth2/token", server.public));
    assert_eq!(discovery["code_challenge_methods_supported"], json!(["S256"]));
    let jwks = server.well_known("jwks.json").await;
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
    server.stop().await;
}

#[tokio::test]
async fn pages_of_a_clients_allowed_origin_may_call_the_public_endpoints_and_no_other_pages() {
    let server = Server::start().await;
    let spa_origin = "http://127.0.0.1:5173"; // the origin of the storefront's redirect URI
    let client = reqwest::Client::new();
    let preflight = |origin: &'static str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{}/oauth2/token", server.public))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
            .send()
    };
    let allowed = preflight(spa_origin).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], spa_origin);
    assert!(allowed.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none(), "{:?}", other.headers());

    // The answers themselves: discovery, and a token request (refused here: the code is made up).
    let discovery = client
        .get(format!("{}/.well-known/openid-configuration", server.public))
        .header("Origin", spa_origin)
        .send()
        .await
        .unwrap();
    assert_eq!(discovery.headers()["access-control-allow-origin"], spa_origin);
    let token = client
        .post(format!("{}/oauth2/token", server.public))
        .header("Origin", spa_origin)
        .form(&[("grant_type", "authorization_code"), ("code", "made-up"), ("client_id", SPA)])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::BAD_REQUEST);
    assert_eq!(token.headers()["access-control-allow-origin"], spa_origin);
    let elsewhere = client
        .get(format!("{}/.well-known/jwks.json", server.public))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(elsewhere.headers().get("access-control-allow-origin").is_none());
    server.stop().await;
}

#[tokio::test]
async fn codes_are_single_use_and_a_replay_revokes_what_the_code_gave() {
    let server = Server::start().await;
    let code = code_for(&server, &browser(), "user-1").await;

    let (status, tokens) = exchange(&server, &code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = exchange(&server, &code).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, error) =
        server.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", SPA)]).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    server.stop().await;
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let server = Server::start_with(|c| c.code_ttl = 0).await;
    let code = code_for(&server, &browser(), "user-1").await;
    let (status, error) = exchange(&server, &code).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_pkce_verifier_or_redirect_uri_or_client_gets_no_tokens() {
    let server = Server::start().await;
    let browser = browser();
    let wrong = "x".repeat(50);
    for (verifier, redirect, client) in [
        (wrong.as_str(), REDIRECT, SPA),
        ("", REDIRECT, SPA),
        (VERIFIER, "http://127.0.0.1:5173/other", SPA),
        (VERIFIER, REDIRECT, "someone-else"),
    ] {
        let code = code_for(&server, &browser, "user-1").await;
        let (status, error) = server
            .token(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("client_id", client),
                ("code_verifier", verifier),
            ])
            .await;
        assert!(status.is_client_error(), "{verifier} {redirect} {client}: {status}");
        assert!(["invalid_grant", "invalid_client"].contains(&error["error"].as_str().unwrap()), "{error}");
    }
    server.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_whole_grant() {
    let server = Server::start().await;
    let code = code_for(&server, &browser(), "user-1").await;
    let (_, first) = exchange(&server, &code).await;
    let refresh = |token: String| {
        let server = &server;
        async move { server.token(&[("grant_type", "refresh_token"), ("refresh_token", &token), ("client_id", SPA)]).await }
    };

    let (status, second) = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
    let claims = server.verify(second["access_token"].as_str().unwrap(), "ec-api").await;
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["roles"], json!(["customer"]), "claims survive a refresh");

    // The old token again: a sign of theft, so the new one dies too.
    let (status, _) = refresh(first["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, error) = refresh(second["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    server.stop().await;
}

#[tokio::test]
async fn bad_authorization_requests_never_redirect_to_an_unregistered_uri() {
    let server = Server::start().await;
    let browser = browser();

    for extra in [vec![("redirect_uri", "https://attacker.example/steal")], vec![("client_id", "no-such-client")]] {
        let (status, location) = visit(&browser, &server.authorize_url(&extra)).await;
        assert_eq!(status, StatusCode::FOUND);
        assert!(location.starts_with(&format!("{}/oauth2/fallbacks/error?", server.public)), "{location}");
        let (status, _) = visit(&browser, &location).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }

    // Errors about a registered client's request go back to it, with the state.
    for (extra, expected) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("scope", "openid admin")], "invalid_scope"),
        (vec![("audience", "someone-elses-api")], "invalid_request"),
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("state", "short")], "invalid_state"),
    ] {
        let (_, location) = visit(&browser, &server.authorize_url(&extra)).await;
        assert!(location.starts_with(REDIRECT), "{extra:?}: {location}");
        assert_eq!(query_of(&location)["error"], expected, "{extra:?}");
    }

    server.stop().await;
}

#[tokio::test]
async fn rejected_login_or_consent_sends_the_user_back_with_access_denied() {
    let server = Server::start().await;
    let browser = browser();

    let login_challenge = start_flow(&server, &browser, &[]).await;
    let (status, rejected) = server
        .admin_put(
            "login",
            "reject",
            &login_challenge,
            json!({"error": "access_denied", "error_description": "The user gave up."}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, location) = visit(&browser, rejected["redirect_to"].as_str().unwrap()).await;
    let back = query_of(&location);
    assert!(location.starts_with(REDIRECT));
    assert_eq!((back["error"].as_str(), back["state"].as_str()), ("access_denied", "state-1234567"));

    let login_challenge = start_flow(&server, &browser, &[]).await;
    let (_, accepted) = server.admin_put("login", "accept", &login_challenge, json!({"subject": "user-1"})).await;
    let (_, location) = visit(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    let consent_challenge = query_of(&location)["consent_challenge"].clone();
    let (_, rejected) =
        server.admin_put("consent", "reject", &consent_challenge, json!({"error": "access_denied"})).await;
    let (_, location) = visit(&browser, rejected["redirect_to"].as_str().unwrap()).await;
    assert_eq!(query_of(&location)["error"], "access_denied");
    assert!(!query_of(&location).contains_key("code"));

    server.stop().await;
}

#[tokio::test]
async fn a_flow_cannot_be_finished_from_another_browser() {
    let server = Server::start().await;
    let login_challenge = start_flow(&server, &browser(), &[]).await;
    let (_, accepted) = server.admin_put("login", "accept", &login_challenge, json!({"subject": "user-1"})).await;

    // The verifier is followed by a browser that did not start the flow (no CSRF cookie).
    let (_, location) = visit(&browser(), accepted["redirect_to"].as_str().unwrap()).await;
    assert!(location.contains("/oauth2/fallbacks/error?"), "{location}");
    assert_eq!(query_of(&location)["error"], "request_forbidden");

    server.stop().await;
}

#[tokio::test]
async fn the_admin_api_refuses_unknown_used_and_malformed_requests_like_hydra() {
    let server = Server::start().await;
    let browser = browser();

    let (status, error) = server.admin_get("login", "no-such-challenge").await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::NOT_FOUND, Some("Not Found")));

    let login_challenge = start_flow(&server, &browser, &[]).await;
    let (status, _) = server.admin_put("login", "accept", &login_challenge, json!({"subject": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) =
        server.admin_put("login", "accept", &login_challenge, json!({"subject": "u", "surprise": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused");
    let (status, _) = server.admin_put("login", "accept", &login_challenge, json!({"subject": "u"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server.admin_put("login", "accept", &login_challenge, json!({"subject": "u"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, gone) = server.admin_get("login", &login_challenge).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(gone["redirect_to"].is_string());

    server.stop().await;
}

#[tokio::test]
async fn a_remembered_login_is_offered_as_skip_and_must_keep_its_subject() {
    let server = Server::start().await;
    let browser = browser();
    code_for(&server, &browser, "user-1").await;

    let login_challenge = start_flow(&server, &browser, &[]).await;
    let (_, login) = server.admin_get("login", &login_challenge).await;
    assert_eq!((login["skip"].as_bool(), login["subject"].as_str()), (Some(true), Some("user-1")));
    let (status, _) = server.admin_put("login", "accept", &login_challenge, json!({"subject": "user-2"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, accepted) = server.admin_put("login", "accept", &login_challenge, json!({"subject": "user-1"})).await;
    let (_, location) = visit(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    let (_, consent) = server.admin_get("consent", &query_of(&location)["consent_challenge"]).await;
    assert_eq!(consent["skip"], true, "the consent was remembered too");

    // prompt=login forces a fresh login.
    let login_challenge = start_flow(&server, &browser, &[("prompt", "login")]).await;
    let (_, login) = server.admin_get("login", &login_challenge).await;
    assert_eq!(login["skip"], false);

    server.stop().await;
}

/// The `Set-Cookie` of the session cookie in the answer to `url`, if any.
async fn session_cookie_set_by(browser: &reqwest::Client, url: &str) -> Option<String> {
    let response = browser.get(url).send().await.unwrap();
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{}=", ec_oauth_server::public::SESSION_COOKIE)))
}

#[tokio::test]
async fn a_login_remembered_for_the_browser_session_answers_prompt_none_until_the_browser_closes() {
    let server = Server::start().await;
    let browser = browser();
    // prompt=none with no session goes back to the client with login_required, never to the login page.
    let (status, location) = visit(&browser, &server.authorize_url(&[("prompt", "none")])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_of(&location)["error"], "login_required");

    // remember_for 0: a cookie for the browser's session (no Max-Age, no Expires), as Hydra's API says.
    let login_challenge = start_flow(&server, &browser, &[]).await;
    let (_, accepted) = server
        .admin_put(
            "login",
            "accept",
            &login_challenge,
            json!({"subject": "user-1", "remember": true, "remember_for": 0}),
        )
        .await;
    let cookie = session_cookie_set_by(&browser, accepted["redirect_to"].as_str().unwrap()).await.unwrap();
    assert!(!cookie.contains("Max-Age") && !cookie.contains("Expires"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");

    // A silent sign-in (prompt=none) in the same browser is a skipped login; accepting it leaves the cookie as
    // it was, whatever remember_for says, unless the lifespan is extended.
    let login_challenge = start_flow(&server, &browser, &[("prompt", "none")]).await;
    let (_, login) = server.admin_get("login", &login_challenge).await;
    assert_eq!((login["skip"].as_bool(), login["subject"].as_str()), (Some(true), Some("user-1")));
    let (_, accepted) =
        server.admin_put("login", "accept", &login_challenge, json!({"subject": "user-1", "remember_for": 3600})).await;
    assert_eq!(session_cookie_set_by(&browser, accepted["redirect_to"].as_str().unwrap()).await, None);
    let login_challenge = start_flow(&server, &browser, &[("prompt", "none")]).await;
    let body = json!({"subject": "user-1", "remember": true, "remember_for": 3600, "extend_session_lifespan": true});
    let (_, accepted) = server.admin_put("login", "accept", &login_challenge, body).await;
    let cookie = session_cookie_set_by(&browser, accepted["redirect_to"].as_str().unwrap()).await.unwrap();
    assert!(cookie.contains("Max-Age=3600"), "{cookie}");

    // A browser without the cookie (closed and opened again) has no session.
    let (_, location) = visit(&self::browser(), &server.authorize_url(&[("prompt", "none")])).await;
    assert_eq!(query_of(&location)["error"], "login_required");

    server.stop().await;
}

#[tokio::test]
async fn prompt_registration_sends_the_browser_to_the_registration_page_or_by_default_the_login_page() {
    let server = Server::start_with(|config| {
        config.registration_url = Some("http://login.test/oauth2/registration".parse().unwrap());
    })
    .await;
    let (status, location) = visit(&browser(), &server.authorize_url(&[("prompt", "registration")])).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.starts_with("http://login.test/oauth2/registration?login_challenge="), "{location}");
    let challenge = query_of(&location)["login_challenge"].clone();
    let (_, login) = server.admin_get("login", &challenge).await;
    assert_eq!(login["skip"], false);
    server.stop().await;

    // Without urls.registration, Hydra sends it to the login page.
    let server = Server::start().await;
    let challenge = start_flow(&server, &browser(), &[("prompt", "registration")]).await;
    assert!(!challenge.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn rp_initiated_logout_ends_the_session_and_its_refresh_tokens() {
    let server = Server::start().await;
    let browser = browser();
    let code = code_for(&server, &browser, "user-1").await;
    let (_, tokens) = exchange(&server, &code).await;

    let logout_url = format!(
        "{}/oauth2/sessions/logout?{}",
        server.public,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
            .append_pair("post_logout_redirect_uri", REDIRECT)
            .append_pair("state", "bye-state")
            .finish()
    );
    let (_, location) = visit(&browser, &logout_url).await;
    let challenge = query_of(&location)["logout_challenge"].clone();
    let (status, logout) = server.admin_get("logout", &challenge).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((logout["subject"].as_str(), logout["rp_initiated"].as_bool()), (Some("user-1"), Some(true)));
    assert_eq!(logout["client"]["client_id"], SPA);

    let (_, accepted) = server.admin_put("logout", "accept", &challenge, Value::Null).await;
    let (_, location) = visit(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(query_of(&location)["state"], "bye-state");
    // A finished logout request answers 410 with where to send the browser (Hydra v2.3.0's API), and can be
    // neither accepted nor finished again.
    let (status, gone) = server.admin_get("logout", &challenge).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(gone["redirect_to"].as_str().unwrap().starts_with(&format!("{}/oauth2/sessions/logout?", server.public)));
    let (status, _) = server.admin_put("logout", "accept", &challenge, Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, location) = visit(&browser, accepted["redirect_to"].as_str().unwrap()).await;
    assert!(location.contains("/oauth2/fallbacks/error") || location.contains("error="), "{location}");

    let (status, _) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", SPA),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "refresh tokens of the session are revoked");
    let login_challenge = start_flow(&server, &browser, &[]).await;
    let (_, login) = server.admin_get("login", &login_challenge).await;
    assert_eq!(login["skip"], false, "the login session is gone");

    server.stop().await;
}

#[tokio::test]
async fn clients_created_through_the_admin_api_work_at_once_and_bad_ones_are_refused() {
    let server = Server::start().await;
    let create = |body: Value| {
        let request = reqwest::Client::new().post(format!("{}/admin/clients", server.admin)).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    // As a deployment script registers a back-office client: no id, no secret; both are made.
    let (status, created) = create(json!({
        "client_name": "Back office",
        "grant_types": ["client_credentials"],
        "scope": "orders.read",
        "audience": ["ec-api"],
        "token_endpoint_auth_method": "client_secret_post"
    }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (id, secret) = (created["client_id"].as_str().unwrap(), created["client_secret"].as_str().unwrap());
    assert!(secret.len() >= 32, "a strong secret is made and shown once");
    let (status, body) = server
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", "orders.read"),
            ("audience", "ec-api"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "the new client gets tokens at once: {body}");

    let (status, error) = create(json!({"client_id": id, "grant_types": ["client_credentials"]})).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::CONFLICT, Some("Conflict")), "{error}");
    for uri in
        ["not a url", "javascript:alert(1)", "data:text/html,hi", "http://evil.example/cb", "https://a.example/#x"]
    {
        let (status, error) = create(json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"})).await;
        assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_redirect_uri")), "{uri}");
    }
    let (status, error) = create(json!({"client_id": "x", "client_secret": "short"})).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")));
    let (status, error) = create(json!({"grant_types": "not a list"})).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client_metadata")));
    server.stop().await;
}

#[tokio::test]
async fn confidential_clients_get_client_credentials_tokens_only_with_their_secret() {
    let clients = std::env::temp_dir().join(format!("ec-clients-{}.json", uuid::Uuid::now_v7()));
    std::fs::write(
        &clients,
        json!([{
            "client_id": "back-office",
            "client_secret": "a-long-enough-secret",
            "grant_types": ["client_credentials"],
            "scope": "orders.read",
            "audience": ["ec-api"],
            "token_endpoint_auth_method": "client_secret_basic"
        }])
        .to_string(),
    )
    .unwrap();
    let path = clients.clone();
    let server = Server::start_with(move |c| c.clients_file = Some(path)).await;
    let ask = |secret: &str| {
        let request = reqwest::Client::new()
            .post(format!("{}/oauth2/token", server.public))
            .basic_auth("back-office", Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "orders.read"), ("audience", "ec-api")]);
        async move { hydra_shaped("POST", "/oauth2/token", request.send().await.unwrap()).await }
    };

    let (status, body) = ask("a-long-enough-secret").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let claims = server.verify(body["access_token"].as_str().unwrap(), "ec-api").await;
    assert_eq!((claims["sub"].as_str(), claims["scp"].clone()), (Some("back-office"), json!(["orders.read"])));

    let (status, _) = ask("the-wrong-secret-entirely").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, error) =
        server.token(&[("grant_type", "client_credentials"), ("client_id", SPA), ("scope", "openid")]).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unauthorized_client")));
    let (status, error) = server.token(&[("grant_type", "password"), ("client_id", SPA)]).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("unsupported_grant_type")));

    std::fs::remove_file(clients).unwrap();
    server.stop().await;
}

#[tokio::test]
async fn it_refuses_to_start_in_production() {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = OAuthServerConfig::local(any, any);
    let err = OAuthServer::bind(&config, Environment::Production).await.err().expect("refused");
    assert!(err.to_string().contains("Hydra"), "{err}");
}

#[tokio::test]
async fn revoking_a_subjects_sessions_ends_its_refresh_tokens_and_remembered_login() {
    let server = Server::start().await;
    let browser = browser();
    let code = code_for(&server, &browser, "user-1").await;
    let (_, tokens) = exchange(&server, &code).await;
    let other = code_for(&server, &self::browser(), "user-2").await;
    let (_, other_tokens) = exchange(&server, &other).await;

    assert_eq!(server.admin_delete("consent", &[]).await, StatusCode::BAD_REQUEST);
    assert_eq!(server.admin_delete("login", &[("subject", "user-1")]).await, StatusCode::NO_CONTENT);
    assert_eq!(server.admin_delete("consent", &[("subject", "user-1"), ("all", "true")]).await, StatusCode::NO_CONTENT);

    let refresh = |token: &Value| {
        let token = token["refresh_token"].as_str().unwrap().to_owned();
        let server = &server;
        async move { server.token(&[("grant_type", "refresh_token"), ("refresh_token", &token), ("client_id", SPA)]).await }
    };
    assert_eq!(refresh(&tokens).await.0, StatusCode::BAD_REQUEST, "user-1's refresh token is revoked");
    assert_eq!(refresh(&other_tokens).await.0, StatusCode::OK, "user-2 is untouched");
    let login_challenge = start_flow(&server, &browser, &[]).await;
    let (_, login) = server.admin_get("login", &login_challenge).await;
    assert_eq!(login["skip"], false, "the remembered login is gone");

    server.stop().await;
}
