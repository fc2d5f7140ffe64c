//! The checkout saga survives its process being killed at every step: the order service runs as its own
//! process (`ec serve order`), is stopped for good right after a step's call and before its outcome is
//! recorded (`--saga-pause-after`), and is killed there with SIGKILL. A new process's recovery worker then
//! finishes every order, and the books agree: every order CONFIRMED, FAILED or CANCELLED; confirmed
//! reservations match confirmed orders one to one; no reservation is left pending; no failed order has money
//! held or taken; stock is what the confirmed orders left.
//!
//! Its events relay survives the same: killed after an order's confirmation committed, before publishing it
//! or after publishing it and before deleting it from the outbox (`EVENTS_RELAY_PAUSE`), the next process
//! publishes it, and a durable consumer on NATS JetStream gets it exactly once.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use connectrpc::{
    Protocol,
    client::{CallOptions, ClientConfig, HttpClient},
};
use ec_platform::{
    config::DatabaseArgs,
    identity::{Caller, IdentityVerifier, InternalAuthArgs, Role},
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
    __buffa::oneof::order_event, AddCartItemRequest, Address, CancelOrderRequest, CartServiceClient,
    CreateOrderRequest, OrderEvent, OrderServiceClient,
};
use ec_testing::{
    Process, TestDatabase, eventually,
    nats::{Tap, nats_prefix, nats_url},
};
use sqlx::PgPool;
use uuid::Uuid;

const APPROVE: &str = "4242424242424242";
const DECLINE: &str = "4000000000000002";

/// `ec serve order` as its own process, once it listens on `port`. Its log (warnings and worse) is captured: it
/// tells when the failpoint has paused a driver, and goes on to the test's.
async fn order_process(
    database: &str,
    port: u16,
    product: &str,
    token: &str,
    pause_after: Option<&str>,
    env: &[(&str, &str)],
) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
    command
        .args(["serve", "order", "--order-addr", &format!("127.0.0.1:{port}")])
        .args(["--order-product-service-url", product, "--database-url", database])
        .args(["--checkout-wait-secs", "1", "--saga-lease-secs", "2", "--saga-recovery-interval-secs", "1"])
        .args(["--saga-first-backoff-ms", "10", "--saga-max-backoff-secs", "1"])
        .env("INTERNAL_AUTH_TOKEN", token)
        .env("EC_ENV", "development")
        .env("RUST_LOG", "warn")
        .env_remove("REDIS_URL")
        .stderr(Stdio::inherit());
    if let Some(step) = pause_after {
        command.args(["--saga-pause-after", step]);
    }
    command.envs(env.iter().copied());
    let mut process = Process::spawn_capturing("the order service", command);
    process.wait_for_port(port, Duration::from_secs(30)).await;
    process
}

/// Waits until the driver of `order` has made its failpoint step's call and paused for good: killing the process
/// before that would test another step than the one named (a busy machine can take longer than the call
/// that started the saga waited).
async fn paused(process: &Process, order: Uuid) {
    let what = format!("the saga driver of {order} to reach its failpoint");
    eventually(what, Duration::from_secs(30), || {
        let paused = process.lines().iter().any(|line| {
            serde_json::from_str::<serde_json::Value>(line).is_ok_and(|entry| {
                entry["message"] == "failpoint: pausing for good" && entry["order"] == order.to_string().as_str()
            })
        });
        async move { paused }
    })
    .await;
}

struct Shop {
    database: TestDatabase,
    identity: IdentityVerifier,
    token: String,
    product_url: String,
    order_port: u16,
    stop_product: CancellationToken,
    product: tokio::task::JoinHandle<()>,
}

impl Shop {
    async fn start() -> Self {
        let database = TestDatabase::create().await;
        let token = IdentityVerifier::generate_token();
        let identity = IdentityVerifier::new(&InternalAuthArgs { token: Some(token.clone()) }).unwrap();
        let deps = Dependencies::new(Redis::local(""), identity.clone());
        let args = DatabaseArgs { url: database.url(), max_connections: 10 };
        let config = ProductConfig::local("127.0.0.1:0".parse().unwrap());
        let product = ec_product::startup::Application::build(&config, &args, &deps).await.unwrap();
        let product_url = format!("http://{}", product.local_addr());
        let stop_product = CancellationToken::new();
        let stop = stop_product.clone();
        let product = tokio::spawn(async move { product.serve(stop, Duration::from_secs(5)).await.unwrap() });
        Self { database, identity, token, product_url, order_port: ec_testing::child_port(), stop_product, product }
    }

    fn pool(&self) -> &PgPool {
        &self.database.pool
    }

    async fn order_process(&self, pause_after: Option<&str>) -> Process {
        self.order_process_with(pause_after, &[]).await
    }

    /// The order service, with `env` set besides.
    async fn order_process_with(&self, pause_after: Option<&str>, env: &[(&str, &str)]) -> Process {
        order_process(&self.database.url(), self.order_port, &self.product_url, &self.token, pause_after, env).await
    }

    /// A published product with one SKU of `stock` units at 3,000 yen; the SKU's id.
    async fn teapot(&self, stock: i64) -> Uuid {
        let pool = self.pool();
        let name = ProductName::parse("Teapot").unwrap();
        let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
        let price = Price::parse(3000, "JPY").unwrap();
        let code = SkuCode::parse("TEAPOT-1").unwrap();
        let actor = Actor("setup".into());
        let sku = catalog::create_sku(pool, &actor, product.id, &code, &price, &Attributes::default(), stock)
            .await
            .unwrap()
            .id;
        catalog::publish(pool, &ec_product::events::outbox(), product.id).await.unwrap();
        sku
    }

    fn config(&self, user: Uuid) -> ClientConfig {
        let mut headers = http::HeaderMap::new();
        self.identity.stamp(Some(&Caller { user_id: user, roles: vec![Role::Customer] }), &mut headers);
        let url = format!("http://127.0.0.1:{}", self.order_port).parse().unwrap();
        ClientConfig::new(url).with_protocol(Protocol::Grpc).with_default_headers(headers)
    }

    /// `user` puts 2 units of `sku` in the cart and checks out with `card`, giving up after 3 seconds (a
    /// paused saga never answers).
    async fn checkout(&self, user: Uuid, sku: Uuid, card: &str) {
        let carts = CartServiceClient::new(HttpClient::plaintext_http2_only(), self.config(user));
        let add = AddCartItemRequest { sku_id: sku.to_string(), quantity: 2, ..Default::default() };
        carts.add_cart_item(add).await.unwrap();
        let orders = OrderServiceClient::new(HttpClient::plaintext_http2_only(), self.config(user));
        let request = CreateOrderRequest {
            idempotency_key: format!("checkout-{user}"),
            shipping_address: buffa::MessageField::some(Address {
                recipient_name: "Hanako Yamada".into(),
                line1: "1-2-3 Jingumae".into(),
                city: "Tokyo".into(),
                postal_code: "150-0001".into(),
                country_code: "JP".into(),
                ..Default::default()
            }),
            payment_token: card.into(),
            ..Default::default()
        };
        let options = CallOptions::default().with_timeout(Duration::from_secs(3));
        let _ = orders.create_order_with_options(request, options).await;
    }

    /// `user` cancels their order, giving up after 3 seconds.
    async fn cancel(&self, user: Uuid) {
        let id = self.order_of(user).await;
        let orders = OrderServiceClient::new(HttpClient::plaintext_http2_only(), self.config(user));
        let request = CancelOrderRequest { id: id.to_string(), ..Default::default() };
        let options = CallOptions::default().with_timeout(Duration::from_secs(3));
        let _ = orders.cancel_order_with_options(request, options).await;
    }

    async fn order_of(&self, user: Uuid) -> Uuid {
        sqlx::query_scalar("SELECT id FROM order_service.orders WHERE user_id = $1")
            .bind(user)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    /// (status, payment status, step) of `user`'s order.
    async fn state_of(&self, user: Uuid) -> (String, String, String) {
        sqlx::query_as("SELECT status, payment_status, step FROM order_service.orders WHERE user_id = $1")
            .bind(user)
            .fetch_one(self.pool())
            .await
            .unwrap()
    }

    async fn stop(self) {
        self.stop_product.cancel();
        self.product.await.unwrap();
        self.database.drop_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_killed_at_every_saga_step_are_finished_after_a_restart_and_the_books_agree() {
    let shop = Shop::start().await;
    let pool = shop.pool().clone();
    let sku = shop.teapot(100).await;

    // Orders to cancel later, confirmed by a process that runs normally.
    let (to_restock, to_void) = (Uuid::now_v7(), Uuid::now_v7());
    let mut normal = shop.order_process(None).await;
    for user in [to_restock, to_void] {
        shop.checkout(user, sku, APPROVE).await;
        assert_eq!(shop.state_of(user).await.0, "confirmed");
    }
    normal.kill();

    // One order per step, each killed right after that step's call, before its outcome is recorded.
    let mut killed = Vec::new();
    for (step, card) in [("reserve", APPROVE), ("authorize", APPROVE), ("confirm", APPROVE), ("release", DECLINE)] {
        let user = Uuid::now_v7();
        let mut process = shop.order_process(Some(step)).await;
        shop.checkout(user, sku, card).await;
        // A reservation and an authorisation are recorded with the confirmation after them, so an order killed
        // after either call, or after confirming, is back at reserve, with a reservation, an authorisation (and
        // a confirmation) made that its recovery must find, not make again.
        let recorded = if matches!(step, "authorize" | "confirm") { "reserve" } else { step };
        paused(&process, shop.order_of(user).await).await;
        process.kill();
        let (status, _, at) = shop.state_of(user).await;
        assert_eq!((status.as_str(), at.as_str()), ("pending", recorded), "killed with the {step} step unrecorded");
        if step == "confirm" {
            // Meanwhile the shopper puts one more unit of the SKU in the cart (as AddCartItem does, merging into
            // the line): it is not part of the order and must stay in the cart.
            let added = sqlx::query("UPDATE order_service.cart_items SET quantity = quantity + 1 WHERE user_id = $1")
                .bind(user)
                .execute(&pool)
                .await
                .unwrap();
            assert_eq!(added.rows_affected(), 1);
        }
        killed.push((step, user));
    }
    for (step, user) in [("restock", to_restock), ("void", to_void)] {
        // Paused after void, the cancellation gets past restock in this process first.
        let mut process = shop.order_process(Some(step)).await;
        shop.cancel(user).await;
        paused(&process, shop.order_of(user).await).await;
        process.kill();
        let (status, _, at) = shop.state_of(user).await;
        assert_eq!((status.as_str(), at.as_str()), ("cancelled", step), "killed with the {step} step unrecorded");
        killed.push((step, user));
    }

    // A new process's recovery worker finishes every saga.
    let mut recovering = shop.order_process(None).await;
    eventually("every saga to finish", Duration::from_secs(60), || async {
        let unfinished: i64 = sqlx::query_scalar("SELECT count(*) FROM order_service.orders WHERE step <> 'done'")
            .fetch_one(&pool)
            .await
            .unwrap();
        if unfinished == 0 { Ok(()) } else { Err(format!("{unfinished} sagas unfinished")) }
    })
    .await;
    recovering.kill();

    for (step, user) in &killed {
        let (status, payment, _) = shop.state_of(*user).await;
        let expected = match *step {
            "reserve" | "authorize" | "confirm" => ("confirmed", "authorized"),
            "release" => ("failed", "declined"),
            _ => ("cancelled", "voided"),
        };
        assert_eq!((status.as_str(), payment.as_str()), expected, "the order killed after {step}");
    }

    // Carts: the bought units left them, the unit added later stayed, and the failed order's cart is kept.
    let late = killed.iter().find(|(step, _)| *step == "confirm").unwrap().1;
    let declined = killed.iter().find(|(step, _)| *step == "release").unwrap().1;
    let carts: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT user_id, quantity FROM order_service.cart_items ORDER BY user_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut expected = vec![(late, 1), (declined, 2)];
    expected.sort();
    assert_eq!(carts, expected);

    // Confirmed reservations are exactly the confirmed orders' (the cancelled ones were restocked).
    let confirmed_orders: Vec<Uuid> = sqlx::query_scalar(
        "SELECT reservation_id FROM order_service.orders WHERE status = 'confirmed' ORDER BY reservation_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let confirmed_reservations: Vec<Uuid> =
        sqlx::query_scalar("SELECT id FROM product_service.reservations WHERE status = 'confirmed' ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(confirmed_orders.len(), 3);
    assert_eq!(confirmed_reservations, confirmed_orders);
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM product_service.reservations WHERE status = 'pending'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pending, 0, "no reservation outlives its order");

    // Money: held once for each confirmed order; none held or taken for the failed or cancelled ones.
    let ledger: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT o.status, a.status, count(*) FROM order_service.orders o
         JOIN payment_sandbox.authorizations a ON a.reference = o.id::text
         GROUP BY o.status, a.status ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        ledger,
        [("cancelled".to_owned(), "voided".to_owned(), 2), ("confirmed".to_owned(), "authorized".to_owned(), 3)]
    );

    // Stock: 100, less 2 units for each confirmed order; nothing held.
    let stock = inventory::get(&pool, sku).await.unwrap();
    assert_eq!((stock.quantity, stock.reserved), (100 - 2 * 3, 0));
    shop.stop().await;
}

/// Waits until the events relay of `process` has stopped at its failpoint.
async fn relay_paused(process: &Process) {
    eventually("the events relay to reach its failpoint", Duration::from_secs(30), || {
        let paused = process.lines().iter().any(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .is_ok_and(|entry| entry["message"] == "failpoint: the events relay pauses for good")
        });
        async move { paused }
    })
    .await;
}

async fn outbox_size(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM order_service.outbox").fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_service_killed_between_commit_and_publish_still_delivers_each_event_once() {
    let shop = Shop::start().await;
    let pool = shop.pool().clone();
    let sku = shop.teapot(100).await;
    let (url, prefix) = (nats_url(), nats_prefix());
    let tap = Tap::new(&url, &prefix, "order", "warehouse").await;
    let nats = [("NATS_URL", url.as_str()), ("NATS_PREFIX", prefix.as_str())];

    let mut orders = Vec::new();
    for pause in ["before-publish", "after-publish"] {
        let user = Uuid::now_v7();
        let mut process = shop.order_process_with(None, &[nats[0], nats[1], ("EVENTS_RELAY_PAUSE", pause)]).await;
        shop.checkout(user, sku, APPROVE).await;
        relay_paused(&process).await;
        assert_eq!(shop.state_of(user).await.0, "confirmed");
        assert_eq!(outbox_size(&pool).await, 1, "the confirmation's event waits in the outbox ({pause})");
        process.kill();

        let mut process = shop.order_process_with(None, &nats).await;
        eventually("the outbox to drain", Duration::from_secs(30), || async {
            let left = outbox_size(&pool).await;
            if left == 0 { Ok(()) } else { Err(format!("{left} events left")) }
        })
        .await;
        process.kill();
        orders.push(shop.order_of(user).await);
    }

    let mut taken = tap.take_until(Duration::from_secs(30), |taken| taken.len() >= 2).await;
    taken.extend(tap.take(Duration::from_secs(1)).await);
    assert_eq!(taken.len(), 2, "one message per event: {taken:#?}");
    for (tapped, order) in taken.iter().zip(&orders) {
        assert_eq!(tapped.subject, format!("{prefix}.order.v1.confirmed"));
        let event: OrderEvent = serde_json::from_slice(&tapped.payload).unwrap();
        assert_eq!(event.event_id, tapped.id, "the message id is the event's");
        let Some(order_event::Event::OrderConfirmed(confirmed)) = event.event else { panic!("{event:?}") };
        let placed = confirmed.order.into_option().unwrap();
        assert_eq!(placed.order_id, order.to_string());
        assert_eq!((placed.items.len(), placed.items[0].quantity), (1, 2));
        assert_eq!(
            placed.total.into_option().unwrap().amount,
            2 * 3000 + placed.shipping_fee.into_option().unwrap().amount
        );
    }
    // The copy the second relay published again was dropped by JetStream, not only skipped by the tap.
    assert_eq!(tap.stored().await, 2);
    tap.delete_stream().await;
    shop.stop().await;
}
