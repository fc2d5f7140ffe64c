//! Clients that hold connections without finishing requests: a request head trickled one line at a time
//! (slowloris), a connection opened and left silent, a body that never completes, and more sockets from one
//! address than any real client needs. Each is cut off, through the real BFF, with raw sockets.

use std::{net::SocketAddr, time::Duration};

use ec_e2e::TestPlatform;
use ec_testing::eventually;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};

/// How long any of these may take to be cut off, with the one-second limits below: generous, so a busy
/// machine does not fail the test; the point is that the connection does not stay open.
const CUT_OFF_WITHIN: Duration = Duration::from_secs(10);

async fn tight() -> TestPlatform {
    TestPlatform::start_with(|config| {
        let connections = &mut config.serving.connections;
        connections.header_read_timeout_secs = 1;
        connections.idle_timeout_secs = 1;
        connections.body_read_timeout_secs = 1;
        connections.max_connections_per_ip = 3;
    })
    .await
}

fn bff(platform: &TestPlatform) -> SocketAddr {
    ec_platform::server::connectable(platform.addresses.bff)
}

/// Reads until the server closes the connection (or resets it); `Err` if it is still open after `within`.
/// Whatever the server answered before closing is returned.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> Result<String, String> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    let seen = String::from_utf8_lossy(&seen).into_owned();
    read.map(|()| seen.clone()).map_err(|_| format!("still open after {within:?}; read {seen:?}"))
}

#[tokio::test]
async fn a_request_head_trickled_slowly_is_cut_off() {
    let platform = tight().await;
    let mut stream = TcpStream::connect(bff(&platform)).await.unwrap();
    stream.write_all(b"POST /user.v1.UserService/CreateUser HTTP/1.1\r\nHost: shop\r\n").await.unwrap();
    // One header line every 300 ms, never the blank line that ends the head: each write is activity, so only
    // the head's own deadline can end this.
    let trickle = async {
        for i in 0..40 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if stream.write_all(format!("X-Slow-{i}: x\r\n").as_bytes()).await.is_err() {
                return true;
            }
        }
        false
    };
    let cut_off = tokio::time::timeout(CUT_OFF_WITHIN, trickle).await.unwrap_or(false);
    assert!(cut_off, "the server kept reading a head that never ends");
    platform.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let platform = tight().await;
    let mut stream = TcpStream::connect(bff(&platform)).await.unwrap();
    closed_by_server(&mut stream, CUT_OFF_WITHIN).await.unwrap();
    platform.stop().await;
}

#[tokio::test]
async fn a_body_that_never_completes_does_not_hold_the_request() {
    let platform = tight().await;
    let mut stream = TcpStream::connect(bff(&platform)).await.unwrap();
    let head = "POST /user.v1.UserService/CreateUser HTTP/1.1\r\nHost: shop\r\nContent-Type: application/json\r\n\
                Content-Length: 1000\r\n\r\n{\"email\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = closed_by_server(&mut stream, CUT_OFF_WITHIN).await.unwrap();
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    platform.stop().await;
}

/// A socket to `to` from the loopback address `from` (Linux routes all of 127.0.0.0/8 to loopback), so one
/// machine can act as several clients.
async fn connect_from(from: [u8; 4], to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let platform = TestPlatform::start_with(|config| config.serving.connections.max_connections_per_ip = 3).await;
    let to = bff(&platform);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = connect_from([127, 0, 0, 2], to).await;
        // Each is a live connection: it answers a request.
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: shop\r\n\r\n").await.unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 200");
        held.push(stream);
    }
    let mut fourth = connect_from([127, 0, 0, 2], to).await;
    let _ = fourth.write_all(b"GET /health HTTP/1.1\r\nHost: shop\r\n\r\n").await;
    let answer = closed_by_server(&mut fourth, CUT_OFF_WITHIN).await.unwrap();
    assert!(answer.is_empty(), "the fourth connection is closed unanswered: {answer}");

    // Another address is another client.
    let mut other = connect_from([127, 0, 0, 3], to).await;
    other.write_all(b"GET /health HTTP/1.1\r\nHost: shop\r\n\r\n").await.unwrap();
    let mut answer = [0u8; 12];
    other.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");

    // A slot comes back when a connection ends.
    drop(held.pop());
    let again = eventually("a connection from the same address to be answered", Duration::from_secs(5), || async {
        let mut stream = connect_from([127, 0, 0, 2], to).await;
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: shop\r\n\r\n").await.unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).await.map(|_| answer)
    })
    .await;
    assert_eq!(&again, b"HTTP/1.1 200");

    let metrics = reqwest::get(format!("{}/metrics", platform.ops_url())).await.unwrap().text().await.unwrap();
    assert!(
        metrics.lines().any(|l| l.starts_with("ec_connections_closed_total{")
            && l.contains("reason=\"max_connections_per_ip\"")
            && l.contains("server=\"bff\"")),
        "{metrics}"
    );
    platform.stop().await;
}
