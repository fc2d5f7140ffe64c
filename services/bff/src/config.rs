//! BFF settings.

use std::net::SocketAddr;

/// Settings of the BFF. Flags with environment fallbacks; see `ec serve bff --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct BffConfig {
    /// Address of the BFF's public port (Connect, gRPC-Web and gRPC).
    #[arg(id = "bff_addr", long = "bff-addr", env = "BFF_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Base URL of the user service's gRPC port.
    #[arg(
        id = "user_service_url",
        long = "user-service-url",
        env = "USER_SERVICE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub user_service_url: http::Uri,

    #[command(flatten)]
    pub oidc: OidcConfig,
}

/// Which access tokens the BFF accepts.
#[derive(Clone, Debug, clap::Args)]
pub struct OidcConfig {
    /// Issuer of the access tokens, exactly as in their `iss` claim (Hydra's urls.self.issuer, e.g.
    /// https://auth.shop.example/). Unset: no token is accepted and only public RPCs work (`ec dev` uses its
    /// embedded OAuth2 server).
    #[arg(id = "oidc_issuer", long = "oidc-issuer", env = "OIDC_ISSUER")]
    pub issuer: Option<String>,

    /// Where the issuer publishes its keys. Default: <issuer>/.well-known/jwks.json, as Hydra does.
    #[arg(id = "oidc_jwks_url", long = "oidc-jwks-url", env = "OIDC_JWKS_URL")]
    pub jwks_url: Option<url::Url>,

    /// The audience access tokens must be for.
    #[arg(id = "oidc_audience", long = "oidc-audience", env = "OIDC_AUDIENCE", default_value = "ec-api")]
    pub audience: String,

    /// Clock skew allowed on exp, nbf and iat, in seconds.
    #[arg(id = "oidc_leeway_secs", long = "oidc-leeway-secs", env = "OIDC_LEEWAY_SECS", default_value_t = 30)]
    pub leeway_secs: u64,

    /// How long fetched keys are trusted before they are fetched again, in seconds.
    #[arg(id = "jwks_cache_secs", long = "jwks-cache-secs", env = "JWKS_CACHE_SECS", default_value_t = 300)]
    pub jwks_cache_secs: u64,

    /// Least time between two fetches triggered by unknown key ids, in seconds.
    #[arg(
        id = "jwks_min_refresh_secs",
        long = "jwks-min-refresh-secs",
        env = "JWKS_MIN_REFRESH_SECS",
        default_value_t = 5
    )]
    pub jwks_min_refresh_secs: u64,
}

impl OidcConfig {
    /// The JWKS URL: configured, or the issuer's standard one.
    pub fn jwks_url(&self) -> Option<url::Url> {
        self.jwks_url.clone().or_else(|| {
            let issuer = self.issuer.as_ref()?;
            url::Url::parse(&format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))).ok()
        })
    }
}
