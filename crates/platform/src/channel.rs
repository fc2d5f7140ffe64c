//! Calling another component's RPCs: a [`Channel`] to it.
//!
//! A service in another process is reached over one lazily connected h2c connection: it connects on first use
//! and reconnects after a drop, so a caller starts even while the service it calls is still starting.
//!
//! A service served by this same process (`ec dev` runs every service in one) is called in process instead:
//! [`InProcess`] lists the servers of the process by the address they listen on, and a channel to one of those
//! addresses hands each request to that server's router as a value. The call is the same gRPC request, with
//! the same headers (the internal credential, `grpc-timeout`), through the same router, layers and handlers,
//! with the same deadline on both sides; only the loopback socket, its HTTP/2 framing and the task switches at
//! both ends are left out, about a ninth of the `ec` process's CPU time in a checkout (docs/performance.md,
//! "In-process calls").

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
};

use connectrpc::{
    ConnectError,
    client::{BoxFuture, ClientBody, ClientTransport, Http2Connection, ServiceTransport, SharedHttp2Connection},
};

use tracing::Instrument;

use crate::server::{Server, connectable};

/// How many calls may queue on one connection before callers wait.
const CONNECTION_QUEUE: usize = 1024;

/// A URL a channel cannot be made to: not a plain `http://host:port` address (TLS between components is not
/// supported yet).
#[derive(Debug, thiserror::Error)]
#[error("{0} must look like http://host:port")]
pub struct ChannelUrlError(pub http::Uri);

/// The RPC servers of this process, by the address each listens on.
#[derive(Clone, Debug, Default)]
pub struct InProcess(Arc<RwLock<HashMap<String, axum::Router>>>);

impl InProcess {
    /// From now on, channels made to `server`'s address call it in process.
    pub fn add(&self, server: &Server) {
        let authority = connectable(server.local_addr()).to_string();
        self.0.write().expect("the list of servers is never left half-written").insert(authority, server.router());
    }

    fn find(&self, addr: &str) -> Option<axum::Router> {
        self.0.read().expect("the list of servers is never left half-written").get(addr).cloned()
    }
}

/// A channel to one component's RPCs, over the network or in process; a [`ClientTransport`] for the
/// generated clients and `call_unary`.
#[derive(Clone)]
pub struct Channel {
    kind: Kind,
    /// The address the channel goes to, as the clients' base URL.
    url: http::Uri,
}

#[derive(Clone)]
enum Kind {
    Remote(SharedHttp2Connection),
    InProcess(ServiceTransport<axum::Router>),
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Remote(_) => "remote",
            Kind::InProcess(_) => "in process",
        };
        f.debug_struct("Channel").field("url", &self.url).field("kind", &kind).finish()
    }
}

impl Channel {
    /// A channel to the component at `url`: in process when `local` has a server there, otherwise a
    /// connection made on the first call.
    pub fn to(url: &http::Uri, local: &InProcess) -> Result<Self, ChannelUrlError> {
        if url.scheme_str() != Some("http") || url.host().is_none() {
            return Err(ChannelUrlError(url.clone()));
        }
        let served_here = url.authority().and_then(|authority| local.find(authority.as_str()));
        let kind = match served_here {
            Some(router) => Kind::InProcess(ServiceTransport::new(router)),
            None => Kind::Remote(Http2Connection::lazy_plaintext(url.clone()).shared(CONNECTION_QUEUE)),
        };
        Ok(Self { kind, url: url.clone() })
    }

    /// The component's address, the base URL of clients on this channel.
    pub fn url(&self) -> &http::Uri {
        &self.url
    }

    /// Whether calls stay in this process.
    pub fn is_in_process(&self) -> bool {
        matches!(self.kind, Kind::InProcess(_))
    }
}

impl ClientTransport for Channel {
    type ResponseBody = axum::body::Body;
    type Error = ConnectError;

    fn send(
        &self,
        mut request: http::Request<ClientBody>,
    ) -> BoxFuture<'static, Result<http::Response<Self::ResponseBody>, ConnectError>> {
        // The call is a client span of the caller's trace, which the callee continues (`traceparent`).
        let span = crate::telemetry::outgoing(&mut request);
        match &self.kind {
            Kind::Remote(connection) => {
                let sent = connection.send(request);
                Box::pin(async move { Ok(sent.await?.map(axum::body::Body::new)) }.instrument(span))
            }
            Kind::InProcess(router) => {
                let sent = router.send(request);
                Box::pin(async move { sent.await.map_err(|never| match never {}) }.instrument(span))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use connectrpc::client::{CallOptions, ClientConfig};
    use connectrpc_health::{
        HealthClient,
        wire::{HealthCheckRequest, ServingStatus},
    };

    use super::*;
    use crate::server::Reflection;

    fn url(addr: std::net::SocketAddr) -> http::Uri {
        format!("http://{addr}").parse().unwrap()
    }

    async fn health_of(channel: Channel) -> Result<Option<ServingStatus>, ConnectError> {
        let config = ClientConfig::new(channel.url().clone()).with_protocol(connectrpc::Protocol::Grpc);
        let client = HealthClient::new(channel, config);
        let request = HealthCheckRequest { service: "test.v1.Test".into(), ..Default::default() };
        let answer = client.check_with_options(request, CallOptions::default().with_timeout(Duration::from_secs(1)));
        Ok(answer.await?.into_owned().status.as_known())
    }

    #[tokio::test]
    async fn a_server_of_this_process_is_called_in_process_with_the_whole_grpc_request() {
        // Bound, never served: only an in-process call can reach it.
        let server = Server::bind(
            "test",
            "127.0.0.1:0".parse().unwrap(),
            connectrpc::Router::new(),
            &["test.v1.Test"],
            Reflection::Off,
        )
        .await
        .unwrap();
        let local = InProcess::default();
        let before = Channel::to(&url(server.local_addr()), &local).unwrap();
        local.add(&server);
        let channel = Channel::to(&url(server.local_addr()), &local).unwrap();

        assert!(channel.is_in_process() && !before.is_in_process());
        assert_eq!(health_of(channel).await.unwrap(), Some(ServingStatus::SERVING));
        // The same server over the network: connected, but never answered, so the deadline ends the call.
        let over_the_network = health_of(before).await.unwrap_err();
        assert_eq!(over_the_network.code, connectrpc::ErrorCode::DeadlineExceeded, "{over_the_network}");
    }

    #[tokio::test]
    async fn only_plain_http_addresses_make_a_channel() {
        let local = InProcess::default();
        for bad in ["https://localhost:1", "grpc://localhost:1", "/relative"] {
            assert!(Channel::to(&bad.parse().unwrap(), &local).is_err(), "{bad}");
        }
        assert!(!Channel::to(&"http://localhost:1".parse().unwrap(), &local).unwrap().is_in_process());
    }
}
