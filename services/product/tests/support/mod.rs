//! The product service alone on a free port over its own database, and clients for each kind of caller.

#![allow(dead_code)] // each test file uses part of it

use std::{net::SocketAddr, time::Duration};

use connectrpc::{
    ConnectError, ErrorCode, Protocol,
    client::{ClientConfig, HttpClient},
};
use ec_platform::{
    config::DatabaseArgs,
    events::{EventArgs, Events},
    identity::{Caller, IdentityVerifier, InternalAuthArgs, Role},
    shared::Redis,
    shutdown::CancellationToken,
    startup::Dependencies,
};
use ec_product::{
    catalog,
    config::ProductConfig,
    domain::{Actor, Attributes, Description, Price, ProductName, SkuCode},
    startup::Application,
};
use ec_proto::product::v1::{InventoryServiceClient, ProductServiceClient};
use ec_testing::TestDatabase;
use uuid::Uuid;

pub struct Service {
    pub url: http::Uri,
    pub identity: IdentityVerifier,
    pub database: TestDatabase,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<()>,
}

/// Who is calling.
pub enum Who {
    /// No metadata at all: a client that reached the port directly.
    Nobody,
    Customer,
    Admin,
    /// Another service of the platform (the order service), holding the internal secret.
    Internal,
    /// An anonymous client's call passed on by the BFF: the internal secret, no caller.
    Forwarded,
}

impl Service {
    pub async fn start() -> Self {
        Self::start_with_events(ec_platform::config::defaults()).await
    }

    /// The service with its events going where `settings` say (NATS JetStream, or this process).
    pub async fn start_with_events(settings: EventArgs) -> Self {
        Self::start_with(settings, None).await
    }

    /// The service storing pictures in `media`.
    pub async fn start_with_media(media: std::sync::Arc<dyn object_store::ObjectStore>) -> Self {
        Self::start_with(ec_platform::config::defaults(), Some(media)).await
    }

    async fn start_with(settings: EventArgs, media: Option<std::sync::Arc<dyn object_store::ObjectStore>>) -> Self {
        let database = TestDatabase::create().await;
        let identity =
            IdentityVerifier::new(&InternalAuthArgs { token: Some(IdentityVerifier::generate_token()) }).unwrap();
        let mut config = ProductConfig::local(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.expiry_interval_secs = 1;
        let events = Events::connect(&settings).await.unwrap();
        let deps = Dependencies {
            events,
            event_settings: settings,
            media,
            ..Dependencies::new(Redis::local(""), identity.clone())
        };
        let args = DatabaseArgs { url: database.url(), max_connections: 5 };
        let server = Application::build(&config, &args, &deps).await.unwrap();
        let url = format!("http://{}", server.local_addr()).parse().unwrap();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let server = tokio::spawn(async move { server.serve(stop, Duration::from_secs(5)).await.unwrap() });
        Self { url, identity, database, shutdown, server }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.server.await.unwrap();
        self.database.drop_now().await;
    }

    fn config(&self, who: Who) -> ClientConfig {
        let mut headers = http::HeaderMap::new();
        let caller = |roles: Vec<Role>| Caller { user_id: Uuid::now_v7(), roles };
        match who {
            Who::Nobody => {}
            Who::Customer => self.identity.stamp(Some(&caller(vec![Role::Customer])), &mut headers),
            Who::Admin => self.identity.stamp(Some(&caller(vec![Role::Customer, Role::Admin])), &mut headers),
            Who::Internal => self.identity.stamp_service("order", &mut headers),
            Who::Forwarded => self.identity.stamp(None, &mut headers),
        }
        ClientConfig::new(self.url.clone()).with_protocol(Protocol::Grpc).with_default_headers(headers)
    }

    /// An inventory client for `who`.
    pub fn client(&self, who: Who) -> InventoryServiceClient<HttpClient> {
        InventoryServiceClient::new(HttpClient::plaintext_http2_only(), self.config(who))
    }

    /// A catalog client for `who`.
    pub fn catalog(&self, who: Who) -> ProductServiceClient<HttpClient> {
        ProductServiceClient::new(HttpClient::plaintext_http2_only(), self.config(who))
    }

    /// A published product with SKUs holding `stock` units each.
    pub async fn skus(&self, stock: &[i64]) -> Vec<String> {
        let pool = &self.database.pool;
        let name = ProductName::parse("Mug").unwrap();
        let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
        let mut ids = Vec::new();
        for quantity in stock {
            let code = SkuCode::parse(&format!("MUG-{}", Uuid::now_v7().simple())).unwrap();
            let price = Price::parse(1500, "JPY").unwrap();
            let actor = Actor("admin".into());
            let sku = catalog::create_sku(pool, &actor, product.id, &code, &price, &Attributes::default(), *quantity)
                .await
                .unwrap();
            ids.push(sku.id.to_string());
        }
        catalog::publish(pool, &ec_product::events::outbox(), product.id).await.unwrap();
        ids
    }
}

pub fn code<T>(result: Result<T, ConnectError>) -> ErrorCode {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.code,
    }
}
