//! `/.well-known/openid-configuration` and `/.well-known/jwks.json`: what a client reads to find the other
//! endpoints and the key that verifies tokens. Both are derived from the configuration alone, so they are
//! answered without touching the store.

use std::sync::Arc;

use axum::{Json, extract::State};
use serde_json::{Value, json};

use crate::Shared;

pub(super) async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
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
        "scopes_supported": ["offline_access", "offline", "openid", "shop", "backoffice"],
        "claims_supported": ["sub"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "id_token_signing_alg_values_supported": ["RS256"],
        // Hydra's `oidcConfiguration` requires these two: ID tokens are signed with RS256, and there is no
        // userinfo endpoint whose answers would be signed.
        "id_token_signed_response_alg": ["RS256"],
        "userinfo_signed_response_alg": ["none"],
        "code_challenge_methods_supported": ["S256"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "frontchannel_logout_supported": false,
        "backchannel_logout_supported": false,
    }))
}

pub(super) async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({ "keys": [shared.minter.key.jwk()] }))
}
