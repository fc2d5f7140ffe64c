//! The `product.v1.InventoryService` handlers.
//!
//! Each handler checks who is calling before it looks at the request (so the unauthorised learn nothing),
//! parses the wire message into domain values (bad input is `invalid_argument` before the database is
//! touched), calls [`crate::inventory`], and maps the result back to the wire type.

use std::time::Duration;

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::identity::{Caller, IdentityVerifier};
use ec_proto::product::v1::{
    self as wire, AdjustInventoryRequest, AdjustInventoryResponse, BatchReserveInventoryRequest,
    BatchReserveInventoryResponse, ConfirmReservationRequest, ConfirmReservationResponse, GetInventoryRequest,
    GetInventoryResponse, GetReservationRequest, GetReservationResponse, InventoryService, ReleaseReservationRequest,
    ReleaseReservationResponse, UpdateInventoryRequest, UpdateInventoryResponse,
};
use sqlx::PgPool;

use crate::{
    domain::{IdempotencyKey, ReservationItems, parse_id},
    error::Error,
    inventory::{self, Actor, Reservation, ReservationStatus, Stock},
};

/// Who may call what, read from the metadata the BFF (or another service) sends.
#[derive(Clone)]
pub struct Access {
    identity: IdentityVerifier,
}

impl Access {
    pub fn new(identity: IdentityVerifier) -> Self {
        Self { identity }
    }

    /// The caller, who must be an admin.
    pub fn admin(&self, ctx: &RequestContext) -> Result<Caller, Error> {
        let caller = self.identity.caller(ctx.headers())?.ok_or(Error::Unauthenticated)?;
        if !caller.is_admin() {
            return Err(Error::PermissionDenied("the caller is not an admin"));
        }
        Ok(caller)
    }

    /// For internal RPCs: the scope the caller's idempotency keys live in (the account the calling service
    /// acts for, or the service itself), if the call carries the platform's internal secret.
    pub fn internal(&self, ctx: &RequestContext) -> Result<String, Error> {
        if !self.identity.is_internal(ctx.headers()) {
            return Err(Error::PermissionDenied("this is an internal RPC"));
        }
        Ok(match self.identity.caller(ctx.headers())? {
            Some(caller) => caller.user_id.to_string(),
            None => "internal".to_owned(),
        })
    }
}

/// The inventory handlers.
#[derive(Clone)]
pub struct InventoryApi {
    pool: PgPool,
    access: Access,
    reservation_ttl: Duration,
}

impl InventoryApi {
    /// Handlers over `pool`; reservations hold stock for `reservation_ttl`.
    pub fn new(pool: PgPool, access: Access, reservation_ttl: Duration) -> Self {
        Self { pool, access, reservation_ttl }
    }
}

/// Maps stock to the wire.
pub fn stock_to_wire(stock: Stock) -> wire::Inventory {
    wire::Inventory {
        sku_id: stock.sku_id.to_string(),
        quantity: stock.quantity,
        reserved: stock.reserved,
        available: stock.available(),
        version: stock.version,
        updated_at: MessageField::some(stock.updated_at.into()),
        ..Default::default()
    }
}

fn reservation_to_wire(reservation: Reservation) -> wire::Reservation {
    let status = match reservation.status {
        ReservationStatus::Pending => wire::ReservationStatus::RESERVATION_STATUS_PENDING,
        ReservationStatus::Confirmed => wire::ReservationStatus::RESERVATION_STATUS_CONFIRMED,
        ReservationStatus::Released => wire::ReservationStatus::RESERVATION_STATUS_RELEASED,
        ReservationStatus::Expired => wire::ReservationStatus::RESERVATION_STATUS_EXPIRED,
    };
    wire::Reservation {
        id: reservation.id.to_string(),
        status: status.into(),
        items: reservation
            .items
            .into_iter()
            .map(|(sku_id, quantity)| wire::ReservationItem {
                sku_id: sku_id.to_string(),
                quantity,
                ..Default::default()
            })
            .collect(),
        created_at: MessageField::some(reservation.created_at.into()),
        expires_at: MessageField::some(reservation.expires_at.into()),
        updated_at: MessageField::some(reservation.updated_at.into()),
        ..Default::default()
    }
}

fn admin_actor(caller: &Caller) -> Actor {
    Actor(caller.user_id.to_string())
}

#[allow(refining_impl_trait)]
impl InventoryService for InventoryApi {
    async fn get_inventory(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetInventoryRequest>,
    ) -> ServiceResult<GetInventoryResponse> {
        self.access.admin(&ctx)?;
        let stock = inventory::get(&self.pool, parse_id(request.sku_id, "sku_id")?).await?;
        Response::ok(GetInventoryResponse { inventory: MessageField::some(stock_to_wire(stock)), ..Default::default() })
    }

    async fn update_inventory(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateInventoryRequest>,
    ) -> ServiceResult<UpdateInventoryResponse> {
        let caller = self.access.admin(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        let stock =
            inventory::update(&self.pool, &admin_actor(&caller), sku_id, request.quantity, request.version).await?;
        Response::ok(UpdateInventoryResponse {
            inventory: MessageField::some(stock_to_wire(stock)),
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
        let stock =
            inventory::adjust(&self.pool, &admin_actor(&caller), sku_id, request.delta, request.reason.trim()).await?;
        Response::ok(AdjustInventoryResponse {
            inventory: MessageField::some(stock_to_wire(stock)),
            ..Default::default()
        })
    }

    async fn batch_reserve_inventory(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, BatchReserveInventoryRequest>,
    ) -> ServiceResult<BatchReserveInventoryResponse> {
        let scope = self.access.internal(&ctx)?;
        let items = ReservationItems::parse(request.items.iter().map(|item| (item.sku_id, item.quantity)))?;
        let key = IdempotencyKey::parse(request.idempotency_key)?;
        let reservation = inventory::reserve(&self.pool, &scope, &key, &items, self.reservation_ttl).await?;
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
        let scope = self.access.internal(&ctx)?;
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
        let scope = self.access.internal(&ctx)?;
        let id = parse_id(request.reservation_id, "reservation_id")?;
        let key = IdempotencyKey::parse(request.idempotency_key)?;
        let reservation = inventory::release(&self.pool, &scope, &key, id).await?;
        Response::ok(ReleaseReservationResponse {
            reservation: MessageField::some(reservation_to_wire(reservation)),
            ..Default::default()
        })
    }

    async fn get_reservation(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetReservationRequest>,
    ) -> ServiceResult<GetReservationResponse> {
        self.access.internal(&ctx)?;
        let reservation = inventory::get_reservation(&self.pool, parse_id(request.id, "id")?).await?;
        Response::ok(GetReservationResponse {
            reservation: MessageField::some(reservation_to_wire(reservation)),
            ..Default::default()
        })
    }
}
