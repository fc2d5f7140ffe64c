//! Settings of the embedded OAuth2 server. Names follow Hydra's configuration where there is one
//! (`urls.login` is `--oauth-login-url`, `oauth2.allowed_top_level_claims` is `--oauth-top-level-claims`).

use std::{net::SocketAddr, path::PathBuf};

/// Settings of the embedded OAuth2 server. Flags with environment fallbacks.
#[derive(Clone, Debug, clap::Args)]
pub struct OAuthServerConfig {
    /// Address of the public OAuth2/OIDC port (Hydra's 4444).
    #[arg(
        id = "oauth_public_addr",
        long = "oauth-public-addr",
        env = "OAUTH_PUBLIC_ADDR",
        default_value = "127.0.0.1:4444"
    )]
    pub public_addr: SocketAddr,

    /// Address of the admin port, with the login/consent/logout request API (Hydra's 4445).
    #[arg(
        id = "oauth_admin_addr",
        long = "oauth-admin-addr",
        env = "OAUTH_ADMIN_ADDR",
        default_value = "127.0.0.1:4445"
    )]
    pub admin_addr: SocketAddr,

    /// Issuer URL put in tokens and discovery. Default: http://<public address>/.
    #[arg(id = "oauth_issuer", long = "oauth-issuer", env = "OAUTH_ISSUER")]
    pub issuer: Option<url::Url>,

    /// The login page users are sent to (Hydra's urls.login).
    #[arg(
        id = "oauth_login_url",
        long = "oauth-login-url",
        env = "OAUTH_LOGIN_URL",
        default_value = "http://127.0.0.1:8051/oauth2/login"
    )]
    pub login_url: url::Url,

    /// Where `prompt=registration` sends the browser instead of the login page (Hydra's urls.registration).
    /// Default: the login page, as in Hydra.
    #[arg(id = "oauth_registration_url", long = "oauth-registration-url", env = "OAUTH_REGISTRATION_URL")]
    pub registration_url: Option<url::Url>,

    /// The consent page (Hydra's urls.consent).
    #[arg(
        id = "oauth_consent_url",
        long = "oauth-consent-url",
        env = "OAUTH_CONSENT_URL",
        default_value = "http://127.0.0.1:8051/oauth2/consent"
    )]
    pub consent_url: url::Url,

    /// The logout page (Hydra's urls.logout).
    #[arg(
        id = "oauth_logout_url",
        long = "oauth-logout-url",
        env = "OAUTH_LOGOUT_URL",
        default_value = "http://127.0.0.1:8051/oauth2/logout"
    )]
    pub logout_url: url::Url,

    /// Where errors that cannot go back to a client are shown (Hydra's urls.error). Default: this server's
    /// own fallback page.
    #[arg(id = "oauth_error_url", long = "oauth-error-url", env = "OAUTH_ERROR_URL")]
    pub error_url: Option<url::Url>,

    /// PEM RSA private key to sign tokens with, so they survive restarts. Unset: a new key per start.
    #[arg(id = "oauth_signing_key_file", long = "oauth-signing-key-file", env = "OAUTH_SIGNING_KEY_FILE")]
    pub signing_key_file: Option<PathBuf>,

    /// JSON file with extra OAuth2 clients, in Hydra's client format (client_id, client_secret,
    /// redirect_uris, grant_types, scope, audience, token_endpoint_auth_method, skip_consent,
    /// post_logout_redirect_uris).
    #[arg(id = "oauth_clients_file", long = "oauth-clients-file", env = "OAUTH_CLIENTS_FILE")]
    pub clients_file: Option<PathBuf>,

    /// Client id of the pre-registered first-party single-page app (public client, PKCE, no consent screen).
    #[arg(
        id = "oauth_spa_client_id",
        long = "oauth-spa-client-id",
        env = "OAUTH_SPA_CLIENT_ID",
        default_value = "ec-spa"
    )]
    pub spa_client_id: String,

    /// Redirect URIs of the single-page app, comma-separated.
    #[arg(
        id = "oauth_spa_redirect_uris",
        long = "oauth-spa-redirect-uris",
        env = "OAUTH_SPA_REDIRECT_URIS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:5173/callback,http://127.0.0.1:5173/silent-callback.html,\
                         http://localhost:5173/callback,http://localhost:5173/silent-callback.html"
    )]
    pub spa_redirect_uris: Vec<String>,

    /// The audience of the platform's API: what the single-page app may ask tokens for, and what the BFF
    /// checks.
    #[arg(
        id = "oauth_api_audience",
        long = "oauth-api-audience",
        env = "OAUTH_API_AUDIENCE",
        default_value = "ec-api"
    )]
    pub api_audience: String,

    /// Consent session claims also put at the top level of access tokens (Hydra's
    /// oauth2.allowed_top_level_claims); all of them are always under `ext` too.
    #[arg(
        id = "oauth_top_level_claims",
        long = "oauth-top-level-claims",
        env = "OAUTH_TOP_LEVEL_CLAIMS",
        value_delimiter = ',',
        default_value = "email,name,roles"
    )]
    pub top_level_claims: Vec<String>,

    /// Access and ID token lifetime, in seconds (Hydra: ttl.access_token, 1h).
    #[arg(
        id = "oauth_access_token_ttl",
        long = "oauth-access-token-ttl",
        env = "OAUTH_ACCESS_TOKEN_TTL",
        default_value_t = 3600
    )]
    pub access_token_ttl: u64,

    /// Refresh token lifetime, in seconds (Hydra: ttl.refresh_token, 720h).
    #[arg(id = "oauth_refresh_token_ttl", long = "oauth-refresh-token-ttl", env = "OAUTH_REFRESH_TOKEN_TTL", default_value_t = 720 * 3600)]
    pub refresh_token_ttl: u64,

    /// Authorization code lifetime, in seconds (Hydra: ttl.auth_code, 10m).
    #[arg(id = "oauth_code_ttl", long = "oauth-code-ttl", env = "OAUTH_CODE_TTL", default_value_t = 600)]
    pub code_ttl: u64,

    /// How long a login or consent request may wait for an answer, in seconds (Hydra:
    /// ttl.login_consent_request, 30m).
    #[arg(id = "oauth_request_ttl", long = "oauth-request-ttl", env = "OAUTH_REQUEST_TTL", default_value_t = 1800)]
    pub request_ttl: u64,
}

impl OAuthServerConfig {
    /// The configuration the tests start from: every default, on the given addresses.
    pub fn local(public_addr: SocketAddr, admin_addr: SocketAddr) -> Self {
        let mut config: Self = ec_platform::config::defaults();
        config.public_addr = public_addr;
        config.admin_addr = admin_addr;
        config
    }
}
