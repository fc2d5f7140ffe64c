//! Forwarding to the backend services over gRPC, behind the access checks.
//!
//! A proxy implements a generated service trait. Each method first applies its policy through the
//! [`Gate`]: public (no token needed), signed in, the caller's own resource (BOLA: another user's id is
//! refused with `permission_denied`, unless the caller is an admin), or admin only (BFLA). It then calls the
//! same RPC on the backend with the generated client, passing on the caller's identity (signed with the
//! internal secret), the remaining deadline and the request id; no other inbound header is forwarded. Backend
//! answers come back unchanged (the backends answer with client-safe messages); transport and internal failures
//! keep their code but not their message.

use std::sync::Arc;

use connectrpc::{
    ConnectError, RequestContext, Response, ServiceRequest, ServiceResult,
    client::{CallOptions, ClientConfig, Http2Connection, SharedHttp2Connection},
};
use std::net::IpAddr;

use ec_platform::{
    identity::{Caller, IdentityVerifier},
    net::{client_ip, forwarded_for},
};
use ec_proto::user::v1::{
    ChangePasswordRequest, ChangePasswordResponse, CreateUserRequest, CreateUserResponse, DeleteUserRequest,
    DeleteUserResponse, GetUserRequest, GetUserResponse, ListUsersRequest, ListUsersResponse, SetUserRoleRequest,
    SetUserRoleResponse, UpdateUserRequest, UpdateUserResponse, UserService, UserServiceClient,
};
use uuid::Uuid;

use crate::{
    auth::Authenticator,
    ratelimit::{Limit, RateLimiter},
};

/// The one inbound header passed to backends, so a request can be followed through the logs of every hop.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How many calls may queue for one backend connection before callers wait.
const CONNECTION_QUEUE: usize = 1024;

/// A backend URL that is not a plain `http://host:port` address (TLS to backends is not supported yet).
#[derive(Debug, thiserror::Error)]
#[error("backend URL {0} must look like http://host:port")]
pub struct BackendUrlError(http::Uri);

/// An h2c connection to a backend, speaking gRPC. Connects lazily and reconnects after a drop, so the BFF
/// starts even when a backend is still starting.
pub fn backend(url: &http::Uri) -> Result<(SharedHttp2Connection, ClientConfig), BackendUrlError> {
    if url.scheme_str() != Some("http") || url.host().is_none() {
        return Err(BackendUrlError(url.clone()));
    }
    let connection = Http2Connection::lazy_plaintext(url.clone());
    let config = ClientConfig::new(url.clone()).with_protocol(connectrpc::Protocol::Grpc);
    Ok((connection.shared(CONNECTION_QUEUE), config))
}

/// Who may call what, and how often: token verification, rate limits, and the identity passed on to
/// backends.
#[derive(Debug)]
pub struct Gate {
    /// `None` when no issuer is configured: then no token is accepted and only public RPCs work.
    pub authenticator: Option<Authenticator>,
    pub identity: IdentityVerifier,
    pub limiter: RateLimiter,
    /// The bucket of each client IP for calls without a valid token.
    pub anonymous: Limit,
    /// The bucket of each signed-in user.
    pub user: Limit,
    /// Proxies whose X-Forwarded-For is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

fn too_many(class: &'static str) -> impl Fn(std::time::Duration) -> ConnectError {
    move |retry_after| {
        metrics::counter!("ec_bff_rate_limited_total", "class" => class).increment(1);
        retry_later(retry_after)
    }
}

fn retry_later(retry_after: std::time::Duration) -> ConnectError {
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut headers = http::HeaderMap::new();
    headers.insert(http::header::RETRY_AFTER, seconds.into());
    ConnectError::resource_exhausted(format!("too many requests; retry in {seconds} s")).with_headers(headers)
}

fn unauthenticated() -> ConnectError {
    ConnectError::unauthenticated("invalid or missing access token")
}

impl Gate {
    fn client(&self, ctx: &RequestContext) -> Option<IpAddr> {
        let forwarded = forwarded_for(ctx.headers());
        ctx.peer_addr().map(|peer| client_ip(peer.ip(), forwarded.as_deref(), &self.trusted_proxies))
    }

    /// Admits a call without a valid token, by the client's IP (IPv6 clients by their /64: one host has that
    /// many addresses to rotate through).
    pub async fn anonymous(&self, ctx: &RequestContext) -> Result<(), ConnectError> {
        let Some(ip) = self.client(ctx) else {
            return Ok(());
        };
        let key = match ip {
            IpAddr::V4(v4) => format!("ip:{v4}"),
            IpAddr::V6(v6) => format!("ip6:{}", ipnet::Ipv6Net::new(v6, 64).expect("64 is a valid prefix").trunc()),
        };
        self.limiter.admit(&key, self.anonymous).await.map_err(too_many("anonymous"))
    }

    /// The signed-in caller, or `unauthenticated` with no detail that helps an attacker. Failed attempts count
    /// against the client IP's anonymous bucket, so guessing tokens is rate limited too.
    pub async fn signed_in(&self, ctx: &RequestContext) -> Result<Caller, ConnectError> {
        let verified = match &self.authenticator {
            Some(authenticator) => authenticator.caller(ctx.headers()).await,
            None => Ok(None),
        };
        match verified {
            Ok(Some(caller)) => {
                self.limiter.admit(&format!("user:{}", caller.user_id), self.user).await.map_err(too_many("user"))?;
                Ok(caller)
            }
            Ok(None) => {
                self.anonymous(ctx).await?;
                Err(unauthenticated())
            }
            Err(reason) => {
                tracing::info!(%reason, path = ctx.path().unwrap_or_default(), "access token refused");
                crate::metrics::auth_failure(&reason);
                self.anonymous(ctx).await?;
                Err(unauthenticated())
            }
        }
    }

    /// The options of a forwarded call: the caller's identity, remaining deadline and request id.
    pub fn forward(&self, ctx: &RequestContext, caller: Option<&Caller>) -> CallOptions {
        let mut headers = http::HeaderMap::new();
        self.identity.stamp(caller, &mut headers);
        if let Some(id) = ctx.header(REQUEST_ID_HEADER) {
            headers.insert(REQUEST_ID_HEADER, id.clone());
        }
        let mut options = CallOptions::default();
        for (name, value) in &headers {
            options = options.with_header(name.clone(), value.clone());
        }
        if let Some(remaining) = ctx.time_remaining() {
            options = options.with_timeout(remaining);
        }
        options
    }
}

/// A backend's answer keeps its code, message and details (backends answer with client-safe messages). A call
/// that got no proper answer (transport failure, undecodable response, internal error) keeps its code but
/// loses its message, which may name internal hosts; the detail is logged instead.
fn backend_error(error: ConnectError) -> ConnectError {
    use connectrpc::ErrorCode::{DataLoss, Internal, Unavailable, Unknown};
    match error.code {
        Internal | Unknown | Unavailable | DataLoss => {
            tracing::error!(
                code = error.code.as_str(),
                message = error.message.as_deref().unwrap_or_default(),
                "backend call failed"
            );
            ConnectError::new(error.code, "the service is unavailable; try again shortly")
        }
        _ => error,
    }
}

/// BOLA: the caller may name only their own account, unless an admin.
fn own(caller: &Caller, id: &str) -> Result<(), ConnectError> {
    let id = Uuid::try_parse(id).map_err(|_| ConnectError::invalid_argument("id must be a UUID"))?;
    if caller.may_act_for(id) {
        Ok(())
    } else {
        Err(ConnectError::permission_denied("you may only act on your own account"))
    }
}

/// BFLA: back-office RPCs need the admin role.
fn admin(caller: &Caller) -> Result<(), ConnectError> {
    if caller.is_admin() { Ok(()) } else { Err(ConnectError::permission_denied("this needs the admin role")) }
}

/// `user.v1.UserService` at the BFF.
#[derive(Clone)]
pub struct UserProxy {
    client: UserServiceClient<SharedHttp2Connection>,
    gate: Arc<Gate>,
}

impl UserProxy {
    /// A proxy to the user service at `url`.
    pub fn new(url: &http::Uri, gate: Arc<Gate>) -> Result<Self, BackendUrlError> {
        let (connection, config) = backend(url)?;
        Ok(Self { client: UserServiceClient::new(connection, config), gate })
    }
}

/// Forwards `$request` with `$method` on behalf of `$caller` and answers with the backend's response.
macro_rules! forward {
    ($self:ident, $ctx:ident, $caller:expr, $method:ident, $request:ident) => {{
        let options = $self.gate.forward(&$ctx, $caller);
        let answer = $self.client.$method($request.to_owned_message(), options).await.map_err(backend_error)?;
        Response::ok(answer.into_owned())
    }};
}

#[allow(refining_impl_trait)]
impl UserService for UserProxy {
    async fn create_user(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CreateUserRequest>,
    ) -> ServiceResult<CreateUserResponse> {
        self.gate.anonymous(&ctx).await?;
        forward!(self, ctx, None, create_user_with_options, request)
    }

    async fn get_user(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetUserRequest>,
    ) -> ServiceResult<GetUserResponse> {
        let caller = self.gate.signed_in(&ctx).await?;
        own(&caller, request.id)?;
        forward!(self, ctx, Some(&caller), get_user_with_options, request)
    }

    async fn update_user(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateUserRequest>,
    ) -> ServiceResult<UpdateUserResponse> {
        let caller = self.gate.signed_in(&ctx).await?;
        own(&caller, request.id)?;
        forward!(self, ctx, Some(&caller), update_user_with_options, request)
    }

    async fn change_password(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ChangePasswordRequest>,
    ) -> ServiceResult<ChangePasswordResponse> {
        let caller = self.gate.signed_in(&ctx).await?;
        own(&caller, request.id)?;
        forward!(self, ctx, Some(&caller), change_password_with_options, request)
    }

    async fn delete_user(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, DeleteUserRequest>,
    ) -> ServiceResult<DeleteUserResponse> {
        let caller = self.gate.signed_in(&ctx).await?;
        own(&caller, request.id)?;
        forward!(self, ctx, Some(&caller), delete_user_with_options, request)
    }

    async fn list_users(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListUsersRequest>,
    ) -> ServiceResult<ListUsersResponse> {
        let caller = self.gate.signed_in(&ctx).await?;
        admin(&caller)?;
        forward!(self, ctx, Some(&caller), list_users_with_options, request)
    }

    async fn set_user_role(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, SetUserRoleRequest>,
    ) -> ServiceResult<SetUserRoleResponse> {
        let caller = self.gate.signed_in(&ctx).await?;
        admin(&caller)?;
        forward!(self, ctx, Some(&caller), set_user_role_with_options, request)
    }
}
