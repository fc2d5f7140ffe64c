//! The product service announces what the public sees change (a product published or hidden, a SKU
//! repriced) on NATS JetStream, with the change and only with it.

mod support;

use std::time::Duration;

use connectrpc::ErrorCode;
use ec_platform::events::{EventArgs, Prefix};
use ec_proto::product::v1::{
    __buffa::oneof::product_event, HideProductRequest, Money, ProductEvent, PublishProductRequest, UpdateSkuRequest,
};
use ec_testing::nats::{Tap, nats_prefix, nats_url};
use support::{Service, Who, code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_hiding_and_repricing_are_announced_once_each_and_refused_changes_not_at_all() {
    let (url, prefix) = (nats_url(), nats_prefix());
    let settings = EventArgs {
        nats_url: Some(url.clone()),
        prefix: Prefix::parse(&prefix).unwrap(),
        relay_interval_ms: 100,
        ..EventArgs::default()
    };
    let service = Service::start_with_events(settings).await;
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
