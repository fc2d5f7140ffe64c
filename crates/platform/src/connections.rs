//! Accepting connections without letting a client keep them: every port's accept loop.
//!
//! A server that only answers requests can still be starved by clients that never finish one: a request head
//! sent one byte every few seconds (slowloris), a body that never completes, a connection opened and left
//! silent, thousands of sockets from one address. So every connection is held to [`ConnectionLimits`]:
//!
//! - the HTTP/1.1 request head must arrive within `header_read_timeout` (hyper's own check);
//! - a request body must arrive within `body_read_timeout` (a layer around the app);
//! - a connection on which nothing is read or written for `idle_timeout` is closed, gracefully (a request in
//!   flight finishes; the BFF's deadline cap keeps requests shorter than this);
//! - at most `max_connections` are open on a port at once, and at most `max_connections_per_ip` from one
//!   client address where that is set (the BFF's public port; trusted proxies, which carry many clients, are
//!   exempt). A connection past a cap is closed as soon as it is accepted.
//!
//! Open connections are the gauge `ec_open_connections{server}`; closed ones are counted by reason in
//! `ec_connections_closed_total{server, reason}` (`max_connections`, `max_connections_per_ip`, `idle`).
//! The limits are flags with environment fallbacks ([`ConnectionArgs`]).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::Semaphore,
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;

/// The connection limits, as flags with environment fallbacks (`ec serve --help`).
#[derive(Clone, Debug, clap::Args)]
pub struct ConnectionArgs {
    /// Seconds a client has to send a request's head (HTTP/1.1) before its connection is closed.
    #[arg(
        id = "header_read_timeout_secs",
        long = "header-read-timeout-secs",
        env = "HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub header_read_timeout_secs: u64,

    /// Seconds a client has to send a request's body before the request fails.
    #[arg(
        id = "body_read_timeout_secs",
        long = "body-read-timeout-secs",
        env = "BODY_READ_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub body_read_timeout_secs: u64,

    /// Seconds a connection may stay silent (nothing read or written) before it is closed.
    #[arg(id = "idle_timeout_secs", long = "idle-timeout-secs", env = "IDLE_TIMEOUT_SECS", default_value_t = 120)]
    pub idle_timeout_secs: u64,

    /// Most connections a port keeps open at once; a connection past it is closed at once.
    #[arg(id = "max_connections", long = "max-connections", env = "MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Most connections one client IP may keep open to the BFF's public port (trusted proxies are exempt).
    #[arg(
        id = "max_connections_per_ip",
        long = "max-connections-per-ip",
        env = "MAX_CONNECTIONS_PER_IP",
        default_value_t = 256
    )]
    pub max_connections_per_ip: usize,
}

impl Default for ConnectionArgs {
    fn default() -> Self {
        crate::config::defaults()
    }
}

/// What one port holds its connections to.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    /// `None`: no per-address cap (ports that only other components reach).
    pub max_connections_per_ip: Option<usize>,
    /// Peers the per-address cap does not apply to: proxies that carry many clients' connections.
    pub exempt: Vec<ipnet::IpNet>,
}

impl ConnectionLimits {
    /// The limits `args` configure, without a per-address cap.
    pub fn from_args(args: &ConnectionArgs) -> Self {
        Self {
            header_read_timeout: Duration::from_secs(args.header_read_timeout_secs),
            body_read_timeout: Duration::from_secs(args.body_read_timeout_secs),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
            max_connections: args.max_connections,
            max_connections_per_ip: None,
            exempt: Vec::new(),
        }
    }

    /// With the per-address cap of `args`, trusted proxies exempt (a public port).
    pub fn per_client(mut self, args: &ConnectionArgs, exempt: Vec<ipnet::IpNet>) -> Self {
        self.max_connections_per_ip = Some(args.max_connections_per_ip);
        self.exempt = exempt;
        self
    }
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self::from_args(&ConnectionArgs::default())
    }
}

/// Counts each client address's open connections; a [`PerIpPermit`] gives its slot back when dropped.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

struct PerIpPermit {
    counts: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    /// A slot for the client at `ip` (an IPv6 client by its /64, [`crate::net::client_net`]), if it has fewer
    /// than `max` connections open.
    fn try_acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PerIpPermit> {
        let ip = crate::net::client_net(ip);
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(PerIpPermit { counts: self.clone(), ip })
    }
}

impl Drop for PerIpPermit {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// A socket that remembers when it last read or wrote anything.
struct Tracked {
    inner: TcpStream,
    started: Instant,
    last: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        self.last.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn closed(server: &'static str, reason: &'static str) {
    metrics::counter!("ec_connections_closed_total", "server" => server, "reason" => reason).increment(1);
}

/// Serves `app` on `listener` under `limits` until `shutdown` fires; then stops accepting, lets every
/// connection finish its requests in flight for at most `grace`, and closes what is still open.
pub async fn serve(
    server: &'static str,
    listener: TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    shutdown: CancellationToken,
    grace: Duration,
) -> std::io::Result<()> {
    let app = app.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.body_read_timeout));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let open = metrics::gauge!("ec_open_connections", "server" => server);
    let mut connections = JoinSet::new();

    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(e) => {
                    tracing::warn!(server, error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            closed(server, "max_connections");
            continue;
        };
        let ip_slot = match limits.max_connections_per_ip {
            Some(max) if !limits.exempt.iter().any(|net| net.contains(&peer.ip())) => {
                match per_ip.try_acquire(peer.ip(), max) {
                    Some(permit) => Some(permit),
                    None => {
                        closed(server, "max_connections_per_ip");
                        continue;
                    }
                }
            }
            _ => None,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            // RPC answers are small writes that must leave at once, not wait for the previous one's ACK.
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        open.increment(1.0);
        let open = open.clone();
        let connection = Connection {
            server,
            tcp,
            peer,
            app: app.clone(),
            builder: builder.clone(),
            idle_timeout: limits.idle_timeout,
            shutdown: shutdown.clone(),
        };
        connections.spawn(async move {
            connection.run().await;
            open.decrement(1.0);
            drop((slot, ip_slot));
        });
    }

    // Stop accepting; every connection finishes what it has in flight, within the grace period.
    drop(listener);
    let drained = tokio::time::timeout(grace, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(server, ?grace, "grace period over; closing open connections");
        connections.shutdown().await;
    }
    Ok(())
}

/// One accepted connection and what it needs.
struct Connection {
    server: &'static str,
    tcp: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    idle_timeout: Duration,
    shutdown: CancellationToken,
}

impl Connection {
    async fn run(self) {
        let Self { server, tcp, peer, app, builder, idle_timeout, shutdown } = self;
        let last = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let io = TokioIo::new(Tracked { inner: tcp, started, last: last.clone() });
        // Handlers read the peer address through axum's `ConnectInfo` and connectrpc's `PeerAddr`.
        let service = tower::ServiceExt::map_request(app, move |mut request: http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            request.extensions_mut().insert(connectrpc::server::PeerAddr(peer));
            request
        });
        let connection = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
        tokio::pin!(connection);
        let check_every = (idle_timeout / 4).max(Duration::from_millis(50));
        let mut closing = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(server, %peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = shutdown.cancelled(), if !closing => {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep(check_every), if !closing => {
                    let silent_for = started.elapsed().saturating_sub(Duration::from_millis(last.load(Ordering::Relaxed)));
                    if silent_for >= idle_timeout {
                        closing = true;
                        closed(server, "idle");
                        connection.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_per_client_cap_counts_an_ipv6_client_by_its_slash_64() {
        let per_ip = Arc::new(PerIp::default());
        let host = |last: &str| format!("2001:db8:1:2::{last}").parse::<IpAddr>().unwrap();
        let held: Vec<_> = ["1", "2", "ffff"].iter().map(|last| per_ip.try_acquire(host(last), 3).unwrap()).collect();
        assert!(per_ip.try_acquire(host("abcd"), 3).is_none(), "another address in the same /64 is the same client");
        assert!(per_ip.try_acquire("2001:db8:1:3::1".parse().unwrap(), 3).is_some(), "the next /64 is another");
        assert!(per_ip.try_acquire("192.0.2.1".parse().unwrap(), 3).is_some());
        drop(held);
        assert!(per_ip.try_acquire(host("abcd"), 3).is_some(), "slots come back");
    }
}
