//! `/oauth2/auth`: the authorization code flow. A first visit checks the request (client, exact redirect URI,
//! `state`, scopes, audience, PKCE), records a flow, binds it to the browser with a CSRF cookie and sends the
//! browser to the login app with a `login_challenge`. The browser comes back twice, with a `login_verifier`
//! and then a `consent_verifier`; each is single use and only honoured from the browser that started the
//! flow. After consent the client's redirect URI gets a single-use code for [`super::token`].
//!
//! Errors go back to the client only once its redirect URI is known to be registered, to the error page
//! otherwise (see [`super::browser`]).

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{Query, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::{Cookie, CookieJar};

use super::{
    browser::{SESSION_COOKIE, found, set_cookie, to_client, to_error_page},
    pkce::valid_pkce_string,
};
use crate::{
    Shared,
    store::{
        AuthorizeRequest, Code, Decision, Flow, Grant, Handle, LoginSession, RememberedConsent, now, random_token,
    },
};

/// Most authorization requests waiting for login or consent at once: anyone can start one, so their number is
/// bounded (each also holds its request URL until it expires).
const MAX_PENDING_FLOWS: usize = 10_000;
const CSRF_COOKIE_PREFIX: &str = "ec_oauth_csrf_";
/// How long the server keeps a login remembered for the browser's session (`remember_for: 0`): the browser
/// drops the cookie when it closes, but this store cannot know when, so it forgets the session after 30 days.
const BROWSER_SESSION_SECS: i64 = 30 * 24 * 3600;

fn csrf_cookie_name(flow_id: &str) -> String {
    format!("{CSRF_COOKIE_PREFIX}{}", &flow_id[..12])
}

pub(super) async fn authorize(
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

    // prompt=registration asks for the sign-up page (Hydra's urls.registration) instead of the login page.
    let wants_registration = prompt.split_whitespace().any(|p| p == "registration");
    let mut login_url = if wants_registration { shared.registration_url.clone() } else { shared.login_url.clone() };
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
    let flow_skipped = flow.remembered_subject.is_some();
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
    if flow_skipped && !login.extend_session_lifespan {
        // The browser's session cookie is left as it is, with its original expiry (Hydra v2.3.0).
    } else if login.remember {
        // `remember_for: 0` is a browser-session cookie (no Max-Age), as Hydra's API says; the server keeps such
        // a session at most BROWSER_SESSION_SECS, a bound on this in-memory store, not on the browser.
        let (cookie_age, kept_for) = match login.remember_for {
            0 => (None, BROWSER_SESSION_SECS),
            seconds => (Some(seconds), seconds),
        };
        state.sessions.insert(
            session_id.clone(),
            LoginSession { subject: login.subject.clone(), auth_time, expires_at: now() + kept_for },
        );
        jar = jar.add(set_cookie(shared, SESSION_COOKIE.into(), session_id, cookie_age));
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
