//! The `order.v1.CartService` and `order.v1.OrderService` handlers.
//!
//! Each handler checks who is calling before it looks at the request, parses the wire message into domain
//! values (bad input is `invalid_argument` before anything is read), and scopes everything by the caller's
//! account id from the identity the BFF vouches for: no request names a cart, and another's order is as
//! missing as one that does not exist.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::{
    db::Unflushed,
    identity::{Caller, IdentityVerifier},
    page_token::{self, PageTokenError, PageTokens},
};
use ec_proto::{
    order::v1::{
        self as wire, AddCartItemRequest, AddCartItemResponse, AdminListOrdersRequest, AdminListOrdersResponse,
        CancelOrderRequest, CancelOrderResponse, CartService, ClearCartRequest, ClearCartResponse, CreateOrderRequest,
        CreateOrderResponse, GetCartRequest, GetCartResponse, GetOrderRequest, GetOrderResponse, ListOrdersRequest,
        ListOrdersResponse, OrderService, RemoveCartItemRequest, RemoveCartItemResponse, ShipOrderRequest,
        ShipOrderResponse, UpdateCartItemRequest, UpdateCartItemResponse,
    },
    product::v1::Money,
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    cart,
    catalog::{Catalog, SkuInfo},
    domain::{self, Address, Checkout, CheckoutKey, PaymentToken, parse_id},
    error::Error,
    orders::{self, ListFilter, NewOrder, Order, PaymentStatus, Placed, Status},
    saga::Saga,
    shipping::ShippingRules,
};

/// Who is calling, read from the metadata the BFF sends.
#[derive(Clone)]
pub struct Access {
    identity: IdentityVerifier,
}

impl Access {
    pub fn new(identity: IdentityVerifier) -> Self {
        Self { identity }
    }

    /// The signed-in caller.
    fn caller(&self, ctx: &RequestContext) -> Result<Caller, Error> {
        Ok(self.identity.signed_in(ctx.headers())?)
    }

    /// The caller, who must be an admin.
    fn admin(&self, ctx: &RequestContext) -> Result<Caller, Error> {
        Ok(self.identity.admin(ctx.headers())?)
    }
}

fn money(amount: i64, currency_code: &str) -> Money {
    Money { amount, currency_code: currency_code.to_owned(), ..Default::default() }
}

/// The cart handlers.
#[derive(Clone)]
pub struct CartApi {
    pool: PgPool,
    /// For cart changes (see [`cart`]).
    unflushed: Unflushed,
    catalog: Catalog,
    access: Access,
    shipping: ShippingRules,
}

impl CartApi {
    pub fn new(pool: PgPool, unflushed: Unflushed, catalog: Catalog, access: Access, shipping: ShippingRules) -> Self {
        Self { pool, unflushed, catalog, access, shipping }
    }

    /// `user_id`'s cart as the wire shows it: every line priced from the catalog now (one call), flagged
    /// when it cannot be bought as it is.
    async fn cart(&self, user_id: Uuid) -> Result<wire::Cart, Error> {
        let cart = cart::get(&self.pool, user_id).await?;
        let skus = self.catalog.skus(&cart.sku_ids()).await?;
        Ok(render(&cart, &skus, &self.shipping))
    }
}

/// A cart as the wire shows it, priced from `skus` (the catalog's SKUs on sale among its lines).
/// The cart as the wire shows it, priced with `skus` and, when its currency has a rate, with its shipping fee
/// and total (what CreateOrder will charge if nothing changes, and what a client confirms with it).
fn render(cart: &cart::Cart, skus: &HashMap<Uuid, SkuInfo>, shipping: &ShippingRules) -> wire::Cart {
    let lines = &cart.lines;
    let currency = lines.first().map(|line| line.currency_code.clone()).unwrap_or_default();
    let mut subtotal: i64 = 0;
    let items: Vec<wire::CartItem> = lines
        .iter()
        .map(|line| {
            let info = skus.get(&line.sku_id).filter(|info| info.currency_code == line.currency_code);
            let unit_price = info.map_or(0, |info| info.unit_price);
            let line_total = unit_price.saturating_mul(line.quantity);
            if info.is_some() {
                subtotal = subtotal.saturating_add(line_total);
            }
            wire::CartItem {
                sku_id: line.sku_id.to_string(),
                quantity: line.quantity,
                product_id: info.map(|i| i.product_id.to_string()).unwrap_or_default(),
                product_name: info.map(|i| i.product_name.clone()).unwrap_or_default(),
                sku_code: info.map(|i| i.code.clone()).unwrap_or_default(),
                unit_price: MessageField::some(money(unit_price, &line.currency_code)),
                line_total: MessageField::some(money(line_total, &line.currency_code)),
                // No more than the line asks for: enough to tell whether and how far it is short, without
                // showing the shopper the SKU's whole stock (the public reads stock levels only).
                available_quantity: info.map_or(0, |i| i.available.min(line.quantity)),
                purchasable: info.is_some(),
                added_at: MessageField::some(line.added_at.into()),
                ..Default::default()
            }
        })
        .collect();
    let fee = if items.is_empty() { None } else { shipping.fee(&currency, subtotal).ok() };
    wire::Cart {
        items,
        subtotal: MessageField::some(money(subtotal, &currency)),
        updated_at: cart.updated_at.map_or(MessageField::none(), |at| MessageField::some(at.into())),
        shipping_fee: fee.map_or(MessageField::none(), |fee| MessageField::some(money(fee, &currency))),
        total: fee
            .map_or(MessageField::none(), |fee| MessageField::some(money(subtotal.saturating_add(fee), &currency))),
        ..Default::default()
    }
}

#[allow(refining_impl_trait)]
impl CartService for CartApi {
    async fn get_cart(
        &self,
        ctx: RequestContext,
        _: ServiceRequest<'_, GetCartRequest>,
    ) -> ServiceResult<GetCartResponse> {
        let caller = self.access.caller(&ctx)?;
        Response::ok(GetCartResponse {
            cart: MessageField::some(self.cart(caller.user_id).await?),
            ..Default::default()
        })
    }

    async fn add_cart_item(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, AddCartItemRequest>,
    ) -> ServiceResult<AddCartItemResponse> {
        let caller = self.access.caller(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        let quantity = domain::units_to_add(request.quantity)?;
        // One catalog call prices the new SKU and every line already there, for the answer too.
        let read = cart::get(&self.pool, caller.user_id).await?;
        let mut ids = read.sku_ids();
        if !ids.contains(&sku_id) {
            ids.push(sku_id);
        }
        let mut skus = self.catalog.skus(&ids).await?;
        let sku = skus.get(&sku_id).ok_or(Error::NotFound("SKU (or it is not on sale)"))?;
        let cart = cart::add(&self.unflushed, caller.user_id, &read, sku_id, quantity, &sku.currency_code).await?;
        // Lines a concurrent change added meanwhile are priced too.
        let unpriced: Vec<Uuid> = cart.sku_ids().into_iter().filter(|id| !ids.contains(id)).collect();
        if !unpriced.is_empty() {
            skus.extend(self.catalog.skus(&unpriced).await?);
        }
        Response::ok(AddCartItemResponse {
            cart: MessageField::some(render(&cart, &skus, &self.shipping)),
            ..Default::default()
        })
    }

    async fn update_cart_item(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateCartItemRequest>,
    ) -> ServiceResult<UpdateCartItemResponse> {
        let caller = self.access.caller(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        let quantity = domain::line_quantity(request.quantity)?;
        cart::set_quantity(&self.unflushed, caller.user_id, sku_id, quantity).await?;
        Response::ok(UpdateCartItemResponse {
            cart: MessageField::some(self.cart(caller.user_id).await?),
            ..Default::default()
        })
    }

    async fn remove_cart_item(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, RemoveCartItemRequest>,
    ) -> ServiceResult<RemoveCartItemResponse> {
        let caller = self.access.caller(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        cart::set_quantity(&self.unflushed, caller.user_id, sku_id, 0).await?;
        Response::ok(RemoveCartItemResponse {
            cart: MessageField::some(self.cart(caller.user_id).await?),
            ..Default::default()
        })
    }

    async fn clear_cart(
        &self,
        ctx: RequestContext,
        _: ServiceRequest<'_, ClearCartRequest>,
    ) -> ServiceResult<ClearCartResponse> {
        let caller = self.access.caller(&ctx)?;
        cart::clear(&self.unflushed, caller.user_id).await?;
        Response::ok(ClearCartResponse {
            cart: MessageField::some(self.cart(caller.user_id).await?),
            ..Default::default()
        })
    }
}

/// The order handlers.
#[derive(Clone)]
pub struct OrderApi {
    pool: PgPool,
    catalog: Catalog,
    saga: Saga,
    access: Access,
    shipping: ShippingRules,
    tokens: PageTokens,
    /// The longest a CreateOrder (or CancelOrder) call waits for the saga, whatever its deadline.
    wait: Duration,
}

/// Page size when none is asked for, and the most one page may have.
const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i32 = 100;
/// How often a call waiting for another's saga looks again.
const POLL: Duration = Duration::from_millis(25);

impl OrderApi {
    pub fn new(
        pool: PgPool,
        catalog: Catalog,
        saga: Saga,
        access: Access,
        shipping: ShippingRules,
        tokens: PageTokens,
        wait: Duration,
    ) -> Self {
        Self { pool, catalog, saga, access, shipping, tokens, wait }
    }

    /// When a call must have its answer: its deadline less a margin to answer in, and at most `wait` away.
    fn until(&self, ctx: &RequestContext) -> Instant {
        let cap = Instant::now() + self.wait;
        match ctx.deadline() {
            Some(deadline) => deadline.checked_sub(Duration::from_millis(250)).unwrap_or(deadline).min(cap),
            None => cap,
        }
    }

    /// The caller's cart, priced from the catalog now, as order lines: `failed_precondition` if it is empty
    /// or a line cannot be bought.
    async fn price_cart(&self, user_id: Uuid) -> Result<NewOrder, Error> {
        let lines = cart::get(&self.pool, user_id).await?.lines;
        if lines.is_empty() {
            return Err(Error::FailedPrecondition("the cart is empty".into()));
        }
        let ids: Vec<Uuid> = lines.iter().map(|line| line.sku_id).collect();
        let skus: HashMap<Uuid, SkuInfo> = self.catalog.skus(&ids).await?;
        let currency_code = lines[0].currency_code.clone();
        let unavailable: Vec<String> = lines
            .iter()
            .filter(|line| skus.get(&line.sku_id).is_none_or(|sku| sku.currency_code != currency_code))
            .map(|line| line.sku_id.to_string())
            .collect();
        if !unavailable.is_empty() {
            return Err(Error::FailedPrecondition(format!(
                "the cart has lines that cannot be bought now: {}; remove them and try again",
                unavailable.join(", ")
            )));
        }
        let mut subtotal: i64 = 0;
        let mut order_lines = Vec::with_capacity(lines.len());
        for line in &lines {
            let sku = &skus[&line.sku_id];
            subtotal = sku
                .unit_price
                .checked_mul(line.quantity)
                .and_then(|total| subtotal.checked_add(total))
                .ok_or_else(|| Error::FailedPrecondition("the order total is too large".into()))?;
            order_lines.push(orders::Line {
                sku_id: line.sku_id,
                product_id: sku.product_id,
                product_name: sku.product_name.clone(),
                sku_code: sku.code.clone(),
                quantity: line.quantity,
                unit_price: sku.unit_price,
            });
        }
        Ok(NewOrder {
            id: Uuid::now_v7(),
            user_id,
            shipping_fee: self.shipping.fee(&currency_code, subtotal)?,
            currency_code,
            subtotal,
            lines: order_lines,
        })
    }

    /// Order `id` once its saga has settled (not PENDING), waiting until `until` at most.
    async fn settled(&self, id: Uuid, until: Instant) -> Result<Order, Error> {
        loop {
            let order = orders::get(&self.pool, id).await?.ok_or(Error::NotFound("order"))?;
            if order.status != Status::Pending {
                return Ok(order);
            }
            if Instant::now() + POLL >= until {
                return Err(Error::StillRunning(
                    "the order is still being placed; call again with the same idempotency key for the outcome",
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// A page of orders matching `filter` (bound into its tokens as `binding`), and the next page's token.
    async fn page(
        &self,
        filter: ListFilter,
        binding: [u8; 16],
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<wire::Order>, String), Error> {
        if !(0..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(Error::InvalidArgument(format!("page_size must be between 0 and {MAX_PAGE_SIZE}")));
        }
        let size = if page_size == 0 { DEFAULT_PAGE_SIZE } else { i64::from(page_size) };
        let now = chrono::Utc::now().timestamp();
        let before = match page_token {
            "" => None,
            token => {
                let cursor = self.tokens.decode(token, &binding, 16, now).map_err(token_error)?;
                Some(Uuid::from_slice(&cursor).map_err(|_| token_error(PageTokenError::Forged))?)
            }
        };
        let mut found = orders::list(&self.pool, filter, before, size + 1).await?;
        let next = if found.len() as i64 > size {
            found.truncate(size as usize);
            found.last().map(|last| self.tokens.encode(&binding, last.id.as_bytes(), now)).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((found.into_iter().map(order_to_wire).collect(), next))
    }
}

fn token_error(e: PageTokenError) -> Error {
    Error::InvalidArgument(e.to_string())
}

fn status_to_wire(status: Status) -> wire::OrderStatus {
    match status {
        Status::Pending => wire::OrderStatus::ORDER_STATUS_PENDING,
        Status::Confirmed => wire::OrderStatus::ORDER_STATUS_CONFIRMED,
        Status::Failed => wire::OrderStatus::ORDER_STATUS_FAILED,
        Status::Cancelled => wire::OrderStatus::ORDER_STATUS_CANCELLED,
        Status::Shipped => wire::OrderStatus::ORDER_STATUS_SHIPPED,
    }
}

fn status_from_wire(status: buffa::EnumValue<wire::OrderStatus>) -> Result<Status, Error> {
    match status.as_known() {
        Some(wire::OrderStatus::ORDER_STATUS_PENDING) => Ok(Status::Pending),
        Some(wire::OrderStatus::ORDER_STATUS_CONFIRMED) => Ok(Status::Confirmed),
        Some(wire::OrderStatus::ORDER_STATUS_FAILED) => Ok(Status::Failed),
        Some(wire::OrderStatus::ORDER_STATUS_CANCELLED) => Ok(Status::Cancelled),
        Some(wire::OrderStatus::ORDER_STATUS_SHIPPED) => Ok(Status::Shipped),
        _ => Err(Error::InvalidArgument("status must be a known order status".into())),
    }
}

fn payment_to_wire(status: PaymentStatus) -> wire::PaymentStatus {
    match status {
        PaymentStatus::Pending => wire::PaymentStatus::PAYMENT_STATUS_PENDING,
        PaymentStatus::Authorized => wire::PaymentStatus::PAYMENT_STATUS_AUTHORIZED,
        PaymentStatus::Declined => wire::PaymentStatus::PAYMENT_STATUS_DECLINED,
        PaymentStatus::Voided => wire::PaymentStatus::PAYMENT_STATUS_VOIDED,
        PaymentStatus::Captured => wire::PaymentStatus::PAYMENT_STATUS_CAPTURED,
        PaymentStatus::Refunded => wire::PaymentStatus::PAYMENT_STATUS_REFUNDED,
    }
}

/// Maps an order to the wire.
pub fn order_to_wire(order: Order) -> wire::Order {
    let currency = order.currency_code.as_str();
    let timestamp =
        |at: Option<chrono::DateTime<chrono::Utc>>| at.map_or(MessageField::none(), |at| MessageField::some(at.into()));
    wire::Order {
        id: order.id.to_string(),
        user_id: order.user_id.to_string(),
        status: status_to_wire(order.status).into(),
        items: order
            .lines
            .iter()
            .map(|line| wire::OrderItem {
                sku_id: line.sku_id.to_string(),
                product_id: line.product_id.to_string(),
                product_name: line.product_name.clone(),
                sku_code: line.sku_code.clone(),
                quantity: line.quantity,
                unit_price: MessageField::some(money(line.unit_price, currency)),
                line_total: MessageField::some(money(line.unit_price * line.quantity, currency)),
                ..Default::default()
            })
            .collect(),
        subtotal: MessageField::some(money(order.subtotal, currency)),
        shipping_fee: MessageField::some(money(order.shipping_fee, currency)),
        total: MessageField::some(money(order.total, currency)),
        shipping_address: MessageField::some(order.address.to_wire()),
        payment_status: payment_to_wire(order.payment_status).into(),
        failure_reason: order.failure_reason,
        tracking_number: order.tracking_number.unwrap_or_default(),
        created_at: MessageField::some(order.created_at.into()),
        updated_at: MessageField::some(order.updated_at.into()),
        cancelled_at: timestamp(order.cancelled_at),
        shipped_at: timestamp(order.shipped_at),
        ..Default::default()
    }
}

#[allow(refining_impl_trait)]
impl OrderService for OrderApi {
    async fn create_order(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CreateOrderRequest>,
    ) -> ServiceResult<CreateOrderResponse> {
        let caller = self.access.caller(&ctx)?;
        if !self.saga.takes_orders() {
            let refused =
                Error::FailedPrecondition("this shop takes no orders yet: no payment provider is configured".into());
            return Err(refused.into());
        }
        let key = CheckoutKey::parse(request.idempotency_key)?;
        let request = request.to_owned_message();
        let address = request
            .shipping_address
            .as_option()
            .ok_or_else(|| Error::InvalidArgument("shipping_address is required".into()))?;
        let checkout = Checkout {
            key,
            address: Address::parse(address)?,
            payment_token: PaymentToken::parse(&request.payment_token)?,
        };
        let until = self.until(&ctx);
        // The cart is priced first and the key looked up only if that fails (a repeat usually finds the cart
        // emptied by the order it placed): placing the order finds a key used before, so a first call, the
        // common one, costs no lookup of its own.
        let expected = request.expected_total.as_option().map(|total| (total.amount, total.currency_code.as_str()));
        let priced = self.price_cart(caller.user_id).await.and_then(|new| match expected {
            Some(confirmed) if confirmed != (new.total(), new.currency_code.as_str()) => {
                Err(Error::FailedPrecondition(format!(
                    "the order total is now {} {} (prices or shipping changed since it was confirmed); nothing was \
                     ordered: check the cart and confirm the new total",
                    new.total(),
                    new.currency_code
                )))
            }
            _ => Ok(new),
        });
        let new = match priced {
            Ok(new) => new,
            Err(cannot) => match orders::find_by_key(&self.pool, caller.user_id, &checkout).await? {
                Some(earlier) => {
                    replayed();
                    return created(self.settled(earlier, until).await?);
                }
                None => return Err(cannot.into()),
            },
        };
        let order = match orders::place(&self.pool, &checkout, &new, self.saga.lease()).await? {
            Placed::New(id) => {
                metrics::counter!("ec_orders_placed_total").increment(1);
                match self.saga.run_placed(&new, checkout.payment_token.as_str(), until).await? {
                    Some(finished) => finished,
                    None => self.settled(id, until).await?,
                }
            }
            Placed::Earlier(id) => {
                replayed();
                self.settled(id, until).await?
            }
        };
        created(order)
    }

    async fn get_order(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetOrderRequest>,
    ) -> ServiceResult<GetOrderResponse> {
        let caller = self.access.caller(&ctx)?;
        let id = parse_id(request.id, "id")?;
        let order = match caller.is_admin() {
            true => orders::get(&self.pool, id).await?.ok_or(Error::NotFound("order"))?,
            false => orders::get_own(&self.pool, caller.user_id, id).await?,
        };
        Response::ok(GetOrderResponse { order: MessageField::some(order_to_wire(order)), ..Default::default() })
    }

    async fn list_orders(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListOrdersRequest>,
    ) -> ServiceResult<ListOrdersResponse> {
        let caller = self.access.caller(&ctx)?;
        let filter = ListFilter { user_id: Some(caller.user_id), status: None };
        let binding = page_token::binding(&[b"mine", caller.user_id.as_bytes()]);
        let (orders, next_page_token) = self.page(filter, binding, request.page_size, request.page_token).await?;
        Response::ok(ListOrdersResponse { orders, next_page_token, ..Default::default() })
    }

    async fn cancel_order(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CancelOrderRequest>,
    ) -> ServiceResult<CancelOrderResponse> {
        let caller = self.access.caller(&ctx)?;
        let id = parse_id(request.id, "id")?;
        let reason = domain::cancel_reason(request.reason)?;
        self.saga.cancel(caller.user_id, id, &reason, self.until(&ctx)).await?;
        let order = orders::get_own(&self.pool, caller.user_id, id).await?;
        Response::ok(CancelOrderResponse { order: MessageField::some(order_to_wire(order)), ..Default::default() })
    }

    async fn admin_list_orders(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, AdminListOrdersRequest>,
    ) -> ServiceResult<AdminListOrdersResponse> {
        self.access.admin(&ctx)?;
        let user_id = request.user_id.map(|id| parse_id(id, "user_id")).transpose()?;
        let status = request.status.map(status_from_wire).transpose()?;
        let filter = ListFilter { user_id, status };
        let binding = page_token::binding(&[
            b"all",
            user_id.as_ref().map_or(&[][..], |id| id.as_bytes()),
            status.map_or("", Status::as_str).as_bytes(),
        ]);
        let (orders, next_page_token) = self.page(filter, binding, request.page_size, request.page_token).await?;
        Response::ok(AdminListOrdersResponse { orders, next_page_token, ..Default::default() })
    }

    async fn ship_order(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ShipOrderRequest>,
    ) -> ServiceResult<ShipOrderResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.id, "id")?;
        let tracking = domain::tracking_number(request.tracking_number)?;
        self.saga.ship(id, &tracking).await?;
        let order = orders::get(&self.pool, id).await?.ok_or(Error::NotFound("order"))?;
        Response::ok(ShipOrderResponse { order: MessageField::some(order_to_wire(order)), ..Default::default() })
    }
}

/// CreateOrder's answer: `order`.
fn created(order: Order) -> ServiceResult<CreateOrderResponse> {
    Response::ok(CreateOrderResponse { order: MessageField::some(order_to_wire(order)), ..Default::default() })
}

/// Counts a CreateOrder answered with the order an earlier call under the same key placed.
fn replayed() {
    metrics::counter!("ec_idempotent_replays_total", "operation" => "create_order").increment(1);
}
