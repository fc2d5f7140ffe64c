//! What every port answers besides the API: health, reflection, and nothing it should not.

use buffa::Message;
use buffa_descriptor::generated::descriptor::FileDescriptorProto;
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

/// One reflection request to `url`, and its answer.
async fn reflect(url: &str, request: MessageRequest) -> Option<MessageResponse> {
    let (connection, config) = grpc_config(url);
    let client = ServerReflectionClient::new(connection, config);
    let mut stream = client.server_reflection_info().await.unwrap();
    stream.send(ServerReflectionRequest { message_request: Some(request), ..Default::default() }).await.unwrap();
    stream.close_send();
    stream.message().await.unwrap().expect("one response").to_owned_message().message_response
}

async fn listed_services(url: &str) -> Vec<String> {
    match reflect(url, MessageRequest::ListServices(String::new())).await {
        Some(MessageResponse::ListServicesResponse(list)) => list.service.iter().map(|s| s.name.clone()).collect(),
        other => panic!("expected a service list, got {other:?}"),
    }
}

/// The files reflection at `url` returns for `symbol`, or the gRPC code of its error answer.
async fn file_containing(url: &str, symbol: &str) -> Result<Vec<FileDescriptorProto>, i32> {
    match reflect(url, MessageRequest::FileContainingSymbol(symbol.into())).await {
        Some(MessageResponse::FileDescriptorResponse(files)) => Ok(files
            .file_descriptor_proto
            .iter()
            .map(|bytes| FileDescriptorProto::decode_from_slice(bytes).expect("a file descriptor"))
            .collect()),
        Some(MessageResponse::ErrorResponse(error)) => Err(error.error_code),
        other => panic!("expected files or an error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_bffs_reflection_describes_what_it_routes_and_nothing_internal() {
    let platform = TestPlatform::start().await;
    let bff = platform.bff_url();
    const NOT_FOUND: i32 = 5;
    assert_eq!(file_containing(&bff, "user.v1.CredentialService").await.err(), Some(NOT_FOUND));
    assert_eq!(file_containing(&bff, "user.v1.CredentialService.VerifyPassword").await.err(), Some(NOT_FOUND));

    let files = file_containing(&bff, "product.v1.InventoryService").await.unwrap();
    let file = files
        .iter()
        .find(|f| f.service.iter().any(|s| s.name.as_deref() == Some("InventoryService")))
        .expect("the inventory file");
    let methods: Vec<&str> = file.service[0].method.iter().map(|m| m.name.as_deref().unwrap()).collect();
    assert_eq!(
        methods,
        ["GetInventory", "ListLowStock", "UpdateInventory", "AdjustInventory"],
        "the reservations are not described"
    );
    let comments: Vec<(Vec<i32>, String)> = file
        .source_code_info
        .as_option()
        .map(|info| {
            info.location.iter().map(|l| (l.path.clone(), l.leading_comments.clone().unwrap_or_default())).collect()
        })
        .unwrap_or_default();
    let comment = |path: &[i32]| comments.iter().find(|(p, _)| p == path).map(|(_, c)| c.clone()).unwrap_or_default();
    assert!(comment(&[6, 0, 2, 3]).contains("AdjustInventory"), "comments stay with their methods");
    assert!(
        comments.iter().all(|(path, _)| path.len() < 4 || path[..3] != [6, 0, 2] || path[3] < 4),
        "no comment of a removed method is left"
    );

    // A service's own port still describes its internal RPCs, for the components that call them.
    let user = platform.url_of(platform.addresses.user);
    assert!(file_containing(&user, "user.v1.CredentialService").await.is_ok());
    platform.stop().await;
}

#[tokio::test]
async fn reflection_can_be_switched_off_on_every_port() {
    let platform = TestPlatform::start_with(|config| config.serving.reflection.off = true).await;
    let a = platform.addresses.clone();
    for (name, addr) in [("bff", a.bff), ("user", a.user), ("product", a.product), ("order", a.order)] {
        let (connection, config) = grpc_config(&platform.url_of(addr));
        let client = ServerReflectionClient::new(connection, config);
        let answer = match client.server_reflection_info().await {
            Ok(mut stream) => {
                let request = ServerReflectionRequest {
                    message_request: Some(MessageRequest::ListServices(String::new())),
                    ..Default::default()
                };
                let _ = stream.send(request).await;
                stream.close_send();
                stream.message().await.map(|_| ())
            }
            Err(e) => Err(e),
        };
        assert_eq!(answer.map_err(|e| e.code), Err(ErrorCode::Unimplemented), "{name}");
        assert_eq!(health(&platform.url_of(addr), "").await.unwrap(), ServingStatus::SERVING, "{name} still serves");
    }
    platform.stop().await;
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
                "webhook.v1.WebhookService",
                "product.v1.ProductService",
                "product.v1.InventoryService",
                "order.v1.CartService",
                "order.v1.OrderService",
            ],
        ),
        ("user", a.user, vec!["user.v1.UserService", "user.v1.CredentialService", "webhook.v1.WebhookService"]),
        ("product", a.product, vec!["product.v1.ProductService", "product.v1.InventoryService"]),
        ("order", a.order, vec!["order.v1.CartService", "order.v1.OrderService"]),
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
        "/product.v1.InventoryService/RestockReservation",
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
