//! Signing in the way a browser and a storefront do: OAuth2 authorization code with PKCE through the
//! embedded OAuth2 server and the user service's login and consent pages, with an ordinary HTTP client
//! and a cookie jar. Every hop is checked, and every way it can go wrong.

use aws_lc_rs::digest;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use ec_cli::platform::PlatformConfig;
use ec_e2e::{
    TestPlatform,
    browser::{Browser, Stop, callback, hidden, page},
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SPA: &str = "ec-spa";
const SPA_REDIRECT: &str = "http://127.0.0.1:5173/callback";
const PARTNER: &str = "partner-app";
const PARTNER_REDIRECT: &str = "http://127.0.0.1:5174/cb";
const VERIFIER: &str = "a-pkce-code-verifier-that-is-long-enough-0123456789";

struct Env {
    platform: TestPlatform,
    issuer: String,
    login: String,
}

impl Env {
    async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    async fn start_with(adjust: impl FnOnce(&mut PlatformConfig)) -> Self {
        let clients = std::env::temp_dir().join(format!("ec-e2e-clients-{}.json", uuid::Uuid::now_v7()));
        std::fs::write(
            &clients,
            json!([{
                "client_id": PARTNER,
                "client_name": "Partner <b>App</b>",
                "redirect_uris": [PARTNER_REDIRECT],
                "scope": "openid offline_access email profile shop backoffice",
                "audience": ["ec-api"],
                "token_endpoint_auth_method": "none"
            }])
            .to_string(),
        )
        .unwrap();
        let platform = TestPlatform::start_with(|config| {
            config.oauth.clients_file = Some(clients);
            adjust(config);
        })
        .await;
        let (issuer, login) = (platform.issuer().to_owned(), platform.login_url());
        let env = Self { platform, issuer, login };
        for (email, password) in [("ada@example.com", "correct horse"), ("bob@example.com", "battery staple")] {
            let body = json!({"email": email, "password": password, "name": "Ada Lovelace"});
            let (status, answer) = env.platform.call("/user.v1.UserService/CreateUser", None, &body).await;
            assert_eq!(status, 200, "{answer}");
        }
        env
    }

    fn authorize_url(&self, client: &str, redirect: &str, scope: &str) -> String {
        let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, VERIFIER.as_bytes()));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", client)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", scope)
            .append_pair("audience", "ec-api")
            .append_pair("state", "storefront-state")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .finish();
        format!("{}oauth2/auth?{query}", self.issuer)
    }

    /// Opens the authorize URL of the single-page app and returns the login page's HTML: with `prompt=login`,
    /// since every login is remembered for the browser's session and would otherwise be skipped.
    async fn login_page(&self, browser: &Browser) -> String {
        let url = self.authorize_url(SPA, SPA_REDIRECT, "openid offline_access email profile") + "&prompt=login";
        let (status, html) = page(browser.open(&url, SPA_REDIRECT).await);
        assert_eq!(status, StatusCode::OK, "{html}");
        html
    }

    async fn sign_in(&self, browser: &Browser, html: &str, email: &str, password: &str, redirect: &str) -> Stop {
        let form = [
            ("challenge", hidden(html, "challenge")),
            ("csrf_token", hidden(html, "csrf_token")),
            ("email", email.to_owned()),
            ("password", password.to_owned()),
            ("action", "login".to_owned()),
        ];
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        browser.submit(&format!("{}/oauth2/login", self.login), &form, redirect).await
    }

    /// One sign-in by `browser` from the start: the login page, then the form.
    async fn attempt(&self, browser: &Browser, email: &str, password: &str) -> Stop {
        let html = self.login_page(browser).await;
        self.sign_in(browser, &html, email, password, SPA_REDIRECT).await
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response =
            reqwest::Client::new().post(format!("{}oauth2/token", self.issuer)).form(form).send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn exchange(&self, client: &str, redirect: &str, code: &str, verifier: &str) -> (StatusCode, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("redirect_uri", redirect),
            ("code", code),
            ("code_verifier", verifier),
        ])
        .await
    }

    async fn claims(&self, token: &str, audience: &str) -> Value {
        let jwks: JwkSet =
            reqwest::get(format!("{}.well-known/jwks.json", self.issuer)).await.unwrap().json().await.unwrap();
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[audience]);
        let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
        jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap().claims
    }

    async fn user_id(&self, email: &str) -> String {
        let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM user_service.users WHERE email = $1")
            .bind(email)
            .fetch_one(&self.platform.database.pool)
            .await
            .unwrap();
        id.to_string()
    }
}

#[tokio::test]
async fn a_user_signs_in_gets_tokens_with_real_claims_refreshes_and_signs_out() {
    let env = Env::start().await;
    let browser = Browser::new();

    let html = env.login_page(&browser).await;
    assert!(html.contains(r#"name="password""#) && html.contains(r#"type="checkbox""#));
    let back = callback(env.sign_in(&browser, &html, "  ADA@example.com ", "correct horse", SPA_REDIRECT).await);
    assert_eq!(back["state"], "storefront-state");

    let (status, tokens) = env.exchange(SPA, SPA_REDIRECT, &back["code"], VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let ada = env.user_id("ada@example.com").await;
    let access = env.claims(tokens["access_token"].as_str().unwrap(), "ec-api").await;
    assert_eq!(access["sub"], ada.as_str());
    assert_eq!(access["email"], "ada@example.com");
    assert_eq!(access["name"], "Ada Lovelace");
    assert_eq!(access["roles"], json!(["customer"]));
    assert_eq!(access["scp"], json!(["openid", "offline_access", "email", "profile"]));
    let id = env.claims(tokens["id_token"].as_str().unwrap(), SPA).await;
    assert_eq!((id["sub"].as_str(), id["email"].as_str()), (Some(ada.as_str()), Some("ada@example.com")));

    let (status, refreshed) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_eq!(env.claims(refreshed["access_token"].as_str().unwrap(), "ec-api").await["sub"], ada.as_str());

    // Sign out, as the storefront starts it, confirmed on the logout page.
    let logout = format!(
        "{}oauth2/sessions/logout?{}",
        env.issuer,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
            .append_pair("post_logout_redirect_uri", SPA_REDIRECT)
            .append_pair("state", "signed-out")
            .finish()
    );
    let (status, html) = page(browser.open(&logout, SPA_REDIRECT).await);
    assert_eq!(status, StatusCode::OK);
    let form = [
        ("challenge", hidden(&html, "challenge")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("action", "logout".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = callback(browser.submit(&format!("{}/oauth2/logout", env.login), &form, SPA_REDIRECT).await);
    assert_eq!(back["state"], "signed-out");
    let (status, _) = env
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", SPA),
            ("refresh_token", refreshed["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "signing out ends the refresh tokens");

    env.platform.stop().await;
}

#[tokio::test]
async fn remember_me_skips_the_login_form_next_time_and_admins_get_the_admin_role() {
    let env = Env::start().await;
    sqlx::query("UPDATE user_service.users SET roles = ARRAY['customer', 'admin'] WHERE email = 'bob@example.com'")
        .execute(&env.platform.database.pool)
        .await
        .unwrap();
    let browser = Browser::new();
    let html = env.login_page(&browser).await;
    let form = [
        ("challenge", hidden(&html, "challenge")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("email", "bob@example.com".to_owned()),
        ("password", "battery staple".to_owned()),
        ("remember", "true".to_owned()),
        ("action", "login".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = callback(browser.submit(&format!("{}/oauth2/login", env.login), &form, SPA_REDIRECT).await);
    let (_, tokens) = env.exchange(SPA, SPA_REDIRECT, &back["code"], VERIFIER).await;
    assert_eq!(
        env.claims(tokens["access_token"].as_str().unwrap(), "ec-api").await["roles"],
        json!(["customer", "admin"])
    );

    // The same browser again: straight through to the client, no form.
    let back = callback(browser.open(&env.authorize_url(SPA, SPA_REDIRECT, "openid"), SPA_REDIRECT).await);
    assert!(back.contains_key("code"));

    env.platform.stop().await;
}

#[tokio::test]
async fn a_login_without_keep_me_signed_in_signs_the_browser_in_silently_until_it_closes() {
    let env = Env::start().await;
    let browser = Browser::new();
    let back = callback(env.attempt(&browser, "ada@example.com", "correct horse").await);
    assert!(back.contains_key("code"));
    let silent = format!("{}&prompt=none", env.authorize_url(SPA, SPA_REDIRECT, "openid email profile shop"));

    // The storefront after a reload or in a new tab: a silent sign-in (prompt=none) in the same browser gets a
    // code without a form.
    let back = callback(browser.open(&silent, SPA_REDIRECT).await);
    let (status, tokens) = env.exchange(SPA, SPA_REDIRECT, &back["code"], VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(env.claims(tokens["access_token"].as_str().unwrap(), "ec-api").await["email"], "ada@example.com");

    // The browser closed and opened again (its session cookie gone): the shop is told a login is required.
    let back = callback(Browser::new().open(&silent, SPA_REDIRECT).await);
    assert_eq!(back["error"], "login_required", "{back:?}");

    env.platform.stop().await;
}

#[tokio::test]
async fn a_third_party_client_gets_only_the_scopes_the_user_approves() {
    let env = Env::start().await;

    for (approved, expected) in [(vec!["openid", "email"], json!(["openid", "email"])), (vec![], json!([]))] {
        let browser = Browser::new();
        let (_, html) = page(
            browser.open(&env.authorize_url(PARTNER, PARTNER_REDIRECT, "openid email profile"), PARTNER_REDIRECT).await,
        );
        let consent = page(env.sign_in(&browser, &html, "ada@example.com", "correct horse", PARTNER_REDIRECT).await).1;
        assert!(
            consent.contains("Partner &#60;b&#62;App&#60;/b&#62; wants access") && !consent.contains("<b>"),
            "the client's name is escaped: {consent}"
        );
        let mut form = vec![
            ("challenge", hidden(&consent, "challenge")),
            ("csrf_token", hidden(&consent, "csrf_token")),
            ("action", "allow".to_owned()),
            // A tampered form cannot add a scope that was not requested.
            ("grant_scope", "offline_access".to_owned()),
        ];
        form.extend(approved.iter().map(|s| ("grant_scope", (*s).to_owned())));
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let back = callback(browser.submit(&format!("{}/oauth2/consent", env.login), &form, PARTNER_REDIRECT).await);
        let (status, tokens) = env.exchange(PARTNER, PARTNER_REDIRECT, &back["code"], VERIFIER).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let access = env.claims(tokens["access_token"].as_str().unwrap(), "ec-api").await;
        assert_eq!(access["scp"], expected, "approved {approved:?}");
        assert!(tokens.get("refresh_token").is_none(), "offline access was not granted");
    }

    env.platform.stop().await;
}

#[tokio::test]
async fn scopes_decide_what_a_token_may_do_whatever_the_account_may() {
    let env = Env::start().await;
    sqlx::query("UPDATE user_service.users SET roles = ARRAY['customer', 'admin'] WHERE email = 'bob@example.com'")
        .execute(&env.platform.database.pool)
        .await
        .unwrap();
    let (bob, ada) = (env.user_id("bob@example.com").await, env.user_id("ada@example.com").await);
    // What the admin's token may reach: their own account, their cart, another's account, the back office,
    // a catalog change, and the public catalog.
    let calls = [
        ("/user.v1.UserService/GetUser", json!({"id": bob})),
        ("/order.v1.CartService/GetCart", json!({})),
        ("/user.v1.UserService/GetUser", json!({"id": ada})),
        ("/user.v1.UserService/ListUsers", json!({})),
        ("/product.v1.ProductService/CreateCategory", json!({"name": "Scoped", "slug": "scoped"})),
        ("/product.v1.ProductService/ListProducts", json!({})),
    ];
    let denied = |scope: &str| format!("the access token was not granted the \"{scope}\" scope this call needs");
    // Per scopes approved, the answer to each call: through, or refused with this message.
    type Answers = [Result<(), String>; 6];
    let cases: [(&[&str], Answers); 3] = [
        // Consent given to nothing: only the public catalog.
        (
            &[],
            [
                Err(denied("shop")),
                Err(denied("shop")),
                Err(denied("shop")),
                Err(denied("backoffice")),
                Err(denied("backoffice")),
                Ok(()),
            ],
        ),
        // Shopping only: the admin's rights stay behind, for the BFF and for the services.
        (
            &["shop"],
            [
                Ok(()),
                Ok(()),
                Err("you may only act on your own account".into()),
                Err(denied("backoffice")),
                Err(denied("backoffice")),
                Ok(()),
            ],
        ),
        (&["shop", "backoffice"], [Ok(()), Ok(()), Ok(()), Ok(()), Ok(()), Ok(())]),
    ];
    for (approved, expected) in cases {
        let browser = Browser::new();
        let url = env.authorize_url(PARTNER, PARTNER_REDIRECT, "openid shop backoffice");
        let (_, html) = page(browser.open(&url, PARTNER_REDIRECT).await);
        let consent = page(env.sign_in(&browser, &html, "bob@example.com", "battery staple", PARTNER_REDIRECT).await).1;
        assert!(
            consent.contains("Shop in your name") && consent.contains("Use your admin rights, if you have them"),
            "the consent page says what each scope allows: {consent}"
        );
        let mut form = vec![
            ("challenge", hidden(&consent, "challenge")),
            ("csrf_token", hidden(&consent, "csrf_token")),
            ("action", "allow".to_owned()),
        ];
        form.extend(approved.iter().map(|s| ("grant_scope", (*s).to_owned())));
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let back = callback(browser.submit(&format!("{}/oauth2/consent", env.login), &form, PARTNER_REDIRECT).await);
        let (status, tokens) = env.exchange(PARTNER, PARTNER_REDIRECT, &back["code"], VERIFIER).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let token = tokens["access_token"].as_str().unwrap();
        for ((procedure, body), expected) in calls.iter().zip(expected) {
            let (status, answer) = env.platform.call(procedure, Some(token), body).await;
            match expected {
                Ok(()) => assert_eq!(status, 200, "{approved:?} {procedure}: {answer}"),
                Err(message) => assert_eq!(
                    (status, answer["code"].as_str(), answer["message"].as_str()),
                    (403, Some("permission_denied"), Some(message.as_str())),
                    "{approved:?} {procedure}"
                ),
            }
        }
    }
    let metrics = reqwest::get(format!("{}/metrics", env.platform.ops_url())).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"ec_bff_access_denied_total{reason="scope"} 7"#), "{metrics}");
    env.platform.stop().await;
}

#[tokio::test]
async fn denying_consent_or_cancelling_sign_in_returns_access_denied_to_the_client() {
    let env = Env::start().await;

    let browser = Browser::new();
    let (_, html) = page(browser.open(&env.authorize_url(PARTNER, PARTNER_REDIRECT, "openid"), PARTNER_REDIRECT).await);
    let consent = page(env.sign_in(&browser, &html, "ada@example.com", "correct horse", PARTNER_REDIRECT).await).1;
    let form = [
        ("challenge", hidden(&consent, "challenge")),
        ("csrf_token", hidden(&consent, "csrf_token")),
        ("action", "deny".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = callback(browser.submit(&format!("{}/oauth2/consent", env.login), &form, PARTNER_REDIRECT).await);
    assert_eq!((back["error"].as_str(), back.get("code")), ("access_denied", None));

    let browser = Browser::new();
    let html = env.login_page(&browser).await;
    let form = [
        ("challenge", hidden(&html, "challenge")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("action", "cancel".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let back = callback(browser.submit(&format!("{}/oauth2/login", env.login), &form, SPA_REDIRECT).await);
    assert_eq!(back["error"], "access_denied");
    assert_eq!(back["state"], "storefront-state");

    env.platform.stop().await;
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_one_message_for_every_failure() {
    let env = Env::start().await;
    let browser = Browser::new();
    let html = env.login_page(&browser).await;

    let mut messages = Vec::new();
    for (email, password) in [("ada@example.com", "wrong horse"), ("nobody@example.com", "correct horse")] {
        let (status, again) = page(env.sign_in(&browser, &html, email, password, SPA_REDIRECT).await);
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let start = again.find("role=\"alert\"").unwrap();
        messages.push(again[start..].split('<').next().unwrap().to_owned());
    }
    assert_eq!(messages[0], messages[1], "unknown email and wrong password look the same");
    assert!(messages[0].contains("Wrong email or password"));

    env.platform.stop().await;
}

/// The sign-in throttle's waits, small enough to read in a test but far longer than the test takes between
/// two attempts: three free failures per client, five per account from unknown clients, then 10 s and up.
fn throttled(config: &mut PlatformConfig) {
    let login = &mut config.user.login;
    login.trusted_proxies = ["127.0.0.1", "::1"].map(|ip| ec_platform::net::parse_network(ip).unwrap()).into();
    login.free_failures_per_client = 3;
    login.free_failures_per_account = 5;
    login.first_delay_ms = 10_000;
    login.max_delay_secs = 60;
}

#[tokio::test]
async fn a_guesser_is_slowed_down_and_cannot_lock_the_owner_out() {
    let env = Env::start_with(throttled).await;

    // The owner signs in on their laptop, which keeps a device cookie from now on.
    let laptop = Browser::at("198.51.100.1");
    callback(env.attempt(&laptop, "ada@example.com", "correct horse").await);

    // A guesser, signed in to an account of their own (so their browser has a device cookie, for another
    // account), gets three tries at Ada's; then each try waits, and the wait does not tell whether the password
    // was right.
    env.platform.sign_up("mallory@example.com", "mallory's password").await;
    let guesser = Browser::at("203.0.113.66");
    callback(env.attempt(&guesser, "mallory@example.com", "mallory's password").await);
    for _ in 0..3 {
        assert_eq!(page(env.attempt(&guesser, "ada@example.com", "wrong horse").await).0, StatusCode::UNAUTHORIZED);
    }
    let html = env.login_page(&guesser).await;
    let form = [
        ("challenge", hidden(&html, "challenge")),
        ("csrf_token", hidden(&html, "csrf_token")),
        ("email", " ADA@EXAMPLE.COM".to_owned()),
        ("password", "correct horse".to_owned()),
        ("action", "login".to_owned()),
    ];
    let response = guesser.0.post(format!("{}/oauth2/login", env.login)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "in any spelling of the address");
    assert_eq!(response.headers()["retry-after"], "10");
    let waiting = response.text().await.unwrap();
    assert!(waiting.contains("Too many failed sign-in attempts. Try again in 10 second(s)."), "{waiting}");

    // Nobody else is held up by one guesser: Ada from a new browser elsewhere signs in.
    callback(env.attempt(&Browser::at("198.51.100.2"), "ada@example.com", "correct horse").await);

    // Guessers spread over many addresses: at five failures from unknown clients, every unknown client of
    // the account waits, the owner's new browsers included...
    for n in 100..102 {
        let guess = env.attempt(&Browser::at(&format!("203.0.113.{n}")), "ada@example.com", "wrong horse").await;
        assert_eq!(page(guess).0, StatusCode::UNAUTHORIZED, "guesser {n}");
    }
    let (status, _) = page(env.attempt(&Browser::at("198.51.100.3"), "ada@example.com", "correct horse").await);
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // ...but the laptop Ada signed in on before is a known device, counted on its own: she is never locked out.
    callback(env.attempt(&laptop, "ada@example.com", "correct horse").await);
    callback(env.attempt(&laptop, "ada@example.com", "correct horse").await);
    // Other accounts are not slowed down, from the guesser's address either.
    callback(env.attempt(&guesser, "bob@example.com", "battery staple").await);

    env.platform.stop().await;
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused() {
    let env = Env::start().await;
    let browser = Browser::new();
    let html = env.login_page(&browser).await;
    let challenge = hidden(&html, "challenge");

    for token in ["", "forged-token-value"] {
        let form = [
            ("challenge", challenge.as_str()),
            ("csrf_token", token),
            ("email", "ada@example.com"),
            ("password", "correct horse"),
            ("action", "login"),
        ];
        let (status, _) = page(browser.submit(&format!("{}/oauth2/login", env.login), &form, SPA_REDIRECT).await);
        assert_eq!(status, StatusCode::FORBIDDEN, "token {token:?}");
    }
    // The right token from a browser without the cookie (a cross-site post) is refused too.
    let form = [
        ("challenge", challenge.as_str()),
        ("csrf_token", &hidden(&html, "csrf_token")),
        ("email", "ada@example.com"),
        ("password", "correct horse"),
        ("action", "login"),
    ];
    let (status, _) = page(Browser::new().submit(&format!("{}/oauth2/login", env.login), &form, SPA_REDIRECT).await);
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Someone who can set a cookie for this host (a sibling subdomain, a network attacker on plain HTTP) makes
    // a matching pair: their own cookie value and the same value in the form. Without the server's key the
    // pair is refused.
    let jar = reqwest::cookie::Jar::default();
    let planted = "A".repeat(43);
    jar.add_cookie_str(&format!("ec_login_csrf={planted}; Path=/oauth2"), &env.login.parse().unwrap());
    let attacker = Browser(
        reqwest::Client::builder()
            .cookie_provider(std::sync::Arc::new(jar))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    );
    let form = [
        ("challenge", challenge.as_str()),
        ("csrf_token", planted.as_str()),
        ("email", "ada@example.com"),
        ("password", "correct horse"),
        ("action", "login"),
    ];
    let (status, _) = page(attacker.submit(&format!("{}/oauth2/login", env.login), &form, SPA_REDIRECT).await);
    assert_eq!(status, StatusCode::FORBIDDEN, "a planted cookie and token");

    // A real token is good for the sign-in it was issued for only.
    let other_challenge = hidden(&env.login_page(&browser).await, "challenge");
    let form = [
        ("challenge", other_challenge.as_str()),
        ("csrf_token", &hidden(&html, "csrf_token")),
        ("email", "ada@example.com"),
        ("password", "correct horse"),
        ("action", "login"),
    ];
    let (status, _) = page(browser.submit(&format!("{}/oauth2/login", env.login), &form, SPA_REDIRECT).await);
    assert_eq!(status, StatusCode::FORBIDDEN, "a token of another challenge");

    env.platform.stop().await;
}

#[tokio::test]
async fn codes_are_single_use_and_bound_to_the_pkce_verifier() {
    let env = Env::start().await;
    let browser = Browser::new();
    let html = env.login_page(&browser).await;
    let back = callback(env.sign_in(&browser, &html, "ada@example.com", "correct horse", SPA_REDIRECT).await);

    let (status, error) =
        env.exchange(SPA, SPA_REDIRECT, &back["code"], "an-attackers-guess-at-the-code-verifier-0000000").await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (status, _) = env.exchange(SPA, SPA_REDIRECT, &back["code"], VERIFIER).await;
    assert_eq!(status, StatusCode::OK);
    let (status, error) = env.exchange(SPA, SPA_REDIRECT, &back["code"], VERIFIER).await;
    assert_eq!((status, error["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));

    env.platform.stop().await;
}

#[tokio::test]
async fn unknown_clients_and_unregistered_redirects_end_on_the_error_page_not_at_the_redirect() {
    let env = Env::start().await;
    let browser = Browser::new();
    for url in [
        env.authorize_url(SPA, "https://attacker.example/steal", "openid"),
        env.authorize_url("no-such-client", SPA_REDIRECT, "openid"),
    ] {
        let (status, html) = page(browser.open(&url, "https://attacker.example").await);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("Signing in failed"), "{html}");
    }

    // The error page shows our words for the error code, never the link's own: a phishing text or markup in
    // `error_description` (or an unknown code) does not reach the page.
    for (error, expected) in [
        ("access_denied", "You cancelled signing in"),
        ("invalid_client", "asked for something it may not"),
        ("<b>made-up</b>", "Signing in failed. Go back to the shop and start again."),
    ] {
        let mut url = url::Url::parse(&format!("{}/oauth2/error", env.login)).unwrap();
        url.query_pairs_mut()
            .append_pair("error", error)
            .append_pair("error_description", "Your account is locked: call +1 555 0100 <script>alert(1)</script>");
        let (status, html) = page(browser.open(url.as_str(), "-").await);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains(expected), "{error}: {html}");
        assert!(!html.contains("555 0100") && !html.contains("script") && !html.contains("made-up"), "{html}");
    }

    env.platform.stop().await;
}

#[tokio::test]
async fn login_pages_need_a_live_challenge() {
    let env = Env::start().await;
    let browser = Browser::new();
    let (status, _) = page(browser.open(&format!("{}/oauth2/login", env.login), "-").await);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, html) = page(browser.open(&format!("{}/oauth2/login?login_challenge=made-up", env.login), "-").await);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(html.contains("expired"));
    env.platform.stop().await;
}

#[tokio::test]
async fn a_used_login_challenge_and_its_form_cannot_be_replayed_nor_tell_a_right_password_from_a_wrong_one() {
    let env = Env::start().await;
    let browser = Browser::new();
    let html = env.login_page(&browser).await;
    let form = |password: &str| {
        vec![
            ("challenge", hidden(&html, "challenge")),
            ("csrf_token", hidden(&html, "csrf_token")),
            ("email", "ada@example.com".to_owned()),
            ("password", password.to_owned()),
            ("action", "login".to_owned()),
        ]
    };
    let submit = |password: &'static str| {
        let form = form(password);
        let browser = &browser;
        let login = &env.login;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let response = browser.0.post(format!("{login}/oauth2/login")).form(&form).send().await.unwrap();
            let location = response.headers().get(reqwest::header::LOCATION).map(|l| l.to_str().unwrap().to_owned());
            (response.status(), location, response.text().await.unwrap())
        }
    };
    let (status, _, _) = submit("correct horse").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the first use signs in");

    // The same form again, with the right password and with a wrong one: one answer, and no password checked
    // (no failure counted against the account).
    let right = submit("correct horse").await;
    let wrong = submit("a wrong guess").await;
    assert_eq!(right, wrong);
    assert_ne!(right.0, StatusCode::UNAUTHORIZED);
    let after = env.attempt(&Browser::new(), "ada@example.com", "correct horse").await;
    assert!(callback(after).contains_key("code"), "the owner signs in at once: nothing was counted");
    env.platform.stop().await;
}

#[tokio::test]
async fn many_people_signing_in_at_once_from_one_address_are_never_refused() {
    // Fewer free failures per address than there are colleagues signing in together, as an office or a load
    // test behind one address would be: only failures count against the address.
    let env = Env::start_with(|config| config.user.login.free_failures_per_address = 5).await;
    let colleagues: Vec<String> = (0..16).map(|n| format!("colleague{n}@example.com")).collect();
    for email in &colleagues {
        env.platform.sign_up(email, "correct horse").await;
    }
    let shared = &env;
    let attempts = colleagues.iter().map(|email| async move {
        let browser = Browser::new();
        (email.clone(), shared.attempt(&browser, email, "correct horse").await)
    });
    for (email, stop) in futures::future::join_all(attempts).await {
        match stop {
            Stop::Client(query) => assert!(query.contains_key("code"), "{email}: {query:?}"),
            Stop::Page(status, html) => panic!("{email} was refused: {status} {html}"),
        }
    }
    env.platform.stop().await;
}

/// The registration form of `html` (its challenge and CSRF token) with `fields`, as the browser posts it.
fn registration_form(html: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut form = vec![
        ("challenge".to_owned(), hidden(html, "challenge")),
        ("csrf_token".to_owned(), hidden(html, "csrf_token")),
        ("action".to_owned(), "register".to_owned()),
    ];
    form.extend(fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    form
}

impl Env {
    /// The registration page, opened as the storefront's "Sign up" does (`prompt=registration`), in `languages`.
    async fn registration_page(&self, browser: &Browser, languages: &str) -> String {
        let url = format!(
            "{}&prompt=registration&ui_locales={languages}",
            self.authorize_url(SPA, SPA_REDIRECT, "openid email profile shop")
        );
        let (status, html) = page(browser.open(&url, SPA_REDIRECT).await);
        assert_eq!(status, StatusCode::OK, "{html}");
        html
    }

    async fn register(&self, browser: &Browser, form: &[(String, String)]) -> Stop {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        browser.submit(&format!("{}/oauth2/registration", self.login), &form, SPA_REDIRECT).await
    }
}

#[tokio::test]
async fn the_registration_page_signs_a_new_account_straight_in_and_refuses_bad_ones_in_the_shoppers_language() {
    let env = Env::start_with(|config| {
        throttled(config);
        config.user.login.free_failures_per_address = 3;
    })
    .await;
    let browser = Browser::at("203.0.113.9");
    // The app asked for French, then Japanese: the page speaks Japanese.
    let html = env.registration_page(&browser, "fr+ja").await;
    assert!(html.contains(r#"<html lang="ja">"#) && html.contains("<h1>アカウントを作成</h1>"), "{html}");
    assert!(html.contains("/oauth2/login?login_challenge=") && html.contains(">English</a>"), "{html}");

    // A forged form is refused before anything is made.
    let mut forged = registration_form(&html, &[("email", "new@example.com"), ("password", "a good passphrase")]);
    forged[1].1 = "forged".into();
    assert_eq!(page(env.register(&browser, &forged).await).0, StatusCode::FORBIDDEN);

    // What is wrong is said in the page's language, and what was typed (but the password) is kept.
    let cases = [
        ("not an address", "a good passphrase", StatusCode::BAD_REQUEST, "name@example.com のような形式"),
        ("new@example.com", "short", StatusCode::BAD_REQUEST, "8〜128文字のパスワード"),
        (
            "ada@example.com",
            "a good passphrase",
            StatusCode::CONFLICT,
            "このメールアドレスのアカウントはすでにあります",
        ),
    ];
    let mut html = html;
    for (email, password, status, said) in cases {
        let form = registration_form(&html, &[("name", "山田 花子"), ("email", email), ("password", password)]);
        let (answered, again) = page(env.register(&browser, &form).await);
        assert_eq!(answered, status, "{email}: {again}");
        assert!(again.contains(said) && again.contains(r#"role="alert""#), "{email}: {again}");
        assert!(again.contains(r#"value="山田 花子""#) && !again.contains(password), "{email}: {again}");
        html = again;
    }

    // A good one: the account is made in Japanese and signed straight in (a code for the app, no login form).
    let form = registration_form(
        &html,
        &[("name", "山田 花子"), ("email", "hanako@example.com"), ("password", "a good passphrase")],
    );
    let back = callback(env.register(&browser, &form).await);
    let (status, tokens) = env.exchange(SPA, SPA_REDIRECT, &back["code"], VERIFIER).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = env.claims(tokens["access_token"].as_str().unwrap(), "ec-api").await;
    assert_eq!((claims["email"].as_str(), claims["name"].as_str()), (Some("hanako@example.com"), Some("山田 花子")));
    let language: String =
        sqlx::query_scalar("SELECT language FROM user_service.users WHERE email = 'hanako@example.com'")
            .fetch_one(&env.platform.database.pool)
            .await
            .unwrap();
    assert_eq!(language, "ja");
    // The browser stays signed in for its session: a silent sign-in gets a code.
    let silent = format!("{}&prompt=none", env.authorize_url(SPA, SPA_REDIRECT, "openid"));
    assert!(callback(browser.open(&silent, SPA_REDIRECT).await).contains_key("code"));
    // Asked for the registration page again, a signed-in browser goes straight back to the app.
    let url = format!("{}&prompt=registration", env.authorize_url(SPA, SPA_REDIRECT, "openid"));
    assert!(callback(browser.open(&url, SPA_REDIRECT).await).contains_key("code"));

    // Accounts made from one address are limited: the taken address and the new account counted already, one
    // more is free, and the next waits, saying for how long; nothing is made.
    let shared = &env;
    let sign_up = |browser: Browser, email: &'static str| async move {
        let env = shared;
        let html = env.registration_page(&browser, "en").await;
        let form = registration_form(&html, &[("email", email), ("password", "a good passphrase")]);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        browser.0.post(format!("{}/oauth2/registration", env.login)).form(&form).send().await.unwrap()
    };
    let made = sign_up(Browser::at("203.0.113.9"), "bulk1@example.com").await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let held = sign_up(Browser::at("203.0.113.9"), "bulk2@example.com").await;
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(held.headers()["retry-after"], "10");
    let said = held.text().await.unwrap();
    assert!(said.contains("Too many accounts were created from here lately. Try again in 1 minute(s)."), "{said}");
    let bulk: i64 = sqlx::query_scalar("SELECT count(*) FROM user_service.users WHERE email LIKE 'bulk%'")
        .fetch_one(&env.platform.database.pool)
        .await
        .unwrap();
    assert_eq!(bulk, 1);
    // Another address is not held up.
    assert_eq!(sign_up(Browser::at("198.51.100.7"), "bulk3@example.com").await.status(), StatusCode::SEE_OTHER);

    env.platform.stop().await;
}

#[tokio::test]
async fn the_login_pages_speak_the_language_the_app_or_the_browser_asks_for_and_switch_on_request() {
    let env = Env::start().await;
    // A browser speaking `language`, keeping its cookies in `jar`.
    let speaking = |language: &str, jar: &std::sync::Arc<reqwest::cookie::Jar>| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::ACCEPT_LANGUAGE, language.parse().unwrap());
        let client =
            reqwest::Client::builder().cookie_provider(jar.clone()).redirect(reqwest::redirect::Policy::none());
        Browser(client.default_headers(headers).build().unwrap())
    };
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let japanese_browser =
        || speaking("ja-JP,ja;q=0.9,en;q=0.5", &std::sync::Arc::new(reqwest::cookie::Jar::default()));

    // The browser's language, when the app says none.
    let browser = speaking("ja-JP,ja;q=0.9,en;q=0.5", &jar);
    let html = env.login_page(&browser).await;
    assert!(html.contains(r#"<html lang="ja">"#) && html.contains("<h1>Shopにログイン</h1>"), "{html}");
    assert!(html.contains("/oauth2/password/forgot?lang=ja"), "{html}");
    // A wrong password is said in it too (the form's answer keeps the page's language).
    let (status, wrong) = page(env.sign_in(&browser, &html, "ada@example.com", "wrong horse", SPA_REDIRECT).await);
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(wrong.contains("メールアドレスまたはパスワードが違います。"), "{wrong}");

    // The app's language (ui_locales) comes before the browser's.
    let url = format!("{}&prompt=login&ui_locales=en", env.authorize_url(SPA, SPA_REDIRECT, "openid"));
    let (_, html) = page(browser.open(&url, SPA_REDIRECT).await);
    assert!(html.contains(r#"<html lang="en">"#) && html.contains("<h1>Sign in to Shop</h1>"), "{html}");
    // The page's switch: the same page in the other language, remembered for the next pages of this browser.
    let switch = html.split(r#"<a href=""#).find(|a| a.contains(r#"hreflang="ja""#)).unwrap();
    let switch = switch.split('"').next().unwrap().replace("&#38;", "&");
    assert!(switch.starts_with("/oauth2/login?login_challenge=") && switch.ends_with("&lang=ja"), "{switch}");
    let (_, html) = page(browser.open(&format!("{}{switch}", env.login), SPA_REDIRECT).await);
    assert!(html.contains("<h1>Shopにログイン</h1>"), "{html}");
    // The same browser with its language set to English now: its cookie still says Japanese, which it picked.
    let english_now = speaking("en", &jar);
    let (_, forgot) = page(english_now.open(&format!("{}/oauth2/password/forgot", env.login), "-").await);
    assert!(forgot.contains("<h1>パスワードをお忘れですか？</h1>"), "{forgot}");
    // Without the cookie, English is what it asks for.
    let fresh = speaking("en", &std::sync::Arc::new(reqwest::cookie::Jar::default()));
    let (_, forgot) = page(fresh.open(&format!("{}/oauth2/password/forgot", env.login), "-").await);
    assert!(forgot.contains("<h1>Forgot your password?</h1>"), "{forgot}");

    // Pages without a challenge speak the browser's language, and say what went wrong in it.
    let (status, expired) =
        page(japanese_browser().open(&format!("{}/oauth2/login?login_challenge=made-up", env.login), "-").await);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(expired.contains("このログインリンクは期限切れです"), "{expired}");
    let (_, english) =
        page(Browser::new().open(&format!("{}/oauth2/login?login_challenge=made-up", env.login), "-").await);
    assert!(english.contains("This sign-in link has expired"), "{english}");

    env.platform.stop().await;
}
