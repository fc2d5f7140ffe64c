//! Graceful shutdown: what is in flight when the signal comes finishes; nothing new starts.

use std::time::Duration;

use ec_e2e::TestPlatform;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_request_in_flight_when_shutdown_begins_still_completes_through_the_bff() {
    let platform = TestPlatform::start().await;
    let bff = platform.addresses.bff;

    // A client that has sent its headers and half its body when the signal comes.
    let body = r#"{"email":"drain@example.com","password":"correct horse"}"#;
    let (first_half, second_half) = body.split_at(body.len() / 2);
    let mut socket = tokio::net::TcpStream::connect(bff).await.unwrap();
    let head = format!(
        "POST /user.v1.UserService/CreateUser HTTP/1.1\r\nHost: {bff}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(first_half.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    platform.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // New connections are no longer served...
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        let mut fresh = tokio::net::TcpStream::connect(bff).await?;
        fresh.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await?;
        let mut buf = [0u8; 1];
        fresh.read(&mut buf).await
    })
    .await;
    assert!(!matches!(refused, Ok(Ok(n)) if n > 0), "a connection made after shutdown began was served");

    // ...but the request already in flight is finished, backend call included.
    socket.write_all(second_half.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_string(&mut response))
        .await
        .expect("the in-flight request is answered before the grace period ends")
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("drain@example.com"), "{response}");

    platform.stop().await;
}
