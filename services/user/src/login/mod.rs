//! The login, consent and logout app Ory Hydra sends browsers to (HTTP, port 8051).
//!
//! Hydra (or the embedded development server) redirects a browser here with a challenge; the app reads the
//! request through Hydra's admin API ([`crate::hydra`]), shows a form (no JavaScript needed), and answers
//! through the admin API, which tells it where to send the browser next.
//!
//! - Login: email and password are checked like `VerifyPassword` (same answer and cost for an unknown email
//!   and a wrong password), behind the [`throttle`](crate::throttle), which tells a browser that signed in to
//!   the account before ([`device`] cookie) from a stranger. Hydra remembers every login: until the browser
//!   closes, or for `LOGIN_REMEMBER_DAYS` with "keep me signed in"; a remembered login (`skip`, such as the
//!   storefront's silent sign-in after a reload) is accepted without a form.
//! - Consent: skipped for trusted first-party clients (`skip_consent`) and when Hydra remembers a consent;
//!   otherwise the user picks the scopes to grant, and only those (of the ones requested) are granted, so an
//!   empty choice grants nothing. The requested audience is granted. Tokens carry the user's real claims:
//!   `email`, `name`, `roles` (access token; the ID token has `email` with the `email` scope and `name` with
//!   `profile`).
//! - Registration (`prompt=registration`, Hydra's `urls.registration`, or the login page's link): a new account
//!   is created and signed straight in, behind its own throttle per client address ([`register`]).
//! - Logout: a confirmation, then Hydra ends the session.
//! - A forgotten password: a link by e-mail, and a page that sets the new one ([`reset`]).
//!
//! Every page looks like the storefront and speaks its language, English or Japanese ([`text`]): the one the
//! app asks for with `ui_locales`, or the browser's.
//!
//! Every form is protected by a signed double-submit CSRF token bound to its challenge and good for as long as
//! a challenge lives ([`csrf`]), and a form is checked against Hydra's request before anything it asks for is
//! done, so a used or expired challenge cannot be replayed. Handlers return
//! `Result<Response, PageError>`: whatever stops a page (an expired challenge, a forged form, Hydra or the
//! database failing) is answered in one place, `error.rs`.

pub mod csrf;
pub mod device;
mod error;
mod pages;
mod register;
mod reset;
pub mod signing;
pub mod text;

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_extra::extract::{CookieJar, Form};
use ec_platform::{claims::AccountClaims, events::Outbox};
use serde::Deserialize;
use sqlx::PgPool;

use crate::{
    accounts,
    db::{self, UserRow},
    domain::{Email, UserId, normalize_email},
    error::{Error, UserError},
    hydra::{AcceptConsent, AcceptLogin, ConsentRequest, ConsentSession, HydraAdmin, Reject},
    throttle::{self, Client, Throttle, Verdict},
};
use error::PageError;
use pages::{ConsentPage, LoginPage, LogoutPage, Text, chrome, message, render, see_other, text};

/// What the app needs.
pub struct LoginApp {
    pub pool: PgPool,
    /// Where a new account is announced (`user.v1.registered`).
    pub outbox: Outbox,
    pub hydra: HydraAdmin,
    /// Shared with `ChangePassword`: one allowance of wrong passwords per account.
    pub throttle: Arc<Throttle>,
    /// How long a "keep me signed in" login is remembered, in seconds.
    pub remember_for: i64,
    /// Mark cookies `Secure` (set when the pages are served over HTTPS, as in production).
    pub secure_cookies: bool,
    /// Signs the forms' CSRF tokens.
    pub csrf_key: signing::Key,
    /// Signs device cookies.
    pub device_key: signing::Key,
    /// How long a device cookie is kept after a sign-in.
    pub device_lifetime: std::time::Duration,
    /// Proxies whose X-Forwarded-For is believed for the per-IP throttle.
    pub trusted_proxies: Vec<ec_platform::net::IpNet>,
    /// Forgotten passwords.
    pub resets: crate::resets::Resets,
    /// Email verification links.
    pub verifications: crate::verification::Verifications,
    /// Counts requests for reset links, per address and client, apart from sign-ins.
    pub reset_throttle: Throttle,
    /// Counts accounts created on the registration page, per address and client.
    pub signup_throttle: Throttle,
    /// The shop the pages belong to (their header), and whether their language cookie is `Secure`.
    pub site: Arc<text::Site>,
    /// Signs an account out everywhere once its password is reset.
    pub sign_out: crate::api::SignOut,
}

/// The app's routes.
pub fn router(app: Arc<LoginApp>) -> Router {
    let secure = app.secure_cookies;
    let site = app.site.clone();
    let router = Router::new()
        .route("/oauth2/login", get(login_page).post(login_submit))
        .route("/oauth2/registration", get(register::page).post(register::submit))
        .route("/oauth2/consent", get(consent_page).post(consent_submit))
        .route("/oauth2/logout", get(logout_page).post(logout_submit))
        .route("/oauth2/error", get(error_page))
        .route("/oauth2/password/forgot", get(reset::forgot_page).post(reset::forgot_submit))
        .route("/oauth2/password/reset", get(reset::reset_page).post(reset::reset_submit))
        .route("/oauth2/email/verify", get(reset::verify_email))
        // Forms are a few hundred bytes; nothing legitimate comes near this.
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(site, text::layer))
        .with_state(app);
    // Served over HTTPS (what secure cookies say), the pages tell browsers to come back over HTTPS only.
    if secure {
        router.layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            http::HeaderValue::from_static(pages::HSTS),
        ))
    } else {
        router
    }
}

#[derive(Deserialize)]
struct Challenge {
    #[serde(default)]
    login_challenge: String,
    #[serde(default)]
    consent_challenge: String,
    #[serde(default)]
    logout_challenge: String,
}

/// The challenge a page was opened with; an empty one means it was not opened through a sign-in.
fn required(challenge: &str) -> Result<&str, PageError> {
    if challenge.is_empty() { Err(PageError::MissingChallenge) } else { Ok(challenge) }
}

/// The languages the app asked for on its authorization or logout request (`ui_locales`), space-separated.
fn ui_locales(request_url: &str) -> String {
    url::Url::parse(request_url)
        .ok()
        .and_then(|url| url.query_pairs().find(|(name, _)| name == "ui_locales").map(|(_, value)| value.into_owned()))
        .unwrap_or_default()
}

/// What every form post must have: a CSRF token matching the cookie, and a challenge.
fn check_form(app: &LoginApp, jar: &CookieJar, csrf_token: &str, challenge: &str) -> Result<(), PageError> {
    if !csrf::verify(jar, &app.csrf_key, challenge, csrf_token, app.secure_cookies) {
        return Err(PageError::Forged);
    }
    required(challenge)?;
    Ok(())
}

async fn login_page(
    State(app): State<Arc<LoginApp>>,
    Query(query): Query<Challenge>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let request = app.hydra.login_request(required(&query.login_challenge)?).await?;
    if request.skip {
        return accept_remembered(&app, request).await;
    }
    text::prefer(&ui_locales(&request.request_url));
    let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, &request.challenge, app.secure_cookies);
    let page = LoginPage::new(&request.challenge, &csrf_token, &request.client.client_name, "", None);
    Ok((jar, render(StatusCode::OK, page)).into_response())
}

/// Hydra remembers this browser's login: confirmed without asking again (also what a silent sign-in,
/// `prompt=none`, comes to).
async fn accept_remembered(app: &LoginApp, request: crate::hydra::LoginRequest) -> Result<Response, PageError> {
    let accepted = AcceptLogin { subject: request.subject, remember: true, remember_for: app.remember_for };
    Ok(see_other(&app.hydra.accept_login(&request.challenge, &accepted).await?))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    remember: Option<String>,
    #[serde(default)]
    action: String,
}

async fn login_submit(
    State(app): State<Arc<LoginApp>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let forwarded = ec_platform::net::forwarded_for(&headers);
    let address = ec_platform::net::client_ip(peer.ip(), forwarded.as_deref(), &app.trusted_proxies);
    check_form(&app, &jar, &form.csrf_token, &form.challenge)?;
    // The challenge must still be open before anything else, the password included: a used or expired
    // challenge (replayed with its form, say) ends here, with the same answer for a right and a wrong password.
    let request = app.hydra.login_request(&form.challenge).await?;
    if form.action == "cancel" {
        let reject =
            Reject { error: "access_denied".into(), error_description: "The user cancelled the sign-in.".into() };
        return Ok(see_other(&app.hydra.reject_login(&form.challenge, &reject).await?));
    }

    let again = |status: StatusCode, error: &str, jar: CookieJar| {
        let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, &form.challenge, app.secure_cookies);
        let email: String = form.email.chars().take(Email::MAX_CHARS).collect();
        let page = LoginPage::new(&form.challenge, &csrf_token, &request.client.client_name, &email, Some(error));
        (jar, render(status, page)).into_response()
    };

    // Throttle by the address as normalised for uniqueness, so case, spacing and look-alike letters do not buy
    // extra attempts.
    let throttle_key = normalize_email(&form.email);
    let device = device::recognised(&jar, &app.device_key, &throttle_key, app.secure_cookies);
    let client = match &device {
        Some(id) if app.throttle.trusts_device(id).await => Client::Device(id),
        _ => Client::Address(address),
    };
    if let Verdict::Wait { retry_after } = app.throttle.begin(&throttle_key, client).await {
        let seconds = throttle::whole_seconds(retry_after);
        let t = text();
        let wait = match seconds {
            0..=119 => Text::fill(t.wait_seconds, "n", &seconds.to_string()),
            _ => Text::fill(t.wait_minutes, "n", &seconds.div_ceil(60).to_string()),
        };
        let mut page = again(StatusCode::TOO_MANY_REQUESTS, &wait, jar);
        page.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        return Ok(page);
    }
    match accounts::verify_password(&app.pool, &form.email, form.password.clone()).await {
        Ok((user_id, _)) => {
            app.throttle.succeeded(&throttle_key, client).await;
            let jar = device::remember(jar, &app.device_key, &throttle_key, app.secure_cookies, app.device_lifetime);
            // Every login is remembered, so the shop can sign the browser in again silently (prompt=none) after
            // a reload or in a new tab: "keep me signed in" for LOGIN_REMEMBER_DAYS, otherwise until the browser
            // closes (remember_for 0: a browser-session cookie).
            let keep = form.remember.as_deref() == Some("true");
            let accepted = AcceptLogin {
                subject: user_id.to_string(),
                remember: true,
                remember_for: if keep { app.remember_for } else { 0 },
            };
            Ok((jar, see_other(&app.hydra.accept_login(&form.challenge, &accepted).await?)).into_response())
        }
        // The attempt was counted on the account before the check; the address counts the failure now.
        Err(Error::Own(UserError::InvalidCredentials)) => {
            app.throttle.failed(&throttle_key, client).await;
            Ok(again(StatusCode::UNAUTHORIZED, text().wrong_password, jar))
        }
        Err(e) => Err(e.into()),
    }
}

/// The claims tokens carry for `user`: the access token always has email, email_verified, name and roles (what
/// the BFF and services need); the ID token has roles, plus email and email_verified with the `email` scope and
/// name with `profile`.
fn session_claims(user: &UserRow, granted: &[String]) -> ConsentSession {
    let granted = |scope: &str| granted.iter().any(|s| s == scope);
    let access_token = AccountClaims {
        email: Some(user.email.clone()),
        email_verified: Some(user.email_verified),
        name: user.name.clone(),
        roles: Some(user.roles.clone()),
    };
    let id_token = AccountClaims {
        email: granted("email").then(|| user.email.clone()),
        email_verified: granted("email").then_some(user.email_verified),
        name: user.name.clone().filter(|_| granted("profile")),
        roles: Some(user.roles.clone()),
    };
    ConsentSession { access_token, id_token }
}

/// The live account a consent request is for, or a rejection if it is gone.
async fn consenting_user(app: &LoginApp, request: &ConsentRequest) -> Result<Option<UserRow>, Error> {
    let Ok(id) = UserId::parse(&request.subject) else {
        return Ok(None);
    };
    db::find_user(&app.pool, id).await
}

async fn grant(
    app: &LoginApp,
    request: &ConsentRequest,
    user: &UserRow,
    scopes: Vec<String>,
    remember: bool,
) -> Result<Response, PageError> {
    let accepted = AcceptConsent {
        session: session_claims(user, &scopes),
        grant_scope: scopes,
        grant_access_token_audience: request.requested_access_token_audience.clone(),
        remember,
        remember_for: 0,
    };
    Ok(see_other(&app.hydra.accept_consent(&request.challenge, &accepted).await?))
}

async fn deny_consent(app: &LoginApp, challenge: &str, description: &str) -> Result<Response, PageError> {
    let reject = Reject { error: "access_denied".into(), error_description: description.into() };
    Ok(see_other(&app.hydra.reject_consent(challenge, &reject).await?))
}

async fn consent_page(
    State(app): State<Arc<LoginApp>>,
    Query(query): Query<Challenge>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let request = app.hydra.consent_request(required(&query.consent_challenge)?).await?;
    text::prefer(&ui_locales(&request.request_url));
    let Some(user) = consenting_user(&app, &request).await? else {
        return deny_consent(&app, &request.challenge, "The account no longer exists.").await;
    };
    if request.skip || request.client.skip_consent {
        // A trusted first-party client, or a choice this user already made and asked to remember.
        let scopes = request.requested_scope.clone();
        return grant(&app, &request, &user, scopes, request.skip).await;
    }
    let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, &request.challenge, app.secure_cookies);
    let client_name =
        if request.client.client_name.is_empty() { &request.client.client_id } else { &request.client.client_name };
    let c = chrome();
    let heading = Text::fill(c.t.wants_access, "client", client_name);
    let page = render(
        StatusCode::OK,
        ConsentPage {
            c,
            challenge: &request.challenge,
            csrf_token: &csrf_token,
            heading,
            scopes: request.requested_scope.iter().map(|scope| pages::ScopeChoice::of(scope)).collect(),
        },
    );
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
struct ConsentForm {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    grant_scope: Vec<String>,
    #[serde(default)]
    remember: Option<String>,
    #[serde(default)]
    action: String,
}

async fn consent_submit(
    State(app): State<Arc<LoginApp>>,
    jar: CookieJar,
    Form(form): Form<ConsentForm>,
) -> Result<Response, PageError> {
    check_form(&app, &jar, &form.csrf_token, &form.challenge)?;
    if form.action != "allow" {
        return deny_consent(&app, &form.challenge, "The user denied access.").await;
    }
    // What was requested comes from Hydra, never from the form: a tampered form can only grant less.
    let request = app.hydra.consent_request(&form.challenge).await?;
    let Some(user) = consenting_user(&app, &request).await? else {
        return deny_consent(&app, &request.challenge, "The account no longer exists.").await;
    };
    let scopes: Vec<String> =
        request.requested_scope.iter().filter(|s| form.grant_scope.contains(s)).cloned().collect();
    grant(&app, &request, &user, scopes, form.remember.as_deref() == Some("true")).await
}

async fn logout_page(
    State(app): State<Arc<LoginApp>>,
    Query(query): Query<Challenge>,
    jar: CookieJar,
) -> Result<Response, PageError> {
    let request = app.hydra.logout_request(required(&query.logout_challenge)?).await?;
    text::prefer(&ui_locales(&request.request_url));
    let (jar, csrf_token) = csrf::issue(jar, &app.csrf_key, &request.challenge, app.secure_cookies);
    let page = LogoutPage { c: chrome(), challenge: &request.challenge, csrf_token: &csrf_token };
    let page = render(StatusCode::OK, page);
    Ok((jar, page).into_response())
}

#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    csrf_token: String,
    #[serde(default)]
    action: String,
}

async fn logout_submit(
    State(app): State<Arc<LoginApp>>,
    jar: CookieJar,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    check_form(&app, &jar, &form.csrf_token, &form.challenge)?;
    if form.action == "logout" {
        return Ok(see_other(&app.hydra.accept_logout(&form.challenge).await?));
    }
    app.hydra.reject_logout(&form.challenge).await?;
    let t = text();
    Ok(message(StatusCode::OK, t.still_signed_in, t.close_page))
}

#[derive(Deserialize)]
struct ErrorQuery {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

async fn error_page(Query(query): Query<ErrorQuery>) -> Response {
    // The query is anyone's to write (a link can carry any text): it picks one of our messages, and its own
    // words are logged, never shown.
    let t = text();
    let said = match query.error.as_str() {
        "access_denied" => t.cancelled_sign_in,
        "login_required" | "consent_required" | "interaction_required" | "account_selection_required" => t.take_part,
        "invalid_client"
        | "unauthorized_client"
        | "invalid_request"
        | "invalid_scope"
        | "unsupported_response_type"
        | "invalid_redirect_uri"
        | "request_forbidden"
        | "invalid_request_uri"
        | "invalid_request_object" => t.app_asked_wrong,
        "server_error" | "temporarily_unavailable" => t.service_problem,
        _ => t.failed_start_again,
    };
    tracing::info!(
        error = query.error.chars().take(100).collect::<String>(),
        description = query.error_description.chars().take(300).collect::<String>(),
        "OAuth2 error page shown"
    );
    message(StatusCode::BAD_REQUEST, t.sign_in_failed, said)
}
