//! Carts and orders through the BFF, with tokens from the real sign-in flow, in every protocol a client can
//! speak: a customer shops and checks out; another customer's order is `not_found` for get and cancel, lists
//! show only one's own (BOLA); the back office RPCs need the admin role (BFLA); nothing answers without a
//! token.

use connectrpc::{ErrorCode, client::HttpClient};
use ec_e2e::{
    TestPlatform,
    clients::{self, Wire},
};
use ec_product::{
    catalog,
    domain::{Actor, Attributes, Description, Price, ProductName, SkuCode},
};
use ec_proto::order::v1::{
    AddCartItemRequest, Address, AdminListOrdersRequest, CancelOrderRequest, CartServiceClient, CreateOrderRequest,
    GetCartRequest, GetOrderRequest, ListOrdersRequest, OrderServiceClient, OrderStatus, PaymentStatus,
    ShipOrderRequest,
};
use uuid::Uuid;

async fn a_sku(platform: &TestPlatform, stock: i64) -> String {
    let pool = &platform.database.pool;
    let name = ProductName::parse("Cast iron kettle").unwrap();
    let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
    let code = SkuCode::parse(&format!("KETTLE-{}", Uuid::now_v7().simple())).unwrap();
    let price = Price::parse(6800, "JPY").unwrap();
    let actor = Actor("setup".into());
    let sku =
        catalog::create_sku(pool, &actor, product.id, &code, &price, &Attributes::default(), stock).await.unwrap();
    catalog::publish(pool, &ec_product::events::outbox(), product.id).await.unwrap();
    sku.id.to_string()
}

fn carts(platform: &TestPlatform, wire: Wire, token: Option<&str>) -> CartServiceClient<HttpClient> {
    let (http, config) = clients::transport_as(&platform.bff_url(), wire, token);
    CartServiceClient::new(http, config)
}

fn orders(platform: &TestPlatform, wire: Wire, token: Option<&str>) -> OrderServiceClient<HttpClient> {
    let (http, config) = clients::transport_as(&platform.bff_url(), wire, token);
    OrderServiceClient::new(http, config)
}

fn checkout(key: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        idempotency_key: key.into(),
        shipping_address: buffa::MessageField::some(Address {
            recipient_name: "Taro Suzuki".into(),
            line1: "4-5-6 Umeda".into(),
            city: "Osaka".into(),
            postal_code: "530-0001".into(),
            country_code: "JP".into(),
            ..Default::default()
        }),
        payment_token: "4242424242424242".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn customers_shop_and_see_only_their_own_orders_in_every_protocol() {
    let platform = TestPlatform::start().await;
    let sku = a_sku(&platform, 20).await;
    let alice = platform.access_token("alice@example.com", false).await;
    let bob = platform.access_token("bob@example.com", false).await;
    let admin = platform.access_token("owner@example.com", true).await;

    for wire in Wire::ALL {
        // Alice fills her cart and checks out.
        let add = AddCartItemRequest { sku_id: sku.clone(), quantity: 2, ..Default::default() };
        carts(&platform, wire, Some(&alice)).add_cart_item(add).await.unwrap();
        let key = format!("checkout-{wire:?}");
        let order = orders(&platform, wire, Some(&alice)).create_order(checkout(&key)).await.unwrap();
        let order = order.into_owned().order.into_option().unwrap();
        assert_eq!(order.status, OrderStatus::ORDER_STATUS_CONFIRMED, "{wire:?}: {}", order.failure_reason);
        assert_eq!(order.payment_status, PaymentStatus::PAYMENT_STATUS_AUTHORIZED, "{wire:?}");
        assert_eq!(order.total.amount, 2 * 6800 + 500, "{wire:?}");
        let cart = carts(&platform, wire, Some(&alice)).get_cart(GetCartRequest::default()).await.unwrap();
        assert!(cart.into_owned().cart.into_option().unwrap().items.is_empty(), "{wire:?}: the cart is cleared");

        // Bob cannot see, cancel or list it: to him it does not exist.
        let as_bob = orders(&platform, wire, Some(&bob));
        let get = GetOrderRequest { id: order.id.clone(), ..Default::default() };
        assert_eq!(as_bob.get_order(get.clone()).await.unwrap_err().code, ErrorCode::NotFound, "{wire:?}");
        let cancel = CancelOrderRequest { id: order.id.clone(), ..Default::default() };
        assert_eq!(as_bob.cancel_order(cancel.clone()).await.unwrap_err().code, ErrorCode::NotFound, "{wire:?}");
        let listed = as_bob.list_orders(ListOrdersRequest::default()).await.unwrap().into_owned().orders;
        assert!(listed.is_empty(), "{wire:?}: {listed:?}");
        // Bob's cart is his own: Alice's lines are not in it.
        let bobs_cart = carts(&platform, wire, Some(&bob)).get_cart(GetCartRequest::default()).await.unwrap();
        assert!(bobs_cart.into_owned().cart.into_option().unwrap().items.is_empty(), "{wire:?}");

        // Neither customer may use the back office; nobody gets anything without a token.
        let ship = ShipOrderRequest { id: order.id.clone(), tracking_number: "JP1".into(), ..Default::default() };
        let as_alice = orders(&platform, wire, Some(&alice));
        assert_eq!(as_alice.ship_order(ship.clone()).await.unwrap_err().code, ErrorCode::PermissionDenied, "{wire:?}");
        let all = AdminListOrdersRequest::default();
        assert_eq!(as_alice.admin_list_orders(all.clone()).await.unwrap_err().code, ErrorCode::PermissionDenied);
        let anonymous = orders(&platform, wire, None);
        assert_eq!(anonymous.get_order(get.clone()).await.unwrap_err().code, ErrorCode::Unauthenticated, "{wire:?}");
        let anonymous_cart = carts(&platform, wire, None).get_cart(GetCartRequest::default()).await;
        assert_eq!(anonymous_cart.unwrap_err().code, ErrorCode::Unauthenticated, "{wire:?}");

        // Alice sees it and may cancel it; the admin sees everyone's.
        assert_eq!(as_alice.get_order(get).await.unwrap().into_owned().order.id, order.id, "{wire:?}");
        let cancelled = as_alice.cancel_order(cancel).await.unwrap().into_owned().order.into_option().unwrap();
        assert_eq!(cancelled.status, OrderStatus::ORDER_STATUS_CANCELLED, "{wire:?}");
        let as_admin = orders(&platform, wire, Some(&admin));
        let everyone = as_admin.admin_list_orders(all).await.unwrap().into_owned().orders;
        assert!(everyone.iter().any(|o| o.id == order.id), "{wire:?}");
    }
    let mine = orders(&platform, Wire::ConnectJson, Some(&alice)).list_orders(ListOrdersRequest::default()).await;
    assert_eq!(mine.unwrap().into_owned().orders.len(), Wire::ALL.len());

    // An admin ships a confirmed order.
    let add = AddCartItemRequest { sku_id: sku.clone(), quantity: 1, ..Default::default() };
    carts(&platform, Wire::Grpc, Some(&bob)).add_cart_item(add).await.unwrap();
    let order = orders(&platform, Wire::Grpc, Some(&bob)).create_order(checkout("bob")).await.unwrap();
    let id = order.into_owned().order.id.clone();
    let ship = ShipOrderRequest { id, tracking_number: "JP-0001".into(), ..Default::default() };
    let shipped = orders(&platform, Wire::GrpcWeb, Some(&admin)).ship_order(ship).await.unwrap();
    assert_eq!(shipped.into_owned().order.status, OrderStatus::ORDER_STATUS_SHIPPED);
    platform.stop().await;
}

#[tokio::test]
async fn two_hundred_buyers_of_twenty_units_through_the_bff_get_exactly_twenty_orders() {
    // Every buyer signs up and in from this one test address: lift the per-address limits that would
    // otherwise (rightly) slow that down.
    let platform = TestPlatform::start_with(|config| {
        let edge = &mut config.bff.edge;
        (edge.anonymous_per_minute, edge.anonymous_burst) = (1_000_000, 1_000_000);
        (edge.sign_up_per_minute, edge.sign_up_burst) = (1_000_000, 1_000_000);
    })
    .await;
    let sku = a_sku(&platform, 20).await;
    let (shop, sku) = (&platform, &sku);

    // Sign 200 buyers in through the real flow, 20 at a time, each putting one unit in the cart.
    let mut tokens = Vec::new();
    for batch in (0..200).collect::<Vec<_>>().chunks(20) {
        let signed_in = futures::future::join_all(batch.iter().map(|n| async move {
            let token = shop.access_token(&format!("buyer{n}@example.com"), false).await;
            let add = AddCartItemRequest { sku_id: sku.clone(), quantity: 1, ..Default::default() };
            carts(shop, Wire::Grpc, Some(&token)).add_cart_item(add).await.unwrap();
            token
        }))
        .await;
        tokens.extend(signed_in);
    }

    // All check out at once, in every protocol.
    let placed = futures::future::join_all(tokens.iter().enumerate().map(|(n, token)| async move {
        let wire = Wire::ALL[n % Wire::ALL.len()];
        let answer = orders(shop, wire, Some(token)).create_order(checkout(&format!("buy-{n}"))).await;
        answer.unwrap_or_else(|e| panic!("{wire:?}: {e:?}")).into_owned().order.into_option().unwrap()
    }))
    .await;
    let confirmed = placed.iter().filter(|o| o.status == OrderStatus::ORDER_STATUS_CONFIRMED).count();
    let short = placed
        .iter()
        .filter(|o| o.status == OrderStatus::ORDER_STATUS_FAILED && o.failure_reason.starts_with("insufficient_stock:"))
        .count();
    assert_eq!((confirmed, short), (20, 180));

    let (quantity, reserved): (i64, i64) =
        sqlx::query_as("SELECT quantity, reserved FROM product_service.inventory WHERE sku_id = $1::uuid")
            .bind(sku)
            .fetch_one(&platform.database.pool)
            .await
            .unwrap();
    assert_eq!((quantity, reserved), (0, 0));
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payment_sandbox.authorizations a
         JOIN order_service.orders o ON a.reference = o.id::text WHERE o.status = 'failed'",
    )
    .fetch_one(&platform.database.pool)
    .await
    .unwrap();
    assert_eq!(held, 0, "no money was held for a failed order");
    platform.stop().await;
}

#[tokio::test]
async fn through_the_bff_duplicates_make_one_order_a_changed_request_is_refused_and_failures_leave_nothing_behind() {
    let platform = TestPlatform::start().await;
    let sku = a_sku(&platform, 10).await;
    let shopper = platform.access_token("carol@example.com", false).await;
    let add = || AddCartItemRequest { sku_id: sku.clone(), quantity: 2, ..Default::default() };
    let stock = || async {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT quantity, reserved FROM product_service.inventory WHERE sku_id = $1::uuid",
        )
        .bind(&sku)
        .fetch_one(&platform.database.pool)
        .await
        .unwrap()
    };
    let authorizations = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM payment_sandbox.authorizations WHERE status = 'authorized'")
            .fetch_one(&platform.database.pool)
            .await
            .unwrap()
    };

    // 50 concurrent calls with one key, over every protocol: one order, 50 identical answers.
    carts(&platform, Wire::Grpc, Some(&shopper)).add_cart_item(add()).await.unwrap();
    let answers = futures::future::join_all((0..50).map(|n| {
        let client = orders(&platform, Wire::ALL[n % Wire::ALL.len()], Some(&shopper));
        async move { client.create_order(checkout("once")).await.unwrap().into_owned().order.into_option().unwrap() }
    }))
    .await;
    assert_eq!(answers[0].status, OrderStatus::ORDER_STATUS_CONFIRMED, "{}", answers[0].failure_reason);
    assert!(answers.iter().all(|answer| answer == &answers[0]));
    assert_eq!(stock().await, (8, 0));
    // The same key with another card is refused.
    let mut changed = checkout("once");
    changed.payment_token = "4000000000000002".into();
    let refused = orders(&platform, Wire::ConnectJson, Some(&shopper)).create_order(changed).await;
    assert_eq!(refused.unwrap_err().code, ErrorCode::AlreadyExists);

    // A declined card: stock exactly as before, no authorisation open.
    carts(&platform, Wire::ConnectJson, Some(&shopper)).add_cart_item(add()).await.unwrap();
    let open_before = authorizations().await;
    let mut declined = checkout("declined");
    declined.payment_token = "4000000000000002".into();
    let order = orders(&platform, Wire::GrpcWeb, Some(&shopper)).create_order(declined).await.unwrap();
    let order = order.into_owned().order.into_option().unwrap();
    assert_eq!(order.status, OrderStatus::ORDER_STATUS_FAILED);
    assert!(order.failure_reason.starts_with("payment_declined:"), "{}", order.failure_reason);
    assert_eq!(stock().await, (8, 0));
    assert_eq!(authorizations().await, open_before);

    // A card that fails transiently is retried, and the order goes through.
    let mut flaky = checkout("flaky");
    flaky.payment_token = "4000000000000119".into();
    let order = orders(&platform, Wire::ConnectProto, Some(&shopper)).create_order(flaky).await.unwrap();
    let order = order.into_owned().order.into_option().unwrap();
    assert_eq!(order.status, OrderStatus::ORDER_STATUS_CONFIRMED, "{}", order.failure_reason);
    assert_eq!(stock().await, (6, 0));
    platform.stop().await;
}
