//! Building the BFF: its [`Application`].

use std::{sync::Arc, time::Duration};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderName, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
};
use connectrpc_health::{wire::HealthCheckRequest, wire::ServingStatus};
use ec_platform::{
    server::{Reflection, Server, ServerError},
    shutdown::CancellationToken,
    startup::Dependencies,
};
use ec_proto::product::v1::PRODUCT_SERVICE_UPLOAD_PRODUCT_IMAGE_SPEC;
use serde_json::{Map, Value, json};

use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};
use tracing::Instrument;

use crate::{
    auth::Authenticator,
    config::{BffConfig, EdgeConfig},
    gate::{Gate, REQUEST_ID_HEADER},
    jwks::{self, Jwks},
    proxy::Backend,
    ratelimit::{Limit, RateLimiter},
    routes::{self, Backends, Routes},
};

/// Errors building the BFF.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A backend URL is unusable.
    #[error("backend URL {0}")]
    Backend(#[from] ec_platform::channel::ChannelUrlError),
    /// The OIDC settings are unusable.
    #[error("OIDC_ISSUER {0:?} does not give a usable JWKS URL; set OIDC_JWKS_URL")]
    Jwks(String),
    /// The port could not be bound.
    #[error(transparent)]
    Server(#[from] ServerError),
}

/// The BFF, bound and ready to serve: the public port and the operations port.
pub struct Application {
    server: Server,
    ops: Server,
}

struct Readiness {
    gate: Arc<Gate>,
    backends: Backends,
}

impl Application {
    /// Verifies tokens of the configured issuer, routes the [table](routes::table) to the configured
    /// backends (connected lazily), and binds the public port.
    pub async fn build(config: &BffConfig, deps: &Dependencies) -> Result<Self, StartupError> {
        let authenticator = match &config.oidc.issuer {
            Some(issuer) => {
                let url = config.oidc.jwks_url().ok_or_else(|| StartupError::Jwks(issuer.clone()))?;
                let jwks = Jwks::new(
                    url,
                    Duration::from_secs(config.oidc.jwks_cache_secs),
                    Duration::from_secs(config.oidc.jwks_min_refresh_secs),
                    &deps.redis,
                    deps.identity.derive_key(jwks::JWKS_CACHE_PURPOSE),
                );
                Some(Authenticator::new(jwks, issuer.clone(), config.oidc.audience.clone(), config.oidc.leeway_secs))
            }
            None => {
                tracing::warn!("no OIDC_ISSUER: no access token is accepted; only public RPCs work");
                None
            }
        };
        let edge = &config.edge;
        let gate = Arc::new(Gate {
            authenticator,
            revocations: deps.revocations.clone(),
            identity: deps.identity.clone(),
            limiter: RateLimiter::new(&deps.redis),
            anonymous: Limit { per_minute: edge.anonymous_per_minute, burst: edge.anonymous_burst },
            user: Limit { per_minute: edge.user_per_minute, burst: edge.user_burst },
            sign_up: Limit { per_minute: edge.sign_up_per_minute, burst: edge.sign_up_burst },
            media: Limit { per_minute: edge.media_per_minute, burst: edge.media_burst },
            trusted_proxies: edge.trusted_proxies.clone(),
            public_cache_secs: edge.public_cache_secs,
        });
        let backends = Backends {
            user: Backend::new("user", deps.channel(&config.user_service_url)?),
            product: Backend::new("product", deps.channel(&config.product_service_url)?),
            order: Backend::new("order", deps.channel(&config.order_service_url)?),
        };
        let mut routes = Routes::new(gate.clone());
        routes::table(&mut routes, &backends);
        let services = routes.services();

        let (upload_gate, media_gate) = (gate.clone(), gate.clone());
        let readiness = Arc::new(Readiness { gate, backends });
        crate::metrics::describe();
        let operations = axum::Router::new()
            .route("/health", health())
            .route("/ready", get(ready))
            .with_state(readiness)
            .merge(ec_platform::metrics::route());
        let ops =
            Server::http("bff-ops", config.ops_addr, operations).await?.with_connection_limits(deps.serving.limits());
        // Load balancers may check the public port too: it says only that the process is up.
        let public_health = axum::Router::new().route("/health", health());
        // One bound for what a request weighs on the wire and for what it expands to: a small compressed body
        // (Content-Encoding, compression=gzip on a Connect GET, grpc-encoding) must not decode into megabytes.
        let limits = connectrpc::Limits::default()
            .with_max_request_body_size(edge.max_request_bytes)
            .with_max_message_size(edge.max_request_bytes);
        // A picture's bytes come in one message: room for the largest picture, for that one procedure.
        let upload_bytes = ec_platform::media::MAX_PICTURE_BYTES + 64 * 1024;
        let uploads =
            connectrpc::Limits::default().with_max_request_body_size(upload_bytes).with_max_message_size(upload_bytes);
        let deadline = Duration::from_secs(edge.max_deadline_secs);
        let policy = connectrpc::DeadlinePolicy::new().with_max(deadline).with_default_timeout(deadline);
        // Reflection describes what the BFF routes, and nothing internal.
        let reflection = deps.serving.reflection.or_off(Reflection::Descriptors(routes.descriptors()));
        let router =
            routes.into_router().with_route_limits(PRODUCT_SERVICE_UPLOAD_PRODUCT_IMAGE_SPEC.procedure, uploads);
        let server = Server::bind_with("bff", config.addr, router, &services, reflection, |service| {
            service
                .with_limits(limits)
                .with_deadline_policy(policy)
                .with_interceptor(ec_platform::telemetry::RpcTelemetry::edge("bff"))
        })
        .await?;
        // The public port: each client address may hold only so many connections (trusted proxies exempt).
        let limits = deps.serving.limits().per_client(&deps.serving.connections, edge.trusted_proxies.clone());
        let public_routes = match &deps.media {
            Some(store) => public_health.merge(crate::media::routes(store.clone(), media_gate)),
            None => public_health,
        };
        let server = server
            .with_routes(public_routes)
            .map_app(|app| crate::media::guard_uploads(app, upload_gate))
            .map_app(|app| edge_layers(app, edge));
        Ok(Self { server: server.with_connection_limits(limits), ops })
    }

    /// The address the public port is bound to.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// The address the operations port (`/health`, `/ready`, `/metrics`) is bound to.
    pub fn ops_addr(&self) -> std::net::SocketAddr {
        self.ops.local_addr()
    }

    /// Serves both ports until `shutdown` fires, then drains for at most `grace`.
    pub async fn serve(self, shutdown: CancellationToken, grace: Duration) -> Result<(), ServerError> {
        ec_platform::server::serve_all([self.server, self.ops], shutdown, grace).await
    }
}

/// `/health`: the process is up, nothing more.
fn health<S: Clone + Send + Sync + 'static>() -> axum::routing::MethodRouter<S> {
    get(|| async { Json(json!({"status": "ok"})) })
}

/// Request ids (kept when a client sends a sane one, made otherwise; echoed in the response, logged with every
/// line of the request, and passed to the backends) and CORS for the configured origins.
fn edge_layers(app: axum::Router, edge: &EdgeConfig) -> axum::Router {
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let app = app
        .layer(axum::middleware::from_fn(log_with_request_id))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unsafe_request_id));
    let origins: Vec<HeaderValue> = edge.cors_allowed_origins.iter().filter_map(|o| o.parse().ok()).collect();
    if origins.is_empty() {
        return app;
    }
    let header = |name: &'static str| HeaderName::from_static(name);
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header("content-type"),
            header("authorization"),
            header("connect-protocol-version"),
            header("connect-timeout-ms"),
            header("grpc-timeout"),
            header("x-grpc-web"),
            header("x-user-agent"),
            header(REQUEST_ID_HEADER),
            // W3C trace context: a browser's trace goes on through the platform (ec_platform::telemetry).
            header("traceparent"),
            header("tracestate"),
        ])
        .expose_headers([
            header("grpc-status"),
            header("grpc-message"),
            header("grpc-status-details-bin"),
            header("retry-after"),
            header(REQUEST_ID_HEADER),
        ])
        .max_age(Duration::from_secs(2 * 3600));
    app.layer(cors)
}

/// A client's own request id is kept only if it is short and plain, so it cannot flood or forge log lines.
async fn drop_unsafe_request_id(mut request: Request) -> Request {
    let sane = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .is_some_and(|v| v.len() <= 64 && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(b)));
    if !sane {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    request
}

async fn log_with_request_id(request: Request, next: Next) -> Response {
    let id = request.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let span = tracing::info_span!("request", request_id = %id, path = %request.uri().path());
    next.run(request).instrument(span).await
}

/// Ready when every backend reports SERVING and the issuer's keys can be had. The backends are asked at once,
/// each for at most 2 s.
async fn ready(State(readiness): State<Arc<Readiness>>) -> impl IntoResponse {
    let serving = readiness.backends.all().map(|backend| async move {
        let request = HealthCheckRequest { service: String::new(), ..Default::default() };
        let answer = tokio::time::timeout(Duration::from_secs(2), backend.health().check(request)).await;
        let serving = answer
            .ok()
            .and_then(Result::ok)
            .is_some_and(|r| r.into_owned().status.as_known() == Some(ServingStatus::SERVING));
        (format!("{}_service", backend.name), serving)
    });
    let keys = async {
        match &readiness.gate.authenticator {
            Some(authenticator) => {
                tokio::time::timeout(Duration::from_secs(5), authenticator.ready()).await.unwrap_or(false)
            }
            None => true,
        }
    };
    let (serving, keys) = tokio::join!(futures::future::join_all(serving), keys);
    let ready = keys && serving.iter().all(|(_, up)| *up);
    let mut report: Map<String, Value> = serving.into_iter().map(|(name, up)| (name, Value::Bool(up))).collect();
    report.insert("jwks".into(), Value::Bool(keys));
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(Value::Object(report)))
}
