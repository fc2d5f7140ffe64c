//! `order.v1.OrderService`: checkout, a customer's own orders, and the back office's (admins only).

use std::time::{Duration, Instant};

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::{
    access::Access,
    page_token::{self, PageTokens},
};
use ec_proto::order::v1::{
    self as proto, AdminListOrdersRequest, AdminListOrdersResponse, AdminSalesReportRequest, AdminSalesReportResponse,
    CancelOrderRequest, CancelOrderResponse, CreateOrderRequest, CreateOrderResponse, GetOrderRequest,
    GetOrderResponse, ListOrdersRequest, ListOrdersResponse, OrderService, ShipOrderRequest, ShipOrderResponse,
};
use sqlx::PgPool;

use super::wire;
use crate::{
    checkout::{Checkouts, OrderRequest},
    domain::{self, parse_id},
    error::Error,
    orders::{self, ListFilter, Status},
    report,
    saga::Saga,
};

/// The order handlers.
#[derive(Clone)]
pub struct OrderApi {
    pool: PgPool,
    checkouts: Checkouts,
    saga: Saga,
    access: Access,
    tokens: PageTokens,
    /// The longest a CreateOrder (or CancelOrder) call waits for the saga, whatever its deadline.
    wait: Duration,
}

impl OrderApi {
    pub fn new(
        pool: PgPool,
        checkouts: Checkouts,
        saga: Saga,
        access: Access,
        tokens: PageTokens,
        wait: Duration,
    ) -> Self {
        Self { pool, checkouts, saga, access, tokens, wait }
    }

    /// When a call must have its answer: its deadline less a margin to answer in, and at most `wait` away.
    fn until(&self, ctx: &RequestContext) -> Instant {
        let cap = Instant::now() + self.wait;
        match ctx.deadline() {
            Some(deadline) => deadline.checked_sub(Duration::from_millis(250)).unwrap_or(deadline).min(cap),
            None => cap,
        }
    }

    /// A page of orders matching `filter` (bound into its tokens as `binding`), and the next page's token.
    async fn page(
        &self,
        filter: ListFilter,
        binding: [u8; 16],
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<proto::Order>, String), Error> {
        let size = page_token::page_size(page_size)?;
        let now = chrono::Utc::now().timestamp();
        // Newest first: the page goes on after the last order of the previous one, to older (smaller) ids.
        let before = self.tokens.after_id(page_token, &binding, now)?;
        let mut found = orders::list(&self.pool, filter, before, size + 1).await?;
        let next = if found.len() as i64 > size {
            found.truncate(size as usize);
            found.last().map(|last| self.tokens.encode(&binding, last.id.as_bytes(), now)).unwrap_or_default()
        } else {
            String::new()
        };
        Ok((found.into_iter().map(wire::order).collect(), next))
    }
}

/// An instant as the bytes a page token is bound to; none for no instant.
fn instant_bytes(at: Option<chrono::DateTime<chrono::Utc>>) -> Vec<u8> {
    at.map_or_else(Vec::new, |at| at.timestamp_micros().to_be_bytes().to_vec())
}

#[allow(refining_impl_trait)]
impl OrderService for OrderApi {
    async fn create_order(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CreateOrderRequest>,
    ) -> ServiceResult<CreateOrderResponse> {
        let caller = self.access.signed_in(&ctx)?;
        self.checkouts.open()?;
        let request = OrderRequest::parse(&request.to_owned_message(), self.access.contact(&ctx))?;
        let order = self.checkouts.create(caller.user_id, &request, self.until(&ctx)).await?;
        Response::ok(CreateOrderResponse { order: MessageField::some(wire::order(order)), ..Default::default() })
    }

    async fn get_order(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetOrderRequest>,
    ) -> ServiceResult<GetOrderResponse> {
        let caller = self.access.signed_in(&ctx)?;
        let id = parse_id(request.id, "id")?;
        let order = match caller.is_admin() {
            true => orders::get(&self.pool, id).await?.ok_or(Error::NotFound("order"))?,
            false => orders::get_own(&self.pool, caller.user_id, id).await?,
        };
        Response::ok(GetOrderResponse { order: MessageField::some(wire::order(order)), ..Default::default() })
    }

    async fn list_orders(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListOrdersRequest>,
    ) -> ServiceResult<ListOrdersResponse> {
        let caller = self.access.signed_in(&ctx)?;
        let mut statuses =
            request.statuses.iter().map(|&s| wire::status_from_wire(s)).collect::<Result<Vec<_>, _>>()?;
        statuses.sort_by_key(|s| s.as_str());
        statuses.dedup();
        // A page token goes on only with the statuses it was issued for.
        let mut fields: Vec<&[u8]> = vec![b"mine", caller.user_id.as_bytes()];
        fields.extend(statuses.iter().map(|s| s.as_str().as_bytes()));
        let binding = page_token::binding(&fields);
        let filter = ListFilter { user_id: Some(caller.user_id), statuses, ..Default::default() };
        let (orders, next_page_token) = self.page(filter, binding, request.page_size, request.page_token).await?;
        Response::ok(ListOrdersResponse { orders, next_page_token, ..Default::default() })
    }

    async fn cancel_order(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CancelOrderRequest>,
    ) -> ServiceResult<CancelOrderResponse> {
        let caller = self.access.signed_in(&ctx)?;
        let id = parse_id(request.id, "id")?;
        let reason = domain::cancel_reason(request.reason)?;
        self.saga.cancel(caller.user_id, id, &reason, self.until(&ctx)).await?;
        let order = orders::get_own(&self.pool, caller.user_id, id).await?;
        Response::ok(CancelOrderResponse { order: MessageField::some(wire::order(order)), ..Default::default() })
    }

    async fn admin_list_orders(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, AdminListOrdersRequest>,
    ) -> ServiceResult<AdminListOrdersResponse> {
        self.access.admin(&ctx)?;
        let request = request.to_owned_message();
        let user_id = request.user_id.as_deref().map(|id| parse_id(id, "user_id")).transpose()?;
        let status = request.status.map(wire::status_from_wire).transpose()?;
        let customer_email = domain::email_prefix(&request.customer_email)?;
        let placed_after = request.placed_after.as_option().map(|at| wire::instant(at, "placed_after")).transpose()?;
        let placed_before =
            request.placed_before.as_option().map(|at| wire::instant(at, "placed_before")).transpose()?;
        if let (Some(after), Some(before)) = (placed_after, placed_before)
            && before <= after
        {
            return Err(Error::InvalidArgument("placed_before must be after placed_after".into()).into());
        }
        // A page token goes on only with the filters it was issued for.
        let (after_bytes, before_bytes) = (instant_bytes(placed_after), instant_bytes(placed_before));
        let binding = page_token::binding(&[
            b"all",
            user_id.as_ref().map_or(&[][..], |id| id.as_bytes()),
            status.map_or("", Status::as_str).as_bytes(),
            customer_email.as_deref().unwrap_or_default().as_bytes(),
            &after_bytes,
            &before_bytes,
        ]);
        let filter =
            ListFilter { user_id, statuses: status.into_iter().collect(), customer_email, placed_after, placed_before };
        let (orders, next_page_token) = self.page(filter, binding, request.page_size, &request.page_token).await?;
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
        Response::ok(ShipOrderResponse { order: MessageField::some(wire::order(order)), ..Default::default() })
    }

    async fn admin_sales_report(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, AdminSalesReportRequest>,
    ) -> ServiceResult<AdminSalesReportResponse> {
        self.access.admin(&ctx)?;
        let report = report::sales(&self.pool, request.time_zone, request.days).await?;
        Response::ok(wire::sales_report(report))
    }
}
