//! What the browser-facing endpoints ([`super::authorize`] and [`super::logout`]) answer with: Hydra's `302`
//! redirects, errors sent back to a client or to the error page, and the cookies they set. Kept apart so
//! that both endpoints redirect and set cookies the same way (in particular, never to an unverified
//! redirect URI).

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::Shared;

/// Name of the cookie holding the login session id.
pub const SESSION_COOKIE: &str = "ec_oauth_session";

/// A `302 Found` redirect, as Hydra sends.
pub(super) fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// An error for the browser: back to the client when its redirect URI is known good, to the error page
/// otherwise (never to an unverified redirect URI: that would be an open redirect).
pub(super) fn to_client(redirect_uri: &str, error: &str, description: &str, state: Option<&str>) -> Response {
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

pub(super) fn to_error_page(shared: &Shared, error: &str, description: &str) -> Response {
    let mut url = shared.error_url.clone();
    url.query_pairs_mut().append_pair("error", error).append_pair("error_description", description);
    found(url.as_str())
}

pub(super) fn set_cookie(shared: &Shared, name: String, value: String, max_age: Option<i64>) -> Cookie<'static> {
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
