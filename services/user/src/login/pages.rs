//! The HTML pages, rendered with askama (checked at compile time, HTML-escaped by default), and the
//! security headers every page carries.

use askama::Template;
use axum::{
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub challenge: &'a str,
    pub csrf_token: &'a str,
    pub client_name: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub challenge: &'a str,
    pub csrf_token: &'a str,
    pub client_name: &'a str,
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
        let description = match name {
            "openid" => "Know who you are (your account id)",
            "offline_access" | "offline" => "Stay signed in when you are not using it",
            "email" => "See your email address",
            "profile" => "See your name",
            "shop" => "Shop in your name: your account, your cart, and placing and cancelling your orders",
            "backoffice" => "Use your admin rights, if you have them: the catalog, stock, every order and account",
            _ => "",
        };
        Self { name, description }
    }
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub challenge: &'a str,
    pub csrf_token: &'a str,
}

#[derive(Template)]
#[template(path = "forgot.html")]
pub struct ForgotPage<'a> {
    pub csrf_token: &'a str,
    pub email: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "reset.html")]
pub struct ResetPage<'a> {
    pub csrf_token: &'a str,
    pub token: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
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

/// A page with a title and one message.
pub fn message(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, MessagePage { title, message, is_error: status.is_client_error() || status.is_server_error() })
}

/// Sends the browser on after a form post (303, so the next request is a GET).
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => {
            message(StatusCode::BAD_GATEWAY, "Sign-in failed", "The sign-in service answered with an invalid address.")
        }
    }
}
