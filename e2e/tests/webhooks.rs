//! Webhooks through the BFF against real PostgreSQL, the events bus and a real HTTP receiver that verifies
//! every delivery with the Standard Webhooks reference library (PyPI `standardwebhooks`): signed deliveries,
//! retries after a 500 and after a timeout, the delivery log, redelivery, secret rotation, an endpoint that keeps
//! failing disabled with an e-mail to the admins, and URLs on private addresses refused.

use std::time::Duration;

use ec_e2e::TestPlatform;
use ec_product::{
    catalog,
    domain::{Actor, Attributes, Description, Price, ProductName, SkuCode},
};
use ec_testing::{
    eventually,
    webhooks::{WebhookReceiver, verify},
};
use serde_json::{Value, json};

/// Creates and publishes a product named `name`: a `product.v1.published` event.
async fn publish(platform: &TestPlatform, name: &str) -> String {
    let pool = &platform.database.pool;
    let name = ProductName::parse(name).unwrap();
    let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
    let (code, price) = (SkuCode::parse(&format!("{}-100G", product.id)).unwrap(), Price::parse(1500, "JPY").unwrap());
    catalog::create_sku(pool, &Actor("setup".into()), product.id, &code, &price, &Attributes::default(), 5)
        .await
        .unwrap();
    catalog::publish(pool, &ec_product::events::outbox(), product.id).await.unwrap();
    product.id.to_string()
}

async fn call(platform: &TestPlatform, method: &str, token: &str, body: Value) -> (u16, Value) {
    platform.call(&format!("/webhook.v1.WebhookService/{method}"), Some(token), &body).await
}

/// Registers an endpoint at `url` for `types`; its id and secret.
async fn endpoint(platform: &TestPlatform, admin: &str, url: &str, types: &[&str]) -> (String, String) {
    let (status, answer) = call(platform, "CreateEndpoint", admin, json!({"url": url, "eventTypes": types})).await;
    assert_eq!(status, 200, "{answer}");
    let secret = answer["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{answer}");
    (answer["endpoint"]["id"].as_str().unwrap().to_owned(), secret)
}

async fn deliveries(platform: &TestPlatform, admin: &str, endpoint: &str) -> Vec<Value> {
    let (status, answer) = call(platform, "ListDeliveries", admin, json!({"endpointId": endpoint})).await;
    assert_eq!(status, 200, "{answer}");
    answer["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Waits until the only delivery of `endpoint` has `status`; that delivery.
async fn settled(platform: &TestPlatform, admin: &str, endpoint: &str, status: &str) -> Value {
    eventually(format!("the delivery to {endpoint} to be {status}"), Duration::from_secs(30), || async {
        let all = deliveries(platform, admin, endpoint).await;
        match all.as_slice() {
            [one] if one["status"] == status => Ok(one.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_retried_after_a_500_and_a_timeout_logged_redelivered_and_a_dead_endpoint_disabled() {
    let receiver = WebhookReceiver::start().await;
    let platform = TestPlatform::start_with(|config| {
        config.user.webhooks.retry_secs = vec![1, 1];
        config.user.webhooks.timeout_secs = 1;
    })
    .await;
    let admin = platform.access_token("owner@example.com", true).await;
    let at = |path: &str| format!("{}{path}", receiver.url);
    let published = ["product.v1.published"];
    let (ok, ok_secret) = endpoint(&platform, &admin, &at("/ok"), &published).await;
    let (flaky, flaky_secret) = endpoint(&platform, &admin, &at("/fail/2"), &published).await;
    let (slow, slow_secret) = endpoint(&platform, &admin, &at("/slow/1"), &published).await;
    let (dead, _) = endpoint(&platform, &admin, &at("/fail/100"), &published).await;
    // Asks for other events only: sent nothing.
    let (orders_only, _) = endpoint(&platform, &admin, &at("/orders"), &["order.v1.confirmed"]).await;

    let product = publish(&platform, "Sencha").await;

    // Each request verifies with its endpoint's secret, and only with it.
    let first = receiver.wait_for("/ok", 1, Duration::from_secs(30)).await.remove(0);
    assert_eq!(verify(&first, &ok_secret), Ok("product.v1.published".to_owned()));
    assert!(verify(&first, &flaky_secret).is_err(), "another endpoint's secret verifies it");
    let body = first.json();
    assert_eq!(body["data"]["productPublished"]["productId"], product, "{body}");
    assert_eq!(body["timestamp"], body["data"]["occurredAt"]);
    assert_eq!(first.headers["content-type"], "application/json");

    // A 500 twice, then taken: three attempts with one webhook-id.
    let flaky_requests = receiver.wait_for("/fail/2", 3, Duration::from_secs(30)).await;
    assert_eq!(flaky_requests.iter().map(|r| r.status).collect::<Vec<_>>(), [500, 500, 204]);
    assert!(flaky_requests.iter().all(|r| r.headers["webhook-id"] == first.headers["webhook-id"]));
    for request in &flaky_requests {
        assert_eq!(verify(request, &flaky_secret), Ok("product.v1.published".to_owned()));
    }
    let logged = settled(&platform, &admin, &flaky, "DELIVERY_STATUS_SUCCEEDED").await;
    assert_eq!((logged["attempts"].as_i64(), logged["responseStatus"].as_i64()), (Some(3), Some(204)), "{logged}");
    assert_eq!(logged["eventType"], "product.v1.published");

    // No answer within the timeout, then taken.
    let logged = settled(&platform, &admin, &slow, "DELIVERY_STATUS_SUCCEEDED").await;
    assert_eq!(logged["attempts"], 2, "{logged}");
    let slow_requests = receiver.wait_for("/slow/1", 2, Duration::from_secs(30)).await;
    assert_eq!(verify(&slow_requests[1], &slow_secret), Ok("product.v1.published".to_owned()));

    // Failing through the whole schedule: the delivery fails, the endpoint is disabled, the admins are told.
    let logged = settled(&platform, &admin, &dead, "DELIVERY_STATUS_FAILED").await;
    assert_eq!((logged["attempts"].as_i64(), logged["responseStatus"].as_i64()), (Some(3), Some(500)), "{logged}");
    assert_eq!(logged["error"], "answered 500");
    let (_, listed) = call(&platform, "ListEndpoints", &admin, json!({})).await;
    let dead_endpoint = listed["endpoints"].as_array().unwrap().iter().find(|e| e["id"] == dead.as_str()).unwrap();
    assert_eq!(dead_endpoint["enabled"], json!(null), "false is left out of JSON: {dead_endpoint}");
    assert!(dead_endpoint["disabledReason"].as_str().unwrap().contains("every delivery failed"), "{dead_endpoint}");
    let told: Vec<String> =
        sqlx::query_scalar("SELECT to_address FROM user_service.mails WHERE kind = 'webhook_disabled'")
            .fetch_all(&platform.database.pool)
            .await
            .unwrap();
    assert_eq!(told, ["owner@example.com"]);
    let (status, refused) = call(&platform, "RedeliverDelivery", &admin, json!({"id": logged["id"]})).await;
    assert_eq!((status, refused["code"].as_str()), (400, Some("failed_precondition")), "{refused}");

    // Sent again on request, with the same webhook-id.
    let delivery = settled(&platform, &admin, &ok, "DELIVERY_STATUS_SUCCEEDED").await;
    let (status, answer) = call(&platform, "RedeliverDelivery", &admin, json!({"id": delivery["id"]})).await;
    assert_eq!((status, &answer["delivery"]["status"]), (200, &json!("DELIVERY_STATUS_PENDING")), "{answer}");
    let again = receiver.wait_for("/ok", 2, Duration::from_secs(30)).await.remove(1);
    assert_eq!(again.headers["webhook-id"], first.headers["webhook-id"]);

    // A rotated secret: both the new and the old one verify for the day after.
    let (status, rotated) = call(&platform, "RotateSecret", &admin, json!({"id": ok})).await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, ok_secret);
    publish(&platform, "Gyokuro").await;
    let third = receiver.wait_for("/ok", 3, Duration::from_secs(30)).await.remove(2);
    assert_eq!(verify(&third, new_secret), Ok("product.v1.published".to_owned()));
    assert_eq!(verify(&third, &ok_secret), Ok("product.v1.published".to_owned()));
    assert_eq!(third.headers["webhook-signature"].split(' ').count(), 2);

    assert!(receiver.received().iter().all(|r| r.path != "/orders"), "an endpoint got an event it did not ask for");
    assert!(deliveries(&platform, &admin, &orders_only).await.is_empty());
    // Deleting an endpoint takes its log with it.
    let (status, _) = call(&platform, "DeleteEndpoint", &admin, json!({"id": flaky})).await;
    assert_eq!(status, 200);
    let (status, gone) = call(&platform, "ListDeliveries", &admin, json!({"endpointId": flaky})).await;
    assert_eq!((status, gone["code"].as_str()), (404, Some("not_found")));
    platform.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_on_private_addresses_are_refused_and_only_admins_manage_endpoints() {
    let platform = TestPlatform::start_with(|config| config.user.webhooks.allow_private = Some(false)).await;
    let admin = platform.access_token("owner@example.com", true).await;
    let shopper = platform.access_token("shopper@example.com", false).await;
    let create = |url: &str| json!({"url": url, "eventTypes": ["order.v1.confirmed"]});
    for (url, why) in [
        ("http://1.1.1.1/hook", "https://"),
        ("https://127.0.0.1/hook", "not a public internet address"),
        ("https://[::1]/hook", "not a public internet address"),
        ("https://169.254.169.254/latest/meta-data/", "not a public internet address"),
        ("https://10.0.0.8/hook", "not a public internet address"),
        ("https://localhost:8443/hook", "not a public internet address"),
        ("https://user:secret@1.1.1.1/hook", "credentials"),
        ("gopher://1.1.1.1/", "https://"),
        ("not a url", "not valid"),
    ] {
        let (status, answer) = call(&platform, "CreateEndpoint", &admin, create(url)).await;
        assert_eq!((status, answer["code"].as_str()), (400, Some("invalid_argument")), "{url}: {answer}");
        assert!(answer["message"].as_str().unwrap().contains(why), "{url}: {answer}");
    }
    let huge = format!("https://1.1.1.1/{}", "a".repeat(5000));
    let (status, _) = call(&platform, "CreateEndpoint", &admin, create(&huge)).await;
    assert_eq!(status, 400);
    let (status, answer) =
        call(&platform, "CreateEndpoint", &admin, json!({"url": "https://1.1.1.1/", "eventTypes": ["order.v1.paid"]}))
            .await;
    assert_eq!(status, 400, "an unknown event type: {answer}");

    // Only admins: a shopper is refused, and so is nobody.
    let (status, _) = call(&platform, "CreateEndpoint", &shopper, create("https://1.1.1.1/")).await;
    assert_eq!(status, 403);
    let (status, _) = platform.call("/webhook.v1.WebhookService/ListEndpoints", None, &json!({})).await;
    assert_eq!(status, 401);

    // A public address is taken; a shop has at most 50 endpoints.
    let (id, _) = endpoint(&platform, &admin, "https://1.1.1.1/hook", &["order.v1.confirmed"]).await;
    for n in 1..50 {
        let (status, answer) = call(&platform, "CreateEndpoint", &admin, create(&format!("https://1.1.1.1/{n}"))).await;
        assert_eq!(status, 200, "{answer}");
    }
    let (status, answer) = call(&platform, "CreateEndpoint", &admin, create("https://1.1.1.1/51")).await;
    assert_eq!((status, answer["code"].as_str()), (429, Some("resource_exhausted")), "{answer}");

    // Changes are checked like creations; unknown and malformed ids are told apart.
    let (status, _) = call(&platform, "UpdateEndpoint", &admin, json!({"id": id, "url": "https://127.0.0.1/"})).await;
    assert_eq!(status, 400);
    let (status, answer) = call(
        &platform,
        "UpdateEndpoint",
        &admin,
        json!({"id": id, "enabled": false, "eventTypes": {"types": []}, "description": "Warehouse"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["endpoint"]["eventTypes"], &answer["endpoint"]["description"]),
        (&json!(null), &json!("Warehouse"))
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    for method in ["DeleteEndpoint", "RotateSecret", "RedeliverDelivery"] {
        let (status, _) = call(&platform, method, &admin, json!({"id": unknown})).await;
        assert_eq!(status, 404, "{method}");
        let (status, _) = call(&platform, method, &admin, json!({"id": "not-a-uuid"})).await;
        assert_eq!(status, 400, "{method}");
    }
    let (status, _) = call(&platform, "ListDeliveries", &admin, json!({"endpointId": id, "pageToken": "forged"})).await;
    assert_eq!(status, 400);
    platform.stop().await;
}
