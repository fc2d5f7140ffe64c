//! The pages one-time links open. The forgotten-password pages: `/oauth2/password/forgot` asks for the address
//! and sends a link ([`crate::resets`]); `/oauth2/password/reset?token=…` sets the new password and signs the
//! account out everywhere. The email-verification link, `/oauth2/email/verify?token=…`
//! ([`crate::verification`]), verifies on opening: following it is the proof asked for, and a mail scanner
//! that opens it first had the message too. Both forms carry a CSRF token as the sign-in forms do, bound to the form (the reset form to its
//! link's token) instead of a sign-in challenge.
//!
//! Asking is throttled like a sign-in: every request for an address counts against that address and the
//! client's, so the form cannot be used to flood an inbox or to find out who is a customer (the answer is the
//! same whether or not an account has the address).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::{
    LoginApp, csrf,
    error::PageError,
    pages::{ForgotPage, ResetPage, Text, chrome, message, render, text},
};
use crate::{
    domain::{Email, Password, normalize_email},
    error::Error,
    throttle::{self, Client, Verdict},
    verification::Followed,
};

/// What the forgot form's CSRF token is bound to (sign-in challenges never look like it).
const FORGOT_FORM: &str = "form:password-forgot";

/// What a reset form's CSRF token is bound to: its link's token.
fn reset_form(token: &str) -> String {
    format!("form:password-reset:{token}")
}

pub(super) async fn forgot_page(State(app): State<Arc<LoginApp>>, jar: CookieJar) -> Response {
    let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, FORGOT_FORM, app.secure_cookies);
    let page = ForgotPage { c: chrome(), csrf_token: &csrf_token, email: "", error: None };
    (jar, render(StatusCode::OK, page)).into_response()
}

#[derive(Deserialize)]
pub(super) struct ForgotForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
}

pub(super) async fn forgot_submit(
    State(app): State<Arc<LoginApp>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<ForgotForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&jar, &app.csrf_key, FORGOT_FORM, &form.csrf_token, app.secure_cookies) {
        return Err(PageError::Forged);
    }
    let resets = &app.resets;
    if Email::parse(&form.email).is_err() {
        let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, FORGOT_FORM, app.secure_cookies);
        let email: String = form.email.chars().take(Email::MAX_CHARS).collect();
        let page = ForgotPage { c: chrome(), csrf_token: &csrf_token, email: &email, error: Some(text().not_an_email) };
        return Ok((jar, render(StatusCode::BAD_REQUEST, page)).into_response());
    }
    let forwarded = ec_platform::net::forwarded_for(&headers);
    let client = Client::Address(ec_platform::net::client_ip(peer.ip(), forwarded.as_deref(), &app.trusted_proxies));
    let throttle_key = normalize_email(&form.email);
    if let Verdict::Wait { retry_after } = app.reset_throttle.begin(&throttle_key, client).await {
        let minutes = throttle::whole_seconds(retry_after).div_ceil(60);
        let t = text();
        let wait = Text::fill(t.too_many_links, "n", &minutes.to_string());
        let mut page = message(StatusCode::TOO_MANY_REQUESTS, t.try_later, &wait);
        page.headers_mut().insert(header::RETRY_AFTER, throttle::whole_seconds(retry_after).into());
        return Ok(page);
    }
    // Every request counts, whether or not the address has an account.
    app.reset_throttle.failed(&throttle_key, client).await;
    // The link is made and queued after the answer, so how long the answer takes (or whether it fails) does
    // not tell whether the address has an account.
    let (resets, email) = (resets.clone(), form.email.clone());
    tokio::spawn(async move {
        if let Err(e) = resets.request(&email).await {
            tracing::error!(error = &e as &dyn std::error::Error, "a password reset could not be asked for");
        }
    });
    let t = text();
    Ok(message(StatusCode::OK, t.check_email, t.link_on_its_way))
}

#[derive(Deserialize)]
pub(super) struct Link {
    #[serde(default)]
    token: String,
}

fn spent_page() -> Response {
    let t = text();
    message(StatusCode::GONE, t.link_spent, t.reset_link_spent)
}

pub(super) async fn reset_page(
    State(app): State<Arc<LoginApp>>,
    Query(link): Query<Link>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let resets = &app.resets;
    if link.token.is_empty() || !resets.is_open(&link.token).await? {
        return Ok(spent_page());
    }
    let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, &reset_form(&link.token), app.secure_cookies);
    let page = ResetPage { c: chrome(), csrf_token: &csrf_token, token: &link.token, error: None };
    Ok((jar, render(StatusCode::OK, page)).into_response())
}

#[derive(Deserialize)]
pub(super) struct ResetForm {
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

pub(super) async fn reset_submit(
    State(app): State<Arc<LoginApp>>,
    jar: CookieJar,
    Form(form): Form<ResetForm>,
) -> Result<Response, PageError> {
    if !csrf::verify(&jar, &app.csrf_key, &reset_form(&form.token), &form.csrf_token, app.secure_cookies) {
        return Err(PageError::Forged);
    }
    let resets = &app.resets;
    let again = |error: &str, jar: CookieJar| {
        let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, &reset_form(&form.token), app.secure_cookies);
        let page = ResetPage { c: chrome(), csrf_token: &csrf_token, token: &form.token, error: Some(error) };
        (jar, render(StatusCode::BAD_REQUEST, page)).into_response()
    };
    if form.password != form.confirm {
        return Ok(again(text().passwords_differ, jar));
    }
    let password = match Password::parse(&form.password) {
        Ok(password) => password,
        Err(Error::InvalidArgument(_)) => return Ok(again(text().password_invalid, jar)),
        Err(e) => return Err(e.into()),
    };
    let user = match resets.complete(&form.token, password).await {
        Ok(user) => user,
        Err(Error::FailedPrecondition(_)) => return Ok(spent_page()),
        Err(e) => return Err(e.into()),
    };
    app.sign_out.everywhere(user).await;
    let t = text();
    Ok(message(StatusCode::OK, t.password_changed, t.password_changed_text))
}

pub(super) async fn verify_email(
    State(app): State<Arc<LoginApp>>,
    Query(link): Query<Link>,
) -> Result<Response, PageError> {
    if link.token.is_empty() {
        return Ok(spent_verification_page());
    }
    match app.verifications.verify(&link.token).await? {
        Followed::Verified { email } => {
            let t = text();
            Ok(message(StatusCode::OK, t.email_confirmed, &Text::fill(t.email_confirmed_text, "email", &email)))
        }
        Followed::Spent => Ok(spent_verification_page()),
    }
}

fn spent_verification_page() -> Response {
    let t = text();
    message(StatusCode::GONE, t.link_spent, t.verify_link_spent)
}
