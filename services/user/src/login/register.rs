//! The registration page, `/oauth2/registration?login_challenge=…`: where Hydra sends an authorization request
//! with `prompt=registration` (its `urls.registration`; the storefront's "Sign up"), and where the login page
//! links. It creates the account as `CreateUser` does, with the same checks, in the page's language, and signs
//! it straight in: the login is accepted for the new account, remembered for the browser's session, and the
//! browser becomes a known device of the account.
//!
//! Every attempt that reaches the database counts against the address and the client under a throttle of its
//! own (`sign-ups`), as the BFF's stricter limit does for `CreateUser`: the page can neither make accounts in
//! bulk nor test many addresses for whether they are registered.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use axum_extra::extract::{CookieJar, Form};
use serde::Deserialize;

use super::{
    Challenge, LoginApp, accept_remembered, check_form, csrf, device,
    error::PageError,
    pages::{RegisterPage, Text, chrome, message, render, see_other, text},
    required, ui_locales,
};
use crate::{
    accounts,
    domain::{DisplayName, Email, Password, normalize_email},
    error::{Error, UserError},
    hydra::{AcceptLogin, Reject},
    throttle::{self, Client, Verdict},
};

pub(super) async fn page(
    State(app): State<Arc<LoginApp>>,
    Query(query): Query<Challenge>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let request = app.hydra.login_request(required(&query.login_challenge)?).await?;
    if request.skip {
        // Signed in already in this browser: nothing to create.
        return accept_remembered(&app, request).await;
    }
    super::text::prefer(&ui_locales(&request.request_url));
    let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, &request.challenge, app.secure_cookies);
    let page = RegisterPage {
        c: chrome(),
        challenge: &request.challenge,
        csrf_token: &csrf_token,
        name: "",
        email: "",
        error: None,
    };
    Ok((jar, render(StatusCode::OK, page)).into_response())
}

#[derive(Deserialize)]
pub(super) struct RegisterForm {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    action: String,
}

pub(super) async fn submit(
    State(app): State<Arc<LoginApp>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    check_form(&app, &jar, &form.csrf_token, &form.challenge)?;
    // The challenge must still be open before anything is created.
    let request = app.hydra.login_request(&form.challenge).await?;
    if form.action == "cancel" {
        let reject =
            Reject { error: "access_denied".into(), error_description: "The user cancelled the sign-up.".into() };
        return Ok(see_other(&app.hydra.reject_login(&form.challenge, &reject).await?));
    }
    if request.skip {
        return accept_remembered(&app, request).await;
    }
    let t = text();
    let again = |status: StatusCode, error: &str, jar: CookieJar| {
        let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, &form.challenge, app.secure_cookies);
        let name: String = form.name.chars().take(DisplayName::MAX_CHARS).collect();
        let email: String = form.email.chars().take(Email::MAX_CHARS).collect();
        let page = RegisterPage {
            c: chrome(),
            challenge: &form.challenge,
            csrf_token: &csrf_token,
            name: &name,
            email: &email,
            error: Some(error),
        };
        (jar, render(status, page)).into_response()
    };

    let email = match Email::parse(&form.email) {
        Ok(email) => email,
        Err(Error::InvalidArgument(reason)) => {
            let said = if reason == Email::MIXED_SCRIPTS { t.email_mixed_scripts } else { t.email_invalid };
            return Ok(again(StatusCode::BAD_REQUEST, said, jar));
        }
        Err(e) => return Err(e.into()),
    };
    let Ok(password) = Password::parse(&form.password) else {
        return Ok(again(StatusCode::BAD_REQUEST, t.password_invalid, jar));
    };
    let name = match form.name.trim() {
        "" => None,
        name => match DisplayName::parse(name) {
            Ok(name) => Some(name),
            Err(_) => return Ok(again(StatusCode::BAD_REQUEST, t.name_invalid, jar)),
        },
    };

    let forwarded = ec_platform::net::forwarded_for(&headers);
    let client = Client::Address(ec_platform::net::client_ip(peer.ip(), forwarded.as_deref(), &app.trusted_proxies));
    let throttle_key = normalize_email(email.as_str());
    if let Verdict::Wait { retry_after } = app.signup_throttle.begin(&throttle_key, client).await {
        let seconds = throttle::whole_seconds(retry_after);
        let wait = Text::fill(t.too_many_sign_ups, "n", &seconds.div_ceil(60).to_string());
        let mut page = message(StatusCode::TOO_MANY_REQUESTS, t.try_later, &wait);
        page.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return Ok(page);
    }
    // Every attempt counts, whether it makes an account or finds the address taken.
    app.signup_throttle.failed(&throttle_key, client).await;
    let language = super::text::language();
    let user = match accounts::create(&app.pool, &app.outbox, email, password, name, language).await {
        Ok(user) => user,
        Err(Error::Own(UserError::EmailTaken)) => return Ok(again(StatusCode::CONFLICT, t.email_taken, jar)),
        Err(e) => return Err(e.into()),
    };
    let jar = device::remember(jar, &app.device_key, &throttle_key, app.secure_cookies, app.device_lifetime);
    let accepted = AcceptLogin { subject: user.id.to_string(), remember: true, remember_for: 0 };
    Ok((jar, see_other(&app.hydra.accept_login(&form.challenge, &accepted).await?)).into_response())
}
