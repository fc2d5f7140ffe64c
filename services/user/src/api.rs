//! The `user.v1.UserService` and `user.v1.CredentialService` handlers.
//!
//! Each handler reads the caller from the metadata, parses the wire message into domain values (refusing bad
//! input with `invalid_argument` before touching the database), calls [`crate::accounts`], and maps the
//! result back to the wire type.

use std::{sync::Arc, time::Duration};

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::{
    access::Access,
    address::Address,
    events::Outbox,
    identity::{Caller, Role},
    page_token::PageTokens,
    revocation::Revocations,
};
use ec_proto::user::v1::{
    self as wire, AddAddressRequest, AddAddressResponse, ChangePasswordRequest, ChangePasswordResponse,
    CreateUserRequest, CreateUserResponse, CredentialService, DeleteAddressRequest, DeleteAddressResponse,
    DeleteUserRequest, DeleteUserResponse, GetUserRequest, GetUserResponse, ListAddressesRequest,
    ListAddressesResponse, ListUsersRequest, ListUsersResponse, SavedAddress, SendVerificationEmailRequest,
    SendVerificationEmailResponse, SetUserRoleRequest, SetUserRoleResponse, UpdateAddressRequest,
    UpdateAddressResponse, UpdateUserRequest, UpdateUserResponse, User, UserService, VerifyPasswordRequest,
    VerifyPasswordResponse,
};
use sqlx::PgPool;

use crate::{
    accounts, addresses,
    db::{NameChange, UserRow},
    domain::{DisplayName, Email, Password, UserId},
    error::Error,
    hydra::HydraAdmin,
    mail::Language,
    throttle::Throttle,
    verification::Verifications,
};

/// How an account is signed out everywhere when it is deleted, changes its password or loses a role.
#[derive(Clone, Debug)]
pub struct SignOut {
    /// Hydra's admin API, which ends the account's login and consent sessions and so its refresh tokens.
    pub sessions: Option<HydraAdmin>,
    /// The revocation records the BFF checks access tokens against.
    pub tokens: Revocations,
    /// How long a revocation record is kept: the issuer's longest access-token lifetime.
    pub token_lifetime: Duration,
}

impl SignOut {
    /// Signs `id` out everywhere. The account change has already been made; a part that cannot be reached
    /// (Hydra, Redis) is logged loudly rather than failing the change.
    ///
    /// The tokens are revoked both before and after the sessions end: before, so the tokens out there stop
    /// at once; after, so a token refreshed while Hydra was still ending the sessions is refused too. It
    /// returns once the second of the last revocation is over, so signing in again right after the change it
    /// answers gets a token that works (token times are whole seconds).
    pub async fn everywhere(&self, id: UserId) {
        self.revoke_tokens(id).await;
        if let Some(hydra) = &self.sessions {
            if let Err(e) = hydra.revoke_subject(&id.to_string()).await {
                tracing::error!(user_id = %id, error = %e, "could not end the account's sessions; they live until they expire");
            }
            self.revoke_tokens(id).await;
        }
        ec_platform::revocation::past_this_second().await;
    }

    async fn revoke_tokens(&self, id: UserId) {
        if let Err(e) = self.tokens.revoke(id.0, self.token_lifetime).await {
            tracing::error!(user_id = %id, error = %e, "could not share the revocation of the account's access tokens; other processes accept them until they expire");
        }
    }
}

/// The user service's public RPC handlers.
#[derive(Clone)]
pub struct UserApi {
    pool: PgPool,
    outbox: Outbox,
    access: Access,
    sign_out: SignOut,
    throttle: Arc<Throttle>,
    tokens: PageTokens,
    verifications: Verifications,
}

impl UserApi {
    /// Handlers over `pool`, announcing changes in `outbox`, trusting the callers `access` admits, signing
    /// changed accounts out through `sign_out`, checking passwords under the sign-in `throttle`, signing
    /// ListUsers page tokens with `tokens`, and sending verification links through `verifications`.
    pub fn new(
        pool: PgPool,
        outbox: Outbox,
        access: Access,
        sign_out: SignOut,
        throttle: Arc<Throttle>,
        tokens: PageTokens,
        verifications: Verifications,
    ) -> Self {
        Self { pool, outbox, access, sign_out, throttle, tokens, verifications }
    }

    /// The signed-in caller; checked before the request is looked at, so anonymous callers learn nothing.
    fn signed_in(&self, ctx: &RequestContext) -> Result<Caller, Error> {
        Ok(self.access.signed_in(ctx)?)
    }
}

/// Maps a stored account to the wire.
pub fn to_wire(row: UserRow) -> User {
    User {
        id: row.id.to_string(),
        email: row.email,
        name: row.name,
        created_at: MessageField::some(row.created_at.into()),
        updated_at: MessageField::some(row.updated_at.into()),
        roles: row.roles.into_iter().map(|role| role_to_wire(role).into()).collect(),
        language: row.language,
        email_verified: row.email_verified,
        ..Default::default()
    }
}

fn address_to_wire(row: addresses::SavedAddress) -> SavedAddress {
    SavedAddress {
        id: row.id.to_string(),
        address: MessageField::some(row.address.to_wire()),
        is_default: row.is_default,
        created_at: MessageField::some(row.created_at.into()),
        updated_at: MessageField::some(row.updated_at.into()),
        ..Default::default()
    }
}

/// The account an address-book request names, in its `user_id` field.
fn address_book(raw: &str) -> Result<UserId, Error> {
    UserId::parse(raw).map_err(|_| Error::InvalidArgument("user_id must be a UUID".into()))
}

/// The address a request carries; a missing one is refused like an empty one.
fn address(wire: Option<&ec_proto::order::v1::Address>) -> Result<Address, Error> {
    Address::parse(wire.unwrap_or(&Default::default()), "address")
}

fn role_to_wire(role: Role) -> wire::Role {
    match role {
        Role::Customer => wire::Role::ROLE_CUSTOMER,
        Role::Admin => wire::Role::ROLE_ADMIN,
    }
}

fn role_from_wire(role: buffa::EnumValue<wire::Role>) -> Result<Role, Error> {
    match role.as_known() {
        Some(wire::Role::ROLE_CUSTOMER) => Ok(Role::Customer),
        Some(wire::Role::ROLE_ADMIN) => Ok(Role::Admin),
        _ => Err(Error::InvalidArgument("role must be ROLE_CUSTOMER or ROLE_ADMIN".into())),
    }
}

#[allow(refining_impl_trait)]
impl UserService for UserApi {
    async fn create_user(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, CreateUserRequest>,
    ) -> ServiceResult<CreateUserResponse> {
        let email = Email::parse(request.email)?;
        let password = Password::parse(request.password)?;
        let name = request.name.map(DisplayName::parse).transpose()?;
        let language = Language::from_tag(request.language);
        let row = accounts::create(&self.pool, &self.outbox, email, password, name, language).await?;
        Response::ok(CreateUserResponse { user: MessageField::some(to_wire(row)), ..Default::default() })
    }

    async fn get_user(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetUserRequest>,
    ) -> ServiceResult<GetUserResponse> {
        let caller = self.signed_in(&ctx)?;
        let id = UserId::parse(request.id)?;
        let row = accounts::get(&self.pool, &caller, id).await?;
        Response::ok(GetUserResponse { user: MessageField::some(to_wire(row)), ..Default::default() })
    }

    async fn update_user(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateUserRequest>,
    ) -> ServiceResult<UpdateUserResponse> {
        let caller = self.signed_in(&ctx)?;
        let id = UserId::parse(request.id)?;
        let email = request.email.map(Email::parse).transpose()?;
        let name = match request.name {
            None => None,
            Some(raw) if raw.trim().is_empty() => Some(None),
            Some(raw) => Some(Some(DisplayName::parse(raw)?)),
        };
        let name = match &name {
            None => NameChange::Keep,
            Some(None) => NameChange::Remove,
            Some(Some(name)) => NameChange::Set(name),
        };
        let change = accounts::Change { email, name, current_password: request.current_password };
        let row = accounts::update(&self.pool, &self.outbox, &self.throttle, &caller, id, change).await?;
        Response::ok(UpdateUserResponse { user: MessageField::some(to_wire(row)), ..Default::default() })
    }

    async fn change_password(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ChangePasswordRequest>,
    ) -> ServiceResult<ChangePasswordResponse> {
        let caller = self.signed_in(&ctx)?;
        let id = UserId::parse(request.id)?;
        let new = Password::parse(request.new_password)?;
        accounts::change_password(&self.pool, &self.throttle, &caller, id, request.current_password.to_owned(), new)
            .await?;
        self.sign_out.everywhere(id).await;
        Response::ok(ChangePasswordResponse::default())
    }

    async fn delete_user(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, DeleteUserRequest>,
    ) -> ServiceResult<DeleteUserResponse> {
        let caller = self.signed_in(&ctx)?;
        let id = UserId::parse(request.id)?;
        accounts::delete(&self.pool, &self.throttle, &caller, id, request.current_password).await?;
        self.sign_out.everywhere(id).await;
        Response::ok(DeleteUserResponse::default())
    }

    async fn list_users(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListUsersRequest>,
    ) -> ServiceResult<ListUsersResponse> {
        let caller = self.signed_in(&ctx)?;
        let (rows, next_page_token) = accounts::list(
            &self.pool,
            &self.tokens,
            &caller,
            request.page_size,
            request.page_token,
            request.email_contains,
        )
        .await?;
        Response::ok(ListUsersResponse {
            users: rows.into_iter().map(to_wire).collect(),
            next_page_token,
            ..Default::default()
        })
    }

    async fn set_user_role(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, SetUserRoleRequest>,
    ) -> ServiceResult<SetUserRoleResponse> {
        let caller = self.signed_in(&ctx)?;
        let id = UserId::parse(request.id)?;
        let role = role_from_wire(request.role)?;
        let row = accounts::set_role(&self.pool, &caller, id, role, request.granted).await?;
        if !request.granted {
            // Tokens would carry the old role until they expire.
            self.sign_out.everywhere(id).await;
        }
        Response::ok(SetUserRoleResponse { user: MessageField::some(to_wire(row)), ..Default::default() })
    }

    async fn send_verification_email(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, SendVerificationEmailRequest>,
    ) -> ServiceResult<SendVerificationEmailResponse> {
        let caller = self.signed_in(&ctx)?;
        let id = UserId::parse(request.id)?;
        self.verifications.resend(&caller, id).await?;
        Response::ok(SendVerificationEmailResponse::default())
    }

    async fn list_addresses(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListAddressesRequest>,
    ) -> ServiceResult<ListAddressesResponse> {
        let caller = self.signed_in(&ctx)?;
        let user = address_book(request.user_id)?;
        let rows = addresses::list(&self.pool, &caller, user).await?;
        Response::ok(ListAddressesResponse {
            addresses: rows.into_iter().map(address_to_wire).collect(),
            ..Default::default()
        })
    }

    async fn add_address(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, AddAddressRequest>,
    ) -> ServiceResult<AddAddressResponse> {
        let caller = self.signed_in(&ctx)?;
        let request = request.to_owned_message();
        let user = address_book(&request.user_id)?;
        let address = address(request.address.as_option())?;
        let row = addresses::add(&self.pool, &caller, user, &address, request.make_default).await?;
        Response::ok(AddAddressResponse { address: MessageField::some(address_to_wire(row)), ..Default::default() })
    }

    async fn update_address(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateAddressRequest>,
    ) -> ServiceResult<UpdateAddressResponse> {
        let caller = self.signed_in(&ctx)?;
        let request = request.to_owned_message();
        let user = address_book(&request.user_id)?;
        let id = addresses::parse_id(&request.address_id)?;
        let address = request.address.as_option().map(|wire| address(Some(wire))).transpose()?;
        let row = addresses::update(&self.pool, &caller, user, id, address.as_ref(), request.make_default).await?;
        Response::ok(UpdateAddressResponse { address: MessageField::some(address_to_wire(row)), ..Default::default() })
    }

    async fn delete_address(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, DeleteAddressRequest>,
    ) -> ServiceResult<DeleteAddressResponse> {
        let caller = self.signed_in(&ctx)?;
        let user = address_book(request.user_id)?;
        let id = addresses::parse_id(request.address_id)?;
        addresses::delete(&self.pool, &caller, user, id).await?;
        Response::ok(DeleteAddressResponse::default())
    }
}

/// The user service's internal RPC handlers: only callers holding the internal secret get an answer.
#[derive(Clone)]
pub struct CredentialApi {
    pool: PgPool,
    access: Access,
}

impl CredentialApi {
    /// Handlers over `pool`, answering only the platform's own parts (`access`'s internal callers).
    pub fn new(pool: PgPool, access: Access) -> Self {
        Self { pool, access }
    }
}

#[allow(refining_impl_trait)]
impl CredentialService for CredentialApi {
    async fn verify_password(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, VerifyPasswordRequest>,
    ) -> ServiceResult<VerifyPasswordResponse> {
        self.access.internal(&ctx).map_err(Error::from)?;
        if request.email.trim().is_empty() || request.password.is_empty() {
            return Err(Error::InvalidArgument("email and password are required".into()).into());
        }
        let (id, roles) = accounts::verify_password(&self.pool, request.email, request.password.to_owned()).await?;
        Response::ok(VerifyPasswordResponse {
            user_id: id.to_string(),
            roles: roles.into_iter().map(|r| role_to_wire(r).into()).collect(),
            ..Default::default()
        })
    }
}
