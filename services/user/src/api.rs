//! The `user.v1.UserService` and `user.v1.CredentialService` handlers.
//!
//! Each handler parses the wire message into domain values (refusing bad input with `invalid_argument`
//! before touching the database), calls [`crate::db`], and maps the row back to the wire type.

use buffa::MessageField;
use connectrpc::{ConnectError, RequestContext, Response, ServiceRequest, ServiceResult};
use ec_proto::user::v1::{
    ChangePasswordRequest, ChangePasswordResponse, CreateUserRequest, CreateUserResponse,
    DeleteUserRequest, DeleteUserResponse, GetUserRequest, GetUserResponse, ListUsersRequest,
    ListUsersResponse, Role, SetUserRoleRequest, SetUserRoleResponse, UpdateUserRequest,
    UpdateUserResponse, User, UserService,
};
use sqlx::PgPool;

use crate::{
    db::{self, NewUser, UserRow},
    domain::{DisplayName, Email, Password, UserId},
    error::Error,
    password,
};

/// The user service's RPC handlers.
#[derive(Clone)]
pub struct UserApi {
    pool: PgPool,
}

impl UserApi {
    /// Handlers over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    async fn create(&self, request: CreateUserRequest) -> Result<User, Error> {
        let email = Email::parse(&request.email)?;
        let password = Password::parse(&request.password)?;
        let name = request
            .name
            .as_deref()
            .map(DisplayName::parse)
            .transpose()?;
        let password_hash = password::hash(password).await?;
        let id = UserId::new();
        let row = db::insert_user(
            &self.pool,
            NewUser {
                id,
                email: &email,
                name: name.as_ref(),
                password_hash: &password_hash,
            },
        )
        .await?;
        tracing::info!(user_id = %id, "account created");
        Ok(to_wire(row))
    }

    async fn get(&self, id: &str) -> Result<User, Error> {
        let id = UserId::parse(id)?;
        db::find_user(&self.pool, id)
            .await?
            .map(to_wire)
            .ok_or(Error::NotFound)
    }
}

fn to_wire(row: UserRow) -> User {
    User {
        id: row.id.to_string(),
        email: row.email,
        name: row.name,
        created_at: MessageField::some(row.created_at.into()),
        updated_at: MessageField::some(row.updated_at.into()),
        roles: row
            .roles
            .iter()
            .filter_map(|role| match role.as_str() {
                "customer" => Some(Role::ROLE_CUSTOMER.into()),
                "admin" => Some(Role::ROLE_ADMIN.into()),
                _ => None,
            })
            .collect(),
        ..Default::default()
    }
}

fn not_yet(rpc: &'static str) -> ConnectError {
    Error::NotYetServed(rpc).into()
}

#[allow(refining_impl_trait)]
impl UserService for UserApi {
    async fn create_user(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, CreateUserRequest>,
    ) -> ServiceResult<CreateUserResponse> {
        let user = self.create(request.to_owned_message()).await?;
        Response::ok(CreateUserResponse {
            user: MessageField::some(user),
            ..Default::default()
        })
    }

    async fn get_user(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, GetUserRequest>,
    ) -> ServiceResult<GetUserResponse> {
        let user = self.get(request.id).await?;
        Response::ok(GetUserResponse {
            user: MessageField::some(user),
            ..Default::default()
        })
    }

    async fn update_user(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, UpdateUserRequest>,
    ) -> ServiceResult<UpdateUserResponse> {
        Err(not_yet("UpdateUser"))
    }

    async fn change_password(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, ChangePasswordRequest>,
    ) -> ServiceResult<ChangePasswordResponse> {
        Err(not_yet("ChangePassword"))
    }

    async fn delete_user(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, DeleteUserRequest>,
    ) -> ServiceResult<DeleteUserResponse> {
        Err(not_yet("DeleteUser"))
    }

    async fn list_users(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, ListUsersRequest>,
    ) -> ServiceResult<ListUsersResponse> {
        Err(not_yet("ListUsers"))
    }

    async fn set_user_role(
        &self,
        _ctx: RequestContext,
        _request: ServiceRequest<'_, SetUserRoleRequest>,
    ) -> ServiceResult<SetUserRoleResponse> {
        Err(not_yet("SetUserRole"))
    }
}
