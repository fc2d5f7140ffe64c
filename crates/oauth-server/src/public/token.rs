//! `/oauth2/token`: authenticates the client by the method it registered, then runs one of the grants
//! (`authorization_code` with PKCE, `refresh_token` with rotation and reuse detection, `client_credentials`).
//! Every answer, success or error, is JSON marked `no-store`. A replayed code or refresh token revokes the
//! whole family of tokens it belongs to, since it may have leaked.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Form, Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use base64::Engine;
use serde_json::{Value, json};

use super::pkce::pkce_matches;
use crate::{
    Shared,
    clients::{AuthMethod, Client},
    store::{Grant, RefreshToken, now, random_token},
};

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
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Arc<Client>, TokenError> {
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

pub(super) async fn token(
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
    Ok(issue(shared, &mut state, &client, grant, true))
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
    Ok(issue(shared, &mut state, &client, grant, true))
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
    Ok(issue(shared, &mut state, &client, grant, false))
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
