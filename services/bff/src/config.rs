//! BFF settings.

use std::net::SocketAddr;

/// Settings of the BFF. Flags with environment fallbacks; see `ec serve bff --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct BffConfig {
    /// Address of the BFF's public port (Connect, gRPC-Web and gRPC).
    #[arg(id = "bff_addr", long = "bff-addr", env = "BFF_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Address of the BFF's operations port: `/health`, `/ready` and `/metrics`, kept off the public port so
    /// that the internet can neither read the counters (which would tell why a token was refused) nor make
    /// readiness probes call every backend. Reachable by the load balancer's and Prometheus's network only.
    #[arg(id = "ops_addr", long = "ops-addr", env = "OPS_ADDR", default_value = "127.0.0.1:8090")]
    pub ops_addr: SocketAddr,

    /// Base URL of the user service's gRPC port.
    #[arg(
        id = "user_service_url",
        long = "user-service-url",
        env = "USER_SERVICE_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub user_service_url: http::Uri,

    /// Base URL of the product service's gRPC port.
    #[arg(
        id = "product_service_url",
        long = "product-service-url",
        env = "PRODUCT_SERVICE_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub product_service_url: http::Uri,

    /// Base URL of the order service's gRPC port.
    #[arg(
        id = "order_service_url",
        long = "order-service-url",
        env = "ORDER_SERVICE_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub order_service_url: http::Uri,

    #[command(flatten)]
    pub oidc: OidcConfig,

    #[command(flatten)]
    pub edge: EdgeConfig,
}

/// What the BFF allows in from the internet: origins, sizes, deadlines, rates, proxies.
#[derive(Clone, Debug, clap::Args)]
pub struct EdgeConfig {
    /// Browser origins allowed to call the API (CORS), comma-separated, e.g. https://shop.example. Empty: no
    /// cross-origin calls (`ec dev` allows its storefront's origins).
    #[arg(
        id = "cors_allowed_origins",
        long = "cors-allowed-origins",
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_parser = parse_origin
    )]
    pub cors_allowed_origins: Vec<String>,

    /// Largest request accepted, in bytes: on the wire, and again after decompression.
    #[arg(id = "max_request_bytes", long = "max-request-bytes", env = "MAX_REQUEST_BYTES", default_value_t = 256 * 1024)]
    pub max_request_bytes: usize,

    /// Longest deadline a client may ask for (connect-timeout-ms, grpc-timeout), in seconds; also the deadline
    /// of calls that ask for none. Backends get what is left of it.
    #[arg(id = "max_deadline_secs", long = "max-deadline-secs", env = "MAX_DEADLINE_SECS", default_value_t = 30)]
    pub max_deadline_secs: u64,

    /// Calls per minute allowed per client IP without a valid token.
    #[arg(
        id = "rate_anonymous_per_minute",
        long = "rate-anonymous-per-minute",
        env = "RATE_ANONYMOUS_PER_MINUTE",
        default_value_t = 120,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub anonymous_per_minute: u32,

    /// Burst of calls allowed per client IP without a valid token.
    #[arg(
        id = "rate_anonymous_burst",
        long = "rate-anonymous-burst",
        env = "RATE_ANONYMOUS_BURST",
        default_value_t = 30,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub anonymous_burst: u32,

    /// Calls per minute allowed per signed-in user.
    #[arg(
        id = "rate_user_per_minute",
        long = "rate-user-per-minute",
        env = "RATE_USER_PER_MINUTE",
        default_value_t = 600,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub user_per_minute: u32,

    /// Sign-ups per minute allowed per client IP, on top of the anonymous limit: sign-up tells whether an
    /// email is registered (it must, to be honest with the user), so it is kept too slow to test addresses in
    /// bulk.
    #[arg(
        id = "rate_sign_up_per_minute",
        long = "rate-sign-up-per-minute",
        env = "RATE_SIGN_UP_PER_MINUTE",
        default_value_t = 6,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub sign_up_per_minute: u32,

    /// Burst of sign-ups allowed per client IP.
    #[arg(
        id = "rate_sign_up_burst",
        long = "rate-sign-up-burst",
        env = "RATE_SIGN_UP_BURST",
        default_value_t = 6,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub sign_up_burst: u32,

    /// Picture reads per minute allowed per client IP that reach the picture store (`/media/`): a revalidation,
    /// answered from the key alone, and a path no picture could have take nothing. Pictures are cached for a
    /// year, so a shopper's browser asks once; a flood of made-up keys cannot make the BFF query the store
    /// faster than this.
    #[arg(
        id = "rate_media_per_minute",
        long = "rate-media-per-minute",
        env = "RATE_MEDIA_PER_MINUTE",
        default_value_t = 600,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub media_per_minute: u32,

    /// Burst of picture reads allowed per client IP (a page of product cards asks for one copy of each).
    #[arg(
        id = "rate_media_burst",
        long = "rate-media-burst",
        env = "RATE_MEDIA_BURST",
        default_value_t = 300,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub media_burst: u32,

    /// Burst of calls allowed per signed-in user.
    #[arg(id = "rate_user_burst", long = "rate-user-burst", env = "RATE_USER_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub user_burst: u32,

    /// Proxies (IPs or CIDR ranges, comma-separated) whose X-Forwarded-For is believed. A peer not in the list
    /// is the client, whatever its headers say.
    #[arg(id = "trusted_proxies", long = "trusted-proxies", env = "TRUSTED_PROXIES", value_delimiter = ',', value_parser = ec_platform::net::parse_network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Seconds a browser or CDN may keep an anonymous public catalog read (`Cache-Control: public, max-age`);
    /// 0: not cached. Signed-in callers' reads are never stored (`private, no-store`).
    #[arg(id = "public_cache_secs", long = "public-cache-secs", env = "PUBLIC_CACHE_SECS", default_value_t = 30)]
    pub public_cache_secs: u32,
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

/// An origin such as `https://shop.example`; `*` is refused, since credentials (bearer tokens) are sent.
fn parse_origin(value: &str) -> Result<String, String> {
    match url::Url::parse(value) {
        Ok(url) if value != "*" && url.origin().is_tuple() && url.origin().ascii_serialization() == value => {
            Ok(value.to_owned())
        }
        _ => Err(format!("{value:?} is not an origin like https://shop.example (no path, no trailing slash, no *)")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        edge: EdgeConfig,
    }

    #[test]
    fn origins_must_be_plain_origins() {
        assert!(parse_origin("https://shop.example").is_ok());
        assert!(parse_origin("http://127.0.0.1:5173").is_ok());
        for bad in ["*", "https://shop.example/", "https://shop.example/path", "shop.example", ""] {
            assert!(parse_origin(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_zero_rate_is_refused_at_start_up() {
        assert!(Cli::try_parse_from(["bff", "--rate-user-per-minute", "0"]).is_err());
        assert!(Cli::try_parse_from(["bff", "--rate-anonymous-burst", "0"]).is_err());
        assert!(Cli::try_parse_from(["bff", "--rate-user-burst", "1"]).is_ok());
    }
}
