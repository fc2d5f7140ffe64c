//! `order.v1.CartService`: the signed-in caller's own cart, answered priced from the catalog now.

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::access::Access;
use ec_proto::order::v1::{
    AddCartItemRequest, AddCartItemResponse, CartService, ClearCartRequest, ClearCartResponse, GetCartRequest,
    GetCartResponse, RemoveCartItemRequest, RemoveCartItemResponse, UpdateCartItemRequest, UpdateCartItemResponse,
};

use super::wire;
use crate::{
    cart::Carts,
    domain::{self, parse_id},
};

/// The cart handlers.
#[derive(Clone)]
pub struct CartApi {
    carts: Carts,
    access: Access,
}

impl CartApi {
    pub fn new(carts: Carts, access: Access) -> Self {
        Self { carts, access }
    }
}

#[allow(refining_impl_trait)]
impl CartService for CartApi {
    async fn get_cart(
        &self,
        ctx: RequestContext,
        _: ServiceRequest<'_, GetCartRequest>,
    ) -> ServiceResult<GetCartResponse> {
        let caller = self.access.signed_in(&ctx)?;
        let cart = self.carts.priced(caller.user_id).await?;
        Response::ok(GetCartResponse { cart: MessageField::some(wire::cart(cart)), ..Default::default() })
    }

    async fn add_cart_item(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, AddCartItemRequest>,
    ) -> ServiceResult<AddCartItemResponse> {
        let caller = self.access.signed_in(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        let quantity = domain::units_to_add(request.quantity)?;
        let cart = self.carts.add_item(caller.user_id, sku_id, quantity).await?;
        Response::ok(AddCartItemResponse { cart: MessageField::some(wire::cart(cart)), ..Default::default() })
    }

    async fn update_cart_item(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateCartItemRequest>,
    ) -> ServiceResult<UpdateCartItemResponse> {
        let caller = self.access.signed_in(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        let quantity = domain::line_quantity(request.quantity)?;
        let cart = self.carts.set_item_quantity(caller.user_id, sku_id, quantity).await?;
        Response::ok(UpdateCartItemResponse { cart: MessageField::some(wire::cart(cart)), ..Default::default() })
    }

    async fn remove_cart_item(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, RemoveCartItemRequest>,
    ) -> ServiceResult<RemoveCartItemResponse> {
        let caller = self.access.signed_in(&ctx)?;
        let sku_id = parse_id(request.sku_id, "sku_id")?;
        let cart = self.carts.set_item_quantity(caller.user_id, sku_id, 0).await?;
        Response::ok(RemoveCartItemResponse { cart: MessageField::some(wire::cart(cart)), ..Default::default() })
    }

    async fn clear_cart(
        &self,
        ctx: RequestContext,
        _: ServiceRequest<'_, ClearCartRequest>,
    ) -> ServiceResult<ClearCartResponse> {
        let caller = self.access.signed_in(&ctx)?;
        let cart = self.carts.empty(caller.user_id).await?;
        Response::ok(ClearCartResponse { cart: MessageField::some(wire::cart(cart)), ..Default::default() })
    }
}
