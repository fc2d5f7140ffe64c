//! Carts, checkout and orders against the real product service and PostgreSQL: the saga's outcomes, money
//! and stock after each, idempotency under concurrent duplicates, and who may see and change what.

mod support;

use connectrpc::ErrorCode;
use ec_order::{
    cart,
    domain::PaymentToken,
    error::Error,
    payment::{Authorize, PaymentProvider, SandboxPayments},
};
use ec_platform::{db::Unflushed, identity::Contact};
use ec_product::{
    domain::{IdempotencyKey, ReservationItems},
    inventory,
};
use ec_proto::order::v1::{
    AddCartItemRequest, AdminListOrdersRequest, CancelOrderRequest, ClearCartRequest, GetCartRequest, GetOrderRequest,
    ListOrdersRequest, OrderStatus, PaymentStatus, RemoveCartItemRequest, ShipOrderRequest, UpdateCartItemRequest,
};
use futures::future::join_all;
use support::*;
use uuid::Uuid;

fn add(sku: Uuid, quantity: i64) -> AddCartItemRequest {
    AddCartItemRequest { sku_id: sku.to_string(), quantity, ..Default::default() }
}

#[tokio::test]
async fn a_cart_merges_lines_keeps_its_limits_and_prices_every_line_now() {
    let platform = Platform::start().await;
    let skus = platform.skus(&[10, 0]).await;
    let usd = platform.skus_priced(&[5], 999, "USD").await[0];
    let me = customer();
    let carts = platform.carts(&me);

    let empty = carts.get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart.into_option().unwrap();
    assert!(empty.items.is_empty());

    carts.add_cart_item(add(skus[0], 2)).await.unwrap();
    let cart = carts.add_cart_item(add(skus[0], 3)).await.unwrap().into_owned().cart.into_option().unwrap();
    assert_eq!(cart.items.len(), 1, "the same SKU merges into one line");
    let line = &cart.items[0];
    // Ten in stock: the line shows it can have its five, not how many more there are.
    assert_eq!((line.quantity, line.available_quantity, line.purchasable), (5, 5, true));
    assert_eq!((line.unit_price.amount, line.line_total.amount), (1500, 7500));
    assert_eq!((cart.subtotal.amount, cart.subtotal.currency_code.as_str()), (7500, "JPY"));
    assert_eq!(line.product_name, "Stoneware mug");

    // A sold-out SKU can sit in the cart: it shows what is available.
    let cart = carts.add_cart_item(add(skus[1], 1)).await.unwrap().into_owned().cart.into_option().unwrap();
    assert_eq!(cart.items[1].available_quantity, 0);

    // Bad input, each with its code.
    assert_eq!(code(carts.add_cart_item(add(skus[0], 95)).await), ErrorCode::InvalidArgument, "over 99 units");
    assert_eq!(code(carts.add_cart_item(add(skus[0], 0)).await), ErrorCode::InvalidArgument);
    let malformed = AddCartItemRequest { sku_id: "nope".into(), quantity: 1, ..Default::default() };
    assert_eq!(code(carts.add_cart_item(malformed).await), ErrorCode::InvalidArgument);
    assert_eq!(code(carts.add_cart_item(add(Uuid::now_v7(), 1)).await), ErrorCode::NotFound);
    assert_eq!(code(carts.add_cart_item(add(usd, 1)).await), ErrorCode::FailedPrecondition, "a currency mix");

    let update =
        |sku: Uuid, quantity: i64| UpdateCartItemRequest { sku_id: sku.to_string(), quantity, ..Default::default() };
    let cart = carts.update_cart_item(update(skus[0], 7)).await.unwrap().into_owned().cart.into_option().unwrap();
    assert_eq!(cart.items[0].quantity, 7);
    assert_eq!(code(carts.update_cart_item(update(skus[0], 100)).await), ErrorCode::InvalidArgument);
    assert_eq!(code(carts.update_cart_item(update(skus[0], -1)).await), ErrorCode::InvalidArgument);
    assert_eq!(code(carts.update_cart_item(update(usd, 1)).await), ErrorCode::NotFound, "not in the cart");
    let cart = carts.update_cart_item(update(skus[1], 0)).await.unwrap().into_owned().cart.into_option().unwrap();
    assert_eq!(cart.items.len(), 1, "0 removes the line");
    let remove = |sku: Uuid| RemoveCartItemRequest { sku_id: sku.to_string(), ..Default::default() };
    assert_eq!(code(carts.remove_cart_item(remove(skus[1])).await), ErrorCode::NotFound);

    // A line whose product was hidden is kept, flagged, and left out of the subtotal.
    let product: Uuid = sqlx::query_scalar("SELECT product_id FROM product_service.skus WHERE id = $1")
        .bind(skus[0])
        .fetch_one(platform.pool())
        .await
        .unwrap();
    ec_product::catalog::hide(platform.pool(), &ec_product::events::outbox(), product).await.unwrap();
    let cart = carts.get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart.into_option().unwrap();
    assert!(!cart.items[0].purchasable);
    assert_eq!(cart.subtotal.amount, 0);
    assert_eq!(code(platform.checkout(&me, "k", APPROVE).await), ErrorCode::FailedPrecondition);
    ec_product::catalog::publish(platform.pool(), &ec_product::events::outbox(), product).await.unwrap();

    // Another customer's cart is their own.
    let other = platform.carts(&customer());
    assert!(
        other
            .get_cart(GetCartRequest::default())
            .await
            .unwrap()
            .into_owned()
            .cart
            .into_option()
            .unwrap()
            .items
            .is_empty()
    );

    let cleared = carts.clear_cart(ClearCartRequest::default()).await.unwrap().into_owned().cart.into_option().unwrap();
    assert!(cleared.items.is_empty());
    carts.clear_cart(ClearCartRequest::default()).await.unwrap();
    assert_eq!(code(carts.remove_cart_item(remove(skus[0])).await), ErrorCode::NotFound);

    // Without a caller: nothing.
    let anonymous = platform.carts(&Who::Nobody);
    assert_eq!(code(anonymous.get_cart(GetCartRequest::default()).await), ErrorCode::Unauthenticated);
    assert_eq!(code(anonymous.add_cart_item(add(skus[0], 1)).await), ErrorCode::Unauthenticated);
    platform.stop().await;
}

#[tokio::test]
async fn a_cart_holds_at_most_fifty_lines_even_when_filled_concurrently() {
    let platform = Platform::start().await;
    let skus = platform.skus(&[1; 60]).await;
    let me = customer();
    let carts = platform.carts(&me);
    let added = join_all(skus.iter().map(|sku| carts.add_cart_item(add(*sku, 1)))).await;
    let refused = added.iter().filter(|r| r.as_ref().is_err_and(|e| e.code == ErrorCode::FailedPrecondition)).count();
    assert_eq!((added.len() - refused, refused), (50, 10));
    let cart = carts.get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart.into_option().unwrap();
    assert_eq!(cart.items.len(), 50);
    platform.stop().await;
}

#[tokio::test]
async fn an_add_made_after_the_cart_changed_since_it_was_read_is_checked_against_the_cart_as_it_is() {
    let platform = Platform::start().await;
    let pool = platform.pool();
    let unflushed = Unflushed::beside(pool);
    let user = Uuid::now_v7();
    let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let units = |cart: &cart::Cart| cart.lines.iter().map(|line| (line.sku_id, line.quantity)).collect::<Vec<_>>();

    // Read while the cart was never used; then a first add creates it.
    let never_used = cart::get(pool, user).await.unwrap();
    assert_eq!((never_used.version, never_used.lines.len()), (None, 0));
    let first = cart::add(&unflushed, user, &never_used, a, 1, "JPY").await.unwrap();
    assert_eq!((units(&first), first.version), (vec![(a, 1)], Some(0)));
    // An add against the read from before that one finds the cart changed, and is made against the cart as it is.
    let second = cart::add(&unflushed, user, &never_used, b, 2, "JPY").await.unwrap();
    assert_eq!((units(&second), second.version), (vec![(a, 1), (b, 2)], Some(1)));
    assert_eq!(second, cart::get(pool, user).await.unwrap(), "the answer is the cart as stored");
    // Against a current read, in one statement.
    let third = cart::add(&unflushed, user, &second, a, 49, "JPY").await.unwrap();
    assert_eq!((units(&third), third.version), (vec![(a, 50), (b, 2)], Some(2)));

    // The limits hold against the cart as it is, not as it was read: 1 + 60 units of `a` looked allowed in
    // the first read, 50 + 60 are not; another currency looked allowed in the cart never used.
    let too_many = cart::add(&unflushed, user, &first, a, 60, "JPY").await;
    assert!(matches!(too_many, Err(Error::InvalidArgument(_))), "{too_many:?}");
    let currency = cart::add(&unflushed, user, &never_used, c, 1, "USD").await;
    assert!(matches!(currency, Err(Error::FailedPrecondition(_))), "{currency:?}");
    assert_eq!(cart::get(pool, user).await.unwrap(), third, "refused adds change nothing");
    platform.stop().await;
}

#[tokio::test]
async fn a_checkout_confirms_takes_the_stock_holds_the_money_and_clears_the_cart() {
    let platform = Platform::start().await;
    let skus = platform.skus(&[10, 5]).await;
    let me = customer();
    platform.add(&me, skus[0], 2).await;
    platform.add(&me, skus[1], 1).await;

    let order = platform.checkout(&me, "first", APPROVE).await.unwrap();
    assert_eq!(order.status, OrderStatus::ORDER_STATUS_CONFIRMED, "{}", order.failure_reason);
    assert_eq!(order.payment_status, PaymentStatus::PAYMENT_STATUS_AUTHORIZED);
    assert_eq!((order.subtotal.amount, order.shipping_fee.amount, order.total.amount), (4500, 500, 5000));
    assert_eq!(order.items.len(), 2);
    assert!(order.items.iter().all(|item| item.unit_price.amount == 1500 && item.product_name == "Stoneware mug"));
    assert_eq!(order.shipping_address.country_code, "JP");
    assert_eq!(platform.stock(skus[0]).await, (8, 0));
    assert_eq!(platform.stock(skus[1]).await, (4, 0));
    let ledger = platform.ledger(&order.id).await;
    assert_eq!(ledger.len(), 1);
    assert_eq!((ledger[0].status.as_str(), ledger[0].amount), ("authorized", 5000));
    let cart = platform.carts(&me).get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart;
    assert!(cart.into_option().unwrap().items.is_empty(), "the cart is cleared");

    // The same key and request: the same order, and nothing moves again.
    let again = platform.checkout(&me, "first", APPROVE).await.unwrap();
    assert_eq!(again, order);
    assert_eq!(platform.stock(skus[0]).await, (8, 0));
    assert_eq!(platform.ledger(&order.id).await.len(), 1);
    // The same key with another request is refused.
    assert_eq!(code(platform.checkout(&me, "first", DECLINE).await), ErrorCode::AlreadyExists);
    // A new key with the cart now empty.
    assert_eq!(code(platform.checkout(&me, "second", APPROVE).await), ErrorCode::FailedPrecondition);
    // With something in the cart again, the used key still answers with its order, or refuses another request,
    // and leaves the cart and the stock alone.
    platform.add(&me, skus[1], 1).await;
    assert_eq!(platform.checkout(&me, "first", APPROVE).await.unwrap(), order);
    assert_eq!(code(platform.checkout(&me, "first", DECLINE).await), ErrorCode::AlreadyExists);
    let cart = platform.carts(&me).get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart;
    assert_eq!(cart.into_option().unwrap().items.len(), 1, "the cart is as it was");
    assert_eq!(platform.stock(skus[1]).await, (4, 0));
    platform
        .carts(&me)
        .remove_cart_item(RemoveCartItemRequest { sku_id: skus[1].to_string(), ..Default::default() })
        .await
        .unwrap();

    // Free shipping from 10,000.
    platform.add(&me, skus[0], 7).await;
    let free = platform.checkout(&me, "third", APPROVE).await.unwrap();
    assert_eq!((free.subtotal.amount, free.shipping_fee.amount, free.total.amount), (10_500, 0, 10_500));

    let events = platform.events(&order.id).await;
    let steps: Vec<&str> = events.iter().map(|(step, _)| step.as_str()).collect();
    assert_eq!(steps, ["place", "reserve", "authorize", "confirm"], "the saga's log");
    let tokens: i64 = sqlx::query_scalar("SELECT count(*) FROM order_service.payment_tokens")
        .fetch_one(platform.pool())
        .await
        .unwrap();
    assert_eq!(tokens, 0, "no payment token is kept once a saga is done");
    platform.stop().await;
}

#[tokio::test]
async fn a_declined_card_fails_the_order_and_leaves_stock_money_and_cart_as_they_were() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[3]).await[0];
    let me = customer();
    platform.add(&me, sku, 2).await;
    let order = platform.checkout(&me, "k", DECLINE).await.unwrap();
    assert_eq!(order.status, OrderStatus::ORDER_STATUS_FAILED);
    assert_eq!(order.payment_status, PaymentStatus::PAYMENT_STATUS_DECLINED);
    assert!(order.failure_reason.starts_with("payment_declined:"), "{}", order.failure_reason);
    assert_eq!(platform.stock(sku).await, (3, 0), "the held stock went back");
    assert!(platform.ledger(&order.id).await.is_empty(), "no authorisation was made");
    assert_eq!(platform.reservations().await, [("released".to_owned(), 1)]);
    let cart = platform.carts(&me).get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart;
    assert_eq!(cart.into_option().unwrap().items.len(), 1, "the cart is kept");
    // The failed order is the answer to its key, for good.
    assert_eq!(platform.checkout(&me, "k", DECLINE).await.unwrap(), order);
    platform.stop().await;
}

#[tokio::test]
async fn a_shortage_fails_the_order_with_a_reason_and_holds_nothing() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[1]).await[0];
    let me = customer();
    platform.add(&me, sku, 2).await;
    let order = platform.checkout(&me, "k", APPROVE).await.unwrap();
    assert_eq!(order.status, OrderStatus::ORDER_STATUS_FAILED);
    assert_eq!(order.payment_status, PaymentStatus::PAYMENT_STATUS_PENDING, "payment was never tried");
    assert!(order.failure_reason.starts_with("insufficient_stock:"), "{}", order.failure_reason);
    assert!(order.failure_reason.contains(&sku.to_string()), "{}", order.failure_reason);
    assert_eq!(platform.stock(sku).await, (1, 0));
    assert!(platform.ledger(&order.id).await.is_empty());
    platform.stop().await;
}

#[tokio::test]
async fn a_transient_payment_failure_is_retried_and_succeeds() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[3]).await[0];
    let me = customer();
    platform.add(&me, sku, 1).await;
    let order = platform.checkout(&me, "k", FLAKY).await.unwrap();
    assert_eq!(order.status, OrderStatus::ORDER_STATUS_CONFIRMED, "{}", order.failure_reason);
    let events = platform.events(&order.id).await;
    let events: Vec<(&str, &str)> = events.iter().map(|(step, outcome)| (step.as_str(), outcome.as_str())).collect();
    // The sandbox fails the first two attempts; the reservation, otherwise recorded with the authorisation, is
    // recorded before the first retry.
    assert_eq!(
        events,
        [
            ("place", "placed"),
            ("reserve", "done"),
            ("authorize", "retry"),
            ("authorize", "retry"),
            ("authorize", "done"),
            ("confirm", "done")
        ],
        "the saga's log"
    );
    assert_eq!(platform.ledger(&order.id).await.len(), 1, "one authorisation, however many attempts");
    platform.stop().await;
}

#[tokio::test]
async fn a_payment_provider_that_keeps_failing_fails_the_order_and_compensates() {
    let platform = Platform::start_with(|config| config.payment_sandbox_transient_failures = 100).await;
    let sku = platform.skus(&[3]).await[0];
    let me = customer();
    platform.add(&me, sku, 1).await;
    let order = platform.checkout(&me, "k", FLAKY).await.unwrap();
    assert_eq!(order.status, OrderStatus::ORDER_STATUS_FAILED);
    assert!(order.failure_reason.starts_with("payment_unavailable:"), "{}", order.failure_reason);
    assert_eq!(platform.stock(sku).await, (3, 0));
    assert!(platform.ledger(&order.id).await.is_empty());
    platform.stop().await;
}

#[tokio::test]
async fn money_held_by_an_authorisation_whose_answer_never_came_is_found_under_its_key_and_let_go() {
    let platform = Platform::start_with(|config| config.payment_sandbox_transient_failures = 100).await;
    let sku = platform.skus(&[3]).await[0];
    let me = customer();
    platform.add(&me, sku, 1).await;
    let order = platform.checkout(&me, "k", FLAKY).await.unwrap();
    assert!(order.failure_reason.starts_with("payment_unavailable:"), "{}", order.failure_reason);
    // Now the order is put where authorising leaves it when the last attempt's answer was lost while the
    // provider did hold the money (under the key the saga uses), or where a driver that died before recording
    // an authorisation leaves it once reserving gives up: compensating, with no authorisation recorded.
    let total = order.total.as_option().unwrap();
    let token = PaymentToken::parse(APPROVE).unwrap();
    let held = SandboxPayments::new(&Unflushed::beside(platform.pool()), 0)
        .authorize(Authorize {
            key: &format!("order:{}:authorize", order.id),
            reference: &order.id,
            amount: total.amount,
            currency_code: &total.currency_code,
            token: &token,
        })
        .await
        .unwrap();
    assert_eq!(platform.ledger(&order.id).await[0].status, "authorized");
    let put_back = sqlx::query(
        "UPDATE order_service.orders SET status = 'pending', step = 'release', next_attempt_at = now(),
             lease_until = NULL
         WHERE id = $1::uuid AND authorization_id IS NULL AND payment_status = 'pending'",
    )
    .bind(&order.id)
    .execute(platform.pool())
    .await
    .unwrap();
    assert_eq!(put_back.rows_affected(), 1);

    let settled = platform.settled(&me, &order.id).await;
    assert_eq!(settled.status, OrderStatus::ORDER_STATUS_FAILED);
    assert!(settled.failure_reason.starts_with("payment_unavailable:"), "{}", settled.failure_reason);
    assert_eq!(settled.payment_status, PaymentStatus::PAYMENT_STATUS_VOIDED);
    let ledger = platform.ledger(&order.id).await;
    assert_eq!((ledger.len(), ledger[0].id.as_str(), ledger[0].status.as_str()), (1, held.as_str(), "voided"));
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT authorization_id FROM order_service.orders WHERE id = $1::uuid")
            .bind(&order.id)
            .fetch_one(platform.pool())
            .await
            .unwrap();
    assert_eq!(recorded, Some(held), "the order names the authorisation it let go");
    assert_eq!(platform.stock(sku).await, (3, 0), "the stock was given back once");
    platform.stop().await;
}

#[tokio::test]
async fn fifty_concurrent_duplicates_make_one_order_and_fifty_identical_answers() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[100]).await[0];
    let me = customer();
    platform.add(&me, sku, 3).await;
    let answers = join_all((0..50).map(|_| platform.checkout(&me, "once", APPROVE))).await;
    let first = answers[0].as_ref().unwrap().clone();
    assert_eq!(first.status, OrderStatus::ORDER_STATUS_CONFIRMED, "{}", first.failure_reason);
    for answer in &answers {
        assert_eq!(answer.as_ref().unwrap(), &first);
    }
    let orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_service.orders").fetch_one(platform.pool()).await.unwrap();
    assert_eq!(orders, 1);
    assert_eq!(platform.stock(sku).await, (97, 0));
    platform.stop().await;
}

#[tokio::test]
async fn many_buyers_of_scarce_stock_get_exactly_the_stock_and_the_rest_fail_cleanly() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[20]).await[0];
    let buyers: Vec<Who> = (0..100).map(|_| customer()).collect();
    join_all(buyers.iter().map(|buyer| platform.add(buyer, sku, 1))).await;
    let orders = join_all(buyers.iter().map(|buyer| platform.checkout(buyer, "buy", APPROVE))).await;
    let orders: Vec<_> = orders.into_iter().map(Result::unwrap).collect();
    let confirmed = orders.iter().filter(|o| o.status == OrderStatus::ORDER_STATUS_CONFIRMED).count();
    let short = orders.iter().filter(|o| o.failure_reason.starts_with("insufficient_stock:")).count();
    assert_eq!((confirmed, short), (20, 80));
    assert_eq!(platform.stock(sku).await, (0, 0));
    for order in orders.iter().filter(|o| o.status == OrderStatus::ORDER_STATUS_FAILED) {
        assert!(platform.ledger(&order.id).await.is_empty());
    }
    platform.stop().await;
}

#[tokio::test]
async fn a_customer_cancels_a_confirmed_order_once_and_the_stock_and_money_go_back() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[5]).await[0];
    let me = customer();
    platform.add(&me, sku, 2).await;
    let order = platform.checkout(&me, "k", APPROVE).await.unwrap();
    assert_eq!(platform.stock(sku).await, (3, 0));

    let cancel =
        |id: &str| CancelOrderRequest { id: id.into(), reason: "changed my mind".into(), ..Default::default() };
    let stranger = platform.orders(&customer());
    assert_eq!(code(stranger.cancel_order(cancel(&order.id)).await), ErrorCode::NotFound, "another's order");
    let orders = platform.orders(&me);
    let cancelled = orders.cancel_order(cancel(&order.id)).await.unwrap().into_owned().order.into_option().unwrap();
    assert_eq!(cancelled.status, OrderStatus::ORDER_STATUS_CANCELLED);
    assert_eq!(cancelled.payment_status, PaymentStatus::PAYMENT_STATUS_VOIDED);
    assert_eq!(cancelled.failure_reason, "cancelled: changed my mind");
    assert!(cancelled.cancelled_at.is_set());
    assert_eq!(platform.stock(sku).await, (5, 0), "the units are back on hand");
    assert_eq!(platform.ledger(&order.id).await[0].status, "voided");
    // Again: unchanged, and nothing moves twice.
    let again = orders.cancel_order(cancel(&order.id)).await.unwrap().into_owned().order.into_option().unwrap();
    assert_eq!(again, cancelled);
    assert_eq!(platform.stock(sku).await, (5, 0));

    let malformed = CancelOrderRequest { id: "x".into(), ..Default::default() };
    assert_eq!(code(orders.cancel_order(malformed).await), ErrorCode::InvalidArgument);
    let long = CancelOrderRequest { id: order.id.clone(), reason: "x".repeat(501), ..Default::default() };
    assert_eq!(code(orders.cancel_order(long).await), ErrorCode::InvalidArgument);
    // A failed order has nothing to cancel.
    platform.add(&me, sku, 1).await;
    let failed = platform.checkout(&me, "declined", DECLINE).await.unwrap();
    assert_eq!(code(orders.cancel_order(cancel(&failed.id)).await), ErrorCode::FailedPrecondition);
    platform.stop().await;
}

#[tokio::test]
async fn an_admin_ships_a_confirmed_order_capturing_its_payment_and_it_can_no_longer_be_cancelled() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[5]).await[0];
    let me = customer();
    platform.add(&me, sku, 1).await;
    let order = platform.checkout(&me, "k", APPROVE).await.unwrap();
    let ship = |tracking: &str| ShipOrderRequest {
        id: order.id.clone(),
        tracking_number: tracking.into(),
        ..Default::default()
    };

    assert_eq!(code(platform.orders(&me).ship_order(ship("JP123")).await), ErrorCode::PermissionDenied);
    let admin = platform.orders(&Who::Admin(Uuid::now_v7()));
    let shipped = admin.ship_order(ship("JP123")).await.unwrap().into_owned().order.into_option().unwrap();
    assert_eq!(shipped.status, OrderStatus::ORDER_STATUS_SHIPPED);
    assert_eq!(shipped.payment_status, PaymentStatus::PAYMENT_STATUS_CAPTURED);
    assert_eq!(shipped.tracking_number, "JP123");
    let ledger = platform.ledger(&order.id).await;
    assert_eq!((ledger[0].status.as_str(), ledger[0].captured_amount), ("captured", order.total.amount));
    assert_eq!(admin.ship_order(ship("JP123")).await.unwrap().into_owned().order.into_option().unwrap(), shipped);
    assert_eq!(code(admin.ship_order(ship("JP999")).await), ErrorCode::FailedPrecondition);
    assert_eq!(code(admin.ship_order(ship("")).await), ErrorCode::InvalidArgument);
    let unknown =
        ShipOrderRequest { id: Uuid::now_v7().to_string(), tracking_number: "x".into(), ..Default::default() };
    assert_eq!(code(admin.ship_order(unknown).await), ErrorCode::NotFound);
    let cancel = CancelOrderRequest { id: order.id.clone(), ..Default::default() };
    assert_eq!(code(platform.orders(&me).cancel_order(cancel).await), ErrorCode::FailedPrecondition);
    platform.stop().await;
}

#[tokio::test]
async fn orders_are_listed_newest_first_page_by_page_and_only_ones_own() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[100]).await[0];
    let (me, other) = (customer(), customer());
    let mut mine = Vec::new();
    for n in 0..5 {
        platform.add(&me, sku, 1).await;
        mine.push(platform.checkout(&me, &format!("k{n}"), if n == 2 { DECLINE } else { APPROVE }).await.unwrap().id);
    }
    platform.add(&other, sku, 1).await;
    let theirs = platform.checkout(&other, "k", APPROVE).await.unwrap().id;

    let orders = platform.orders(&me);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListOrdersRequest { page_size: 2, page_token: token.clone(), ..Default::default() };
        let page = orders.list_orders(request).await.unwrap().into_owned();
        assert!(page.orders.len() <= 2);
        seen.extend(page.orders.into_iter().map(|o| o.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    mine.reverse();
    assert_eq!(seen, mine, "all of mine, newest first, none of theirs");

    // Another's order is not found; an admin sees it.
    let get = |id: &str| GetOrderRequest { id: id.into(), ..Default::default() };
    assert_eq!(code(orders.get_order(get(&theirs)).await), ErrorCode::NotFound);
    assert_eq!(code(orders.get_order(get(&Uuid::now_v7().to_string())).await), ErrorCode::NotFound);
    assert_eq!(code(orders.get_order(get("not-a-uuid")).await), ErrorCode::InvalidArgument);
    let admin = platform.orders(&Who::Admin(Uuid::now_v7()));
    assert_eq!(admin.get_order(get(&theirs)).await.unwrap().into_owned().order.id, theirs);

    // Page tokens are bound to whose list they page, and cannot be forged.
    let first = ListOrdersRequest { page_size: 1, ..Default::default() };
    let token = orders.list_orders(first).await.unwrap().into_owned().next_page_token;
    let other_list = platform.orders(&other);
    let replayed = ListOrdersRequest { page_size: 1, page_token: token.clone(), ..Default::default() };
    assert_eq!(code(other_list.list_orders(replayed).await), ErrorCode::InvalidArgument);
    let forged = ListOrdersRequest { page_token: format!("{token}x"), ..Default::default() };
    assert_eq!(code(orders.list_orders(forged).await), ErrorCode::InvalidArgument);
    let oversized = ListOrdersRequest { page_size: 101, ..Default::default() };
    assert_eq!(code(orders.list_orders(oversized).await), ErrorCode::InvalidArgument);

    // The back office: everyone's, filtered by status or account; admins only.
    let failed = AdminListOrdersRequest { status: Some(OrderStatus::ORDER_STATUS_FAILED.into()), ..Default::default() };
    let listed = admin.admin_list_orders(failed).await.unwrap().into_owned().orders;
    assert_eq!(listed.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), [mine[2].clone()]);
    let Who::Customer(other_id) = other else { unreachable!() };
    let by_user = AdminListOrdersRequest { user_id: Some(other_id.to_string()), ..Default::default() };
    let listed = admin.admin_list_orders(by_user).await.unwrap().into_owned().orders;
    assert_eq!(listed.iter().map(|o| o.id.clone()).collect::<Vec<_>>(), [theirs]);
    let all = admin.admin_list_orders(AdminListOrdersRequest::default()).await.unwrap().into_owned().orders;
    assert_eq!(all.len(), 6);
    assert_eq!(code(orders.admin_list_orders(AdminListOrdersRequest::default()).await), ErrorCode::PermissionDenied);
    let bad_user = AdminListOrdersRequest { user_id: Some("x".into()), ..Default::default() };
    assert_eq!(code(admin.admin_list_orders(bad_user).await), ErrorCode::InvalidArgument);
    platform.stop().await;
}

#[tokio::test]
async fn an_order_records_who_placed_it_and_the_back_office_finds_orders_by_email_and_date() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[10]).await[0];
    let hanako = Contact { email: "Hanako.Yamada@Example.jp".into(), name: "山田 花子".into() };
    let taro = Contact { email: "Élodie@Exemple.fr".into(), name: String::new() };
    let (hanako_id, taro_id) = (Uuid::now_v7(), Uuid::now_v7());
    let mut placed = Vec::new();
    for (n, (id, contact)) in [(hanako_id, &hanako), (taro_id, &taro), (hanako_id, &hanako)].into_iter().enumerate() {
        platform.add(&Who::Customer(id), sku, 1).await;
        let order = platform.orders_of(id, contact).create_order(checkout(&format!("k{n}"), APPROVE)).await;
        placed.push(order.unwrap().into_owned().order.into_option().unwrap());
    }
    assert_eq!(
        (placed[0].customer_email.as_str(), placed[0].customer_name.as_str()),
        ("Hanako.Yamada@Example.jp", "山田 花子")
    );
    assert_eq!((placed[1].customer_email.as_str(), placed[1].customer_name.as_str()), ("Élodie@Exemple.fr", ""));
    // A call without a contact (as before the BFF passed one) records none.
    let nameless = customer();
    platform.add(&nameless, sku, 1).await;
    let unnamed = platform.checkout(&nameless, "k3", APPROVE).await.unwrap();
    assert_eq!((unnamed.customer_email.as_str(), unnamed.customer_name.as_str()), ("", ""));

    let admin = platform.orders(&Who::Admin(Uuid::now_v7()));
    let ids = |orders: Vec<ec_proto::order::v1::Order>| orders.into_iter().map(|o| o.id).collect::<Vec<_>>();
    let list = |request: AdminListOrdersRequest| {
        let admin = admin.clone();
        async move { admin.admin_list_orders(request).await.map(|answer| answer.into_owned()) }
    };
    let by_email = |prefix: &str| AdminListOrdersRequest { customer_email: prefix.into(), ..Default::default() };

    // The start of the email, in any case, newest first.
    for prefix in ["hanako", "HANAKO.YAMADA@example.JP", " hanako.yamada@ "] {
        let found = ids(list(by_email(prefix)).await.unwrap().orders);
        assert_eq!(found, [placed[2].id.clone(), placed[0].id.clone()], "{prefix}");
    }
    // Beyond ASCII too, whatever the database's locale.
    for prefix in ["élodie@", "ÉLODIE@EXEMPLE", "Élodie@exemple.fr"] {
        assert_eq!(ids(list(by_email(prefix)).await.unwrap().orders), [placed[1].id.clone()], "{prefix}");
    }
    for nothing in ["example", "hanako.yamada@example.jpx", "%", "_lodie", "elodie@"] {
        assert!(list(by_email(nothing)).await.unwrap().orders.is_empty(), "{nothing}");
    }

    // By when it was placed: from an instant, before one, or between.
    let at = |order: &ec_proto::order::v1::Order| order.created_at.as_option().cloned().unwrap();
    let since_second = AdminListOrdersRequest { placed_after: at(&placed[1]).into(), ..Default::default() };
    assert_eq!(
        ids(list(since_second).await.unwrap().orders),
        [unnamed.id.clone(), placed[2].id.clone(), placed[1].id.clone()]
    );
    let before_second = AdminListOrdersRequest { placed_before: at(&placed[1]).into(), ..Default::default() };
    assert_eq!(ids(list(before_second).await.unwrap().orders), [placed[0].id.clone()]);
    let hanakos_after_first = AdminListOrdersRequest {
        customer_email: "hanako".into(),
        placed_after: at(&placed[1]).into(),
        placed_before: at(&unnamed).into(),
        ..Default::default()
    };
    assert_eq!(ids(list(hanakos_after_first).await.unwrap().orders), [placed[2].id.clone()]);

    // Pages of a filtered list go on only with the filters they were issued for.
    let first = AdminListOrdersRequest { page_size: 1, ..by_email("hanako") };
    let token = list(first.clone()).await.unwrap().next_page_token;
    let next = AdminListOrdersRequest { page_token: token.clone(), ..first.clone() };
    assert_eq!(ids(list(next).await.unwrap().orders), [placed[0].id.clone()]);
    for other in
        [by_email("taro"), AdminListOrdersRequest { placed_after: at(&placed[0]).into(), ..by_email("hanako") }]
    {
        let replayed = AdminListOrdersRequest { page_size: 1, page_token: token.clone(), ..other };
        assert_eq!(list(replayed).await.unwrap_err().code, ErrorCode::InvalidArgument);
    }

    // Filters that cannot be right are refused.
    let backwards = AdminListOrdersRequest {
        placed_after: at(&placed[2]).into(),
        placed_before: at(&placed[0]).into(),
        ..Default::default()
    };
    let broken_instant = buffa_types::Timestamp { seconds: 0, nanos: -1, ..Default::default() };
    let broken = AdminListOrdersRequest { placed_after: broken_instant.into(), ..Default::default() };
    let year_ten_thousand = buffa_types::Timestamp { seconds: 253_402_300_800, ..Default::default() };
    let far = AdminListOrdersRequest { placed_before: year_ten_thousand.into(), ..Default::default() };
    for refused in [backwards, broken, far, by_email(&"a".repeat(255)), by_email("a\u{0}b")] {
        assert_eq!(list(refused.clone()).await.unwrap_err().code, ErrorCode::InvalidArgument, "{refused:?}");
    }
    let as_customer = platform.orders(&Who::Customer(hanako_id));
    assert_eq!(code(as_customer.admin_list_orders(by_email("hanako")).await), ErrorCode::PermissionDenied);
    platform.stop().await;
}

#[tokio::test]
async fn checkout_input_is_checked_before_anything_is_written() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[5]).await[0];
    let me = customer();
    platform.add(&me, sku, 1).await;
    let orders = platform.orders(&me);
    let mut no_address = checkout("k", APPROVE);
    no_address.shipping_address = buffa::MessageField::none();
    let mut no_city = checkout("k", APPROVE);
    no_city.shipping_address =
        buffa::MessageField::some(ec_proto::order::v1::Address { city: String::new(), ..address() });
    for request in [checkout("", APPROVE), checkout(&"k".repeat(129), APPROVE), checkout("k", ""), no_address, no_city]
    {
        assert_eq!(code(orders.create_order(request).await), ErrorCode::InvalidArgument);
    }
    assert_eq!(
        code(platform.orders(&Who::Nobody).create_order(checkout("k", APPROVE)).await),
        ErrorCode::Unauthenticated
    );
    let written: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_service.orders").fetch_one(platform.pool()).await.unwrap();
    assert_eq!(written, 0);
    platform.stop().await;
}

#[tokio::test]
async fn the_recovery_worker_finishes_a_saga_its_driver_left_behind() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[5]).await[0];
    let me = customer();
    platform.add(&me, sku, 1).await;
    let order = platform.checkout(&me, "k", APPROVE).await.unwrap();
    // Put the order back as a driver that died after the reservation would leave it: PENDING at
    // `authorize`, with an expired lease and its token still there.
    let pool = platform.pool();
    sqlx::query(
        "UPDATE order_service.orders SET status = 'pending', step = 'authorize', payment_status = 'pending',
             authorization_id = NULL, next_attempt_at = now(), lease_until = now() - interval '1 second'
         WHERE id = $1::uuid",
    )
    .bind(&order.id)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("INSERT INTO order_service.payment_tokens (order_id, token) VALUES ($1::uuid, $2)")
        .bind(&order.id)
        .bind(APPROVE)
        .execute(pool)
        .await
        .unwrap();
    let recovered = platform.settled(&me, &order.id).await;
    assert_eq!(recovered.status, OrderStatus::ORDER_STATUS_CONFIRMED);
    assert_eq!(platform.stock(sku).await, (4, 0), "the authorisation was repeated, the stock taken once");
    platform.stop().await;
}

#[tokio::test]
async fn a_hold_whose_answer_never_came_is_found_under_its_key_and_released() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[0]).await[0];
    let me = customer();
    platform.add(&me, sku, 2).await;
    // Nothing in stock: the order fails at reserve, and the product service keeps no key for it.
    let order = platform.checkout(&me, "k", APPROVE).await.unwrap();
    assert!(order.failure_reason.starts_with("insufficient_stock:"), "{}", order.failure_reason);
    // Now the order is put where reserving leaves it when every attempt went unanswered, while the last one
    // did hold the stock (under the key the saga uses).
    let pool = platform.pool();
    inventory::adjust(pool, &admin(), sku, 5, "delivery").await.unwrap();
    let key = IdempotencyKey::parse(&format!("order:{}:reserve", order.id)).unwrap();
    let sku_id = sku.to_string();
    let items = ReservationItems::parse([(sku_id.as_str(), 2)]).unwrap();
    inventory::reserve(pool, "internal", &key, &items, std::time::Duration::from_secs(900)).await.unwrap();
    assert_eq!(platform.stock(sku).await, (5, 2));
    sqlx::query(
        "UPDATE order_service.orders SET status = 'pending', step = 'release', next_attempt_at = now(),
             lease_until = NULL, failure_reason = 'stock_unavailable: the stock could not be held (timeout)'
         WHERE id = $1::uuid",
    )
    .bind(&order.id)
    .execute(pool)
    .await
    .unwrap();

    let settled = platform.settled(&me, &order.id).await;
    assert_eq!(settled.status, OrderStatus::ORDER_STATUS_FAILED);
    assert!(settled.failure_reason.starts_with("stock_unavailable:"), "{}", settled.failure_reason);
    assert_eq!(platform.stock(sku).await, (5, 0), "the hold went back");
    assert_eq!(platform.reservations().await, [("released".to_owned(), 1)]);
    platform.stop().await;
}

fn money(amount: i64, currency: &str) -> ec_proto::product::v1::Money {
    ec_proto::product::v1::Money { amount, currency_code: currency.into(), ..Default::default() }
}

/// CreateOrder with the total the shopper confirmed.
fn confirmed(key: &str, total: ec_proto::product::v1::Money) -> ec_proto::order::v1::CreateOrderRequest {
    ec_proto::order::v1::CreateOrderRequest {
        expected_total: buffa::MessageField::some(total),
        ..checkout(key, APPROVE)
    }
}

#[tokio::test]
async fn a_price_raised_between_the_cart_and_the_click_is_not_charged_without_the_shopper_confirming_it() {
    let platform = Platform::start().await;
    let sku = platform.skus(&[10]).await[0];
    let me = customer();
    platform.add(&me, sku, 2).await;
    let cart = platform.carts(&me).get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart.unwrap();
    // What the checkout page shows: ¥3,000 and ¥500 shipping.
    assert_eq!((cart.subtotal.amount, cart.shipping_fee.amount, cart.total.amount), (3000, 500, 3500));
    let seen = cart.total.into_option().unwrap();

    // The shop raises the price while the shopper fills in the form.
    sqlx::query("UPDATE product_service.skus SET price_amount = 1800 WHERE id = $1")
        .bind(sku)
        .execute(platform.pool())
        .await
        .unwrap();
    let refused = platform.orders(&me).create_order(confirmed("saw-3500", seen.clone())).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::FailedPrecondition);
    let message = refused.message.unwrap_or_default();
    assert!(message.contains("now 4100 JPY"), "names the new total: {message}");
    let orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_service.orders").fetch_one(platform.pool()).await.unwrap();
    assert_eq!(orders, 0, "nothing was placed");
    assert_eq!(platform.stock(sku).await, (10, 0), "nothing was held");
    // A total in another currency is another total.
    assert_eq!(
        code(platform.orders(&me).create_order(confirmed("saw-usd", money(4100, "USD"))).await),
        ErrorCode::FailedPrecondition
    );

    // Asked again, the shopper confirms the new total: the order is placed at it.
    let cart = platform.carts(&me).get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart.unwrap();
    assert_eq!(cart.total.amount, 4100);
    let order = platform.orders(&me).create_order(confirmed("saw-4100", money(4100, "JPY"))).await.unwrap();
    let order = order.into_owned().order.into_option().unwrap();
    assert_eq!((order.status, order.total.amount), (OrderStatus::ORDER_STATUS_CONFIRMED.into(), 4100));
    // The same key again replays the order, whatever total it quotes now that the cart is empty.
    let again = platform.orders(&me).create_order(confirmed("saw-4100", money(4100, "JPY"))).await.unwrap();
    assert_eq!(again.into_owned().order.into_option().unwrap(), order);

    // A client that sends no total (written before the field) accepts the total of the moment.
    platform.add(&me, sku, 1).await;
    let order = platform.checkout(&me, "no-total", APPROVE).await.unwrap();
    assert_eq!(order.total.amount, 1800 + 500);
    platform.stop().await;
}

#[tokio::test]
async fn shipping_is_priced_per_currency_and_a_currency_without_a_rate_is_refused() {
    let platform = Platform::start_with(|config| {
        config.shipping_rules = "JPY:500:10000,USD:700:5000".parse().unwrap();
    })
    .await;
    let usd = platform.skus_priced(&[10], 999, "USD").await[0];
    let eur = platform.skus_priced(&[10], 999, "EUR").await[0];
    let (shopper, traveller) = (customer(), customer());

    // $9.99 ships for $7.00; from $50.00 it ships free: the JPY threshold of 10,000 is not applied to cents.
    platform.add(&shopper, usd, 1).await;
    let cart = platform.carts(&shopper).get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart.unwrap();
    assert_eq!((cart.shipping_fee.amount, cart.total.amount, cart.total.currency_code.as_str()), (700, 1699, "USD"));
    platform.add(&shopper, usd, 5).await;
    let order = platform.checkout(&shopper, "usd", APPROVE).await.unwrap();
    assert_eq!((order.subtotal.amount, order.shipping_fee.amount, order.total.amount), (5994, 0, 5994));

    // No rate for EUR: the cart shows no total, and checkout says why and places nothing.
    platform.add(&traveller, eur, 1).await;
    let cart = platform.carts(&traveller).get_cart(GetCartRequest::default()).await.unwrap().into_owned().cart.unwrap();
    assert!(cart.shipping_fee.as_option().is_none() && cart.total.as_option().is_none());
    let refused = platform.checkout(&traveller, "eur", APPROVE).await.unwrap_err();
    assert_eq!(refused.code, ErrorCode::FailedPrecondition);
    assert!(refused.message.unwrap_or_default().contains("no shipping rate for orders in EUR"));
    assert_eq!(platform.stock(eur).await, (10, 0));
    platform.stop().await;
}
