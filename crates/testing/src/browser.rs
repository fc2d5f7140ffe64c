//! A browser for the sign-in tests (`e2e`, and the `ec` command's tests of separate processes): an HTTP client with a cookie jar that follows redirects one by one, so
//! each hop can be checked, and stops at a page or at the client's redirect URI.

use std::collections::HashMap;

use reqwest::{StatusCode, header::LOCATION, redirect::Policy};

/// A browser: keeps cookies, follows no redirect by itself.
pub struct Browser(pub reqwest::Client);

/// Where a step of the flow ended.
#[derive(Debug)]
pub enum Stop {
    /// A page was shown (status and HTML).
    Page(StatusCode, String),
    /// The browser was sent to the client's redirect URI with these query parameters.
    Client(HashMap<String, String>),
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self(reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap())
    }

    /// Follows redirects from `response` until a page is shown or the client is reached.
    /// A browser whose requests reach the login pages through a proxy they trust (set `LOGIN_TRUSTED_PROXIES`
    /// to the loopback addresses), which forwards for `address`: so one test can be many clients.
    pub fn at(address: &str) -> Self {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-forwarded-for", address.parse().unwrap());
        let client = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).default_headers(headers);
        Self(client.build().unwrap())
    }

    pub async fn follow(&self, mut response: reqwest::Response, client_redirect: &str) -> Stop {
        for _ in 0..10 {
            let Some(location) = response.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned()) else {
                let status = response.status();
                return Stop::Page(status, response.text().await.unwrap());
            };
            if location.starts_with(client_redirect) {
                let query = url::Url::parse(&location).unwrap().query_pairs().into_owned().collect();
                return Stop::Client(query);
            }
            response = self.0.get(&location).send().await.unwrap();
        }
        panic!("redirect loop");
    }

    pub async fn open(&self, url: &str, client_redirect: &str) -> Stop {
        let response = self.0.get(url).send().await.unwrap();
        self.follow(response, client_redirect).await
    }

    pub async fn submit(&self, url: &str, form: &[(&str, &str)], client_redirect: &str) -> Stop {
        let response = self.0.post(url).form(form).send().await.unwrap();
        self.follow(response, client_redirect).await
    }
}

pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} field in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

pub fn page(stop: Stop) -> (StatusCode, String) {
    match stop {
        Stop::Page(status, html) => (status, html),
        other => panic!("expected a page, got {other:?}"),
    }
}

pub fn callback(stop: Stop) -> HashMap<String, String> {
    match stop {
        Stop::Client(query) => query,
        other => panic!("expected the client's redirect, got {other:?}"),
    }
}

/// The storefront client `ec dev` registers, and its redirect URI.
pub const SPA: &str = "ec-spa";
pub const SPA_REDIRECT: &str = "http://127.0.0.1:5173/callback";

/// Signs in as the storefront does (authorization code with PKCE through the login pages) against the OAuth2
/// server `issuer` (ending in `/`) and the login pages at `login` (a base URL), wherever they run, and returns
/// the token response (`access_token`, `id_token`, `refresh_token`).
pub async fn sign_in_at(issuer: &str, login: &str, email: &str, password: &str) -> serde_json::Value {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let verifier = "a-pkce-code-verifier-that-is-long-enough-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", SPA)
        .append_pair("redirect_uri", SPA_REDIRECT)
        .append_pair("scope", "openid offline_access email profile shop backoffice")
        .append_pair("audience", "ec-api")
        .append_pair("state", "storefront-state")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();

    let browser = Browser::new();
    let (_, html) = page(browser.open(&format!("{issuer}oauth2/auth?{query}"), SPA_REDIRECT).await);
    let form = [
        ("challenge", hidden(&html, "challenge")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("email", email.to_owned()),
        ("password", password.to_owned()),
        ("action", "login".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = callback(browser.submit(&format!("{login}/oauth2/login"), &form, SPA_REDIRECT).await);
    let response = reqwest::Client::new()
        .post(format!("{issuer}oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", SPA),
            ("redirect_uri", SPA_REDIRECT),
            ("code", &back["code"]),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}
