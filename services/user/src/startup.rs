//! Building the user service: its [`Application`], the gRPC port and, when Hydra's admin API is configured,
//! the login pages.

use std::{sync::Arc, time::Duration};

use ec_platform::{
    access::Access,
    config::DatabaseArgs,
    environment::Environment,
    events::relay::Relay,
    page_token::{self, PageTokens},
    server::{Reflection, Server, ServerError},
    shutdown::CancellationToken,
    startup::{Dependencies, StartupError},
};
use ec_proto::{
    user::v1::{CREDENTIAL_SERVICE_SERVICE_NAME, CredentialServiceExt, USER_SERVICE_SERVICE_NAME, UserServiceExt},
    webhook::v1::{WEBHOOK_SERVICE_SERVICE_NAME, WebhookServiceExt},
};

use crate::{
    api::{CredentialApi, SignOut, UserApi},
    config::UserConfig,
    hydra::HydraAdmin,
    links::Links,
    login::{self, LoginApp, signing},
    mail::{self, content::Shop, sender::Sender},
    resets::Resets,
    throttle::Throttle,
    verification::{self, Verifications},
    webhooks::{
        self,
        api::WebhookApi,
        deliverer::{Deliverer, Nudge},
    },
};

/// The key ListUsers page tokens are signed with is derived for this purpose.
const PAGE_TOKEN_PURPOSE: &[u8] = b"ec user page token v1";

/// The user service, connected, migrated and bound, ready to serve.
pub struct Application {
    rpc: Server,
    login: Option<Server>,
    pool: sqlx::PgPool,
    relay: Relay,
    sender: Sender,
    deliverer: Deliverer,
    /// Stops the subscriptions.
    consumers: CancellationToken,
    /// Whether the login pages show the development mailbox.
    mailbox: bool,
}

impl Application {
    /// Connects to PostgreSQL at `database`, brings the `user_service` schema up to date, and binds the gRPC
    /// port and (with a Hydra admin URL) the login pages.
    pub async fn build(
        config: &UserConfig,
        database: &DatabaseArgs,
        deps: &Dependencies,
    ) -> Result<Self, StartupError> {
        deps.require_events()?;
        config.mail.check(deps.environment).map_err(StartupError::Config)?;
        config.login.check(deps.environment).map_err(StartupError::Config)?;
        config.webhooks.check(deps.environment).map_err(StartupError::Config)?;
        crate::password::limit(config.hash_limits());
        let pool = ec_platform::startup::database(database, crate::SCHEMA, crate::migrator()).await?;
        crate::db::rekey_emails(&pool, crate::domain::normalize_email).await.map_err(StartupError::Database)?;
        let hydra = config.login.hydra_admin_url.clone().map(HydraAdmin::new);
        let sign_out = SignOut {
            sessions: hydra.clone(),
            tokens: deps.revocations.clone(),
            token_lifetime: Duration::from_secs(config.access_token_max_ttl_secs),
        };
        // One throttle for every check of a password: the sign-in page and ChangePassword.
        let throttle = Arc::new(Throttle::new(config.login.throttle_limits(), &deps.redis));
        let tokens = PageTokens::new(&page_token::key(&deps.identity, PAGE_TOKEN_PURPOSE));
        let access = Access::new(deps.identity.clone());
        let outbox = crate::events::outbox();
        let sender = Sender::new(pool.clone(), &config.mail).map_err(StartupError::Config)?;
        let mailbox = sender.is_mailbox() && deps.environment == Environment::Development;
        if sender.is_mailbox() && !mailbox {
            tracing::warn!(
                "no SMTP_URL: messages (password-reset links included) are kept in user_service.mails, not sent"
            );
        }
        mail::sender::describe_metrics();
        let shop = Shop { name: config.mail.shop_name.clone(), storefront: config.mail.storefront_url.clone() };
        let links = Links {
            pool: pool.clone(),
            outbox: outbox.clone(),
            sender: sender.clone(),
            shop: shop.clone(),
            login_url: config.login.public_url.clone(),
        };
        let resets = Resets(links.clone());
        let verifications = Verifications(links);
        let users = Arc::new(UserApi::new(
            pool.clone(),
            outbox.clone(),
            access.clone(),
            sign_out.clone(),
            throttle.clone(),
            tokens,
            verifications.clone(),
        ));
        let webhook_settings = config.webhooks.settings(deps.environment);
        let nudge = Nudge::default();
        let deliverer =
            Deliverer::new(pool.clone(), webhook_settings.clone(), nudge.clone(), sender.clone(), shop.clone())
                .map_err(StartupError::Config)?;
        webhooks::deliverer::describe_metrics();
        let webhook_tokens = PageTokens::new(&page_token::key(&deps.identity, webhooks::api::PAGE_TOKEN_PURPOSE));
        let hooks =
            Arc::new(WebhookApi::new(pool.clone(), access.clone(), webhook_settings, webhook_tokens, nudge.clone()));
        let credentials = Arc::new(CredentialApi::new(pool.clone(), access));
        let router = hooks.register(credentials.register(users.register(connectrpc::Router::new())));
        let services = [USER_SERVICE_SERVICE_NAME, CREDENTIAL_SERVICE_SERVICE_NAME, WEBHOOK_SERVICE_SERVICE_NAME];
        let reflection = deps.serving.reflection.or_off(Reflection::Api);
        let rpc = Server::bind("user", config.addr, router, &services, reflection).await?;
        let rpc = rpc.with_connection_limits(deps.serving.limits());

        let login = match hydra {
            Some(hydra) => {
                let site = login::text::Site {
                    shop: config.mail.shop_name.clone(),
                    storefront: config.mail.storefront_url.to_string(),
                    secure_cookies: config.login.secure_cookies,
                };
                let app = LoginApp {
                    pool: pool.clone(),
                    outbox: outbox.clone(),
                    hydra,
                    throttle,
                    remember_for: i64::from(config.login.remember_days) * 24 * 3600,
                    secure_cookies: config.login.secure_cookies,
                    csrf_key: signing::Key::derive(&deps.identity, login::csrf::PURPOSE),
                    device_key: signing::Key::derive(&deps.identity, login::device::PURPOSE),
                    device_lifetime: Duration::from_secs(u64::from(config.login.device_days) * 24 * 3600),
                    trusted_proxies: config.login.trusted_proxies.clone(),
                    resets,
                    verifications: verifications.clone(),
                    reset_throttle: Throttle::for_feature(
                        config.login.throttle_limits(),
                        &deps.redis,
                        "reset-requests",
                    ),
                    signup_throttle: Throttle::for_feature(config.login.throttle_limits(), &deps.redis, "sign-ups"),
                    site: Arc::new(site),
                    sign_out,
                };
                // Browsers reach the login pages (through a proxy in production): capped per client like the BFF.
                let limits = deps.serving.limits().per_client(&deps.serving.connections, app.trusted_proxies.clone());
                let mut pages = login::router(Arc::new(app));
                if mailbox {
                    pages = pages.merge(mail::mailbox::router(pool.clone()));
                }
                let server = Server::http("login", config.login.addr, pages).await?;
                Some(server.with_connection_limits(limits))
            }
            None => {
                tracing::warn!("no HYDRA_ADMIN_URL: the login and consent pages are not served");
                None
            }
        };
        let relay = deps.relay(&pool, &outbox)?;
        // Subscribed now, before any relay of this process runs, so an event relayed in process at start-up
        // finds its subscriber.
        let consumers = CancellationToken::new();
        let handler = mail::orders::handler(pool.clone(), shop, sender.clone());
        deps.events.subscribe(mail::orders::subscription(), handler, consumers.clone());
        let handler = verification::handler(verifications);
        deps.events.subscribe(verification::subscription(), handler, consumers.clone());
        let handler = webhooks::fanout::handler(pool.clone(), nudge);
        deps.events.subscribe(webhooks::fanout::subscription(), handler, consumers.clone());
        let mailbox = mailbox && login.is_some();
        Ok(Self { rpc, login, pool, relay, sender, deliverer, consumers, mailbox })
    }

    /// The gRPC server, for [`ec_platform::channel::InProcess::add`] where other components of the same
    /// process call it.
    pub fn rpc(&self) -> &Server {
        &self.rpc
    }

    /// The address of the gRPC port.
    pub fn rpc_addr(&self) -> std::net::SocketAddr {
        self.rpc.local_addr()
    }

    /// The development mailbox's URL (`/dev/mail` on the login pages), when it is served.
    pub fn mailbox_url(&self) -> Option<String> {
        self.mailbox.then(|| self.login_addr().map(|addr| format!("http://{addr}/dev/mail"))).flatten()
    }

    /// The address of the login pages, when they are served.
    pub fn login_addr(&self) -> Option<std::net::SocketAddr> {
        self.login.as_ref().map(Server::local_addr)
    }

    /// Serves every port, and runs the events relay, the mail sender, the webhook deliverer and the
    /// subscriptions (the mailer's, the verifier's and the webhooks'), until `shutdown` fires, then drains for at
    /// most `grace`.
    pub async fn serve(self, shutdown: CancellationToken, grace: Duration) -> Result<(), ServerError> {
        tokio::spawn(ec_platform::metrics::watch_pool("user", self.pool.clone(), shutdown.clone()));
        tokio::spawn(self.sender.run(shutdown.clone()));
        tokio::spawn(self.deliverer.run(shutdown.clone()));
        tokio::spawn(crate::retention::run(self.pool, shutdown.clone()));
        let (consumers, stopping) = (self.consumers, shutdown.clone());
        tokio::spawn(async move {
            stopping.cancelled().await;
            consumers.cancel();
        });
        // The relay goes on until the drain is over, then hands over what it committed.
        let servers = [Some(self.rpc), self.login].into_iter().flatten();
        self.relay.beside(ec_platform::server::serve_all(servers, shutdown, grace)).await
    }
}
