//! `/oauth2/sessions/logout`: RP-initiated logout. A first visit (optionally with an `id_token_hint`, and then
//! with a registered `post_logout_redirect_uri` and `state`) finds the session to end and sends the browser
//! to the logout app with a `logout_challenge`; once the app accepts, the browser comes back with a
//! `logout_verifier`, the session and its refresh tokens end, and the browser goes on to the post-logout
//! URI or the "signed out" fallback page. Without a session there is nothing to confirm, so the browser is
//! sent on at once.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{Query, RawQuery, State},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde_json::Value;

use super::browser::{SESSION_COOKIE, found, to_error_page};
use crate::{
    Shared,
    store::{LogoutFlow, now, random_token},
};

pub(super) async fn logout(
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
            handled: false,
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
    let Some(flow) = state.logouts.get_mut(&challenge).filter(|f| f.accepted && !f.handled) else {
        return to_error_page(shared, "invalid_request", "The logout request was not accepted.");
    };
    flow.handled = true;
    let flow = flow.clone();
    state.end_session(&flow.session_id);
    drop(state);
    let target = post_logout_target(shared, flow.post_logout_redirect_uri.as_ref(), flow.state.as_ref());
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path("/"));
    (jar, found(&target)).into_response()
}
