//! Every procedure the BFF serves, and who may call it: one table, read top to bottom.
//!
//! A procedure that is not in [`table`] is not reachable through the BFF: the router knows nothing else.
//! The internal RPCs (`user.v1.CredentialService`, the reservation RPCs of `product.v1.InventoryService`)
//! are deliberately absent; a test walks every method of every service in the API's descriptor set and fails
//! if a public-facing one has no line here or an internal one has one.
//!
//! Each line names the request and response types, the procedure (the generated `*_SPEC` constant), the
//! backend that owns it, and its [`Policy`]. Adding a route is one line.

use std::sync::Arc;

use buffa::Message;
use buffa_descriptor::generated::descriptor::FileDescriptorSet;
use connectrpc::{HasMessageView, JsonDeserialize, JsonSerialize, RequestContext, Response, Spec};
use ec_platform::claims::Scope;
use ec_proto::{order::v1::*, product::v1::*, user::v1::*};
use uuid::Uuid;

use crate::{
    error::BffError,
    gate::{Admitted, Gate, RouteLimit},
    proxy::Backend,
};

/// Who may call a procedure, and with which scope ([`Access::scope`]): every policy but `Public` needs one.
pub enum Policy<Req> {
    /// Anyone, rate limited by client IP. A valid bearer token, if one comes, makes the caller known to the
    /// service (admins see more of the catalog, with the `backoffice` scope); a missing or refused one leaves
    /// the call anonymous.
    Public,
    /// A signed-in caller, with the `shop` scope. The service scopes the call to them (carts, orders): there is
    /// no id to check.
    SignedIn,
    /// A signed-in caller, with the `shop` scope, naming their own account in the request field `field` (read
    /// by `id`), or an admin (with the `backoffice` scope too) naming any (BOLA).
    OwnAccount { field: &'static str, id: fn(&Req) -> &str },
    /// A signed-in admin, with the `backoffice` scope (BFLA), whose token could be checked against the shared
    /// revocation records: an admin route fails closed while they cannot be read.
    Admin,
}

/// `Policy::OwnAccount` for the request field `$field`.
macro_rules! own_account {
    ($field:ident) => {
        Policy::OwnAccount { field: stringify!($field), id: |request| request.$field.as_str() }
    };
}

/// Every routed procedure with its policy and backend. Read this to know who may call what.
pub fn table(routes: &mut Routes, backends: &Backends) {
    use Policy::*;
    let Backends { user, product, order } = backends;

    // user.v1.UserService: sign-up is public; an account is its owner's (or an admin's); roles are admins'.
    // Sign-up and UpdateUser both say whether an email is registered (already_exists), so both share the
    // sign-up limit per client IP.
    let sign_up = Some(RouteLimit::SignUp);
    routes.add_limited::<CreateUserRequest, CreateUserResponse>(USER_SERVICE_CREATE_USER_SPEC, user, Public, sign_up);
    routes.add::<GetUserRequest, GetUserResponse>(USER_SERVICE_GET_USER_SPEC, user, own_account!(id));
    routes.add_limited::<UpdateUserRequest, UpdateUserResponse>(
        USER_SERVICE_UPDATE_USER_SPEC,
        user,
        own_account!(id),
        sign_up,
    );
    routes.add::<ChangePasswordRequest, ChangePasswordResponse>(
        USER_SERVICE_CHANGE_PASSWORD_SPEC,
        user,
        own_account!(id),
    );
    routes.add::<DeleteUserRequest, DeleteUserResponse>(USER_SERVICE_DELETE_USER_SPEC, user, own_account!(id));
    routes.add::<ListUsersRequest, ListUsersResponse>(USER_SERVICE_LIST_USERS_SPEC, user, Admin);
    routes.add::<SetUserRoleRequest, SetUserRoleResponse>(USER_SERVICE_SET_USER_ROLE_SPEC, user, Admin);
    routes.add::<SendVerificationEmailRequest, SendVerificationEmailResponse>(
        USER_SERVICE_SEND_VERIFICATION_EMAIL_SPEC,
        user,
        own_account!(id),
    );
    // The address book is its account's, as the account is.
    routes.add::<ListAddressesRequest, ListAddressesResponse>(
        USER_SERVICE_LIST_ADDRESSES_SPEC,
        user,
        own_account!(user_id),
    );
    routes.add::<AddAddressRequest, AddAddressResponse>(USER_SERVICE_ADD_ADDRESS_SPEC, user, own_account!(user_id));
    routes.add::<UpdateAddressRequest, UpdateAddressResponse>(
        USER_SERVICE_UPDATE_ADDRESS_SPEC,
        user,
        own_account!(user_id),
    );
    routes.add::<DeleteAddressRequest, DeleteAddressResponse>(
        USER_SERVICE_DELETE_ADDRESS_SPEC,
        user,
        own_account!(user_id),
    );

    // webhook.v1.WebhookService (served by the user service): admins only.
    {
        use ec_proto::webhook::v1::*;
        routes.add::<CreateEndpointRequest, CreateEndpointResponse>(WEBHOOK_SERVICE_CREATE_ENDPOINT_SPEC, user, Admin);
        routes.add::<ListEndpointsRequest, ListEndpointsResponse>(WEBHOOK_SERVICE_LIST_ENDPOINTS_SPEC, user, Admin);
        routes.add::<UpdateEndpointRequest, UpdateEndpointResponse>(WEBHOOK_SERVICE_UPDATE_ENDPOINT_SPEC, user, Admin);
        routes.add::<DeleteEndpointRequest, DeleteEndpointResponse>(WEBHOOK_SERVICE_DELETE_ENDPOINT_SPEC, user, Admin);
        routes.add::<RotateSecretRequest, RotateSecretResponse>(WEBHOOK_SERVICE_ROTATE_SECRET_SPEC, user, Admin);
        routes.add::<ListDeliveriesRequest, ListDeliveriesResponse>(WEBHOOK_SERVICE_LIST_DELIVERIES_SPEC, user, Admin);
        routes.add::<RedeliverDeliveryRequest, RedeliverDeliveryResponse>(
            WEBHOOK_SERVICE_REDELIVER_DELIVERY_SPEC,
            user,
            Admin,
        );
    }

    // product.v1.ProductService: the catalog is public to read (admins see unpublished products too); every
    // change is admins'.
    routes.add::<GetProductRequest, GetProductResponse>(PRODUCT_SERVICE_GET_PRODUCT_SPEC, product, Public);
    routes.add::<ListProductsRequest, ListProductsResponse>(PRODUCT_SERVICE_LIST_PRODUCTS_SPEC, product, Public);
    routes.add::<GetSkuRequest, GetSkuResponse>(PRODUCT_SERVICE_GET_SKU_SPEC, product, Public);
    routes.add::<BatchGetSkusRequest, BatchGetSkusResponse>(PRODUCT_SERVICE_BATCH_GET_SKUS_SPEC, product, Public);
    routes.add::<GetCategoryRequest, GetCategoryResponse>(PRODUCT_SERVICE_GET_CATEGORY_SPEC, product, Public);
    routes.add::<ListCategoriesRequest, ListCategoriesResponse>(PRODUCT_SERVICE_LIST_CATEGORIES_SPEC, product, Public);
    routes.add::<CreateProductRequest, CreateProductResponse>(PRODUCT_SERVICE_CREATE_PRODUCT_SPEC, product, Admin);
    routes.add::<UpdateProductRequest, UpdateProductResponse>(PRODUCT_SERVICE_UPDATE_PRODUCT_SPEC, product, Admin);
    routes.add::<DeleteProductRequest, DeleteProductResponse>(PRODUCT_SERVICE_DELETE_PRODUCT_SPEC, product, Admin);
    routes.add::<PublishProductRequest, PublishProductResponse>(PRODUCT_SERVICE_PUBLISH_PRODUCT_SPEC, product, Admin);
    routes.add::<HideProductRequest, HideProductResponse>(PRODUCT_SERVICE_HIDE_PRODUCT_SPEC, product, Admin);
    routes.add::<AddProductImageRequest, AddProductImageResponse>(
        PRODUCT_SERVICE_ADD_PRODUCT_IMAGE_SPEC,
        product,
        Admin,
    );
    routes.add::<UploadProductImageRequest, UploadProductImageResponse>(
        PRODUCT_SERVICE_UPLOAD_PRODUCT_IMAGE_SPEC,
        product,
        Admin,
    );
    routes.add::<RemoveProductImageRequest, RemoveProductImageResponse>(
        PRODUCT_SERVICE_REMOVE_PRODUCT_IMAGE_SPEC,
        product,
        Admin,
    );
    routes.add::<CreateSkuRequest, CreateSkuResponse>(PRODUCT_SERVICE_CREATE_SKU_SPEC, product, Admin);
    routes.add::<UpdateSkuRequest, UpdateSkuResponse>(PRODUCT_SERVICE_UPDATE_SKU_SPEC, product, Admin);
    routes.add::<DeleteSkuRequest, DeleteSkuResponse>(PRODUCT_SERVICE_DELETE_SKU_SPEC, product, Admin);
    routes.add::<CreateCategoryRequest, CreateCategoryResponse>(PRODUCT_SERVICE_CREATE_CATEGORY_SPEC, product, Admin);
    routes.add::<UpdateCategoryRequest, UpdateCategoryResponse>(PRODUCT_SERVICE_UPDATE_CATEGORY_SPEC, product, Admin);
    routes.add::<DeleteCategoryRequest, DeleteCategoryResponse>(PRODUCT_SERVICE_DELETE_CATEGORY_SPEC, product, Admin);

    // product.v1.InventoryService: stock is admins'. The reservations are the order service's alone, never
    // routed: BatchReserveInventory, ConfirmReservation, ReleaseReservation, RestockReservation, GetReservation.
    routes.add::<GetInventoryRequest, GetInventoryResponse>(INVENTORY_SERVICE_GET_INVENTORY_SPEC, product, Admin);
    routes.add::<ListLowStockRequest, ListLowStockResponse>(INVENTORY_SERVICE_LIST_LOW_STOCK_SPEC, product, Admin);
    routes.add::<UpdateInventoryRequest, UpdateInventoryResponse>(
        INVENTORY_SERVICE_UPDATE_INVENTORY_SPEC,
        product,
        Admin,
    );
    routes.add::<AdjustInventoryRequest, AdjustInventoryResponse>(
        INVENTORY_SERVICE_ADJUST_INVENTORY_SPEC,
        product,
        Admin,
    );

    // order.v1.CartService: the signed-in caller's own cart; no request names a user.
    routes.add::<GetCartRequest, GetCartResponse>(CART_SERVICE_GET_CART_SPEC, order, SignedIn);
    routes.add::<AddCartItemRequest, AddCartItemResponse>(CART_SERVICE_ADD_CART_ITEM_SPEC, order, SignedIn);
    routes.add::<UpdateCartItemRequest, UpdateCartItemResponse>(CART_SERVICE_UPDATE_CART_ITEM_SPEC, order, SignedIn);
    routes.add::<RemoveCartItemRequest, RemoveCartItemResponse>(CART_SERVICE_REMOVE_CART_ITEM_SPEC, order, SignedIn);
    routes.add::<ClearCartRequest, ClearCartResponse>(CART_SERVICE_CLEAR_CART_SPEC, order, SignedIn);

    // order.v1.OrderService: the caller's own orders (the service scopes them); all orders are admins'.
    // The order records who placed it: this call alone carries the caller's email and name.
    routes.add_naming_caller::<CreateOrderRequest, CreateOrderResponse>(
        ORDER_SERVICE_CREATE_ORDER_SPEC,
        order,
        SignedIn,
    );
    routes.add::<GetOrderRequest, GetOrderResponse>(ORDER_SERVICE_GET_ORDER_SPEC, order, SignedIn);
    routes.add::<ListOrdersRequest, ListOrdersResponse>(ORDER_SERVICE_LIST_ORDERS_SPEC, order, SignedIn);
    routes.add::<CancelOrderRequest, CancelOrderResponse>(ORDER_SERVICE_CANCEL_ORDER_SPEC, order, SignedIn);
    routes.add::<AdminListOrdersRequest, AdminListOrdersResponse>(ORDER_SERVICE_ADMIN_LIST_ORDERS_SPEC, order, Admin);
    routes.add::<ShipOrderRequest, ShipOrderResponse>(ORDER_SERVICE_SHIP_ORDER_SPEC, order, Admin);
    routes.add::<AdminSalesReportRequest, AdminSalesReportResponse>(
        ORDER_SERVICE_ADMIN_SALES_REPORT_SPEC,
        order,
        Admin,
    );
}

/// The backend services the table routes to.
#[derive(Clone, Debug)]
pub struct Backends {
    pub user: Backend,
    pub product: Backend,
    pub order: Backend,
}

impl Backends {
    /// Every backend, for readiness.
    pub fn all(&self) -> [&Backend; 3] {
        [&self.user, &self.product, &self.order]
    }
}

/// A policy without its request type, for listing the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Public,
    SignedIn,
    /// Own account, by the named request field.
    OwnAccount(&'static str),
    Admin,
}

impl Access {
    /// The scope a token needs for a procedure with this access; `None` for public ones.
    pub fn scope(self) -> Option<Scope> {
        match self {
            Access::Public => None,
            Access::SignedIn | Access::OwnAccount(_) => Some(Scope::Shop),
            Access::Admin => Some(Scope::Backoffice),
        }
    }
}

impl<Req> Policy<Req> {
    fn access(&self) -> Access {
        match self {
            Policy::Public => Access::Public,
            Policy::SignedIn => Access::SignedIn,
            Policy::OwnAccount { field, .. } => Access::OwnAccount(field),
            Policy::Admin => Access::Admin,
        }
    }

    /// Whether the call (`None`: anonymous) may be made with `request`: signed in where the policy needs it,
    /// with the policy's scope, then the policy's own rule.
    fn allows(&self, call: Option<&Admitted>, request: &Req) -> Result<(), BffError> {
        let Some(scope) = self.access().scope() else {
            return Ok(());
        };
        let call = call.ok_or(BffError::Unauthenticated)?;
        if !call.has(scope) {
            return Err(BffError::MissingScope { scope: scope.as_str() });
        }
        match self {
            Policy::Public | Policy::SignedIn => Ok(()),
            Policy::OwnAccount { field, id } => {
                let account = Uuid::try_parse(id(request)).map_err(|_| BffError::MalformedAccountId { field })?;
                if call.caller.may_act_for(account) { Ok(()) } else { Err(BffError::NotOwnAccount) }
            }
            Policy::Admin if !call.caller.is_admin() => Err(BffError::AdminOnly),
            Policy::Admin if !call.revocations_checked => Err(BffError::RevocationsUnchecked),
            Policy::Admin => Ok(()),
        }
    }
}

/// The router being built from the table, and the table as a list.
pub struct Routes {
    router: connectrpc::Router,
    gate: Arc<Gate>,
    listed: Vec<(&'static str, Access)>,
}

impl Routes {
    /// Routes admitted by `gate`.
    pub fn new(gate: Arc<Gate>) -> Self {
        Self { router: connectrpc::Router::new(), gate, listed: Vec::new() }
    }

    /// Routes the unary procedure `spec` to `backend` under `policy`: the gate admits the call, the policy
    /// decides, and the request is forwarded with the caller's identity.
    pub fn add<Req, Res>(&mut self, spec: Spec, backend: &Backend, policy: Policy<Req>)
    where
        Req: Message + JsonSerialize + JsonDeserialize + Send + Sync + 'static,
        Res: HasMessageView + JsonSerialize + JsonDeserialize + Send + 'static,
        for<'a> Res::View<'a>: Send,
    {
        self.add_limited::<Req, Res>(spec, backend, policy, None);
    }

    /// [`add`](Self::add), with a stricter per-client `limit` of the route's own on top of the gate's.
    pub fn add_limited<Req, Res>(
        &mut self,
        spec: Spec,
        backend: &Backend,
        policy: Policy<Req>,
        limit: Option<RouteLimit>,
    ) where
        Req: Message + JsonSerialize + JsonDeserialize + Send + Sync + 'static,
        Res: HasMessageView + JsonSerialize + JsonDeserialize + Send + 'static,
        for<'a> Res::View<'a>: Send,
    {
        self.route::<Req, Res>(spec, backend, policy, limit, false);
    }

    /// [`add`](Self::add), passing the service how the caller's token names them (email and name) too: only
    /// for a procedure that records it, so personal data goes no further than it must.
    pub fn add_naming_caller<Req, Res>(&mut self, spec: Spec, backend: &Backend, policy: Policy<Req>)
    where
        Req: Message + JsonSerialize + JsonDeserialize + Send + Sync + 'static,
        Res: HasMessageView + JsonSerialize + JsonDeserialize + Send + 'static,
        for<'a> Res::View<'a>: Send,
    {
        self.route::<Req, Res>(spec, backend, policy, None, true);
    }

    fn route<Req, Res>(
        &mut self,
        spec: Spec,
        backend: &Backend,
        policy: Policy<Req>,
        limit: Option<RouteLimit>,
        naming_caller: bool,
    ) where
        Req: Message + JsonSerialize + JsonDeserialize + Send + Sync + 'static,
        Res: HasMessageView + JsonSerialize + JsonDeserialize + Send + 'static,
        for<'a> Res::View<'a>: Send,
    {
        // Public reads (Connect GETs among them) say how long their answer may be cached, and for whom.
        let cacheable = policy.access() == Access::Public
            && matches!(spec.idempotency_level, connectrpc::IdempotencyLevel::NoSideEffects);
        let service_and_method = spec.procedure.trim_start_matches('/');
        let (service, method) = service_and_method.split_once('/').expect("a procedure is /package.Service/Method");
        self.listed.push((spec.procedure, policy.access()));
        let (gate, backend, policy) = (self.gate.clone(), backend.clone(), Arc::new(policy));
        let handler = connectrpc::handler_fn(move |ctx: RequestContext, request: Req| {
            let (gate, backend, policy) = (gate.clone(), backend.clone(), policy.clone());
            async move {
                let call = gate.admit(&ctx).await?;
                if let Err(refused) = policy.allows(call.as_ref(), &request) {
                    crate::metrics::access_denied(&refused);
                    return Err(refused.into());
                }
                if let Some(limit) = limit {
                    gate.route_limit(&ctx, limit).await?;
                }
                let options = gate.forward(&ctx, call.as_ref(), naming_caller);
                let caller = call.map(|call| call.caller);
                let answer = backend.forward::<Req, Res>(spec, request, options).await?;
                let response = Response::new(answer);
                if !cacheable {
                    return Ok(response);
                }
                Ok(response
                    .with_header(http::header::CACHE_CONTROL, gate.cache_control(caller.as_ref()))
                    .with_header(http::header::VARY, "authorization"))
            }
        });
        let router = std::mem::take(&mut self.router);
        let router = match spec.idempotency_level {
            // Reads may come as Connect GETs (cacheable); the contract marks them NO_SIDE_EFFECTS.
            connectrpc::IdempotencyLevel::NoSideEffects => {
                router.route_idempotent::<_, Req, Res>(service, method, handler)
            }
            _ => router.route::<_, Req, Res>(service, method, handler),
        };
        self.router = router.with_spec(spec);
    }

    /// Every routed procedure (`/package.Service/Method`) and its access, in table order.
    pub fn listed(&self) -> &[(&'static str, Access)] {
        &self.listed
    }

    /// The fully-qualified names of the services with at least one routed procedure.
    pub fn services(&self) -> Vec<&'static str> {
        let mut services: Vec<&'static str> = self
            .listed
            .iter()
            .map(|(procedure, _)| procedure.trim_start_matches('/').split_once('/').map_or("", |(s, _)| s))
            .collect();
        services.dedup();
        services
    }

    /// The API's descriptors reduced to what the table routes, for the BFF's reflection: services with no
    /// routed procedure are gone, and so are the unrouted methods of the others (the reservation RPCs of
    /// `InventoryService`), with their comments.
    pub fn descriptors(&self) -> Vec<u8> {
        let routed: std::collections::HashSet<&str> = self.listed.iter().map(|(procedure, _)| *procedure).collect();
        let mut set = FileDescriptorSet::decode_from_slice(ec_proto::FILE_DESCRIPTOR_SET)
            .expect("the API's descriptor set decodes");
        for file in &mut set.file {
            let package = file.package.clone().unwrap_or_default();
            let is_routed =
                |service: &str, method: &str| routed.contains(format!("/{package}.{service}/{method}").as_str());
            // Old index -> new index, for the services kept and, per service, the methods kept.
            let mut services = Vec::new();
            let mut methods = Vec::new();
            let mut kept_services = Vec::new();
            for mut service in std::mem::take(&mut file.service) {
                let name = service.name.clone().unwrap_or_default();
                let mut kept = Vec::new();
                let mut map = Vec::new();
                for method in std::mem::take(&mut service.method) {
                    if is_routed(&name, method.name.as_deref().unwrap_or_default()) {
                        map.push(Some(kept.len() as i32));
                        kept.push(method);
                    } else {
                        map.push(None);
                    }
                }
                if kept.is_empty() {
                    services.push(None);
                } else {
                    services.push(Some(kept_services.len() as i32));
                    service.method = kept;
                    kept_services.push(service);
                }
                methods.push(map);
            }
            file.service = kept_services;
            // Comments are located by index paths: [6, service] and [6, service, 2, method, ...].
            if let Some(info) = file.source_code_info.as_option_mut() {
                info.location.retain_mut(|location| {
                    let path = &mut location.path;
                    if path.first() != Some(&6) || path.len() < 2 {
                        return true;
                    }
                    let old = path[1] as usize;
                    let Some(new) = services[old] else { return false };
                    path[1] = new;
                    if path.len() >= 4 && path[2] == 2 {
                        let Some(method) = methods[old][path[3] as usize] else { return false };
                        path[3] = method;
                    }
                    true
                });
            }
        }
        set.encode_to_vec()
    }

    /// The router serving the table.
    pub fn into_router(self) -> connectrpc::Router {
        self.router
    }
}
