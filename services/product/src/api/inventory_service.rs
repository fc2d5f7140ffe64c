//! [`InventoryApi`]: the `product.v1.InventoryService` handlers. Stock administration is for admins; the
//! reservation RPCs (Try-Confirm-Cancel, for the order saga) answer only the platform's own services, each
//! under the caller's scope for idempotency keys.

use std::time::Duration;

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::{db::GenericPlans, page_token};
use ec_proto::product::v1::{
    AdjustInventoryRequest, AdjustInventoryResponse, BatchReserveInventoryRequest, BatchReserveInventoryResponse,
    ConfirmReservationRequest, ConfirmReservationResponse, GetInventoryRequest, GetInventoryResponse,
    GetReservationRequest, GetReservationResponse, InventoryService, ListLowStockRequest, ListLowStockResponse,
    LowStock, ReleaseReservationRequest, ReleaseReservationResponse, RestockReservationRequest,
    RestockReservationResponse, UpdateInventoryRequest, UpdateInventoryResponse,
};
use sqlx::PgPool;

use crate::{
    api::{
        access::ProductAccess,
        wire::{reservation_to_wire, stock_to_wire},
    },
    domain::{Actor, IdempotencyKey, ReservationItems, parse_id},
    inventory,
};

/// The inventory handlers.
#[derive(Clone)]
pub struct InventoryApi {
    pool: PgPool,
    /// For BatchReserveInventory (see [`inventory::reserve`]).
    lookups: GenericPlans,
    access: ProductAccess,
    reservation_ttl: Duration,
}

impl InventoryApi {
    /// Handlers over `pool` and `lookups`, a pool of generic plans beside it; reservations hold stock for
    /// `reservation_ttl`.
    pub fn new(pool: PgPool, lookups: GenericPlans, access: ProductAccess, reservation_ttl: Duration) -> Self {
        Self { pool, lookups, access, reservation_ttl }
    }
}

#[allow(refining_impl_trait)]
impl InventoryService for InventoryApi {
    async fn list_low_stock(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListLowStockRequest>,
    ) -> ServiceResult<ListLowStockResponse> {
        self.access.admin(&ctx)?;
        let limit = page_token::page_size(request.limit)
            .map_err(|_| crate::error::Error::InvalidArgument("limit must be 0 (for 20) to 100".into()))?;
        let running = inventory::running_out(&self.pool, limit).await?;
        Response::ok(ListLowStockResponse {
            skus: running
                .skus
                .into_iter()
                .map(|sku| LowStock {
                    sku_id: sku.sku_id.to_string(),
                    product_id: sku.product_id.to_string(),
                    product_name: sku.product_name,
                    sku_code: sku.sku_code,
                    available: sku.available,
                    ..Default::default()
                })
                .collect(),
            threshold: running.threshold,
            sold_out_count: running.sold_out,
            low_count: running.low,
            ..Default::default()
        })
    }

    async fn get_inventory(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetInventoryRequest>,
    ) -> ServiceResult<GetInventoryResponse> {
        self.access.admin(&ctx)?;
        let stock = inventory::get(&self.pool, parse_id(request.sku_id, "sku_id")?).await?;
        Response::ok(GetInventoryResponse {
            inventory: MessageField::some(stock_to_wire(stock, self.access.full_stock())),
            ..Default::default()
        })
    }

    async fn update_inventory(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateInventoryRequest>,
    ) -> ServiceResult<UpdateInventoryResponse> {
        let caller = self.access.admin(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        let actor = Actor::account(caller.user_id);
        let stock = inventory::update(&self.pool, &actor, sku_id, request.quantity, request.version).await?;
        Response::ok(UpdateInventoryResponse {
            inventory: MessageField::some(stock_to_wire(stock, self.access.full_stock())),
            ..Default::default()
        })
    }

    async fn adjust_inventory(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, AdjustInventoryRequest>,
    ) -> ServiceResult<AdjustInventoryResponse> {
        let caller = self.access.admin(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        let actor = Actor::account(caller.user_id);
        let stock = inventory::adjust(&self.pool, &actor, sku_id, request.delta, request.reason.trim()).await?;
        Response::ok(AdjustInventoryResponse {
            inventory: MessageField::some(stock_to_wire(stock, self.access.full_stock())),
            ..Default::default()
        })
    }

    async fn batch_reserve_inventory(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, BatchReserveInventoryRequest>,
    ) -> ServiceResult<BatchReserveInventoryResponse> {
        let scope = self.access.internal_scope(&ctx)?;
        let items = ReservationItems::parse(request.items.iter().map(|item| (item.sku_id, item.quantity)))?;
        let key = IdempotencyKey::parse(request.idempotency_key)?;
        let reservation = inventory::reserve(self.lookups.pool(), &scope, &key, &items, self.reservation_ttl).await?;
        Response::ok(BatchReserveInventoryResponse {
            reservation: MessageField::some(reservation_to_wire(reservation)),
            ..Default::default()
        })
    }

    async fn confirm_reservation(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ConfirmReservationRequest>,
    ) -> ServiceResult<ConfirmReservationResponse> {
        let scope = self.access.internal_scope(&ctx)?;
        let id = parse_id(request.reservation_id, "reservation_id")?;
        let key = IdempotencyKey::parse(request.idempotency_key)?;
        let reservation = inventory::confirm(&self.pool, &scope, &key, id).await?;
        Response::ok(ConfirmReservationResponse {
            reservation: MessageField::some(reservation_to_wire(reservation)),
            ..Default::default()
        })
    }

    async fn release_reservation(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ReleaseReservationRequest>,
    ) -> ServiceResult<ReleaseReservationResponse> {
        let scope = self.access.internal_scope(&ctx)?;
        let id = parse_id(request.reservation_id, "reservation_id")?;
        let key = IdempotencyKey::parse(request.idempotency_key)?;
        let reservation = inventory::release(&self.pool, &scope, &key, id).await?;
        Response::ok(ReleaseReservationResponse {
            reservation: MessageField::some(reservation_to_wire(reservation)),
            ..Default::default()
        })
    }

    async fn restock_reservation(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, RestockReservationRequest>,
    ) -> ServiceResult<RestockReservationResponse> {
        let scope = self.access.internal_scope(&ctx)?;
        let id = parse_id(request.reservation_id, "reservation_id")?;
        let key = IdempotencyKey::parse(request.idempotency_key)?;
        let reservation = inventory::restock(&self.pool, &scope, &key, id).await?;
        Response::ok(RestockReservationResponse {
            reservation: MessageField::some(reservation_to_wire(reservation)),
            ..Default::default()
        })
    }

    async fn get_reservation(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetReservationRequest>,
    ) -> ServiceResult<GetReservationResponse> {
        self.access.internal_scope(&ctx)?;
        let reservation = inventory::get_reservation(&self.pool, parse_id(request.id, "id")?).await?;
        Response::ok(GetReservationResponse {
            reservation: MessageField::some(reservation_to_wire(reservation)),
            ..Default::default()
        })
    }
}
