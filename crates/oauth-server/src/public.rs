//! The public port: discovery, JWKS, the authorization endpoint with its login and consent round trips,
//! the token endpoint, and RP-initiated logout.

use std::{collections::HashMap, sync::Arc};

use aws_lc_rs::digest;
use axum::{
    Form, Json, Router,
    extract::{Query, RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::{
    Shared,
    clients::{AuthMethod, Client},
    store::{
        AuthorizeRequest, Code, Decision, Flow, Grant, Handle, LoginSession, LogoutFlow, RefreshToken,
        RememberedConsent, now, random_token,
    },
};

/// Most authorization requests waiting for login or consent at once: anyone can start one, so their number is
/// bounded (each also holds its request URL until it expires).
const MAX_PENDING_FLOWS: usize = 10_000;

/// Name of the cookie holding the login session id.
pub const SESSION_COOKIE: &str = "ec_oauth_session";
const CSRF_COOKIE_PREFIX: &str = "ec_oauth_csrf_";

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/oauth2/auth", get(authorize))
        .route("/oauth2/token", axum::routing::post(token))
        .route("/oauth2/sessions/logout", get(logout))
        .route("/oauth2/fallbacks/error", get(fallback_error))
        .route("/oauth2/fallbacks/logout/callback", get(fallback_logged_out))
        .with_state(shared)
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let base = shared.public_base();
    Json(json!({
        "issuer": shared.minter.issuer,
        "authorization_endpoint": format!("{base}/oauth2/auth"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{base}/oauth2/sessions/logout"),
        "subject_types_supported": ["public"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "scopes_supported": ["offline_access", "offline", "openid"],
        "claims_supported": ["sub"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "keys": [shared.minter.key.jwk()] }))
}

/// A `302 Found` redirect, as Hydra sends.
fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// An error for the browser: back to the client when its redirect URI is known good, to the error page
/// otherwise (never to an unverified redirect URI: that would be an open redirect).
fn to_client(redirect_uri: &str, error: &str, description: &str, state: Option<&str>) -> Response {
    let mut url = url::Url::parse(redirect_uri).expect("registered redirect URIs are URLs");
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("error", error).append_pair("error_description", description);
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    found(url.as_str())
}

fn to_error_page(shared: &Shared, error: &str, description: &str) -> Response {
    let mut url = shared.error_url.clone();
    url.query_pairs_mut().append_pair("error", error).append_pair("error_description", description);
    found(url.as_str())
}

fn csrf_cookie_name(flow_id: &str) -> String {
    format!("{CSRF_COOKIE_PREFIX}{}", &flow_id[..12])
}

fn set_cookie(shared: &Shared, name: String, value: String, max_age: Option<i64>) -> Cookie<'static> {
    let mut built = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(shared.public_base().starts_with("https://"))
        .build();
    if let Some(seconds) = max_age {
        built.set_max_age(cookie::time::Duration::seconds(seconds));
    }
    built
}

async fn authorize(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
    jar: CookieJar,
) -> Response {
    if let Some(verifier) = params.get("login_verifier") {
        return after_login(&shared, verifier, jar);
    }
    if let Some(verifier) = params.get("consent_verifier") {
        return after_consent(&shared, verifier, jar);
    }
    start(&shared, &params, raw.unwrap_or_default(), jar)
}

fn start(shared: &Shared, params: &HashMap<String, String>, raw_query: String, jar: CookieJar) -> Response {
    let param = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client) = param("client_id").and_then(|id| shared.clients.get(id)) else {
        return to_error_page(shared, "invalid_client", "The requested OAuth 2.0 Client does not exist.");
    };
    let redirect_uri = match param("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| r == uri) => uri.to_owned(),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        _ => {
            return to_error_page(
                shared,
                "invalid_request",
                "The 'redirect_uri' parameter does not match any of the OAuth 2.0 Client's pre-registered redirect urls.",
            );
        }
    };
    let state = param("state");
    let fail = |error: &str, description: &str| to_client(&redirect_uri, error, description, state);
    if param("response_type") != Some("code") || !client.response_types.iter().any(|t| t == "code") {
        return fail(
            "unsupported_response_type",
            "The authorization server does not support obtaining a token using this method.",
        );
    }
    let Some(state) = state.filter(|s| s.chars().count() >= 8) else {
        return fail(
            "invalid_state",
            "The state is missing or does not have enough characters and is therefore considered too weak.",
        );
    };
    let scopes: Vec<String> = param("scope").unwrap_or_default().split_whitespace().map(String::from).collect();
    if let Some(denied) = scopes.iter().find(|s| !client.allows_scope(s)) {
        return fail("invalid_scope", &format!("The OAuth 2.0 Client is not allowed to request scope '{denied}'."));
    }
    let audience: Vec<String> = param("audience").unwrap_or_default().split_whitespace().map(String::from).collect();
    if let Some(denied) = audience.iter().find(|a| !client.audience.contains(a)) {
        return fail(
            "invalid_request",
            &format!("Requested audience '{denied}' has not been whitelisted by the OAuth 2.0 Client."),
        );
    }
    let code_challenge = param("code_challenge").map(String::from);
    match (&code_challenge, param("code_challenge_method")) {
        (None, _) if client.is_public() => {
            return fail(
                "invalid_request",
                "Clients must include a code_challenge when performing the authorize code flow, but it is missing.",
            );
        }
        (Some(_), method) if method != Some("S256") => {
            return fail("invalid_request", "The code_challenge_method must be S256; plain is not allowed.");
        }
        (Some(challenge), _) if !valid_pkce_string(challenge) => {
            return fail("invalid_request", "The code_challenge is malformed.");
        }
        _ => {}
    }
    let prompt = param("prompt").unwrap_or_default();

    let mut state_store = shared.store.lock();
    if state_store.flows.len() >= MAX_PENDING_FLOWS {
        tracing::warn!("too many pending authorization requests; refusing new ones");
        return (StatusCode::SERVICE_UNAVAILABLE, "Too many sign-in requests in progress; try again shortly.\n")
            .into_response();
    }
    let remembered = jar
        .get(SESSION_COOKIE)
        .and_then(|c| {
            state_store.sessions.get(c.value()).map(|s| (c.value().to_owned(), s.subject.clone(), s.auth_time))
        })
        .filter(|_| !prompt.split_whitespace().any(|p| p == "login"));
    if prompt.split_whitespace().any(|p| p == "none") && remembered.is_none() {
        return fail("login_required", "Prompt 'none' was requested, but no existing login session was found.");
    }

    let flow_id = random_token();
    let login_challenge = random_token();
    let csrf = random_token();
    let request_url = url::Url::parse(&format!("{}/oauth2/auth?{raw_query}", shared.public_base()))
        .expect("the public base URL is a URL");
    let (session_id, remembered_subject, auth_time) = match remembered {
        Some((sid, subject, auth_time)) => (sid, Some(subject), auth_time),
        None => (random_token(), None, now()),
    };
    let flow = Flow {
        request: AuthorizeRequest {
            client_id: client.client_id.clone(),
            redirect_uri,
            scopes,
            audience,
            state: state.to_owned(),
            nonce: param("nonce").map(String::from),
            code_challenge,
            prompt_login: prompt.split_whitespace().any(|p| p == "login" || p == "consent"),
            request_url,
            requested_at: now(),
        },
        csrf: csrf.clone(),
        login_challenge: login_challenge.clone(),
        login_verifier: random_token(),
        remembered_subject,
        session_id,
        login: Decision::Pending,
        login_verified: false,
        consent_challenge: None,
        consent_verifier: None,
        consent_skip: false,
        consent: Decision::Pending,
        consent_verified: false,
        auth_time,
        expires_at: now() + shared.request_ttl,
    };
    state_store.add_handle(Handle::LoginChallenge, &login_challenge, &flow_id);
    state_store.add_handle(Handle::LoginVerifier, &flow.login_verifier, &flow_id);
    state_store.flows.insert(flow_id.clone(), flow);
    drop(state_store);

    let mut login_url = shared.login_url.clone();
    login_url.query_pairs_mut().append_pair("login_challenge", &login_challenge);
    let jar = jar.add(set_cookie(shared, csrf_cookie_name(&flow_id), csrf, Some(shared.request_ttl)));
    (jar, found(login_url.as_str())).into_response()
}

/// The flow a verifier names, checked against the browser's CSRF cookie; `Err` holds the error and its
/// description for the error page.
fn verified_flow<'a>(
    state: &'a mut crate::store::State,
    kind: Handle,
    verifier: &str,
    jar: &CookieJar,
) -> Result<(String, &'a mut Flow), (&'static str, &'static str)> {
    const INVALID: (&str, &str) =
        ("invalid_request", "The verifier has already been used, has not been granted, or is invalid.");
    let Some((_, flow_id)) = state.handles.get(verifier).filter(|(k, _)| *k == kind).cloned() else {
        return Err(INVALID);
    };
    let flow = state.flows.get_mut(&flow_id).ok_or(INVALID)?;
    let cookie_ok = jar
        .get(&csrf_cookie_name(&flow_id))
        .is_some_and(|c| bool::from(subtle::ConstantTimeEq::ct_eq(c.value().as_bytes(), flow.csrf.as_bytes())));
    if !cookie_ok {
        return Err((
            "request_forbidden",
            "The request was not started in this browser (CSRF cookie missing or mismatched).",
        ));
    }
    Ok((flow_id, flow))
}

fn rejection_to_client(flow: &Flow, rejection: &crate::store::Rejection) -> Response {
    to_client(
        &flow.request.redirect_uri,
        rejection.error.as_deref().unwrap_or("access_denied"),
        rejection
            .error_description
            .as_deref()
            .unwrap_or("The resource owner or authorization server denied the request."),
        Some(&flow.request.state),
    )
}

fn after_login(shared: &Shared, verifier: &str, jar: CookieJar) -> Response {
    let mut state = shared.store.lock();
    let (flow_id, flow) = match verified_flow(&mut state, Handle::LoginVerifier, verifier, &jar) {
        Ok(found) => found,
        Err((error, description)) => return to_error_page(shared, error, description),
    };
    if flow.login_verified {
        return to_error_page(shared, "invalid_request", "The login verifier has already been used.");
    }
    flow.login_verified = true;
    let login = match &flow.login {
        Decision::Accepted(login) => login.clone(),
        Decision::Rejected(rejection) => return rejection_to_client(flow, rejection),
        Decision::Pending => {
            return to_error_page(shared, "invalid_request", "The login request has not been answered yet.");
        }
    };
    let session_id = flow.session_id.clone();
    let consent_challenge = random_token();
    let consent_verifier = random_token();
    flow.consent_challenge = Some(consent_challenge.clone());
    flow.consent_verifier = Some(consent_verifier.clone());
    let client_id = flow.request.client_id.clone();
    let requested_scopes = flow.request.scopes.clone();
    let requested_audience = flow.request.audience.clone();
    let prompt_consent = flow.request.prompt_login;
    let auth_time = flow.auth_time;

    let consent_skip = !prompt_consent
        && state.consents.get(&(login.subject.clone(), client_id)).is_some_and(|remembered| {
            requested_scopes.iter().all(|s| remembered.consent.grant_scope.contains(s))
                && requested_audience.iter().all(|a| remembered.consent.grant_audience.contains(a))
        });
    if let Some(flow) = state.flows.get_mut(&flow_id) {
        flow.consent_skip = consent_skip;
    }
    state.add_handle(Handle::ConsentChallenge, &consent_challenge, &flow_id);
    state.add_handle(Handle::ConsentVerifier, &consent_verifier, &flow_id);

    let mut jar = jar;
    if login.remember {
        let ttl = if login.remember_for > 0 { login.remember_for } else { 720 * 3600 };
        state.sessions.insert(
            session_id.clone(),
            LoginSession { subject: login.subject.clone(), auth_time, expires_at: now() + ttl },
        );
        jar = jar.add(set_cookie(shared, SESSION_COOKIE.into(), session_id, Some(ttl)));
    } else {
        // Not remembering a login ends any session this browser had.
        state.end_session(&session_id);
        jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    }
    drop(state);

    let mut consent_url = shared.consent_url.clone();
    consent_url.query_pairs_mut().append_pair("consent_challenge", &consent_challenge);
    (jar, found(consent_url.as_str())).into_response()
}

fn after_consent(shared: &Shared, verifier: &str, jar: CookieJar) -> Response {
    let mut state = shared.store.lock();
    let (flow_id, flow) = match verified_flow(&mut state, Handle::ConsentVerifier, verifier, &jar) {
        Ok(found) => found,
        Err((error, description)) => return to_error_page(shared, error, description),
    };
    if flow.consent_verified {
        return to_error_page(shared, "invalid_request", "The consent verifier has already been used.");
    }
    flow.consent_verified = true;
    let consent = match &flow.consent {
        Decision::Accepted(consent) => consent.clone(),
        Decision::Rejected(rejection) => return rejection_to_client(flow, rejection),
        Decision::Pending => {
            return to_error_page(shared, "invalid_request", "The consent request has not been answered yet.");
        }
    };
    let subject = flow.subject().expect("consent follows an accepted login").to_owned();
    let request = flow.request.clone();
    let grant = Grant {
        client_id: request.client_id.clone(),
        subject: subject.clone(),
        scopes: consent.grant_scope.clone(),
        audience: consent.grant_audience.clone(),
        access_token_claims: consent.access_token_claims.clone(),
        id_token_claims: consent.id_token_claims.clone(),
        session_id: flow.session_id.clone(),
        auth_time: flow.auth_time,
        requested_at: request.requested_at,
        nonce: request.nonce.clone(),
        family: random_token(),
    };
    if consent.remember {
        let expires_at = if consent.remember_for > 0 { now() + consent.remember_for } else { 0 };
        state
            .consents
            .insert((subject, request.client_id.clone()), RememberedConsent { consent: consent.clone(), expires_at });
    }
    let code = random_token();
    state.codes.insert(
        code.clone(),
        Code {
            grant,
            redirect_uri: request.redirect_uri.clone(),
            code_challenge: request.code_challenge.clone(),
            expires_at: now() + shared.code_ttl,
            used: false,
        },
    );
    state.flows.remove(&flow_id);
    drop(state);

    let mut target = url::Url::parse(&request.redirect_uri).expect("registered redirect URIs are URLs");
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scope", &consent.grant_scope.join(" "))
        .append_pair("state", &request.state);
    let jar = jar.remove(Cookie::build(csrf_cookie_name(&flow_id)).path("/"));
    (jar, found(target.as_str())).into_response()
}

/// The token endpoint's error: `{"error", "error_description"}`, 400 (401 for client authentication).
struct TokenError(StatusCode, &'static str, String);

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(json!({"error": self.1, "error_description": self.2}))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"oauth2\""));
        }
        response
    }
}

fn invalid_grant(description: &str) -> TokenError {
    TokenError(StatusCode::BAD_REQUEST, "invalid_grant", description.into())
}

fn invalid_request(description: &str) -> TokenError {
    TokenError(StatusCode::BAD_REQUEST, "invalid_request", description.into())
}

fn invalid_client(description: &str) -> TokenError {
    TokenError(StatusCode::UNAUTHORIZED, "invalid_client", description.into())
}

/// Authenticates the client by the method it registered.
fn authenticate<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<&'a Client, TokenError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|encoded| {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid_client("The Authorization header is malformed."))?;
            let (id, secret) =
                decoded.split_once(':').ok_or_else(|| invalid_client("The Authorization header is malformed."))?;
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Ok::<_, TokenError>((unescape(id), unescape(secret)))
        })
        .transpose()?;
    let (client_id, secret, method) = match (basic, form.get("client_secret")) {
        (Some((id, secret)), _) => (id, Some(secret), AuthMethod::ClientSecretBasic),
        (None, Some(secret)) => {
            (form.get("client_id").cloned().unwrap_or_default(), Some(secret.clone()), AuthMethod::ClientSecretPost)
        }
        (None, None) => (form.get("client_id").cloned().unwrap_or_default(), None, AuthMethod::None),
    };
    let generic = "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method).";
    let client = shared.clients.get(&client_id).ok_or_else(|| invalid_client(generic))?;
    if client.token_endpoint_auth_method != method {
        return Err(invalid_client(generic));
    }
    if let Some(secret) = secret
        && !client.secret_matches(&secret)
    {
        return Err(invalid_client(generic));
    }
    Ok(client)
}

async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => authorization_code(&shared, &headers, &form),
        Some("refresh_token") => refresh(&shared, &headers, &form),
        Some("client_credentials") => client_credentials(&shared, &headers, &form),
        Some(_) => Err(TokenError(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.".into(),
        )),
        None => Err(invalid_request("The grant_type parameter is missing.")),
    };
    let mut response = match result {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    };
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    valid_pkce_string(verifier)
        && URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes())) == challenge
}

/// RFC 7636: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn valid_pkce_string(value: &str) -> bool {
    (43..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

fn authorization_code(
    shared: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Value, TokenError> {
    let client = authenticate(shared, headers, form)?;
    if !client.allows_grant("authorization_code") {
        return Err(TokenError(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "The client is not allowed to use the authorization_code grant.".into(),
        ));
    }
    let code_value = form.get("code").ok_or_else(|| invalid_request("The code parameter is missing."))?;
    let mut state = shared.store.lock();
    let code = state
        .codes
        .get_mut(code_value)
        .ok_or_else(|| invalid_grant("The authorization code is invalid, expired, or was issued to another client."))?;
    if code.used {
        // A replayed code: someone else may hold it, so everything issued from it is revoked.
        let family = code.grant.family.clone();
        state.revoke_family(&family);
        return Err(invalid_grant("The authorization code has already been used."));
    }
    if code.grant.client_id != client.client_id {
        return Err(invalid_grant("The authorization code was issued to another client."));
    }
    if form.get("redirect_uri") != Some(&code.redirect_uri) {
        return Err(invalid_grant(
            "The 'redirect_uri' from this request does not match the one from the authorize request.",
        ));
    }
    if let Some(challenge) = &code.code_challenge {
        let verifier = form.get("code_verifier").map(String::as_str).unwrap_or_default();
        if !pkce_matches(verifier, challenge) {
            return Err(invalid_grant("The PKCE code challenge did not match the code verifier."));
        }
    }
    code.used = true;
    let grant = code.grant.clone();
    Ok(issue(shared, &mut state, client, grant, true))
}

fn refresh(shared: &Shared, headers: &HeaderMap, form: &HashMap<String, String>) -> Result<Value, TokenError> {
    let client = authenticate(shared, headers, form)?;
    if !client.allows_grant("refresh_token") {
        return Err(TokenError(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "The client is not allowed to use the refresh_token grant.".into(),
        ));
    }
    let presented =
        form.get("refresh_token").ok_or_else(|| invalid_request("The refresh_token parameter is missing."))?;
    let mut state = shared.store.lock();
    let token = state
        .refresh_tokens
        .get_mut(presented)
        .ok_or_else(|| invalid_grant("The refresh token is invalid, expired, or revoked."))?;
    if token.grant.client_id != client.client_id {
        return Err(invalid_grant("The refresh token was issued to another client."));
    }
    if token.used {
        let family = token.grant.family.clone();
        state.revoke_family(&family);
        return Err(invalid_grant("The refresh token has already been used; every token of its grant is revoked."));
    }
    token.used = true;
    let grant = token.grant.clone();
    Ok(issue(shared, &mut state, client, grant, true))
}

fn client_credentials(
    shared: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Value, TokenError> {
    let client = authenticate(shared, headers, form)?;
    if client.is_public() || !client.allows_grant("client_credentials") {
        return Err(TokenError(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "The client is not allowed to use the client_credentials grant.".into(),
        ));
    }
    let scopes: Vec<String> =
        form.get("scope").map(|s| s.split_whitespace().map(String::from).collect()).unwrap_or_default();
    if let Some(denied) = scopes.iter().find(|s| !client.allows_scope(s)) {
        return Err(TokenError(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            format!("The OAuth 2.0 Client is not allowed to request scope '{denied}'."),
        ));
    }
    let audience: Vec<String> =
        form.get("audience").map(|s| s.split_whitespace().map(String::from).collect()).unwrap_or_default();
    if let Some(denied) = audience.iter().find(|a| !client.audience.contains(a)) {
        return Err(invalid_request(&format!(
            "Requested audience '{denied}' has not been whitelisted by the OAuth 2.0 Client."
        )));
    }
    let grant = Grant {
        client_id: client.client_id.clone(),
        subject: client.client_id.clone(),
        scopes,
        audience,
        access_token_claims: Default::default(),
        id_token_claims: Default::default(),
        session_id: String::new(),
        auth_time: now(),
        requested_at: now(),
        nonce: None,
        family: random_token(),
    };
    let mut state = shared.store.lock();
    Ok(issue(shared, &mut state, client, grant, false))
}

/// The token response for `grant`: an access token; an ID token if `openid` was granted; a fresh refresh
/// token if offline access was granted and the client may refresh.
fn issue(shared: &Shared, state: &mut crate::store::State, client: &Client, grant: Grant, user_grant: bool) -> Value {
    let access_token = shared.minter.access_token(&grant);
    let mut body = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": shared.minter.access_token_ttl,
        "scope": grant.scopes.join(" "),
    });
    if user_grant && grant.scopes.iter().any(|s| s == "openid") {
        body["id_token"] = json!(shared.minter.id_token(&grant, &access_token));
    }
    let offline = grant.scopes.iter().any(|s| s == "offline_access" || s == "offline");
    if user_grant && offline && client.allows_grant("refresh_token") {
        let refresh_token = random_token();
        state.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshToken { grant, expires_at: now() + shared.refresh_token_ttl, used: false },
        );
        body["refresh_token"] = json!(refresh_token);
    }
    body
}

async fn logout(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
    jar: CookieJar,
) -> Response {
    if let Some(verifier) = params.get("logout_verifier") {
        return finish_logout(&shared, verifier, jar);
    }
    let hint = params.get("id_token_hint").filter(|h| !h.is_empty());
    let post_logout = params.get("post_logout_redirect_uri").filter(|u| !u.is_empty());
    let state_param = params.get("state").filter(|s| !s.is_empty());
    if hint.is_none() && (post_logout.is_some() || state_param.is_some()) {
        return to_error_page(
            &shared,
            "invalid_request",
            "Logout failed because query parameters state or post_logout_redirect_uri were set without id_token_hint.",
        );
    }
    let mut client_id = None;
    let mut hinted_session = None;
    if let Some(hint) = hint {
        let Some(claims) = shared.verify_own_token(hint) else {
            return to_error_page(
                &shared,
                "invalid_request",
                "The id_token_hint is not a valid ID token of this server.",
            );
        };
        let aud = claims["aud"].as_array().and_then(|a| a.first()).and_then(Value::as_str);
        client_id = aud.map(String::from);
        hinted_session =
            claims["sid"].as_str().zip(claims["sub"].as_str()).map(|(sid, sub)| (sid.to_owned(), sub.to_owned()));
        if let Some(uri) = post_logout {
            let registered = client_id
                .as_deref()
                .and_then(|id| shared.clients.get(id))
                .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri));
            if !registered {
                return to_error_page(
                    &shared,
                    "invalid_request",
                    "The post_logout_redirect_uri is not registered for the client.",
                );
            }
        }
    }
    let mut state = shared.store.lock();
    // The browser's remembered session, or the one the ID token names (a login that was not remembered still
    // has a session id, and refresh tokens bound to it).
    let cookie_session = jar
        .get(SESSION_COOKIE)
        .and_then(|c| state.sessions.get(c.value()).map(|s| (c.value().to_owned(), s.subject.clone())));
    if let (Some((_, subject)), Some((_, hinted_subject))) = (&cookie_session, &hinted_session)
        && subject != hinted_subject
    {
        drop(state);
        return to_error_page(
            &shared,
            "invalid_request",
            "The id_token_hint belongs to another user than this session.",
        );
    }
    let session = cookie_session.or(hinted_session);
    let Some((session_id, subject)) = session else {
        drop(state);
        return found(&post_logout_target(&shared, post_logout, state_param));
    };
    let challenge = random_token();
    let verifier = random_token();
    state.logouts.insert(
        challenge.clone(),
        LogoutFlow {
            subject,
            session_id,
            client_id,
            request_url: format!("{}/oauth2/sessions/logout?{}", shared.public_base(), raw.unwrap_or_default()),
            rp_initiated: hint.is_some(),
            post_logout_redirect_uri: post_logout.cloned(),
            state: state_param.cloned(),
            verifier: verifier.clone(),
            accepted: false,
            requested_at: now(),
            expires_at: now() + shared.request_ttl,
        },
    );
    state.logout_verifiers.insert(verifier, challenge.clone());
    drop(state);
    let mut url = shared.logout_url.clone();
    url.query_pairs_mut().append_pair("logout_challenge", &challenge);
    found(url.as_str())
}

fn post_logout_target(shared: &Shared, uri: Option<&String>, state: Option<&String>) -> String {
    match uri {
        Some(uri) => {
            let mut url = url::Url::parse(uri).expect("registered post-logout URIs are URLs");
            if let Some(state) = state {
                url.query_pairs_mut().append_pair("state", state);
            }
            url.to_string()
        }
        None => format!("{}/oauth2/fallbacks/logout/callback", shared.public_base()),
    }
}

fn finish_logout(shared: &Shared, verifier: &str, jar: CookieJar) -> Response {
    let mut state = shared.store.lock();
    let Some(challenge) = state.logout_verifiers.remove(verifier) else {
        return to_error_page(shared, "invalid_request", "The logout verifier is invalid or has been used.");
    };
    let Some(flow) = state.logouts.remove(&challenge).filter(|f| f.accepted) else {
        return to_error_page(shared, "invalid_request", "The logout request was not accepted.");
    };
    state.end_session(&flow.session_id);
    drop(state);
    let target = post_logout_target(shared, flow.post_logout_redirect_uri.as_ref(), flow.state.as_ref());
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    (jar, found(&target)).into_response()
}

async fn fallback_error(Query(params): Query<HashMap<String, String>>) -> Response {
    let error = params.get("error").map(String::as_str).unwrap_or("unknown_error");
    let description = params.get("error_description").map(String::as_str).unwrap_or_default();
    (StatusCode::BAD_REQUEST, format!("The sign-in request failed.\n\nerror: {error}\n{description}\n")).into_response()
}

async fn fallback_logged_out() -> &'static str {
    "You are signed out.\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example() {
        // RFC 7636, appendix B.
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!valid_pkce_string("too-short"));
        assert!(!valid_pkce_string(&"a".repeat(129)));
        assert!(!valid_pkce_string(&format!("{}!", "a".repeat(50))));
    }
}
