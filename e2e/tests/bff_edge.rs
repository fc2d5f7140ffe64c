//! The BFF's edge: rate limits (per IP, per user, shared, not fooled by forged forwarding headers), CORS,
//! request size, deadlines and request ids.

use ec_e2e::{TestPlatform, browser::sign_in};
use serde_json::{Value, json};

const CREATE_USER: &str = "/user.v1.UserService/CreateUser";

async fn post(platform: &TestPlatform, path: &str, headers: &[(&str, &str)], body: String) -> reqwest::Response {
    let mut request = platform.post(path).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn sign_up_body(i: usize) -> String {
    json!({"email": format!("user{i}@example.com"), "password": "correct horse"}).to_string()
}

async fn limited(anonymous_burst: u32, trusted: &[&str]) -> TestPlatform {
    let trusted: Vec<ipnet::IpNet> = trusted.iter().map(|n| n.parse().unwrap()).collect();
    TestPlatform::start_with(|config| {
        config.bff.edge.anonymous_burst = anonymous_burst;
        config.bff.edge.anonymous_per_minute = 1;
        config.bff.edge.trusted_proxies = trusted;
    })
    .await
}

#[tokio::test]
async fn anonymous_calls_past_the_burst_get_429_with_retry_after_even_with_forged_forwarding_headers() {
    let platform = limited(3, &[]).await;
    for i in 0..3 {
        let response =
            post(&platform, CREATE_USER, &[("x-forwarded-for", &format!("203.0.113.{i}"))], sign_up_body(i)).await;
        assert_eq!(response.status(), 200);
    }
    // A new X-Forwarded-For from an untrusted peer does not make a new client.
    let response = post(&platform, CREATE_USER, &[("x-forwarded-for", "198.51.100.77")], sign_up_body(9)).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "resource_exhausted");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM user_service.users").fetch_one(&platform.database.pool).await.unwrap();
    assert_eq!(stored, 3, "the refused call did nothing");

    platform.stop().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let platform = limited(1, &["127.0.0.1/32"]).await;
    for i in 0..4 {
        let client = format!("203.0.113.{i}");
        let response = post(&platform, CREATE_USER, &[("x-forwarded-for", &client)], sign_up_body(i)).await;
        assert_eq!(response.status(), 200, "client {client}");
    }
    let response = post(&platform, CREATE_USER, &[("x-forwarded-for", "203.0.113.0")], sign_up_body(7)).await;
    assert_eq!(response.status(), 429, "the same client again");
    platform.stop().await;
}

#[tokio::test]
async fn signed_in_users_are_limited_per_user() {
    let platform = TestPlatform::start_with(|config| {
        config.bff.edge.user_burst = 2;
        config.bff.edge.user_per_minute = 1;
    })
    .await;
    let response = post(&platform, CREATE_USER, &[], sign_up_body(1)).await;
    let id = response.json::<Value>().await.unwrap()["user"]["id"].as_str().unwrap().to_owned();
    let tokens = sign_in(&platform, "user1@example.com", "correct horse").await;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let headers = [("authorization", bearer.as_str())];
    for expected in [200, 200, 429] {
        let response = post(&platform, "/user.v1.UserService/GetUser", &headers, json!({ "id": id }).to_string()).await;
        assert_eq!(response.status(), expected);
    }
    platform.stop().await;
}

#[tokio::test]
async fn cors_answers_preflights_for_configured_origins_only() {
    let platform = TestPlatform::start_with(|config| {
        config.bff.edge.cors_allowed_origins = vec!["https://shop.example".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, format!("{}{CREATE_USER}", platform.bff_url()))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,connect-protocol-version,authorization")
            .send()
    };

    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(allowed.status(), 200);
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], "https://shop.example");
    let allow_headers = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allow_headers.contains("connect-protocol-version") && allow_headers.contains("authorization"));
    // A browser's trace context may come along (ec_platform::telemetry continues it).
    assert!(allow_headers.contains("traceparent") && allow_headers.contains("tracestate"), "{allow_headers}");

    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    let response = post(&platform, CREATE_USER, &[("origin", "https://shop.example")], sign_up_body(1)).await;
    assert_eq!(response.headers()["access-control-allow-origin"], "https://shop.example");
    let exposed = response.headers()["access-control-expose-headers"].to_str().unwrap();
    assert!(exposed.contains("grpc-status") && exposed.contains("retry-after"), "{exposed}");

    platform.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_before_reaching_a_service() {
    let platform = TestPlatform::start().await;
    let body = json!({"email": "a@example.com", "password": "x".repeat(300 * 1024)}).to_string();
    let response = platform.post_h2(CREATE_USER).body(body).send().await.unwrap();
    let status = response.status();
    let error: Value = response.json().await.unwrap();
    assert_eq!((status.as_u16(), error["code"].as_str()), (429, Some("resource_exhausted")), "{error}");
    platform.stop().await;
}

#[tokio::test]
async fn a_deadline_too_short_for_the_work_ends_the_call_with_deadline_exceeded() {
    let platform = TestPlatform::start().await;
    // Hashing a password alone takes longer than a millisecond.
    let response = post(&platform, CREATE_USER, &[("connect-timeout-ms", "1")], sign_up_body(1)).await;
    let status = response.status();
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "deadline_exceeded", "{status} {error}");
    platform.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_sane_client_id_is_kept() {
    let platform = TestPlatform::start().await;

    let response = post(&platform, CREATE_USER, &[], sign_up_body(1)).await;
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let response = post(&platform, CREATE_USER, &[("x-request-id", "checkout-42.retry_1")], sign_up_body(2)).await;
    assert_eq!(response.headers()["x-request-id"], "checkout-42.retry_1");

    let forged = "a\"}{\"level\":\"error";
    let response = post(&platform, CREATE_USER, &[("x-request-id", forged)], sign_up_body(3)).await;
    let id = response.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "a forged id is replaced: {id}");

    platform.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_by_procedure_protocol_and_code_and_auth_failures_by_reason() {
    let platform = limited(2, &[]).await;
    post(&platform, CREATE_USER, &[], sign_up_body(1)).await;
    post(
        &platform,
        "/user.v1.UserService/GetUser",
        &[("authorization", "Bearer not.a.jwt")],
        json!({"id": "x"}).to_string(),
    )
    .await;
    post(&platform, CREATE_USER, &[], sign_up_body(2)).await;

    let text = reqwest::get(format!("{}/metrics", platform.ops_url())).await.unwrap().text().await.unwrap();
    let has = |needle: &[&str]| text.lines().any(|line| needle.iter().all(|n| line.contains(n)));
    assert!(
        has(&[
            "ec_rpc_requests_total{",
            "server=\"bff\"",
            "procedure=\"/user.v1.UserService/CreateUser\"",
            "protocol=\"connect\"",
            "code=\"ok\""
        ]),
        "{text}"
    );
    let bff = "server=\"bff\"";
    assert!(has(&["ec_rpc_requests_total{", bff, "UserService/CreateUser", "code=\"resource_exhausted\""]), "{text}");
    assert!(has(&["ec_rpc_request_duration_seconds_bucket{", bff, "UserService/CreateUser"]), "{text}");
    assert!(has(&["ec_bff_auth_failures_total{", "reason=\"malformed\""]), "{text}");
    assert!(has(&["ec_bff_rate_limited_total{", "class=\"anonymous\""]), "{text}");
    platform.stop().await;
}

#[tokio::test]
async fn metrics_and_readiness_are_served_on_the_operations_port_only() {
    let platform = TestPlatform::start().await;
    // What the counters would tell an attacker (why a token was refused), and a probe that calls every backend.
    for path in ["/metrics", "/ready"] {
        let public = reqwest::get(format!("{}{path}", platform.bff_url())).await.unwrap();
        assert_eq!(public.status(), 404, "{path} on the public port");
        let ops = reqwest::get(format!("{}{path}", platform.ops_url())).await.unwrap();
        assert_eq!(ops.status(), 200, "{path} on the operations port");
    }
    for base in [platform.bff_url(), platform.ops_url()] {
        assert_eq!(reqwest::get(format!("{base}/health")).await.unwrap().status(), 200, "{base}/health");
    }
    platform.stop().await;
}

#[tokio::test]
async fn sign_ups_have_a_stricter_limit_per_client_ip_so_emails_cannot_be_tested_in_bulk() {
    let platform = TestPlatform::start_with(|config| {
        config.bff.edge.sign_up_burst = 3;
        config.bff.edge.sign_up_per_minute = 1;
    })
    .await;
    // One of the three is an account of its own, signed in.
    let token = platform.access_token("owner@example.com", false).await;
    for i in 0..2 {
        assert_eq!(post(&platform, CREATE_USER, &[], sign_up_body(i)).await.status(), 200, "sign-up {i}");
    }
    // Past the burst, the answer no longer tells whether an address is registered: a taken one and a new one
    // are both refused for now.
    for i in [0, 99] {
        let response = post(&platform, CREATE_USER, &[], sign_up_body(i)).await;
        assert_eq!(response.status(), 429, "sign-up {i}");
        assert!(response.headers().contains_key("retry-after"));
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "resource_exhausted");
    }
    // A change of email says whether an address is registered too (already_exists): it shares the limit.
    let owner = platform.database.pool.clone();
    let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM user_service.users WHERE email = 'owner@example.com'")
        .fetch_one(&owner)
        .await
        .unwrap();
    let change = json!({"id": id.to_string(), "email": "taken-or-not@example.com", "currentPassword": "correct horse"});
    let (status, error) = platform.call("/user.v1.UserService/UpdateUser", Some(&token), &change).await;
    assert_eq!((status, error["code"].as_str()), (429, Some("resource_exhausted")), "{error}");
    // The client's other anonymous calls go on: only sign-up is held back.
    let (_, answer) = platform.call("/product.v1.ProductService/GetProduct", None, &json!({"id": "p"})).await;
    assert_eq!(answer["code"], "invalid_argument", "reached the product service: {answer}");

    let metrics = reqwest::get(format!("{}/metrics", platform.ops_url())).await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("ec_bff_rate_limited_total{") && l.contains("class=\"sign_up\"")),
        "counted: {metrics}"
    );
    platform.stop().await;
}
