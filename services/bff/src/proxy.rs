//! The backend services, and forwarding one call to them.
//!
//! Each backend is one [`Channel`] speaking gRPC ([`Backend`]): a lazily connected h2c connection that
//! connects on first use and reconnects after a drop, so the BFF starts even while a backend is still starting;
//! or, when the backend runs in the BFF's own process (`ec dev`), calls handed to it in process.
//! [`Backend::forward`] sends a request with the generated message types the BFF decoded it into (the same
//! types on both sides, so a forward moves the message and never converts it). The backend's answer is passed
//! on as the bytes it came in: a binary client (gRPC, gRPC-Web, Connect proto) gets them as they are, with no
//! decoding and encoding in between; only a JSON client's answer is decoded, to be written as JSON.

use connectrpc::{
    ConnectError, HasMessageView, JsonDeserialize, JsonSerialize, PreEncoded, Spec, SpecOrigin,
    client::{CallOptions, ClientConfig, call_unary},
};
use connectrpc_health::HealthClient;
use ec_platform::channel::Channel;

use crate::error::BffError;

/// One backend service, reached over a [`Channel`] speaking gRPC.
#[derive(Clone)]
pub struct Backend {
    /// How readiness and logs name it (`user`, `product`, `order`).
    pub name: &'static str,
    channel: Channel,
    config: ClientConfig,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Backend {
    /// The backend `name` on `channel`. Nothing is connected yet.
    pub fn new(name: &'static str, channel: Channel) -> Self {
        let config = ClientConfig::new(channel.url().clone()).with_protocol(connectrpc::Protocol::Grpc);
        Self { name, channel, config }
    }

    /// A client of the backend's `grpc.health.v1.Health` service, on the same channel.
    pub fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel.clone(), self.config.clone())
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
        let answer = call_unary::<_, Req, Res::View<'static>>(&self.channel, &self.config, spec, request, options)
            .await
            .map_err(|e: ConnectError| BffError::Backend(e))?;
        let (_, body, _) = answer.into_parts();
        Ok(PreEncoded::from_bytes_unchecked(body.bytes().clone()))
    }
}
