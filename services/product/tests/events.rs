//! The product service announces what the public sees change (a product published or hidden, a SKU
//! repriced) and what the shop must act on (stock low, sold out) on NATS JetStream, with the change and only
//! with it.

mod support;

use std::time::Duration;

use connectrpc::ErrorCode;
use ec_platform::events::{EventArgs, Prefix};
use ec_proto::product::v1::{
    __buffa::oneof::product_event, AdjustInventoryRequest, BatchReserveInventoryRequest, HideProductRequest, Money,
    ProductEvent, PublishProductRequest, ReleaseReservationRequest, ReservationItem, UpdateSkuRequest,
};
use ec_testing::nats::{Tap, nats_prefix, nats_url};
use support::{Service, Who, code};

/// Events on the NATS at `url` under `prefix`, relayed within a tenth of a second.
fn on_nats(url: &str, prefix: &str) -> EventArgs {
    EventArgs {
        nats_url: Some(url.to_owned()),
        prefix: Prefix::parse(prefix).unwrap(),
        relay_interval_ms: 100,
        ..EventArgs::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_hiding_and_repricing_are_announced_once_each_and_refused_changes_not_at_all() {
    let (url, prefix) = (nats_url(), nats_prefix());
    let service = Service::start_with_events(on_nats(&url, &prefix)).await;
    let tap = Tap::new(&url, &prefix, "product", "search-index").await;
    let sku = service.skus(&[5]).await.remove(0);
    let product: String = sqlx::query_scalar("SELECT product_id::text FROM product_service.skus WHERE id = $1::uuid")
        .bind(&sku)
        .fetch_one(&service.database.pool)
        .await
        .unwrap();
    let admin = service.catalog(Who::Admin);

    // Refused: publishing a published product, and a negative price. Nothing is announced for them.
    let again = admin.publish_product(PublishProductRequest { id: product.clone(), ..Default::default() }).await;
    assert_eq!(code(again), ErrorCode::FailedPrecondition);
    let price = |amount, currency: &str| Money { amount, currency_code: currency.into(), ..Default::default() };
    let negative = UpdateSkuRequest { id: sku.clone(), price: price(-1, "JPY").into(), ..Default::default() };
    assert_eq!(code(admin.update_sku(negative).await), ErrorCode::InvalidArgument);
    // A change that keeps the price is no repricing.
    let same = UpdateSkuRequest { id: sku.clone(), price: price(1500, "JPY").into(), ..Default::default() };
    admin.update_sku(same).await.unwrap();

    let cheaper = UpdateSkuRequest { id: sku.clone(), price: price(1200, "JPY").into(), ..Default::default() };
    admin.update_sku(cheaper).await.unwrap();
    admin.hide_product(HideProductRequest { id: product.clone(), ..Default::default() }).await.unwrap();

    let mut taken = tap.take_until(Duration::from_secs(20), |taken| taken.len() >= 3).await;
    taken.extend(tap.take(Duration::from_secs(1)).await);
    let subjects: Vec<&str> = taken.iter().map(|t| t.subject.strip_prefix(&prefix).unwrap()).collect();
    assert_eq!(subjects, [".product.v1.published", ".product.v1.repriced", ".product.v1.hidden"]);
    let events: Vec<ProductEvent> = taken.iter().map(|t| serde_json::from_slice(&t.payload).unwrap()).collect();
    let Some(product_event::Event::ProductPublished(published)) = &events[0].event else { panic!("{:?}", events[0]) };
    assert_eq!((published.product_id.as_str(), published.name.as_str()), (product.as_str(), "Mug"));
    let Some(product_event::Event::SkuRepriced(repriced)) = &events[1].event else { panic!("{:?}", events[1]) };
    assert_eq!((repriced.sku_id.as_str(), repriced.product_id.as_str()), (sku.as_str(), product.as_str()));
    assert_eq!(repriced.old_price.as_option().map(|p| (p.amount, p.currency_code.as_str())), Some((1500, "JPY")));
    assert_eq!(repriced.new_price.as_option().map(|p| (p.amount, p.currency_code.as_str())), Some((1200, "JPY")));
    let Some(product_event::Event::ProductHidden(hidden)) = &events[2].event else { panic!("{:?}", events[2]) };
    assert_eq!(hidden.product_id, product);
    for (event, tapped) in events.iter().zip(&taken) {
        assert_eq!(event.event_id, tapped.id);
        assert!(event.occurred_at.is_set());
    }
    tap.delete_stream().await;
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_crossing_the_low_threshold_or_running_out_is_announced_whatever_moved_it() {
    let (url, prefix) = (nats_url(), nats_prefix());
    let service = Service::start_with_events(on_nats(&url, &prefix)).await;
    let tap = Tap::new(&url, &prefix, "product", "stock-watch").await;
    // LOW_STOCK_THRESHOLD is 5: low at 5 units or fewer.
    let sku = service.skus(&[10]).await.remove(0);
    let (inventory, admin) = (service.client(Who::Internal), service.client(Who::Admin));
    let reserve = |quantity: i64, key: &str| BatchReserveInventoryRequest {
        items: vec![ReservationItem { sku_id: sku.clone(), quantity, ..Default::default() }],
        idempotency_key: key.into(),
        ..Default::default()
    };
    // 10 -> 7: above the threshold. 7 -> 4: low. A refused reservation (more than is left) moves nothing.
    inventory.batch_reserve_inventory(reserve(3, "a")).await.unwrap();
    let second = inventory.batch_reserve_inventory(reserve(3, "b")).await.unwrap().into_owned();
    assert_eq!(code(inventory.batch_reserve_inventory(reserve(5, "c")).await), ErrorCode::ResourceExhausted);
    // Released: back to 7, and no event for rising. Then 7 -> 3 by hand: low again; -3: sold out.
    let id = second.reservation.into_option().unwrap().id;
    let release =
        ReleaseReservationRequest { reservation_id: id, idempotency_key: "b:release".into(), ..Default::default() };
    inventory.release_reservation(release).await.unwrap();
    let adjust = |delta: i64| AdjustInventoryRequest {
        sku_id: sku.clone(),
        delta,
        reason: "count".into(),
        ..Default::default()
    };
    admin.adjust_inventory(adjust(-4)).await.unwrap();
    admin.adjust_inventory(adjust(-3)).await.unwrap();

    let taken = tap.take_until(Duration::from_secs(20), |taken| taken.len() >= 3).await;
    let mut taken: Vec<_> = taken.into_iter().filter(|t| !t.subject.ends_with(".published")).collect();
    taken.extend(tap.take(Duration::from_secs(1)).await);
    let subjects: Vec<&str> = taken.iter().map(|t| t.subject.strip_prefix(&prefix).unwrap()).collect();
    assert_eq!(subjects, [".product.v1.stock_low", ".product.v1.stock_low", ".product.v1.sold_out"]);
    let events: Vec<ProductEvent> = taken.iter().map(|t| serde_json::from_slice(&t.payload).unwrap()).collect();
    let Some(product_event::Event::StockLow(low)) = &events[0].event else { panic!("{:?}", events[0]) };
    assert_eq!((low.sku_id.as_str(), low.available, low.threshold), (sku.as_str(), 4, 5));
    assert!(low.sku_code.starts_with("MUG-") && !low.product_id.is_empty(), "{low:?}");
    let Some(product_event::Event::StockLow(low)) = &events[1].event else { panic!("{:?}", events[1]) };
    assert_eq!(low.available, 3);
    let Some(product_event::Event::SoldOut(sold_out)) = &events[2].event else { panic!("{:?}", events[2]) };
    assert_eq!(sold_out.sku_id, sku);
    for (event, tapped) in events.iter().zip(&taken) {
        assert_eq!(event.event_id, tapped.id, "the event id is the message id");
        assert!(event.occurred_at.is_set());
    }
    tap.delete_stream().await;
    service.stop().await;
}
