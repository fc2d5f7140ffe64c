//! A compressed request is bounded by what it expands to, not only by what it weighs on the wire: a small gzip
//! body that inflates to megabytes (a decompression bomb) is refused in every protocol before it is decoded,
//! and nothing reaches a service.

use std::io::Write;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use buffa::Message;
use ec_e2e::{TestPlatform, answer};
use ec_proto::user::v1::CreateUserRequest;
use serde_json::json;

const CREATE_USER: &str = "/user.v1.UserService/CreateUser";

/// Three MiB of one letter: twelve times the BFF's request limit once inflated (and under connectrpc's own
/// 4 MiB default, which is what let it through before), a few KiB compressed.
fn inflated() -> String {
    "x".repeat(3 * 1024 * 1024)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).unwrap();
    let compressed = encoder.finish().unwrap();
    assert!(compressed.len() < 64 * 1024, "a bomb is small on the wire: {} bytes", compressed.len());
    compressed
}

/// A gRPC or gRPC-Web frame holding a compressed message.
fn compressed_frame(message: &[u8]) -> Vec<u8> {
    let compressed = gzip(message);
    let mut frame = vec![1u8];
    frame.extend_from_slice(&(compressed.len() as u32).to_be_bytes());
    frame.extend_from_slice(&compressed);
    frame
}

fn bomb_message() -> Vec<u8> {
    CreateUserRequest { email: "bomb@example.com".into(), password: inflated(), ..Default::default() }.encode_to_vec()
}

async fn stored_users(platform: &TestPlatform) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM user_service.users").fetch_one(&platform.database.pool).await.unwrap()
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_in_connect_grpc_web_and_grpc() {
    let platform = TestPlatform::start().await;

    // Connect, unary POST with Content-Encoding.
    let body = json!({"email": "bomb@example.com", "password": inflated()}).to_string();
    let request = platform.post(CREATE_USER).header("content-encoding", "gzip").body(gzip(body.as_bytes()));
    let (status, error) = answer(request).await;
    assert_eq!((status, error["code"].as_str()), (429, Some("resource_exhausted")), "Connect POST: {error}");

    // Connect GET with compression=gzip (a read marked NO_SIDE_EFFECTS): refused before the gate even looks.
    let message = json!({"id": inflated()}).to_string();
    let query = [
        ("encoding", "json".to_owned()),
        ("compression", "gzip".to_owned()),
        ("base64", "1".to_owned()),
        ("connect", "v1".to_owned()),
        ("message", URL_SAFE_NO_PAD.encode(gzip(message.as_bytes()))),
    ];
    let request =
        reqwest::Client::new().get(format!("{}/user.v1.UserService/GetUser", platform.bff_url())).query(&query);
    let (status, error) = answer(request).await;
    assert_eq!((status, error["code"].as_str()), (429, Some("resource_exhausted")), "Connect GET: {error}");

    // gRPC over h2c, the message compressed inside its frame.
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let response = h2
        .post(format!("{}{CREATE_USER}", platform.bff_url()))
        .header("content-type", "application/grpc")
        .header("grpc-encoding", "gzip")
        .header("te", "trailers")
        .body(compressed_frame(&bomb_message()))
        .send()
        .await
        .unwrap();
    let trailers_or_headers = format!("{:?}", response.headers());
    let status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_else(|| "in trailers".to_owned());
    // reqwest does not expose trailers; a trailers-only error answer puts grpc-status in the headers.
    assert_eq!(status, "8", "gRPC (RESOURCE_EXHAUSTED): {trailers_or_headers}");

    // gRPC-Web over HTTP/1.1: the status comes in the body's trailer frame.
    let response = reqwest::Client::new()
        .post(format!("{}{CREATE_USER}", platform.bff_url()))
        .header("content-type", "application/grpc-web+proto")
        .header("grpc-encoding", "gzip")
        .body(compressed_frame(&bomb_message()))
        .send()
        .await
        .unwrap();
    let headers = format!("{:?}", response.headers());
    let in_headers = response.headers().get("grpc-status").map(|v| v.to_str().unwrap().to_owned());
    let body = response.bytes().await.unwrap();
    let status = in_headers.unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    let exhausted = status == "8" || status.contains("grpc-status:8") || status.contains("grpc-status: 8");
    assert!(exhausted, "gRPC-Web (RESOURCE_EXHAUSTED): {headers} {status}");

    assert_eq!(stored_users(&platform).await, 0, "nothing reached the user service");
    platform.stop().await;
}
