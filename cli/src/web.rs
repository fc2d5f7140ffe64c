//! The storefront: the built single-page app (`npm run build` in `web/`, which `make dev` runs) served on its
//! own port, 5173 by default, the storefront client's registered redirect origin.
//!
//! - `/config.json` tells the app where the BFF and the issuer are, which client it is and which audience
//!   to ask tokens for, so one build runs against any platform; nothing about them is compiled in.
//! - `/assets/…` are the build's content-hashed files, cached for a year; a missing one is a 404.
//! - Every other path is the app's own (it routes in the browser), so it gets `index.html`, never cached, so a
//!   new build is picked up at the next visit.
//! - `/silent-callback.html` is where the issuer answers a silent sign-in (a reload, a new tab, a renewal) in a
//!   hidden frame of the app: the only page that may be framed, and by the storefront itself only.
//!
//! - Every answer carries the security headers ([`security_headers`]): a Content-Security-Policy that lets the
//!   app load only its own files and talk only to the BFF and the issuer, no framing (but the silent sign-in's
//!   page, by the storefront), no MIME sniffing, no
//!   referrer (the sign-in callback's URL carries a code), and HSTS when served over HTTPS (`WEB_HTTPS`).
//!
//! When the directory holds no `index.html` (the app was never built), `ec dev` serves no storefront and says
//! so at start-up; the API is unaffected.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use axum::{Json, routing::get};
use http::{HeaderValue, header};
use tower_http::{
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
};

/// Where and what the storefront is served from; `ec dev` flags.
#[derive(Clone, Debug, clap::Args)]
pub struct WebArgs {
    /// Address of the storefront (the built single-page app).
    #[arg(id = "web_addr", long = "web-addr", env = "WEB_ADDR", default_value = "127.0.0.1:5173")]
    pub addr: SocketAddr,

    /// The storefront's build directory (`npm run build` in web/ writes web/dist). Without an index.html
    /// there, no storefront is served.
    #[arg(id = "web_dir", long = "web-dir", env = "WEB_DIR", default_value = "web/dist")]
    pub dir: PathBuf,

    /// Proxies (IPs or CIDR ranges, comma-separated) in front of the storefront, such as the ingress
    /// controller: each carries many shoppers, so the per-client connection cap does not apply to them.
    #[arg(
        id = "web_trusted_proxies",
        long = "web-trusted-proxies",
        env = "WEB_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = ec_platform::net::parse_network
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// The storefront is served over HTTPS (by a TLS proxy in front): send Strict-Transport-Security.
    #[arg(id = "web_https", long = "web-https", env = "WEB_HTTPS")]
    pub https: bool,
}

/// What the storefront reads from `/config.json`.
#[derive(Clone, Debug)]
pub struct StorefrontConfig {
    /// The BFF's base URL, as the browser reaches it.
    pub bff_url: String,
    /// The OpenID Connect issuer the app signs in with; none when the BFF accepts no tokens.
    pub issuer: Option<String>,
    /// The app's OAuth2 client id.
    pub client_id: String,
    /// The audience the app asks access tokens for (the one the BFF checks).
    pub audience: String,
    /// Where the issuer's login and consent pages are, as browsers reach them: a silent sign-in passes
    /// through them in a hidden frame, so the Content-Security-Policy must allow framing them. Not in
    /// `/config.json`.
    pub login_url: Option<String>,
}

/// The page the issuer sends a silent sign-in's answer to (web/silent-callback.html), a redirect URI of the
/// storefront's client beside `/callback`.
pub const SILENT_CALLBACK_PATH: &str = "/silent-callback.html";

/// Who may show a page in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Nobody: every page of the app.
    Denied,
    /// The storefront itself: the silent sign-in's page.
    SameOrigin,
}

/// Whether `dir` holds a built storefront.
pub fn is_built(dir: &Path) -> bool {
    dir.join("index.html").is_file()
}

/// The origin (`scheme://host:port`) of `url`, for a CSP source; `None` for what is not a URL.
fn origin(url: &str) -> Option<String> {
    url::Url::parse(url).ok().map(|url| url.origin()).filter(url::Origin::is_tuple).map(|o| o.ascii_serialization())
}

/// The storefront's security headers: its Content-Security-Policy allows scripts, styles and fonts from the
/// storefront itself, calls to the BFF and the issuer only (sign-in, tokens, discovery), frames of the
/// issuer, its login pages and the storefront (oidc-client-ts's silent sign-in goes through all three, in a
/// hidden frame), images from anywhere over HTTPS (products link to their pictures wherever the shop keeps
/// them) and `data:` (the generated placeholders), and framing as `framing` says.
pub fn security_headers(
    config: &StorefrontConfig,
    https: bool,
    framing: Framing,
) -> Vec<(header::HeaderName, HeaderValue)> {
    let bff = origin(&config.bff_url).unwrap_or_default();
    let issuer = config.issuer.as_deref().and_then(origin);
    let frames = match &issuer {
        None => "'none'".to_owned(),
        Some(issuer) => {
            let login = config.login_url.as_deref().and_then(origin).unwrap_or_default();
            format!("'self' {issuer} {login}").trim_end().to_owned()
        }
    };
    let (ancestors, frame_options) = match framing {
        Framing::Denied => ("'none'", "DENY"),
        Framing::SameOrigin => ("'self'", "SAMEORIGIN"),
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' {bff} https: data:; \
         font-src 'self'; connect-src 'self' {bff} {issuer}; frame-src {frames}; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors {ancestors}",
        issuer = issuer.unwrap_or_default(),
    );
    let mut headers = vec![
        (header::CONTENT_SECURITY_POLICY, HeaderValue::try_from(csp).expect("origins are valid header text")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static(frame_options)),
    ];
    if https {
        headers.push((header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000")));
    }
    headers
}

/// The storefront app: `/config.json`, the build's assets, the silent sign-in's page, and `index.html` for
/// everything else, each answer with the [`security_headers`] (HSTS when `https`).
pub fn storefront(dir: &Path, config: &StorefrontConfig, https: bool) -> axum::Router {
    let with_headers = |app: axum::Router, framing| {
        security_headers(config, https, framing)
            .into_iter()
            .fold(app, |app, (name, value)| app.layer(SetResponseHeaderLayer::overriding(name, value)))
    };
    let config = serde_json::json!({
        "bffUrl": config.bff_url,
        "issuer": config.issuer,
        "clientId": config.client_id,
        "audience": config.audience,
    });
    let index = ServeFile::new(dir.join("index.html"));
    let no_cache = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    let assets = axum::Router::new().fallback_service(ServeDir::new(dir.join("assets"))).layer(
        SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ),
    );
    let silent = axum::Router::new()
        .route_service(SILENT_CALLBACK_PATH, ServeFile::new(dir.join(&SILENT_CALLBACK_PATH[1..])))
        .layer(no_cache.clone());
    let pages = axum::Router::new()
        .route("/config.json", get(move || std::future::ready(Json(config.clone()))))
        .fallback_service(ServeDir::new(dir).append_index_html_on_directories(true).fallback(index))
        .layer(no_cache);
    with_headers(pages.nest("/assets", assets), Framing::Denied).merge(with_headers(silent, Framing::SameOrigin))
}

/// `ec serve web`: what the storefront tells the browser, when it is served on its own (a container behind the
/// load balancer) rather than by `ec dev`, which fills these in itself.
#[derive(Clone, Debug, clap::Args)]
pub struct StorefrontArgs {
    /// The BFF's public base URL, as browsers reach it (for example https://api.shop.example).
    #[arg(id = "public_bff_url", long = "public-bff-url", env = "PUBLIC_BFF_URL")]
    pub bff_url: url::Url,

    /// The OpenID Connect issuer the storefront signs in with (Hydra's public URL, exactly as in its tokens).
    #[arg(id = "storefront_issuer", long = "oidc-issuer", env = "OIDC_ISSUER")]
    pub issuer: url::Url,

    /// The issuer's login and consent pages' public URL (the user service's LOGIN_PUBLIC_URL): the silent
    /// sign-in passes through them in a frame of the storefront, which its Content-Security-Policy allows.
    #[arg(id = "storefront_login_url", long = "login-public-url", env = "LOGIN_PUBLIC_URL")]
    pub login_url: url::Url,

    /// The storefront's OAuth2 client id, as registered with the issuer.
    #[arg(id = "storefront_client_id", long = "oidc-client-id", env = "OIDC_CLIENT_ID", default_value = "ec-spa")]
    pub client_id: String,

    /// The audience the storefront asks access tokens for: the BFF's OIDC_AUDIENCE.
    #[arg(id = "storefront_audience", long = "oidc-audience", env = "OIDC_AUDIENCE", default_value = "ec-api")]
    pub audience: String,
}

impl StorefrontArgs {
    /// The `/config.json` these settings make.
    pub fn config(&self) -> StorefrontConfig {
        StorefrontConfig {
            bff_url: self.bff_url.as_str().trim_end_matches('/').to_owned(),
            issuer: Some(self.issuer.to_string()),
            client_id: self.client_id.clone(),
            audience: self.audience.clone(),
            login_url: Some(self.login_url.to_string()),
        }
    }
}
