//! User service settings.

use std::{net::SocketAddr, time::Duration};

use crate::throttle::{Backoff, ThrottleLimits};

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

    /// Most password hashes (Argon2id, 19 MiB each) running at once in the process; the rest wait. Four fit
    /// the 256 MiB the Kubernetes files give the user service.
    #[arg(
        id = "password_hash_concurrency",
        long = "password-hash-concurrency",
        env = "PASSWORD_HASH_CONCURRENCY",
        default_value_t = 4,
        value_parser = clap::value_parser!(u32).range(1..=256)
    )]
    pub password_hash_concurrency: u32,

    /// Longest a password check waits for a free hash before it is refused as busy (`resource_exhausted`, or
    /// 503 on the login page, with Retry-After), in milliseconds.
    #[arg(
        id = "password_hash_queue_ms",
        long = "password-hash-queue-ms",
        env = "PASSWORD_HASH_QUEUE_MS",
        default_value_t = 2000,
        value_parser = clap::value_parser!(u64).range(1..=60_000)
    )]
    pub password_hash_queue_ms: u64,

    #[command(flatten)]
    pub login: LoginConfig,

    #[command(flatten)]
    pub mail: crate::mail::MailArgs,

    #[command(flatten)]
    pub webhooks: crate::webhooks::WebhookArgs,
}

impl UserConfig {
    /// The limits of password hashing in the process.
    pub fn hash_limits(&self) -> crate::password::HashLimits {
        crate::password::HashLimits {
            concurrent: self.password_hash_concurrency as usize,
            queue: Duration::from_millis(self.password_hash_queue_ms),
        }
    }

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

    /// The pages' public URL, as browsers reach them (through Hydra's domain or a proxy in production): the
    /// links in password-reset messages point here.
    #[arg(
        id = "login_public_url",
        long = "login-public-url",
        env = "LOGIN_PUBLIC_URL",
        default_value = "http://127.0.0.1:8051/"
    )]
    pub public_url: url::Url,

    /// Days a "keep me signed in" login is remembered.
    #[arg(id = "login_remember_days", long = "login-remember-days", env = "LOGIN_REMEMBER_DAYS", default_value_t = 30)]
    pub remember_days: u32,

    /// Mark the pages' cookies Secure. Set it whenever the pages are served over HTTPS (production).
    #[arg(id = "login_secure_cookies", long = "login-secure-cookies", env = "LOGIN_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Failed password attempts one unknown client (IP, or IPv6 /64) may make at one account before each
    /// further attempt waits; also what a known device (a browser with a device cookie) and the API get.
    #[arg(
        id = "login_free_failures_per_client",
        long = "login-free-failures-per-client",
        env = "LOGIN_FREE_FAILURES_PER_CLIENT",
        default_value_t = 3
    )]
    pub free_failures_per_client: u32,

    /// Failed password attempts all unknown clients together may make at one account before each further
    /// attempt by an unknown client waits (known devices are not slowed).
    #[arg(
        id = "login_free_failures_per_account",
        long = "login-free-failures-per-account",
        env = "LOGIN_FREE_FAILURES_PER_ACCOUNT",
        default_value_t = 10
    )]
    pub free_failures_per_account: u32,

    /// Failed password attempts one client address may make across all accounts before each further attempt
    /// from it waits.
    #[arg(
        id = "login_free_failures_per_address",
        long = "login-free-failures-per-address",
        env = "LOGIN_FREE_FAILURES_PER_ADDRESS",
        default_value_t = 30
    )]
    pub free_failures_per_address: u32,

    /// The first wait after the free failures, in milliseconds; each further failure doubles it.
    #[arg(
        id = "login_first_delay_ms",
        long = "login-first-delay-ms",
        env = "LOGIN_FIRST_DELAY_MS",
        default_value_t = 1000
    )]
    pub first_delay_ms: u64,

    /// The longest wait, in seconds.
    #[arg(
        id = "login_max_delay_secs",
        long = "login-max-delay-secs",
        env = "LOGIN_MAX_DELAY_SECS",
        default_value_t = 900
    )]
    pub max_delay_secs: u64,

    /// Failed attempts from a known device after which its device cookie no longer exempts it from the
    /// account's count of unknown clients.
    #[arg(
        id = "login_distrust_device_after",
        long = "login-distrust-device-after",
        env = "LOGIN_DISTRUST_DEVICE_AFTER",
        default_value_t = 20
    )]
    pub distrust_device_after: u32,

    /// Days a browser's device cookie is kept after its last sign-in.
    #[arg(id = "login_device_days", long = "login-device-days", env = "LOGIN_DEVICE_DAYS", default_value_t = 180)]
    pub device_days: u32,

    /// Proxies (IPs or CIDR ranges, comma-separated) in front of the login pages whose X-Forwarded-For is
    /// believed, so the per-IP throttle sees clients, not the load balancer.
    #[arg(id = "login_trusted_proxies", long = "login-trusted-proxies", env = "LOGIN_TRUSTED_PROXIES", value_delimiter = ',', value_parser = ec_platform::net::parse_network)]
    pub trusted_proxies: Vec<ec_platform::net::IpNet>,
}

/// Whether `url` can only reach this machine: no host, `localhost` (or a name under it), or a loopback or
/// unspecified address. (For schemes the URL standard does not know, such as `smtp`, an IP address comes back as
/// a domain name, so names are tried as addresses too.)
pub fn names_this_machine(url: &url::Url) -> bool {
    let local = |ip: std::net::IpAddr| ip.is_loopback() || ip.is_unspecified();
    match url.host() {
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.');
            name == "localhost"
                || name.ends_with(".localhost")
                || name.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(local)
        }
        Some(url::Host::Ipv4(ip)) => local(ip.into()),
        Some(url::Host::Ipv6(ip)) => local(ip.into()),
        None => true,
    }
}

impl LoginConfig {
    /// Refuses, in production, login pages that would mail links anywhere but to them over HTTPS.
    pub fn check(&self, environment: ec_platform::environment::Environment) -> Result<(), String> {
        if environment != ec_platform::environment::Environment::Production || self.hydra_admin_url.is_none() {
            return Ok(());
        }
        if names_this_machine(&self.public_url) || self.public_url.scheme() != "https" {
            return Err("production needs LOGIN_PUBLIC_URL, the login pages' https:// address as browsers reach \
                        them: password-reset links point there"
                .into());
        }
        Ok(())
    }

    /// The password throttle's settings. Counts are forgotten a day after their last attempt.
    pub fn throttle_limits(&self) -> ThrottleLimits {
        let backoff = |free| Backoff {
            free,
            first_delay: Duration::from_millis(self.first_delay_ms),
            max_delay: Duration::from_secs(self.max_delay_secs),
        };
        ThrottleLimits {
            per_client: backoff(self.free_failures_per_client),
            per_account: backoff(self.free_failures_per_account),
            per_address: backoff(self.free_failures_per_address),
            distrust_device_after: self.distrust_device_after,
            forget_after: Duration::from_secs(24 * 3600),
        }
    }

    /// The defaults, on `addr`, talking to the Hydra admin API at `hydra` (tests).
    pub fn local(addr: SocketAddr, hydra: Option<url::Url>) -> Self {
        let mut config: Self = ec_platform::config::defaults();
        config.addr = addr;
        config.hydra_admin_url = hydra;
        config
    }
}

#[cfg(test)]
mod tests {
    use ec_platform::environment::Environment;

    use super::*;

    #[test]
    fn loopback_names_and_addresses_are_this_machine_whatever_the_scheme() {
        for local in [
            "https://localhost/",
            "https://localhost./",
            "https://app.localhost/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://0.0.0.0/",
            "smtp://127.0.0.1:25",
            "smtp://[::1]:25",
            "smtp://localhost:25",
        ] {
            assert!(names_this_machine(&local.parse().unwrap()), "{local}");
        }
        for remote in ["https://auth.shop.example/", "smtp://mail.example:587", "smtp://203.0.113.5:25"] {
            assert!(!names_this_machine(&remote.parse().unwrap()), "{remote}");
        }
    }

    #[test]
    fn production_login_pages_need_a_public_https_address() {
        let mut login = LoginConfig::local("127.0.0.1:0".parse().unwrap(), Some("http://hydra:4445".parse().unwrap()));
        assert!(login.check(Environment::Development).is_ok());
        assert!(login.check(Environment::Production).unwrap_err().contains("LOGIN_PUBLIC_URL"));
        login.public_url = "http://account.shop.example/".parse().unwrap();
        assert!(login.check(Environment::Production).is_err(), "plain http");
        login.public_url = "https://account.shop.example/".parse().unwrap();
        assert!(login.check(Environment::Production).is_ok());
        login.hydra_admin_url = None;
        login.public_url = "http://127.0.0.1:8051/".parse().unwrap();
        assert!(login.check(Environment::Production).is_ok(), "no login pages, no links");
    }
}
