//! The backend services, and forwarding one call to them.
//!
//! Each backend is one lazily connected h2c connection speaking gRPC ([`Backend`]): it connects on first use
//! and reconnects after a drop, so the BFF starts even while a backend is still starting.
//! [`Backend::forward`] sends a request with the generated message types the BFF decoded it into (the same
//! types on both sides, so a forward moves the message and never converts it). The backend's answer is passed
//! on as the bytes it came in: a binary client (gRPC, gRPC-Web, Connect proto) gets them as they are, with no
//! decoding and encoding in between; only a JSON client's answer is decoded, to be written as JSON.

use connectrpc::{
    ConnectError, HasMessageView, JsonDeserialize, JsonSerialize, PreEncoded, Spec, SpecOrigin,
    client::{CallOptions, ClientConfig, Http2Connection, SharedHttp2Connection, call_unary},
};
use connectrpc_health::HealthClient;

use crate::error::BffError;

/// How many calls may queue for one backend connection before callers wait.
const CONNECTION_QUEUE: usize = 1024;

/// A backend URL that is not a plain `http://host:port` address (TLS to backends is not supported yet).
#[derive(Debug, thiserror::Error)]
#[error("backend URL {0} must look like http://host:port")]
pub struct BackendUrlError(http::Uri);

/// One backend service process, reached over an h2c connection speaking gRPC.
#[derive(Clone)]
pub struct Backend {
    /// How readiness and logs name it (`user`, `product`, `order`).
    pub name: &'static str,
    connection: SharedHttp2Connection,
    config: ClientConfig,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Backend {
    /// The backend `name` at `url`. Nothing is connected yet.
    pub fn new(name: &'static str, url: &http::Uri) -> Result<Self, BackendUrlError> {
        if url.scheme_str() != Some("http") || url.host().is_none() {
            return Err(BackendUrlError(url.clone()));
        }
        let connection = Http2Connection::lazy_plaintext(url.clone()).shared(CONNECTION_QUEUE);
        let config = ClientConfig::new(url.clone()).with_protocol(connectrpc::Protocol::Grpc);
        Ok(Self { name, connection, config })
    }

    /// A client of the backend's `grpc.health.v1.Health` service, on the same connection.
    pub fn health(&self) -> HealthClient<SharedHttp2Connection> {
        HealthClient::new(self.connection.clone(), self.config.clone())
    }

    /// Calls the unary RPC `spec` with `request` and returns the backend's answer, still encoded (it was
    /// decoded once, so it is known to be a valid `Res`). An error answer comes back as
    /// [`BffError::Backend`], which passes it on, or hides its detail when it was no proper answer.
    pub async fn forward<Req, Res>(
        &self,
        spec: Spec,
        request: Req,
        options: CallOptions,
    ) -> Result<PreEncoded<Res>, BffError>
    where
        Req: buffa::Message + JsonSerialize,
        Res: HasMessageView + JsonDeserialize,
        for<'a> Res::View<'a>: Send,
    {
        let spec = spec.with_origin(SpecOrigin::Client);
        let answer = call_unary::<_, Req, Res::View<'static>>(&self.connection, &self.config, spec, request, options)
            .await
            .map_err(|e: ConnectError| BffError::Backend(e))?;
        let (_, body, _) = answer.into_parts();
        Ok(PreEncoded::from_bytes_unchecked(body.bytes().clone()))
    }
}
