//! The public port: what browsers and OAuth2 clients talk to, one file per endpoint.
//!
//! - `discovery.rs`: OpenID Connect discovery and the JWKS, which clients read before anything else.
//! - `authorize.rs`: `/oauth2/auth`, the authorization code flow with its round trips through the login and
//!   consent app, each flow bound by a CSRF cookie to the browser that started it.
//! - `token.rs`: `/oauth2/token`, client authentication and the three grants.
//! - `logout.rs`: `/oauth2/sessions/logout`, RP-initiated logout through the logout app.
//! - `fallbacks.rs`: the plain pages Hydra shows when no login app page applies (errors, "signed out").
//!
//! Browsers on the origin of a client's `allowed_cors_origins` may call these endpoints from a page (CORS), as
//! a single-page app exchanging its code and refreshing its tokens does; every other origin gets no CORS
//! headers, so its pages cannot read the answers.
//!
//! The redirects and cookies that authorize and logout both answer with live in `browser.rs`, and the PKCE
//! checks that authorize and token both make in `pkce.rs`, so each endpoint's file reads on its own.

mod authorize;
mod browser;
mod discovery;
mod fallbacks;
mod logout;
mod pkce;
mod token;

use std::sync::Arc;

use axum::{
    Router,
    http::{Method, header},
    routing::{get, post},
};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::Shared;

pub use browser::SESSION_COOKIE;

pub fn router(shared: Arc<Shared>) -> Router {
    let clients = shared.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|origin| clients.clients.allow_origin(origin))
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::discovery))
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route("/oauth2/auth", get(authorize::authorize))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/sessions/logout", get(logout::logout))
        .route("/oauth2/fallbacks/error", get(fallbacks::fallback_error))
        .route("/oauth2/fallbacks/logout/callback", get(fallbacks::fallback_logged_out))
        .layer(cors)
        .with_state(shared)
}
