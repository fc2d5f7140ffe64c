//! The admin port: Hydra's login, consent and logout request API, which the login/consent app calls.
//!
//! Paths, query parameters, bodies and answers follow Hydra v2: `GET /admin/oauth2/auth/requests/login?
//! login_challenge=…` returns an `OAuth2LoginRequest`; `PUT …/login/accept` takes an
//! `AcceptOAuth2LoginRequest` and answers `{"redirect_to": …}`; the same for consent; logout accept answers
//! `{"redirect_to"}` and logout reject 204. An unknown challenge is 404, a request already answered is 409 on
//! accept/reject and 410 (with `redirect_to`) on read, as in Hydra. `DELETE /admin/oauth2/auth/sessions/login`
//! and `.../sessions/consent?all=true` sign a subject out everywhere and revoke its refresh tokens.
//! `POST /admin/clients` registers a client (Hydra's `createOAuth2Client`), as a deployment script does.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{Query, State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, put},
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::{
    Shared,
    clients::{Client, ClientsError},
    store::{ConsentAccepted, Decision, Flow, Handle, LoginAccepted, Rejection},
};

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/admin/oauth2/auth/requests/login", get(get_login))
        .route("/admin/oauth2/auth/requests/login/accept", put(accept_login))
        .route("/admin/oauth2/auth/requests/login/reject", put(reject_login))
        .route("/admin/oauth2/auth/requests/consent", get(get_consent))
        .route("/admin/oauth2/auth/requests/consent/accept", put(accept_consent))
        .route("/admin/oauth2/auth/requests/consent/reject", put(reject_consent))
        .route("/admin/oauth2/auth/requests/logout", get(get_logout))
        .route("/admin/oauth2/auth/requests/logout/accept", put(accept_logout))
        .route("/admin/oauth2/auth/requests/logout/reject", put(reject_logout))
        .route("/admin/oauth2/auth/sessions/login", axum::routing::delete(revoke_login_sessions))
        .route("/admin/oauth2/auth/sessions/consent", axum::routing::delete(revoke_consent_sessions))
        .route("/admin/clients", axum::routing::post(create_client))
        .route("/health/ready", get(|| async { Json(json!({"status": "ok"})) }))
        .with_state(shared)
}

fn error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not Found", "Unable to locate the requested resource")
}

fn already_used(what: &str) -> Response {
    error(
        StatusCode::CONFLICT,
        "Conflict",
        &format!("The {what} request was already used and can no longer be changed."),
    )
}

fn bad_body(rejection: JsonRejection) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", &rejection.body_text())
}

/// Hydra's `createOAuth2Client`: 201 with the client, its secret shown this once; 400 `invalid_client_metadata`
/// for a client that does not validate; 409 for an id already registered.
async fn create_client(State(shared): State<Arc<Shared>>, body: Result<Json<Client>, JsonRejection>) -> Response {
    let Json(client) = match body {
        Ok(body) => body,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &rejection.body_text()),
    };
    match shared.clients.register(client) {
        Ok(created) => {
            let mut body = serde_json::to_value(&created).expect("clients serialise");
            body["client_secret"] = json!(created.client_secret);
            tracing::info!(client_id = %created.client_id, "OAuth2 client created");
            (StatusCode::CREATED, Json(body)).into_response()
        }
        Err(ClientsError::Exists(id)) => {
            error(StatusCode::CONFLICT, "Conflict", &format!("A client with the id {id} already exists."))
        }
        Err(e @ ClientsError::InvalidRedirect(..)) => {
            error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", &e.to_string())
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "invalid_client_metadata", &e.to_string()),
    }
}

fn redirect_to(url: String) -> Response {
    Json(json!({ "redirect_to": url })).into_response()
}

/// `challenge` is accepted as an alias of the specific parameter name, as in Hydra.
fn challenge<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).or_else(|| params.get("challenge")).map(String::as_str).filter(|c| !c.is_empty())
}

fn missing(name: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "invalid_request", &format!("Query parameter '{name}' is not present."))
}

fn with_verifier(flow: &Flow, name: &str, verifier: &str) -> String {
    let mut url = flow.request.request_url.clone();
    url.query_pairs_mut().append_pair(name, verifier);
    url.to_string()
}

fn client_json(shared: &Shared, client_id: &str) -> Value {
    shared.clients.get(client_id).map(|c| serde_json::to_value(c).expect("clients serialise")).unwrap_or(Value::Null)
}

async fn get_login(State(shared): State<Arc<Shared>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let Some(challenge) = challenge(&params, "login_challenge") else {
        return missing("login_challenge");
    };
    let mut state = shared.store.lock();
    let Some(flow) = state.flow_by(Handle::LoginChallenge, challenge) else {
        return not_found();
    };
    if !matches!(flow.login, Decision::Pending) {
        return (StatusCode::GONE, Json(json!({"redirect_to": flow.request.request_url.to_string()}))).into_response();
    }
    Json(json!({
        "challenge": challenge,
        "requested_scope": flow.request.scopes,
        "requested_access_token_audience": flow.request.audience,
        "skip": flow.remembered_subject.is_some(),
        "subject": flow.remembered_subject.clone().unwrap_or_default(),
        "oidc_context": {},
        "client": client_json(&shared, &flow.request.client_id),
        "request_url": flow.request.request_url.to_string(),
        "session_id": flow.session_id,
    }))
    .into_response()
}

/// Hydra's `acceptOAuth2LoginRequest`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptLogin {
    subject: String,
    #[serde(default)]
    remember: bool,
    #[serde(default)]
    remember_for: i64,
    #[serde(default)]
    extend_session_lifespan: bool,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    context: Value,
    #[serde(default)]
    force_subject_identifier: Option<String>,
    #[serde(default)]
    identity_provider_session_id: Option<String>,
}

async fn accept_login(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    body: Result<Json<AcceptLogin>, JsonRejection>,
) -> Response {
    let Some(challenge) = challenge(&params, "login_challenge") else {
        return missing("login_challenge");
    };
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_body(rejection),
    };
    // Accepted for wire compatibility; they change nothing in this server.
    let _ = (body.force_subject_identifier, body.identity_provider_session_id);
    if body.subject.is_empty() {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "Field 'subject' must not be empty.");
    }
    let mut state = shared.store.lock();
    let Some(flow) = state.flow_by(Handle::LoginChallenge, challenge) else {
        return not_found();
    };
    if !matches!(flow.login, Decision::Pending) {
        return already_used("login");
    }
    if flow.remembered_subject.as_deref().is_some_and(|s| s != body.subject) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Field 'subject' does not match subject from previous authentication.",
        );
    }
    // A skipped login keeps the session it came from, as Hydra does: remembered, with its cookie untouched
    // unless the login app asks to extend its lifespan.
    let remember = body.remember || flow.remembered_subject.is_some();
    flow.login = Decision::Accepted(LoginAccepted {
        subject: body.subject,
        remember,
        remember_for: body.remember_for,
        extend_session_lifespan: body.extend_session_lifespan,
        acr: body.acr,
        amr: body.amr,
        context: body.context,
    });
    let url = with_verifier(flow, "login_verifier", &flow.login_verifier.clone());
    redirect_to(url)
}

async fn reject_login(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    body: Result<Json<Rejection>, JsonRejection>,
) -> Response {
    let Some(challenge) = challenge(&params, "login_challenge") else {
        return missing("login_challenge");
    };
    let Json(rejection) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_body(rejection),
    };
    let mut state = shared.store.lock();
    let Some(flow) = state.flow_by(Handle::LoginChallenge, challenge) else {
        return not_found();
    };
    if !matches!(flow.login, Decision::Pending) {
        return already_used("login");
    }
    flow.login = Decision::Rejected(rejection);
    let url = with_verifier(flow, "login_verifier", &flow.login_verifier.clone());
    redirect_to(url)
}

async fn get_consent(State(shared): State<Arc<Shared>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let Some(challenge) = challenge(&params, "consent_challenge") else {
        return missing("consent_challenge");
    };
    let mut state = shared.store.lock();
    let Some(flow) = state.flow_by(Handle::ConsentChallenge, challenge) else {
        return not_found();
    };
    if !matches!(flow.consent, Decision::Pending) {
        return (StatusCode::GONE, Json(json!({"redirect_to": flow.request.request_url.to_string()}))).into_response();
    }
    let Decision::Accepted(login) = &flow.login else {
        return not_found();
    };
    Json(json!({
        "challenge": challenge,
        "requested_scope": flow.request.scopes,
        "requested_access_token_audience": flow.request.audience,
        "skip": flow.consent_skip,
        "subject": login.subject,
        "oidc_context": {},
        "client": client_json(&shared, &flow.request.client_id),
        "request_url": flow.request.request_url.to_string(),
        "login_challenge": flow.login_challenge,
        "login_session_id": flow.session_id,
        "acr": login.acr.clone().unwrap_or_default(),
        "amr": login.amr,
        "context": login.context,
    }))
    .into_response()
}

/// Hydra's `acceptOAuth2ConsentRequest`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptConsent {
    #[serde(default)]
    grant_scope: Vec<String>,
    #[serde(default)]
    grant_access_token_audience: Vec<String>,
    #[serde(default)]
    remember: bool,
    #[serde(default)]
    remember_for: i64,
    #[serde(default)]
    handled_at: Option<Value>,
    #[serde(default)]
    context: Option<Value>,
    #[serde(default)]
    session: ConsentSession,
}

/// Claims for the tokens: `access_token` goes to the access token's `ext`, `id_token` into the ID token.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsentSession {
    #[serde(default)]
    access_token: Option<Map<String, Value>>,
    #[serde(default)]
    id_token: Option<Map<String, Value>>,
}

async fn accept_consent(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    body: Result<Json<AcceptConsent>, JsonRejection>,
) -> Response {
    let Some(challenge) = challenge(&params, "consent_challenge") else {
        return missing("consent_challenge");
    };
    let Json(body) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_body(rejection),
    };
    let _ = (body.handled_at, body.context);
    let mut state = shared.store.lock();
    let Some(flow) = state.flow_by(Handle::ConsentChallenge, challenge) else {
        return not_found();
    };
    if !matches!(flow.consent, Decision::Pending) {
        return already_used("consent");
    }
    flow.consent = Decision::Accepted(ConsentAccepted {
        grant_scope: body.grant_scope,
        grant_audience: body.grant_access_token_audience,
        remember: body.remember,
        remember_for: body.remember_for,
        access_token_claims: body.session.access_token.unwrap_or_default(),
        id_token_claims: body.session.id_token.unwrap_or_default(),
    });
    let verifier = flow.consent_verifier.clone().expect("a consent challenge comes with its verifier");
    redirect_to(with_verifier(flow, "consent_verifier", &verifier))
}

async fn reject_consent(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
    body: Result<Json<Rejection>, JsonRejection>,
) -> Response {
    let Some(challenge) = challenge(&params, "consent_challenge") else {
        return missing("consent_challenge");
    };
    let Json(rejection) = match body {
        Ok(body) => body,
        Err(rejection) => return bad_body(rejection),
    };
    let mut state = shared.store.lock();
    let Some(flow) = state.flow_by(Handle::ConsentChallenge, challenge) else {
        return not_found();
    };
    if !matches!(flow.consent, Decision::Pending) {
        return already_used("consent");
    }
    flow.consent = Decision::Rejected(rejection);
    let verifier = flow.consent_verifier.clone().expect("a consent challenge comes with its verifier");
    redirect_to(with_verifier(flow, "consent_verifier", &verifier))
}

async fn get_logout(State(shared): State<Arc<Shared>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let Some(challenge) = challenge(&params, "logout_challenge") else {
        return missing("logout_challenge");
    };
    let state = shared.store.lock();
    let Some(flow) = state.logouts.get(challenge) else {
        return not_found();
    };
    if flow.handled {
        return (StatusCode::GONE, Json(json!({"redirect_to": flow.request_url}))).into_response();
    }
    Json(json!({
        "challenge": challenge,
        "subject": flow.subject,
        "sid": flow.session_id,
        "request_url": flow.request_url,
        "rp_initiated": flow.rp_initiated,
        // Hydra writes times in a logout request as RFC 3339 strings (its `oAuth2LogoutRequest` schema).
        "requested_at": rfc3339(flow.requested_at),
        "expires_at": rfc3339(flow.expires_at),
        "client": flow.client_id.as_deref().map(|id| client_json(&shared, id)).unwrap_or(Value::Null),
    }))
    .into_response()
}

/// Unix seconds as an RFC 3339 UTC time, as Hydra's API writes times.
fn rfc3339(unix_seconds: i64) -> String {
    chrono::DateTime::from_timestamp(unix_seconds, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn accept_logout(State(shared): State<Arc<Shared>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let Some(challenge) = challenge(&params, "logout_challenge") else {
        return missing("logout_challenge");
    };
    let mut state = shared.store.lock();
    let Some(flow) = state.logouts.get_mut(challenge).filter(|flow| !flow.handled) else {
        return not_found();
    };
    flow.accepted = true;
    redirect_to(format!("{}/oauth2/sessions/logout?logout_verifier={}", shared.public_base(), flow.verifier))
}

async fn reject_logout(State(shared): State<Arc<Shared>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let Some(challenge) = challenge(&params, "logout_challenge") else {
        return missing("logout_challenge");
    };
    let mut state = shared.store.lock();
    match state.logouts.remove(challenge) {
        Some(flow) => {
            state.logout_verifiers.remove(&flow.verifier);
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(),
    }
}

fn subject(params: &HashMap<String, String>) -> Option<&str> {
    params.get("subject").map(String::as_str).filter(|s| !s.is_empty())
}

/// `DELETE /admin/oauth2/auth/sessions/login?subject=…`: signs the subject out everywhere (204).
async fn revoke_login_sessions(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(subject) = subject(&params) else {
        return missing("subject");
    };
    let mut state = shared.store.lock();
    let ended: Vec<String> =
        state.sessions.iter().filter(|(_, s)| s.subject == subject).map(|(id, _)| id.clone()).collect();
    for session in ended {
        state.end_session(&session);
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `DELETE /admin/oauth2/auth/sessions/consent?subject=…&all=true`: forgets the subject's consents and revokes
/// the tokens issued under them (204). This server supports the `all=true` form only.
async fn revoke_consent_sessions(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(subject) = subject(&params) else {
        return missing("subject");
    };
    if params.get("all").map(String::as_str) != Some("true") {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "Only all=true is supported by this server.");
    }
    shared.store.lock().revoke_subject(subject);
    StatusCode::NO_CONTENT.into_response()
}
