//! The `product.v1.ProductService` and `product.v1.InventoryService` handlers.
//!
//! Each handler checks who is calling before it looks at the request (so the unauthorised learn nothing),
//! parses the wire message into domain values (bad input is `invalid_argument` before the database is
//! touched), calls [`crate::inventory`], and maps the result back to the wire type.

use std::time::Duration;

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::{
    db::GenericPlans,
    identity::{Caller, IdentityVerifier},
};
use ec_proto::product::v1::{
    self as wire, AddProductImageRequest, AddProductImageResponse, AdjustInventoryRequest, AdjustInventoryResponse,
    BatchGetSkusRequest, BatchGetSkusResponse, BatchReserveInventoryRequest, BatchReserveInventoryResponse,
    ConfirmReservationRequest, ConfirmReservationResponse, CreateCategoryRequest, CreateCategoryResponse,
    CreateProductRequest, CreateProductResponse, CreateSkuRequest, CreateSkuResponse, DeleteCategoryRequest,
    DeleteCategoryResponse, DeleteProductRequest, DeleteProductResponse, DeleteSkuRequest, DeleteSkuResponse,
    GetCategoryRequest, GetCategoryResponse, GetInventoryRequest, GetInventoryResponse, GetProductRequest,
    GetProductResponse, GetReservationRequest, GetReservationResponse, GetSkuRequest, GetSkuResponse,
    HideProductRequest, HideProductResponse, InventoryService, ListCategoriesRequest, ListCategoriesResponse,
    ListProductsRequest, ListProductsResponse, ProductService, PublishProductRequest, PublishProductResponse,
    ReleaseReservationRequest, ReleaseReservationResponse, RemoveProductImageRequest, RemoveProductImageResponse,
    RestockReservationRequest, RestockReservationResponse, UpdateCategoryRequest, UpdateCategoryResponse,
    UpdateInventoryRequest, UpdateInventoryResponse, UpdateProductRequest, UpdateProductResponse, UpdateSkuRequest,
    UpdateSkuResponse,
};
use sqlx::PgPool;

use crate::{
    catalog::{
        self, Attributes, Description, ImageUrl, Price, ProductChange, ProductName, ProductStatus, ProductView, Reader,
        SkuChange, SkuCode, SkuRow,
    },
    categories::{self, CategoryChange, CategoryName, CategoryRow, Slug},
    domain::{IdempotencyKey, ReservationItems, parse_id},
    error::Error,
    inventory::{self, Actor, Reservation, ReservationStatus, Stock},
    listing::{self, Filters, PageTokens},
};

/// Who may call what, read from the metadata the BFF (or another service) sends.
#[derive(Clone)]
pub struct Access {
    identity: IdentityVerifier,
    /// See [`StockView::Public`].
    low_stock: i64,
}

/// How much of a stock record a caller reads; either way its level says "low" at or below `low_stock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockView {
    /// Admins and the platform's own services: everything.
    Full { low_stock: i64 },
    /// Everyone else: the level, and how many are left when it is low (see the `Inventory` message).
    Public { low_stock: i64 },
}

impl Access {
    pub fn new(identity: IdentityVerifier, low_stock: i64) -> Self {
        Self { identity, low_stock }
    }

    /// How much of the stock records the caller reads.
    pub fn stock_view(&self, ctx: &RequestContext) -> Result<StockView, Error> {
        if self.identity.calling_service(ctx.headers()).is_some() {
            return Ok(self.full_stock());
        }
        Ok(match self.identity.caller(ctx.headers())? {
            Some(caller) if caller.is_admin() => self.full_stock(),
            _ => StockView::Public { low_stock: self.low_stock },
        })
    }

    /// The full stock record, for admins' own RPCs.
    pub fn full_stock(&self) -> StockView {
        StockView::Full { low_stock: self.low_stock }
    }

    /// The caller, who must be an admin.
    pub fn admin(&self, ctx: &RequestContext) -> Result<Caller, Error> {
        Ok(self.identity.admin(ctx.headers())?)
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
    /// For BatchReserveInventory (see [`inventory::reserve`]).
    lookups: GenericPlans,
    access: Access,
    reservation_ttl: Duration,
}

impl InventoryApi {
    /// Handlers over `pool` and `lookups`, a pool of generic plans beside it; reservations hold stock for
    /// `reservation_ttl`.
    pub fn new(pool: PgPool, lookups: GenericPlans, access: Access, reservation_ttl: Duration) -> Self {
        Self { pool, lookups, access, reservation_ttl }
    }
}

/// Maps stock to the wire.
/// `stock` as `view` shows it.
pub fn stock_to_wire(stock: Stock, view: StockView) -> wire::Inventory {
    use wire::StockLevel::{STOCK_LEVEL_IN_STOCK, STOCK_LEVEL_LOW, STOCK_LEVEL_SOLD_OUT};
    let available = stock.available();
    let (StockView::Full { low_stock } | StockView::Public { low_stock }) = view;
    let level = match available {
        ..=0 => STOCK_LEVEL_SOLD_OUT,
        n if n <= low_stock => STOCK_LEVEL_LOW,
        _ => STOCK_LEVEL_IN_STOCK,
    };
    match view {
        StockView::Full { .. } => wire::Inventory {
            sku_id: stock.sku_id.to_string(),
            quantity: stock.quantity,
            reserved: stock.reserved,
            available,
            version: stock.version,
            updated_at: MessageField::some(stock.updated_at.into()),
            level: level.into(),
            ..Default::default()
        },
        StockView::Public { .. } => wire::Inventory {
            sku_id: stock.sku_id.to_string(),
            available: if level == STOCK_LEVEL_LOW { available } else { 0 },
            level: level.into(),
            ..Default::default()
        },
    }
}

fn reservation_to_wire(reservation: Reservation) -> wire::Reservation {
    let status = match reservation.status {
        ReservationStatus::Pending => wire::ReservationStatus::RESERVATION_STATUS_PENDING,
        ReservationStatus::Confirmed => wire::ReservationStatus::RESERVATION_STATUS_CONFIRMED,
        ReservationStatus::Released => wire::ReservationStatus::RESERVATION_STATUS_RELEASED,
        ReservationStatus::Expired => wire::ReservationStatus::RESERVATION_STATUS_EXPIRED,
        ReservationStatus::Restocked => wire::ReservationStatus::RESERVATION_STATUS_RESTOCKED,
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
        let stock =
            inventory::update(&self.pool, &admin_actor(&caller), sku_id, request.quantity, request.version).await?;
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
        let stock =
            inventory::adjust(&self.pool, &admin_actor(&caller), sku_id, request.delta, request.reason.trim()).await?;
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
        let scope = self.access.internal(&ctx)?;
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

    async fn restock_reservation(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, RestockReservationRequest>,
    ) -> ServiceResult<RestockReservationResponse> {
        let scope = self.access.internal(&ctx)?;
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
        self.access.internal(&ctx)?;
        let reservation = inventory::get_reservation(&self.pool, parse_id(request.id, "id")?).await?;
        Response::ok(GetReservationResponse {
            reservation: MessageField::some(reservation_to_wire(reservation)),
            ..Default::default()
        })
    }
}

/// The catalog handlers.
#[derive(Clone)]
pub struct ProductApi {
    pool: PgPool,
    /// For BatchGetSkus (see [`catalog::batch_get_skus`]).
    lookups: GenericPlans,
    access: Access,
    tokens: PageTokens,
}

impl ProductApi {
    /// Handlers over `pool` and `lookups`, a pool of generic plans beside it, signing page tokens with
    /// `tokens`.
    pub fn new(pool: PgPool, lookups: GenericPlans, access: Access, tokens: PageTokens) -> Self {
        Self { pool, lookups, access, tokens }
    }
}

impl Access {
    /// What the caller may read: admins everything, everyone else the public catalog.
    pub fn reader(&self, ctx: &RequestContext) -> Result<Reader, Error> {
        match self.identity.caller(ctx.headers())? {
            Some(caller) if caller.is_admin() => Ok(Reader::Admin),
            _ => Ok(Reader::Public),
        }
    }
}

fn money(amount: i64, currency_code: &str) -> wire::Money {
    wire::Money { amount, currency_code: currency_code.to_owned(), ..Default::default() }
}

fn status_to_wire(status: ProductStatus) -> wire::ProductStatus {
    match status {
        ProductStatus::Draft => wire::ProductStatus::PRODUCT_STATUS_DRAFT,
        ProductStatus::Published => wire::ProductStatus::PRODUCT_STATUS_PUBLISHED,
        ProductStatus::Hidden => wire::ProductStatus::PRODUCT_STATUS_HIDDEN,
    }
}

fn status_from_wire(status: buffa::EnumValue<wire::ProductStatus>) -> Result<ProductStatus, Error> {
    match status.as_known() {
        Some(wire::ProductStatus::PRODUCT_STATUS_DRAFT) => Ok(ProductStatus::Draft),
        Some(wire::ProductStatus::PRODUCT_STATUS_PUBLISHED) => Ok(ProductStatus::Published),
        Some(wire::ProductStatus::PRODUCT_STATUS_HIDDEN) => Ok(ProductStatus::Hidden),
        _ => Err(Error::InvalidArgument("status must be DRAFT, PUBLISHED or HIDDEN".into())),
    }
}

/// Maps a SKU (and its stock, when given) to the wire.
fn sku_to_wire(sku: SkuRow, stock: Option<(Stock, StockView)>) -> wire::Sku {
    wire::Sku {
        id: sku.id.to_string(),
        product_id: sku.product_id.to_string(),
        code: sku.code,
        price: MessageField::some(money(sku.price.amount, &sku.price.currency_code)),
        attributes: sku.attributes.into_iter().collect(),
        inventory: stock
            .map(|(stock, view)| stock_to_wire(stock, view))
            .map_or_else(MessageField::none, MessageField::some),
        created_at: MessageField::some(sku.created_at.into()),
        updated_at: MessageField::some(sku.updated_at.into()),
        ..Default::default()
    }
}

fn product_to_wire(view: ProductView) -> wire::Product {
    let ProductView { product, skus, images } = view;
    let price = |amount: Option<i64>| match (amount, &product.currency_code) {
        (Some(amount), Some(currency)) => MessageField::some(money(amount, currency)),
        _ => MessageField::none(),
    };
    wire::Product {
        id: product.id.to_string(),
        name: product.name.clone(),
        description: product.description.clone(),
        category_id: product.category_id.map(|id| id.to_string()),
        status: status_to_wire(product.status).into(),
        min_price: price(product.min_price),
        max_price: price(product.max_price),
        skus: skus.into_iter().map(|sku| sku_to_wire(sku, None)).collect(),
        images: images
            .into_iter()
            .map(|image| wire::ProductImage {
                id: image.id.to_string(),
                url: image.url,
                alt_text: image.alt_text,
                position: image.position,
                ..Default::default()
            })
            .collect(),
        created_at: MessageField::some(product.created_at.into()),
        updated_at: MessageField::some(product.updated_at.into()),
        ..Default::default()
    }
}

fn category_to_wire(category: CategoryRow) -> wire::Category {
    wire::Category {
        id: category.id.to_string(),
        name: category.name,
        slug: category.slug,
        parent_id: category.parent_id.map(|id| id.to_string()),
        created_at: MessageField::some(category.created_at.into()),
        updated_at: MessageField::some(category.updated_at.into()),
        ..Default::default()
    }
}

/// Nests `categories` under their parents, roots first, each level in the order given.
fn category_tree(categories: Vec<CategoryRow>) -> Vec<wire::Category> {
    let mut children: std::collections::HashMap<Option<uuid::Uuid>, Vec<CategoryRow>> =
        std::collections::HashMap::new();
    for category in categories {
        children.entry(category.parent_id).or_default().push(category);
    }
    fn build(
        parent: Option<uuid::Uuid>,
        children: &mut std::collections::HashMap<Option<uuid::Uuid>, Vec<CategoryRow>>,
    ) -> Vec<wire::Category> {
        children
            .remove(&parent)
            .unwrap_or_default()
            .into_iter()
            .map(|category| {
                let id = category.id;
                let mut node = category_to_wire(category);
                node.children = build(Some(id), children);
                node
            })
            .collect()
    }
    build(None, &mut children)
}

/// An optional id field where "" means "none" (UpdateProduct's category, UpdateCategory's parent).
fn optional_id(raw: Option<&str>, field: &str) -> Result<Option<Option<uuid::Uuid>>, Error> {
    match raw {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(id) => Ok(Some(Some(parse_id(id, field)?))),
    }
}

fn price(view: Option<&wire::__buffa::view::MoneyView<'_>>, field: &str) -> Result<Price, Error> {
    let view = view.ok_or_else(|| Error::InvalidArgument(format!("{field} is required")))?;
    Price::parse(view.amount, view.currency_code)
}

#[allow(refining_impl_trait)]
impl ProductService for ProductApi {
    async fn create_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CreateProductRequest>,
    ) -> ServiceResult<CreateProductResponse> {
        self.access.admin(&ctx)?;
        let name = ProductName::parse(request.name)?;
        let description = Description::parse(request.description)?;
        let category = optional_id(request.category_id, "category_id")?.flatten();
        let product = catalog::create_product(&self.pool, &name, &description, category).await?;
        let view = ProductView { product, skus: Vec::new(), images: Vec::new() };
        Response::ok(CreateProductResponse { product: MessageField::some(product_to_wire(view)), ..Default::default() })
    }

    async fn get_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetProductRequest>,
    ) -> ServiceResult<GetProductResponse> {
        let reader = self.access.reader(&ctx)?;
        let view = catalog::get_product(&self.pool, reader, parse_id(request.id, "id")?).await?;
        Response::ok(GetProductResponse { product: MessageField::some(product_to_wire(view)), ..Default::default() })
    }

    async fn update_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateProductRequest>,
    ) -> ServiceResult<UpdateProductResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.id, "id")?;
        let change = ProductChange {
            name: request.name.map(ProductName::parse).transpose()?,
            description: request.description.map(Description::parse).transpose()?,
            category_id: optional_id(request.category_id, "category_id")?,
        };
        let view = catalog::update_product(&self.pool, id, change).await?;
        Response::ok(UpdateProductResponse { product: MessageField::some(product_to_wire(view)), ..Default::default() })
    }

    async fn delete_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, DeleteProductRequest>,
    ) -> ServiceResult<DeleteProductResponse> {
        self.access.admin(&ctx)?;
        catalog::delete_product(&self.pool, parse_id(request.id, "id")?).await?;
        Response::ok(DeleteProductResponse::default())
    }

    async fn list_products(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListProductsRequest>,
    ) -> ServiceResult<ListProductsResponse> {
        let reader = self.access.reader(&ctx)?;
        let page_size = match i64::from(request.page_size) {
            0 => listing::DEFAULT_PAGE_SIZE,
            size @ 1..=listing::MAX_PAGE_SIZE => size,
            _ => return Err(Error::InvalidArgument("page_size must be between 0 and 100".into()).into()),
        };
        if let (Some(min), Some(max)) = (request.min_price, request.max_price)
            && min > max
        {
            return Err(Error::InvalidArgument("min_price must not be above max_price".into()).into());
        }
        let search = request.search_query.map(str::trim).filter(|q| !q.is_empty());
        if search.is_some_and(|q| q.chars().count() > 200 || q.chars().any(char::is_control)) {
            return Err(Error::InvalidArgument(
                "search_query must be at most 200 characters without control characters".into(),
            )
            .into());
        }
        let category = match optional_id(request.category_id, "category_id")?.flatten() {
            // An unknown category has no products: its subtree is itself.
            Some(id) => match categories::subtree(&self.pool, id).await {
                Ok(subtree) => Some((id, subtree)),
                Err(Error::NotFound(_)) => Some((id, vec![id])),
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        // Ignored for everyone but admins, as the contract says.
        let asked = match reader {
            Reader::Admin => request.status.map(status_from_wire).transpose()?,
            Reader::Public => None,
        };
        let filters = Filters {
            category,
            search: search.map(str::to_owned),
            min_price: request.min_price,
            max_price: request.max_price,
            statuses: listing::statuses_for(reader, asked),
        };
        let (views, next_page_token) =
            listing::list(&self.pool, &self.tokens, &filters, page_size, request.page_token).await?;
        Response::ok(ListProductsResponse {
            products: views.into_iter().map(product_to_wire).collect(),
            next_page_token,
            ..Default::default()
        })
    }

    async fn publish_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, PublishProductRequest>,
    ) -> ServiceResult<PublishProductResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.id, "id")?;
        catalog::publish(&self.pool, id).await?;
        let view = catalog::get_product(&self.pool, Reader::Admin, id).await?;
        Response::ok(PublishProductResponse {
            product: MessageField::some(product_to_wire(view)),
            ..Default::default()
        })
    }

    async fn hide_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, HideProductRequest>,
    ) -> ServiceResult<HideProductResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.id, "id")?;
        catalog::hide(&self.pool, id).await?;
        let view = catalog::get_product(&self.pool, Reader::Admin, id).await?;
        Response::ok(HideProductResponse { product: MessageField::some(product_to_wire(view)), ..Default::default() })
    }

    async fn add_product_image(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, AddProductImageRequest>,
    ) -> ServiceResult<AddProductImageResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.product_id, "product_id")?;
        let url = ImageUrl::parse(request.url)?;
        let view = catalog::add_image(&self.pool, id, &url, request.alt_text).await?;
        Response::ok(AddProductImageResponse {
            product: MessageField::some(product_to_wire(view)),
            ..Default::default()
        })
    }

    async fn remove_product_image(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, RemoveProductImageRequest>,
    ) -> ServiceResult<RemoveProductImageResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.product_id, "product_id")?;
        let image = parse_id(request.image_id, "image_id")?;
        let view = catalog::remove_image(&self.pool, id, image).await?;
        Response::ok(RemoveProductImageResponse {
            product: MessageField::some(product_to_wire(view)),
            ..Default::default()
        })
    }

    async fn create_sku(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CreateSkuRequest>,
    ) -> ServiceResult<CreateSkuResponse> {
        let caller = self.access.admin(&ctx)?;
        let product = parse_id(request.product_id, "product_id")?;
        let code = SkuCode::parse(request.code)?;
        let price = price(request.price.as_option(), "price")?;
        let attributes = Attributes::parse(request.attributes.iter_unique().map(|(k, v)| (*k, *v)))?;
        let sku = catalog::create_sku(
            &self.pool,
            &admin_actor(&caller),
            product,
            &code,
            &price,
            &attributes,
            request.initial_quantity,
        )
        .await?;
        let stock = inventory::get(&self.pool, sku.id).await?;
        Response::ok(CreateSkuResponse {
            sku: MessageField::some(sku_to_wire(sku, Some((stock, self.access.full_stock())))),
            ..Default::default()
        })
    }

    async fn get_sku(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetSkuRequest>,
    ) -> ServiceResult<GetSkuResponse> {
        let reader = self.access.reader(&ctx)?;
        let view = self.access.stock_view(&ctx)?;
        let sku = catalog::get_sku(&self.pool, reader, parse_id(request.id, "id")?).await?;
        let stock = inventory::get(&self.pool, sku.id).await?;
        Response::ok(GetSkuResponse {
            sku: MessageField::some(sku_to_wire(sku, Some((stock, view)))),
            ..Default::default()
        })
    }

    async fn batch_get_skus(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, BatchGetSkusRequest>,
    ) -> ServiceResult<BatchGetSkusResponse> {
        let view = self.access.stock_view(&ctx)?;
        if request.ids.len() > 100 {
            return Err(Error::InvalidArgument("ids must have at most 100 entries".into()).into());
        }
        let ids = request.ids.iter().map(|id| parse_id(id, "ids")).collect::<Result<Vec<_>, _>>()?;
        let (found, missing) = catalog::batch_get_skus(&self.lookups, &ids).await?;
        Response::ok(BatchGetSkusResponse {
            skus: found
                .into_iter()
                .map(|(sku, stock, product_name)| wire::SkuWithProduct {
                    sku: MessageField::some(sku_to_wire(sku, Some((stock, view)))),
                    product_name,
                    ..Default::default()
                })
                .collect(),
            missing_sku_ids: missing.iter().map(uuid::Uuid::to_string).collect(),
            ..Default::default()
        })
    }

    async fn update_sku(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateSkuRequest>,
    ) -> ServiceResult<UpdateSkuResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.id, "id")?;
        let change = SkuChange {
            code: request.code.map(SkuCode::parse).transpose()?,
            price: request.price.as_option().map(|p| Price::parse(p.amount, p.currency_code)).transpose()?,
            attributes: if request.replace_attributes {
                Some(Attributes::parse(request.attributes.iter_unique().map(|(k, v)| (*k, *v)))?)
            } else {
                None
            },
        };
        let sku = catalog::update_sku(&self.pool, id, change).await?;
        let stock = inventory::get(&self.pool, sku.id).await?;
        Response::ok(UpdateSkuResponse {
            sku: MessageField::some(sku_to_wire(sku, Some((stock, self.access.full_stock())))),
            ..Default::default()
        })
    }

    async fn delete_sku(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, DeleteSkuRequest>,
    ) -> ServiceResult<DeleteSkuResponse> {
        self.access.admin(&ctx)?;
        catalog::delete_sku(&self.pool, parse_id(request.id, "id")?).await?;
        Response::ok(DeleteSkuResponse::default())
    }

    async fn create_category(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, CreateCategoryRequest>,
    ) -> ServiceResult<CreateCategoryResponse> {
        self.access.admin(&ctx)?;
        let name = CategoryName::parse(request.name)?;
        let slug = if request.slug.trim().is_empty() { name.slug()? } else { Slug::parse(request.slug)? };
        let parent = optional_id(request.parent_id, "parent_id")?.flatten();
        let category = categories::create(&self.pool, &name, &slug, parent).await?;
        Response::ok(CreateCategoryResponse {
            category: MessageField::some(category_to_wire(category)),
            ..Default::default()
        })
    }

    async fn get_category(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetCategoryRequest>,
    ) -> ServiceResult<GetCategoryResponse> {
        self.access.reader(&ctx)?;
        let category = categories::get(&self.pool, parse_id(request.id, "id")?).await?;
        Response::ok(GetCategoryResponse {
            category: MessageField::some(category_to_wire(category)),
            ..Default::default()
        })
    }

    async fn list_categories(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListCategoriesRequest>,
    ) -> ServiceResult<ListCategoriesResponse> {
        self.access.reader(&ctx)?;
        let all = categories::list(&self.pool).await?;
        let categories =
            if request.flat { all.into_iter().map(category_to_wire).collect() } else { category_tree(all) };
        Response::ok(ListCategoriesResponse { categories, ..Default::default() })
    }

    async fn update_category(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UpdateCategoryRequest>,
    ) -> ServiceResult<UpdateCategoryResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.id, "id")?;
        let change = CategoryChange {
            name: request.name.map(CategoryName::parse).transpose()?,
            slug: request.slug.map(Slug::parse).transpose()?,
            parent_id: optional_id(request.parent_id, "parent_id")?,
        };
        let category = categories::update(&self.pool, id, change).await?;
        Response::ok(UpdateCategoryResponse {
            category: MessageField::some(category_to_wire(category)),
            ..Default::default()
        })
    }

    async fn delete_category(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, DeleteCategoryRequest>,
    ) -> ServiceResult<DeleteCategoryResponse> {
        self.access.admin(&ctx)?;
        categories::delete(&self.pool, parse_id(request.id, "id")?).await?;
        Response::ok(DeleteCategoryResponse::default())
    }
}
