//! The order service and the product service it calls, each on a free port over one fresh database, and
//! clients for each kind of caller.

#![allow(dead_code)] // each test file uses part of it

use std::{net::SocketAddr, time::Duration};

use connectrpc::{
    ConnectError, ErrorCode, Protocol,
    client::{ClientConfig, HttpClient},
};
use ec_order::{
    config::OrderConfig,
    payment::{LedgerEntry, SandboxPayments},
};
use ec_platform::{
    config::DatabaseArgs,
    identity::{Caller, Contact, IdentityVerifier, InternalAuthArgs, Role},
    shared::Redis,
    shutdown::CancellationToken,
    startup::Dependencies,
};
use ec_product::{
    catalog,
    config::ProductConfig,
    domain::{Actor, Attributes, Description, Price, ProductName, SkuCode},
    inventory,
};
use ec_proto::order::v1::{
    AddCartItemRequest, Address, CartServiceClient, CreateOrderRequest, GetOrderRequest, Order, OrderServiceClient,
    OrderStatus,
};
use ec_testing::TestDatabase;
use uuid::Uuid;

pub const APPROVE: &str = "4242424242424242";
pub const DECLINE: &str = "4000000000000002";
pub const FLAKY: &str = "4000000000000119";

pub struct Platform {
    pub order_url: http::Uri,
    pub identity: IdentityVerifier,
    pub database: TestDatabase,
    shutdown: CancellationToken,
    product_shutdown: CancellationToken,
    servers: Vec<tokio::task::JoinHandle<()>>,
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Who {
    /// No metadata at all: a client that reached the port directly.
    Nobody,
    Customer(Uuid),
    Admin(Uuid),
}

impl Platform {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts both services, the order service with `configure`d settings (fast retries by default).
    pub async fn start_with(configure: impl FnOnce(&mut OrderConfig)) -> Self {
        let database = TestDatabase::create().await;
        let identity =
            IdentityVerifier::new(&InternalAuthArgs { token: Some(IdentityVerifier::generate_token()) }).unwrap();
        let deps = Dependencies::new(Redis::local(""), identity.clone());
        let args = DatabaseArgs { url: database.url(), max_connections: 20 };
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));

        let product =
            ec_product::startup::Application::build(&ProductConfig::local(any_port), &args, &deps).await.unwrap();
        let mut config = OrderConfig::local(any_port, product.local_addr());
        config.saga_first_backoff_ms = 10;
        config.saga_max_backoff_secs = 1;
        config.saga_recovery_interval_secs = 1;
        config.shipping_rules = "JPY:500:10000".parse().unwrap();
        configure(&mut config);
        let order = ec_order::startup::Application::build(&config, &args, &deps).await.unwrap();
        let order_url = format!("http://{}", order.local_addr()).parse().unwrap();

        let (shutdown, product_shutdown) = (CancellationToken::new(), CancellationToken::new());
        let stop = product_shutdown.clone();
        let product = tokio::spawn(async move { product.serve(stop, Duration::from_secs(5)).await.unwrap() });
        let stop = shutdown.clone();
        let order = tokio::spawn(async move { order.serve(stop, Duration::from_secs(5)).await.unwrap() });
        Self { order_url, identity, database, shutdown, product_shutdown, servers: vec![order, product] }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.product_shutdown.cancel();
        for server in self.servers {
            server.await.unwrap();
        }
        self.database.drop_now().await;
    }

    /// Stops the product service, as if it had gone down.
    pub fn stop_product_service(&self) {
        self.product_shutdown.cancel();
    }

    pub fn pool(&self) -> &sqlx::PgPool {
        &self.database.pool
    }

    fn config(&self, who: &Who) -> ClientConfig {
        let mut headers = http::HeaderMap::new();
        match who {
            Who::Nobody => {}
            Who::Customer(id) => {
                self.identity.stamp(Some(&Caller { user_id: *id, roles: vec![Role::Customer] }), &mut headers)
            }
            Who::Admin(id) => self
                .identity
                .stamp(Some(&Caller { user_id: *id, roles: vec![Role::Customer, Role::Admin] }), &mut headers),
        }
        ClientConfig::new(self.order_url.clone()).with_protocol(Protocol::Grpc).with_default_headers(headers)
    }

    pub fn carts(&self, who: &Who) -> CartServiceClient<HttpClient> {
        CartServiceClient::new(HttpClient::plaintext_http2_only(), self.config(who))
    }

    pub fn orders(&self, who: &Who) -> OrderServiceClient<HttpClient> {
        OrderServiceClient::new(HttpClient::plaintext_http2_only(), self.config(who))
    }

    /// Orders for customer `id`, whose access token names them as `contact` (the BFF passes it on).
    pub fn orders_of(&self, id: Uuid, contact: &Contact) -> OrderServiceClient<HttpClient> {
        let mut headers = http::HeaderMap::new();
        self.identity.stamp(Some(&Caller { user_id: id, roles: vec![Role::Customer] }), &mut headers);
        self.identity.stamp_contact(contact, &mut headers);
        let config =
            ClientConfig::new(self.order_url.clone()).with_protocol(Protocol::Grpc).with_default_headers(headers);
        OrderServiceClient::new(HttpClient::plaintext_http2_only(), config)
    }

    /// A published product with one SKU per entry of `stock` (that many units each), priced `price` in
    /// `currency`.
    pub async fn skus_priced(&self, stock: &[i64], price: i64, currency: &str) -> Vec<Uuid> {
        let pool = self.pool();
        let name = ProductName::parse("Stoneware mug").unwrap();
        let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
        let mut ids = Vec::new();
        for quantity in stock {
            let code = SkuCode::parse(&format!("MUG-{}", Uuid::now_v7().simple())).unwrap();
            let price = Price::parse(price, currency).unwrap();
            let sku = catalog::create_sku(pool, &admin(), product.id, &code, &price, &Attributes::default(), *quantity)
                .await
                .unwrap();
            ids.push(sku.id);
        }
        catalog::publish(pool, &ec_product::events::outbox(), product.id).await.unwrap();
        ids
    }

    /// SKUs at ¥1,500 with `stock` units each.
    pub async fn skus(&self, stock: &[i64]) -> Vec<Uuid> {
        self.skus_priced(stock, 1500, "JPY").await
    }

    /// (quantity, reserved) of a SKU.
    pub async fn stock(&self, sku: Uuid) -> (i64, i64) {
        let stock = inventory::get(self.pool(), sku).await.unwrap();
        (stock.quantity, stock.reserved)
    }

    /// What the payment sandbox holds for order `id`.
    pub async fn ledger(&self, id: &str) -> Vec<LedgerEntry> {
        SandboxPayments::new(&ec_platform::db::Unflushed::beside(self.pool()), 0).ledger(id).await.unwrap()
    }

    /// Order `id`'s saga log, oldest first: (step, outcome).
    pub async fn events(&self, id: &str) -> Vec<(String, String)> {
        sqlx::query_as("SELECT step, outcome FROM order_service.order_events WHERE order_id = $1::uuid ORDER BY id")
            .bind(id)
            .fetch_all(self.pool())
            .await
            .unwrap()
    }

    /// Reservations of the product service by status: how many are pending, confirmed, and so on.
    pub async fn reservations(&self) -> Vec<(String, i64)> {
        sqlx::query_as("SELECT status, count(*) FROM product_service.reservations GROUP BY status ORDER BY status")
            .fetch_all(self.pool())
            .await
            .unwrap()
    }

    /// Adds `quantity` of `sku` to `who`'s cart.
    pub async fn add(&self, who: &Who, sku: Uuid, quantity: i64) {
        let request = AddCartItemRequest { sku_id: sku.to_string(), quantity, ..Default::default() };
        self.carts(who).add_cart_item(request).await.unwrap();
    }

    /// `who`'s order `id` once it is no longer PENDING (the recovery worker's doing, in the tests that ask),
    /// within 10 s.
    pub async fn settled(&self, who: &Who, id: &str) -> Order {
        let get = GetOrderRequest { id: id.to_owned(), ..Default::default() };
        let orders = self.orders(who);
        ec_testing::eventually(format!("order {id} to leave PENDING"), Duration::from_secs(10), || async {
            let now = orders.get_order(get.clone()).await.unwrap().into_owned().order.into_option().unwrap();
            if now.status != OrderStatus::ORDER_STATUS_PENDING { Ok(now) } else { Err(ec_testing::Seen(now.status)) }
        })
        .await
    }

    /// Checks out `who`'s cart with `key` and `card`.
    pub async fn checkout(&self, who: &Who, key: &str, card: &str) -> Result<Order, ConnectError> {
        let order = self.orders(who).create_order(checkout(key, card)).await?.into_owned().order;
        Ok(order.into_option().expect("an order"))
    }
}

pub fn admin() -> Actor {
    Actor("admin".into())
}

pub fn customer() -> Who {
    Who::Customer(Uuid::now_v7())
}

pub fn address() -> Address {
    Address {
        recipient_name: "Hanako Yamada".into(),
        line1: "1-2-3 Jingumae".into(),
        city: "Shibuya-ku, Tokyo".into(),
        postal_code: "150-0001".into(),
        country_code: "JP".into(),
        ..Default::default()
    }
}

pub fn checkout(key: &str, card: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        idempotency_key: key.into(),
        shipping_address: buffa::MessageField::some(address()),
        payment_token: card.into(),
        ..Default::default()
    }
}

pub fn code<T>(result: Result<T, ConnectError>) -> ErrorCode {
    match result {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.code,
    }
}
