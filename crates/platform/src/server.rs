//! Serving a connectrpc router (or a plain HTTP app).
//!
//! [`Server::bind`] mounts a service's connectrpc router together with the standard `grpc.health.v1.Health`
//! service (what Kubernetes `grpc:` probes and `grpc_health_probe` call) and gRPC server reflection (what
//! `grpcurl`, `buf curl` and Postman use to discover the API), and serves all of it on one port with axum:
//! HTTP/1.1 and h2c, so Connect, gRPC-Web and gRPC clients all reach it.
//!
//! Reflection describes the API's descriptors by default ([`Reflection::Api`]); the BFF passes only what it
//! routes ([`Reflection::Descriptors`]), and an operator can switch it off everywhere (`--no-reflection`,
//! [`Reflection::Off`]) when clients have the contract from elsewhere.
//!
//! Shutdown: when the token fires, health flips to NOT_SERVING, the listener stops accepting, in-flight
//! requests get the grace period to finish, and whatever is still open after that is dropped.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use connectrpc_health::StaticChecker;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{connections::ConnectionLimits, telemetry::RpcTelemetry};

/// Errors from binding or serving.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (in use, or not ours).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Accepting or serving connections failed.
    #[error("server failed")]
    Serve(#[source] std::io::Error),
    /// The API descriptor set could not be loaded for reflection (a build problem).
    #[error("cannot load the API descriptors for reflection")]
    Reflection(#[from] connectrpc_reflection::ReflectionError),
}

/// What gRPC server reflection describes on a port.
#[derive(Clone, Debug, Default)]
pub enum Reflection {
    /// Not served at all.
    Off,
    /// Every file of the API (`ec_proto::FILE_DESCRIPTOR_SET`): a service's own port.
    #[default]
    Api,
    /// This encoded `FileDescriptorSet` only: the BFF's, holding just the procedures it routes.
    Descriptors(Vec<u8>),
}

/// Whether to serve reflection at all; an `ec serve` and `ec dev` flag.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ReflectionArgs {
    /// Do not serve gRPC server reflection on any port (for production, when clients have the contract).
    #[arg(id = "no_reflection", long = "no-reflection", env = "NO_REFLECTION")]
    pub off: bool,
}

impl ReflectionArgs {
    /// `describe` unless reflection is switched off.
    pub fn or_off(&self, describe: Reflection) -> Reflection {
        if self.off { Reflection::Off } else { describe }
    }
}

/// How every port of a process serves: reflection, and the connection limits.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ServingArgs {
    #[command(flatten)]
    pub reflection: ReflectionArgs,
    #[command(flatten)]
    pub connections: crate::connections::ConnectionArgs,
}

impl ServingArgs {
    /// The connection limits of a port that only other components reach.
    pub fn limits(&self) -> ConnectionLimits {
        ConnectionLimits::from_args(&self.connections)
    }
}

/// A bound, not yet running, server.
pub struct Server {
    name: &'static str,
    listener: TcpListener,
    app: axum::Router,
    health: Option<Arc<StaticChecker>>,
    limits: ConnectionLimits,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port, as tests do) for a backend service: `router` is served with
    /// health and reflection, every RPC is counted, timed and traced ([`RpcTelemetry`]), and `GET
    /// /metrics` answers beside the RPCs for Prometheus (a backend's port is private: only the BFF, the other
    /// services and Prometheus reach it). `services` are the fully-qualified names of the services `router`
    /// implements; each is reported SERVING by the health service and listed by reflection.
    pub async fn bind(
        name: &'static str,
        addr: SocketAddr,
        router: connectrpc::Router,
        services: &[&str],
        reflection: Reflection,
    ) -> Result<Self, ServerError> {
        let counted = |service: connectrpc::ConnectRpcService| service.with_interceptor(RpcTelemetry::new(name));
        let server = Self::bind_with(name, addr, router, services, reflection, counted).await?;
        Ok(server.with_routes(crate::metrics::route()))
    }

    /// Binds `addr` and prepares `router` to be served with health and reflection, like [`Server::bind`] but
    /// with nothing counted and no `/metrics`, and with the connectrpc service adjusted by `configure`
    /// (request size limits, the deadline policy, interceptors): for a public port, such as the BFF's.
    pub async fn bind_with(
        name: &'static str,
        addr: SocketAddr,
        router: connectrpc::Router,
        services: &[&str],
        reflection: Reflection,
        configure: impl FnOnce(connectrpc::ConnectRpcService) -> connectrpc::ConnectRpcService,
    ) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        let (router, health) = connectrpc_health::install_static(router, services.iter().copied());

        let descriptors = match &reflection {
            Reflection::Off => None,
            Reflection::Api => Some(ec_proto::FILE_DESCRIPTOR_SET),
            Reflection::Descriptors(bytes) => Some(bytes.as_slice()),
        };
        let router = match descriptors {
            None => router,
            Some(descriptors) => {
                let mut reflector = connectrpc_reflection::Reflector::from_descriptor_set_bytes(descriptors)?;
                reflector.add_descriptor_set_bytes(connectrpc_reflection::FILE_DESCRIPTOR_SET)?;
                let advertised = services.iter().map(|s| s.to_string()).chain([
                    connectrpc_health::HEALTH_SERVICE_NAME.to_string(),
                    connectrpc_reflection::SERVER_REFLECTION_SERVICE_NAME.to_string(),
                    connectrpc_reflection::SERVER_REFLECTION_V1ALPHA_SERVICE_NAME.to_string(),
                ]);
                connectrpc_reflection::install(router, reflector.with_services(advertised))
            }
        };

        Ok(Self {
            name,
            listener,
            app: axum::Router::new().fallback_service(configure(router.into_axum_service())),
            health: Some(health),
            limits: ConnectionLimits::default(),
        })
    }

    /// Binds `addr` for a plain HTTP app (such as the login pages), served and stopped like an RPC server.
    pub async fn http(name: &'static str, addr: SocketAddr, app: axum::Router) -> Result<Self, ServerError> {
        let listener = TcpListener::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self { name, listener, app, health: None, limits: ConnectionLimits::default() })
    }

    /// Holds connections to `limits` (timeouts and caps; see [`crate::connections`]).
    pub fn with_connection_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Wraps everything served in `f` (tower layers: CORS, request ids).
    pub fn map_app(mut self, f: impl FnOnce(axum::Router) -> axum::Router) -> Self {
        self.app = f(self.app);
        self
    }

    /// Adds plain HTTP routes (such as the BFF's `/health` and `/ready`) beside the RPC routes.
    pub fn with_routes(mut self, routes: axum::Router) -> Self {
        self.app = routes.merge(self.app);
        self
    }

    /// Everything this server serves, as one router: what an in-process [`crate::channel::Channel`] calls.
    pub fn router(&self) -> axum::Router {
        self.app.clone()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound TCP listener has an address")
    }

    /// Serves until `shutdown` fires, then drains for at most `grace`.
    pub async fn serve(self, shutdown: CancellationToken, grace: Duration) -> Result<(), ServerError> {
        let Self { name, listener, app, health, limits } = self;
        let addr = listener.local_addr().map_err(ServerError::Serve)?;
        tracing::info!(service = name, %addr, "listening");
        if let Some(health) = health {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                shutdown.cancelled().await;
                health.shutdown();
            });
        }
        crate::connections::serve(name, listener, app, limits, shutdown, grace).await.map_err(ServerError::Serve)?;
        tracing::info!(service = name, "stopped");
        Ok(())
    }
}

/// Serves every one of `servers` until `shutdown` fires, then drains each for at most `grace`. If one fails,
/// the others are stopped too and its error is returned.
pub async fn serve_all(
    servers: impl IntoIterator<Item = Server>,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<(), ServerError> {
    let mut tasks = tokio::task::JoinSet::new();
    for server in servers {
        tasks.spawn(server.serve(shutdown.clone(), grace));
    }
    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let result = joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()));
        if let Err(e) = result {
            shutdown.cancel();
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// An address a client can dial: a server bound to 0.0.0.0 or [::] is reached on loopback.
pub fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port())),
        other => other,
    }
}
