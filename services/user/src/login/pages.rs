//! The HTML pages, rendered with askama (checked at compile time, HTML-escaped by default) in the page's
//! language ([`super::text`]), and the security headers every page carries.

use askama::Template;

pub use super::text::{Chrome, Text, chrome, text};
use axum::{
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub c: Chrome,
    pub challenge: &'a str,
    pub csrf_token: &'a str,
    /// "Sign in to the app", in the page's language.
    pub heading: String,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

impl<'a> LoginPage<'a> {
    /// The login page of `challenge` for the app `client_name`, with the address typed and what went wrong.
    pub fn new(
        challenge: &'a str,
        csrf_token: &'a str,
        client_name: &str,
        email: &'a str,
        error: Option<&'a str>,
    ) -> Self {
        let c = chrome();
        let heading = if client_name.is_empty() {
            c.t.sign_in.to_owned()
        } else {
            Text::fill(c.t.sign_in_to, "client", client_name)
        };
        Self { c, challenge, csrf_token, heading, email, error }
    }
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage<'a> {
    pub c: Chrome,
    pub challenge: &'a str,
    pub csrf_token: &'a str,
    pub name: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub c: Chrome,
    pub challenge: &'a str,
    pub csrf_token: &'a str,
    /// "The app wants access to your account", in the page's language.
    pub heading: String,
    pub scopes: Vec<ScopeChoice<'a>>,
}

/// A scope on the consent page: its name (the form's value) and what granting it lets the client do.
pub struct ScopeChoice<'a> {
    pub name: &'a str,
    pub description: &'static str,
}

impl<'a> ScopeChoice<'a> {
    /// The scope `name`, described in words a shopper understands; a scope the platform does not know shows
    /// its name.
    pub fn of(name: &'a str) -> Self {
        let t = text();
        let description = match name {
            "openid" => t.scope_openid,
            "offline_access" | "offline" => t.scope_offline,
            "email" => t.scope_email,
            "profile" => t.scope_profile,
            "shop" => t.scope_shop,
            "backoffice" => t.scope_backoffice,
            _ => "",
        };
        Self { name, description }
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub c: Chrome,
    pub challenge: &'a str,
    pub csrf_token: &'a str,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage<'a> {
    pub c: Chrome,
    pub csrf_token: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage<'a> {
    pub c: Chrome,
    pub csrf_token: &'a str,
    pub token: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub c: Chrome,
    pub title: &'a str,
    pub message: &'a str,
    pub is_error: bool,
}

/// Strict-Transport-Security for pages served over HTTPS: a year, this host only (other hosts of the domain
/// are the deployment's to decide).
pub const HSTS: &str = "max-age=31536000";

const SECURITY_HEADERS: [(HeaderName, &str); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
];

/// A rendered page with its status and the security headers.
pub fn render(status: StatusCode, page: impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, axum::response::Html(html)).into_response();
            for (name, value) in SECURITY_HEADERS {
                response.headers_mut().insert(name, HeaderValue::from_static(value));
            }
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A page with a title and one message, in the page's language (`text()`).
pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    let is_error = status.is_client_error() || status.is_server_error();
    render(status, MessagePage { c: chrome(), title, message, is_error })
}

/// Sends the browser on after a form post (303, so the next request is a GET).
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => {
            let t = text();
            message(StatusCode::BAD_GATEWAY, t.sign_in_failed, t.bad_redirect)
        }
    }
}
