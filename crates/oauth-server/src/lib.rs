//! A small OAuth2 and OpenID Connect server that speaks the part of Ory Hydra's API the platform uses, for
//! development and tests, where Hydra itself cannot run. It is a stand-in for Hydra, not a product: state is
//! in memory, there is one signing key, and it refuses to start in production.
//!
//! Like Hydra it has two ports. The public one ([`public`]) serves discovery, the JWKS, the authorization
//! code flow (PKCE S256, required for public clients; exact redirect URI match; `state` required), the token
//! endpoint (`authorization_code`, `refresh_token` with rotation and reuse detection, `client_credentials`)
//! and RP-initiated logout, to pages of the origins clients list in `allowed_cors_origins` too (CORS, as a
//! single-page app needs). The admin one ([`admin`]) serves the login, consent and logout request API that
//! the user service's login/consent app calls. Request and response shapes, status codes and token claims
//! follow Hydra v2 (see [`tokens`]), so the login/consent app cannot tell the difference.
//!
//! A flow: `/oauth2/auth` checks the request, sets a CSRF cookie that binds the flow to the browser, and
//! redirects to the login app with a `login_challenge`; the app accepts through the admin API and sends the
//! browser back with a `login_verifier`; the same again for consent; then the browser goes to the client's
//! redirect URI with a single-use code, which the client exchanges at `/oauth2/token`.

pub mod admin;
pub mod clients;
pub mod config;
pub mod keys;
pub mod public;
pub mod store;
pub mod tokens;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use ec_platform::environment::Environment;
use ec_platform::shutdown::CancellationToken;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::Jwk};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::{
    clients::{Clients, ClientsError},
    config::OAuthServerConfig,
    keys::{KeyError, SigningKey},
    store::Store,
    tokens::Minter,
};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "the embedded OAuth2 server is for development and tests and refuses to run with EC_ENV=production; \
         configure Ory Hydra instead"
    )]
    Production,
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Clients(#[from] ClientsError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What every handler shares.
#[derive(Debug)]
pub struct Shared {
    pub minter: Minter,
    pub clients: Clients,
    pub store: Store,
    pub login_url: url::Url,
    pub registration_url: url::Url,
    pub consent_url: url::Url,
    pub logout_url: url::Url,
    pub error_url: url::Url,
    pub code_ttl: i64,
    pub refresh_token_ttl: i64,
    pub request_ttl: i64,
    verification: (DecodingKey, Validation),
}

impl Shared {
    /// The public base URL, without a trailing slash.
    pub fn public_base(&self) -> &str {
        self.minter.issuer.trim_end_matches('/')
    }

    /// The claims of a token this server signed (expired ones included, as an `id_token_hint` may be).
    pub fn verify_own_token(&self, token: &str) -> Option<Value> {
        let (key, validation) = &self.verification;
        jsonwebtoken::decode::<Value>(token, key, validation).ok().map(|t| t.claims)
    }
}

/// A bound, not yet serving, server.
pub struct OAuthServer {
    shared: Arc<Shared>,
    public: TcpListener,
    admin: TcpListener,
}

impl OAuthServer {
    /// Loads or makes the signing key, builds the client registry and binds both ports; refused in
    /// production.
    pub async fn bind(config: &OAuthServerConfig, environment: Environment) -> Result<Self, StartError> {
        if environment == Environment::Production {
            return Err(StartError::Production);
        }
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })
        };
        let public = bind(config.public_addr).await?;
        let admin = bind(config.admin_addr).await?;
        let public_addr =
            public.local_addr().map_err(|source| StartError::Bind { addr: config.public_addr, source })?;
        let issuer = config
            .issuer
            .as_ref()
            .map(url::Url::to_string)
            .unwrap_or_else(|| format!("http://{}/", ec_platform::server::connectable(public_addr)));
        let key = match &config.signing_key_file {
            Some(path) => SigningKey::load(path)?,
            None => SigningKey::generate()?,
        };
        let jwk: Jwk = serde_json::from_value(key.jwk().clone()).expect("our JWK is a JWK");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let verification = (DecodingKey::from_jwk(&jwk).expect("our JWK decodes"), validation);
        let base = issuer.trim_end_matches('/').to_owned();
        let error_url = config
            .error_url
            .clone()
            .unwrap_or_else(|| url::Url::parse(&format!("{base}/oauth2/fallbacks/error")).expect("a URL"));
        let shared = Arc::new(Shared {
            minter: Minter {
                key,
                issuer,
                access_token_ttl: config.access_token_ttl as i64,
                top_level_claims: config.top_level_claims.clone(),
            },
            clients: Clients::from_config(config)?,
            store: Store::default(),
            login_url: config.login_url.clone(),
            registration_url: config.registration_url.clone().unwrap_or_else(|| config.login_url.clone()),
            consent_url: config.consent_url.clone(),
            logout_url: config.logout_url.clone(),
            error_url,
            code_ttl: config.code_ttl as i64,
            refresh_token_ttl: config.refresh_token_ttl as i64,
            request_ttl: config.request_ttl as i64,
            verification,
        });
        Ok(Self { shared, public, admin })
    }

    /// Points the login, registration, consent, logout and error URLs at a login app served at `base` (its
    /// `/oauth2/login`, `/oauth2/registration`, `/oauth2/consent`, `/oauth2/logout` and `/oauth2/error`), for a
    /// platform that binds the app after this server.
    pub fn with_login_app(mut self, base: &url::Url) -> Self {
        let shared = Arc::get_mut(&mut self.shared).expect("not serving yet, so not shared");
        let at = |path: &str| base.join(path).expect("a path joins a base URL");
        shared.login_url = at("/oauth2/login");
        shared.registration_url = at("/oauth2/registration");
        shared.consent_url = at("/oauth2/consent");
        shared.logout_url = at("/oauth2/logout");
        shared.error_url = at("/oauth2/error");
        self
    }

    /// The issuer URL (what goes in `iss`, and where discovery is).
    pub fn issuer(&self) -> &str {
        &self.shared.minter.issuer
    }

    /// The public port's address.
    pub fn public_addr(&self) -> SocketAddr {
        self.public.local_addr().expect("a bound listener has an address")
    }

    /// The admin port's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr().expect("a bound listener has an address")
    }

    /// Serves both ports until `shutdown` fires, then drains for at most `grace`.
    pub async fn serve(self, shutdown: CancellationToken, grace: Duration) -> std::io::Result<()> {
        tracing::warn!(
            issuer = self.shared.minter.issuer,
            admin = %self.admin_addr(),
            "embedded OAuth2 server (a development stand-in for Ory Hydra) is running"
        );
        let serve = |listener: TcpListener, app: axum::Router| {
            let stop = shutdown.clone();
            async move { axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await }
        };
        let both = async {
            tokio::try_join!(
                serve(self.public, public::router(self.shared.clone())),
                serve(self.admin, admin::router(self.shared.clone())),
            )
        };
        let deadline = async {
            shutdown.cancelled().await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = both => { result?; }
            () = deadline => tracing::warn!("grace period over; closing open OAuth2 connections"),
        }
        Ok(())
    }
}
