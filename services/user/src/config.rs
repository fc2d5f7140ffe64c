//! User service settings.

use std::net::SocketAddr;

/// Settings of the user service. Flags with environment fallbacks; see `ec serve user --help`.
#[derive(Clone, Debug, clap::Args)]
pub struct UserConfig {
    /// Address of the user service's gRPC port (Connect, gRPC-Web and gRPC).
    #[arg(id = "user_addr", long = "user-addr", env = "USER_ADDR", default_value = "127.0.0.1:50051")]
    pub addr: SocketAddr,

    /// The longest lifetime of an access token the issuer grants, in seconds (Hydra's `ttl.access_token`,
    /// 1 h by default). When an account is deleted, changes its password or loses a role, its tokens are
    /// refused for this long (see `ec_platform::revocation`), so it must be at least that lifetime.
    #[arg(
        id = "access_token_max_ttl_secs",
        long = "access-token-max-ttl-secs",
        env = "ACCESS_TOKEN_MAX_TTL_SECS",
        default_value_t = 86_400
    )]
    pub access_token_max_ttl_secs: u64,

    #[command(flatten)]
    pub login: LoginConfig,
}

impl UserConfig {
    /// The defaults, on `addr`, with login pages on `login` (tests).
    pub fn local(addr: SocketAddr, login: LoginConfig) -> Self {
        let mut config: Self = ec_platform::config::defaults();
        config.addr = addr;
        config.login = login;
        config
    }
}

/// Settings of the login, consent and logout pages.
#[derive(Clone, Debug, clap::Args)]
pub struct LoginConfig {
    /// Address of the login, consent and logout pages Hydra sends browsers to.
    #[arg(id = "login_addr", long = "login-addr", env = "LOGIN_ADDR", default_value = "127.0.0.1:8051")]
    pub addr: SocketAddr,

    /// Base URL of Ory Hydra's admin API (e.g. http://hydra:4445). Unset: the login pages are not served
    /// (`ec dev` points it at its embedded OAuth2 server).
    #[arg(id = "hydra_admin_url", long = "hydra-admin-url", env = "HYDRA_ADMIN_URL")]
    pub hydra_admin_url: Option<url::Url>,

    /// Days a "keep me signed in" login is remembered.
    #[arg(id = "login_remember_days", long = "login-remember-days", env = "LOGIN_REMEMBER_DAYS", default_value_t = 30)]
    pub remember_days: u32,

    /// Mark the pages' cookies Secure. Set it whenever the pages are served over HTTPS (production).
    #[arg(id = "login_secure_cookies", long = "login-secure-cookies", env = "LOGIN_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Failed sign-ins allowed per account in a lockout window.
    #[arg(
        id = "login_max_failures_per_account",
        long = "login-max-failures-per-account",
        env = "LOGIN_MAX_FAILURES_PER_ACCOUNT",
        default_value_t = 5
    )]
    pub max_failures_per_account: u32,

    /// Failed sign-ins allowed per client IP in a lockout window.
    #[arg(
        id = "login_max_failures_per_ip",
        long = "login-max-failures-per-ip",
        env = "LOGIN_MAX_FAILURES_PER_IP",
        default_value_t = 50
    )]
    pub max_failures_per_ip: u32,

    /// Proxies (IPs or CIDR ranges, comma-separated) in front of the login pages whose X-Forwarded-For is
    /// believed, so the per-IP throttle sees clients, not the load balancer.
    #[arg(id = "login_trusted_proxies", long = "login-trusted-proxies", env = "LOGIN_TRUSTED_PROXIES", value_delimiter = ',', value_parser = ec_platform::net::parse_network)]
    pub trusted_proxies: Vec<ec_platform::net::IpNet>,

    /// Length of the lockout window, in minutes.
    #[arg(
        id = "login_lockout_minutes",
        long = "login-lockout-minutes",
        env = "LOGIN_LOCKOUT_MINUTES",
        default_value_t = 15
    )]
    pub lockout_minutes: u64,
}

impl LoginConfig {
    /// The defaults, on `addr`, talking to the Hydra admin API at `hydra` (tests).
    pub fn local(addr: SocketAddr, hydra: Option<url::Url>) -> Self {
        let mut config: Self = ec_platform::config::defaults();
        config.addr = addr;
        config.hydra_admin_url = hydra;
        config
    }
}
