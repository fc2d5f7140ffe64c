//! The end-to-end test harness.
//!
//! [`TestPlatform::start`] runs the same all-in-one platform as `ec dev` (every service and the BFF, each on a
//! free port and started by its own `Application::build`) against a fresh database created on the PostgreSQL
//! named by `DATABASE_URL` (default: the local server at 127.0.0.1:5432). Tests then drive the BFF with the clients a user would use. Missing PostgreSQL is a
//! loud failure, never a skip.
//!
//! [`clients`] builds those clients: Connect (JSON and binary), gRPC-Web and gRPC. For requests made the way
//! `curl` makes them (Connect JSON over HTTP/1.1, any header), every test uses [`TestPlatform::post`],
//! [`TestPlatform::call`] and [`answer`].

pub mod browser;

use std::net::SocketAddr;

use ec_cli::platform::{Addresses, Platform, PlatformConfig};
use ec_platform::{
    identity::{IdentityVerifier, InternalAuthArgs},
    server::connectable,
    shutdown::CancellationToken,
};
pub use ec_testing::TestDatabase;
use tokio::task::JoinHandle;

/// The whole platform, running in this process on free ports over its own database.
pub struct TestPlatform {
    pub addresses: Addresses,
    pub database: TestDatabase,
    /// Holds the platform's internal secret, to call a service directly the way the BFF does.
    pub identity: IdentityVerifier,
    shutdown: CancellationToken,
    running: JoinHandle<Result<(), String>>,
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

impl TestPlatform {
    /// Creates a database, migrates it, and starts every service and the BFF.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestPlatform::start`], with the configuration adjusted first.
    pub async fn start_with(adjust: impl FnOnce(&mut PlatformConfig)) -> Self {
        let database = TestDatabase::create().await;
        let internal_token = IdentityVerifier::generate_token();
        let config = PlatformConfig {
            user: ec_user::config::UserConfig::local(any_port(), ec_user::config::LoginConfig::local(any_port(), None)),
            product: ec_product::config::ProductConfig::local(any_port()),
            // The product service URL is replaced by the bound product service's at start.
            order: ec_order::config::OrderConfig::local(any_port(), any_port()),
            bff: ec_bff::config::BffConfig {
                addr: any_port(),
                ops_addr: any_port(),
                // Replaced by the bound services' addresses at start.
                user_service_url: http::Uri::from_static("http://127.0.0.1:1"),
                product_service_url: http::Uri::from_static("http://127.0.0.1:1"),
                order_service_url: http::Uri::from_static("http://127.0.0.1:1"),
                // No issuer: the embedded OAuth2 server's is used.
                oidc: ec_platform::config::defaults(),
                // Generous, so tests that make many calls are not limited; the rate-limit tests set their own.
                edge: ec_bff::config::EdgeConfig {
                    anonymous_burst: 10_000,
                    user_burst: 10_000,
                    sign_up_burst: 10_000,
                    media_burst: 10_000,
                    ..ec_platform::config::defaults()
                },
            },
            oauth: ec_oauth_server::config::OAuthServerConfig::local(any_port(), any_port()),
            redis: ec_platform::config::RedisArgs {
                // The Redis the tests share, each platform under its own key prefix.
                url: Some(ec_testing::redis_url()),
                key_prefix: format!("ec-test:{}:", uuid::Uuid::now_v7().simple()),
            },
            // Events stay in process unless a test sets NATS_URL (the events tests do, with their own prefix).
            events: ec_platform::config::defaults(),
            shutdown: ec_platform::config::ShutdownArgs { grace_secs: 5 },
            internal: InternalAuthArgs { token: Some(internal_token.clone()) },
            environment: ec_platform::config::defaults(),
            serving: ec_platform::server::ServingArgs::default(),
            // No storefront unless a test builds one and points here.
            web: ec_cli::web::WebArgs {
                addr: any_port(),
                dir: "no-storefront-build".into(),
                trusted_proxies: Vec::new(),
                https: false,
            },
            // Pictures in a directory of this platform's own.
            media: ec_platform::media::MediaArgs {
                media_store: Some(
                    url::Url::from_directory_path(
                        std::env::temp_dir().join(format!("ec-test-media-{}", uuid::Uuid::now_v7().simple())),
                    )
                    .expect("the temporary directory is absolute")
                    .to_string(),
                ),
            },
        };
        let mut config = config;
        adjust(&mut config);
        let shutdown = CancellationToken::new();
        let connection = ec_platform::config::DatabaseArgs { url: database.url(), max_connections: 5 };
        let platform = Platform::start(&config, &connection, shutdown.clone()).await.expect("the platform starts");
        let addresses = platform.addresses.clone();
        let running = tokio::spawn(async move { platform.wait().await.map_err(|e| format!("{e:#}")) });
        Self {
            addresses,
            database,
            identity: IdentityVerifier::new(&InternalAuthArgs { token: Some(internal_token) })
                .expect("a generated token is long enough"),
            shutdown,
            running,
        }
    }

    /// The BFF's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn bff_url(&self) -> String {
        format!("http://{}", connectable(self.addresses.bff))
    }

    /// The BFF's operations base URL (`/health`, `/ready`, `/metrics`).
    pub fn ops_url(&self) -> String {
        format!("http://{}", connectable(self.addresses.bff_ops))
    }

    /// The embedded OAuth2 server's issuer URL (with its trailing slash), e.g. `http://127.0.0.1:41235/`.
    pub fn issuer(&self) -> &str {
        &self.addresses.oauth.as_ref().expect("the embedded OAuth2 server runs").issuer
    }

    /// The login pages' base URL, e.g. `http://127.0.0.1:41236`.
    pub fn login_url(&self) -> String {
        format!("http://{}", self.addresses.login.expect("the login pages run"))
    }

    /// Base URL of any part of the platform.
    pub fn url_of(&self, addr: SocketAddr) -> String {
        format!("http://{}", connectable(addr))
    }

    /// A Connect JSON POST to `procedure` (`/package.Service/Method`) at the BFF, as `curl -H 'Content-Type:
    /// application/json'` sends it; add a body and any headers, then [`answer`] it.
    pub fn post(&self, procedure: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().post(format!("{}{procedure}", self.bff_url())).header("content-type", "application/json")
    }

    /// Like [`post`](Self::post), over HTTP/2 (h2c with prior knowledge), as gRPC clients and `curl
    /// --http2-prior-knowledge` connect.
    pub fn post_h2(&self, procedure: &str) -> reqwest::RequestBuilder {
        let client = reqwest::Client::builder().http2_prior_knowledge().build().expect("an HTTP/2 client");
        client.post(format!("{}{procedure}", self.bff_url())).header("content-type", "application/json")
    }

    /// Calls `procedure` at the BFF with `body` as Connect JSON, with `token` as the bearer token if given.
    pub async fn call(
        &self,
        procedure: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut request = self.post(procedure).body(body.to_string());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        answer(request).await
    }

    /// Signs up `email` with `password` through the BFF and answers the new account's id.
    pub async fn sign_up(&self, email: &str, password: &str) -> String {
        let body = serde_json::json!({"email": email, "password": password});
        let (status, answer) = self.call("/user.v1.UserService/CreateUser", None, &body).await;
        assert_eq!(status, 200, "signing up {email}: {answer}");
        answer["user"]["id"].as_str().expect("the new account's id").to_owned()
    }

    /// Signs up `email` (password "correct horse"), makes it an admin when `admin`, signs in as the storefront
    /// does, and returns the access token.
    pub async fn access_token(&self, email: &str, admin: bool) -> String {
        self.sign_up(email, "correct horse").await;
        if admin {
            sqlx::query("UPDATE user_service.users SET roles = ARRAY['customer', 'admin'] WHERE email = $1")
                .bind(email)
                .execute(&self.database.pool)
                .await
                .unwrap();
        }
        let tokens = browser::sign_in(self, email, "correct horse").await;
        tokens["access_token"].as_str().expect("an access token").to_owned()
    }

    /// Fires the shutdown signal, as SIGTERM would, without waiting; [`TestPlatform::stop`] then waits.
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Stops every server (checking that each stopped cleanly) and drops the database.
    pub async fn stop(self) {
        self.shutdown.cancel();
        self.running.await.expect("the platform task does not panic").expect("every server stops cleanly");
        self.database.drop_now().await;
    }
}

/// Sends `request` and answers its HTTP status and body: the JSON when it is JSON, else the text as a JSON
/// string (`Null` when empty).
pub async fn answer(request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a complete body");
    let body = match serde_json::from_str(&text) {
        Ok(json) => json,
        Err(_) if text.is_empty() => serde_json::Value::Null,
        Err(_) => serde_json::Value::String(text),
    };
    (status, body)
}

pub mod clients {
    //! The clients a user of the API would use, one per protocol.

    use connectrpc::{
        Protocol,
        client::{ClientConfig, HttpClient},
    };

    /// A protocol and encoding a client can speak to the BFF.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Wire {
        /// Connect protocol, JSON messages, HTTP/1.1 (what `curl` and `fetch` do).
        ConnectJson,
        /// Connect protocol, binary protobuf messages.
        ConnectProto,
        /// gRPC-Web, binary, HTTP/1.1 (what browser gRPC-Web clients do).
        GrpcWeb,
        /// gRPC over HTTP/2 cleartext (what mobile and server gRPC clients do).
        Grpc,
    }

    impl Wire {
        /// Every wire a client can use.
        pub const ALL: [Wire; 4] = [Wire::ConnectJson, Wire::ConnectProto, Wire::GrpcWeb, Wire::Grpc];
    }

    /// An HTTP transport and client configuration for `wire` against `base_url`.
    pub fn transport(base_url: &str, wire: Wire) -> (HttpClient, ClientConfig) {
        let uri: http::Uri = base_url.parse().expect("a valid base URL");
        let config = ClientConfig::new(uri);
        match wire {
            Wire::ConnectJson => (HttpClient::plaintext(), config.json()),
            Wire::ConnectProto => (HttpClient::plaintext(), config.proto()),
            Wire::GrpcWeb => (HttpClient::plaintext(), config.with_protocol(Protocol::GrpcWeb).proto()),
            Wire::Grpc => (HttpClient::plaintext_http2_only(), config.with_protocol(Protocol::Grpc).proto()),
        }
    }

    /// [`transport`], sending `token` as a bearer token when there is one.
    pub fn transport_as(base_url: &str, wire: Wire, token: Option<&str>) -> (HttpClient, ClientConfig) {
        let (http, config) = transport(base_url, wire);
        match token {
            Some(token) => (http, config.with_default_header("authorization", format!("Bearer {token}").as_str())),
            None => (http, config),
        }
    }

    /// A `user.v1.UserService` client speaking `wire`.
    pub fn users(base_url: &str, wire: Wire) -> ec_proto::user::v1::UserServiceClient<HttpClient> {
        let (http, config) = transport(base_url, wire);
        ec_proto::user::v1::UserServiceClient::new(http, config)
    }
}
