//! What every port answers besides the API: health, reflection, and nothing it should not.

use connectrpc::{
    ErrorCode, Protocol,
    client::{ClientConfig, HttpClient},
};
use connectrpc_health::{HealthClient, wire::HealthCheckRequest, wire::ServingStatus};
use connectrpc_reflection::{
    ServerReflectionClient,
    wire::v1::{
        ServerReflectionRequest, server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    },
};
use ec_e2e::TestPlatform;

fn grpc_config(url: &str) -> (HttpClient, ClientConfig) {
    let uri: http::Uri = url.parse().unwrap();
    (HttpClient::plaintext_http2_only(), ClientConfig::new(uri).with_protocol(Protocol::Grpc))
}

async fn health(url: &str, service: &str) -> Result<ServingStatus, connectrpc::ConnectError> {
    let (connection, config) = grpc_config(url);
    let response = HealthClient::new(connection, config)
        .check(HealthCheckRequest { service: service.into(), ..Default::default() })
        .await?
        .into_owned();
    Ok(response.status.as_known().expect("a known status"))
}

async fn listed_services(url: &str) -> Vec<String> {
    let (connection, config) = grpc_config(url);
    let client = ServerReflectionClient::new(connection, config);
    let mut stream = client.server_reflection_info().await.unwrap();
    stream
        .send(ServerReflectionRequest {
            message_request: Some(MessageRequest::ListServices(String::new())),
            ..Default::default()
        })
        .await
        .unwrap();
    stream.close_send();
    let response = stream.message().await.unwrap().expect("one response").to_owned_message();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list.service.iter().map(|s| s.name.clone()).collect(),
        other => panic!("expected a service list, got {other:?}"),
    }
}

#[tokio::test]
async fn every_port_reports_serving_and_lists_what_it_serves() {
    let platform = TestPlatform::start().await;
    let a = platform.addresses.clone();
    let standard =
        ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];
    let ports = [
        (
            "bff",
            a.bff,
            vec![
                "user.v1.UserService",
                "product.v1.ProductService",
                "product.v1.InventoryService",
                "order.v1.CartService",
                "order.v1.OrderService",
            ],
        ),
        ("user", a.user, vec!["user.v1.UserService", "user.v1.CredentialService"]),
        ("product", a.product, vec![]),
        ("order", a.order, vec![]),
    ];

    for (name, addr, services) in ports {
        let url = platform.url_of(addr);
        assert_eq!(health(&url, "").await.unwrap(), ServingStatus::SERVING, "{name}: whole server");
        for service in &services {
            assert_eq!(health(&url, service).await.unwrap(), ServingStatus::SERVING, "{name}: {service}");
        }
        let unknown = health(&url, "no.such.Service").await.unwrap_err();
        assert_eq!(unknown.code, ErrorCode::NotFound, "{name}");

        let listed = listed_services(&url).await;
        let expected: Vec<String> = services.iter().chain(standard.iter()).map(|s| s.to_string()).collect();
        assert_eq!(listed, expected, "{name}");
    }

    platform.stop().await;
}

#[tokio::test]
async fn internal_and_unserved_procedures_are_not_reachable_through_the_bff() {
    let platform = TestPlatform::start().await;

    for path in [
        "/user.v1.CredentialService/VerifyPassword",
        "/user.v1.UserService/VerifyPassword",
        "/product.v1.InventoryService/BatchReserveInventory",
        "/no.such.Service/Method",
    ] {
        let request = platform.post(path).body(r#"{"email":"a@example.com","password":"correct horse"}"#);
        let (status, body) = ec_e2e::answer(request).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["code"], "unimplemented", "{path}");
    }

    platform.stop().await;
}

#[tokio::test]
async fn health_turns_not_serving_when_shutdown_begins() {
    let platform = TestPlatform::start().await;
    let url = platform.url_of(platform.addresses.user);
    let (connection, config) = grpc_config(&url);
    let request = || HealthCheckRequest { service: "user.v1.UserService".into(), ..Default::default() };
    // A Watch opened before the signal sees the status change on its open stream: a new connection could not
    // be made once the listener has stopped accepting.
    let mut watch = HealthClient::new(connection, config).watch(request()).await.unwrap();
    let first = watch.message().await.unwrap().expect("a status").to_owned_message();
    assert_eq!(first.status.as_known(), Some(ServingStatus::SERVING));

    platform.begin_shutdown();
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), watch.message()).await;
    let next = next.expect("a status change within 10 s").unwrap().expect("a status").to_owned_message();
    assert_eq!(next.status.as_known(), Some(ServingStatus::NOT_SERVING));
    drop(watch);

    // Stopping returns only once every server has drained and exited cleanly.
    platform.stop().await;
    let after = health(&url, "").await;
    assert!(after.is_err(), "the port is closed after shutdown: {after:?}");
}
