//! Forwarding to the backend services over gRPC.
//!
//! A proxy implements a generated service trait by calling the same RPC on the backend with the generated
//! client. The client's deadline is passed on (the time left of the incoming call), as is the request id;
//! no other inbound header is forwarded. Backend errors come back with their code and message unchanged,
//! because the backends already answer with client-safe messages.

use connectrpc::{
    RequestContext, Response, ServiceRequest, ServiceResult,
    client::{CallOptions, ClientConfig, Http2Connection, SharedHttp2Connection},
};
use ec_proto::user::v1::{
    ChangePasswordRequest, ChangePasswordResponse, CreateUserRequest, CreateUserResponse, DeleteUserRequest,
    DeleteUserResponse, GetUserRequest, GetUserResponse, ListUsersRequest, ListUsersResponse, SetUserRoleRequest,
    SetUserRoleResponse, UpdateUserRequest, UpdateUserResponse, UserService, UserServiceClient,
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

/// The options of a forwarded call: the caller's remaining deadline and request id.
fn forwarded(ctx: &RequestContext) -> CallOptions {
    let mut options = CallOptions::default();
    if let Some(remaining) = ctx.time_remaining() {
        options = options.with_timeout(remaining);
    }
    if let Some(id) = ctx.header(REQUEST_ID_HEADER) {
        options = options.with_header(REQUEST_ID_HEADER, id.clone());
    }
    options
}

/// Writes one forwarding method per RPC: same request in, backend's answer out.
macro_rules! forward {
    ($($method:ident / $with_options:ident: $request:ty => $response:ty;)*) => {
        $(
            async fn $method(
                &self,
                ctx: RequestContext,
                request: ServiceRequest<'_, $request>,
            ) -> ServiceResult<$response> {
                let answer = self.client.$with_options(request.to_owned_message(), forwarded(&ctx)).await?;
                Response::ok(answer.into_owned())
            }
        )*
    };
}

/// `user.v1.UserService` at the BFF.
#[derive(Clone)]
pub struct UserProxy {
    client: UserServiceClient<SharedHttp2Connection>,
}

impl UserProxy {
    /// A proxy to the user service at `url`.
    pub fn new(url: &http::Uri) -> Result<Self, BackendUrlError> {
        let (connection, config) = backend(url)?;
        Ok(Self { client: UserServiceClient::new(connection, config) })
    }
}

#[allow(refining_impl_trait)]
impl UserService for UserProxy {
    forward! {
        create_user / create_user_with_options: CreateUserRequest => CreateUserResponse;
        get_user / get_user_with_options: GetUserRequest => GetUserResponse;
        update_user / update_user_with_options: UpdateUserRequest => UpdateUserResponse;
        change_password / change_password_with_options: ChangePasswordRequest => ChangePasswordResponse;
        delete_user / delete_user_with_options: DeleteUserRequest => DeleteUserResponse;
        list_users / list_users_with_options: ListUsersRequest => ListUsersResponse;
        set_user_role / set_user_role_with_options: SetUserRoleRequest => SetUserRoleResponse;
    }
}
