//! [`ProductApi`]: the `product.v1.ProductService` handlers. Anyone reads the catalog (PUBLISHED products,
//! HIDDEN ones by id, categories); admins read drafts and change everything.

use buffa::MessageField;
use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};
use ec_platform::{
    db::GenericPlans,
    events::Outbox,
    page_token::{self, PageTokens},
};
use ec_proto::product::v1::{
    self as wire, AddProductImageRequest, AddProductImageResponse, BatchGetSkusRequest, BatchGetSkusResponse,
    CreateCategoryRequest, CreateCategoryResponse, CreateProductRequest, CreateProductResponse, CreateSkuRequest,
    CreateSkuResponse, DeleteCategoryRequest, DeleteCategoryResponse, DeleteProductRequest, DeleteProductResponse,
    DeleteSkuRequest, DeleteSkuResponse, GetCategoryRequest, GetCategoryResponse, GetProductRequest,
    GetProductResponse, GetSkuRequest, GetSkuResponse, HideProductRequest, HideProductResponse, ListCategoriesRequest,
    ListCategoriesResponse, ListProductsRequest, ListProductsResponse, ProductService, PublishProductRequest,
    PublishProductResponse, RemoveProductImageRequest, RemoveProductImageResponse, UpdateCategoryRequest,
    UpdateCategoryResponse, UpdateProductRequest, UpdateProductResponse, UpdateSkuRequest, UpdateSkuResponse,
    UploadProductImageRequest, UploadProductImageResponse,
};
use sqlx::PgPool;

use crate::{
    api::{
        access::ProductAccess,
        wire::{
            category_to_wire, category_tree, optional_id, price, product_to_wire, product_with_stock, sku_to_wire,
            status_from_wire,
        },
    },
    catalog::{self, ProductView},
    categories,
    db::{self, categories::CategoryChange, products::ProductChange, skus::SkuChange, stock::Stock},
    domain::{
        Actor, Attributes, CategoryName, Description, ImageUrl, Price, ProductName, Reader, SkuCode, Slug, parse_id,
    },
    error::Error,
    inventory,
    listing::{self, Filters, Sort},
    pictures::{Media, MediaUrls},
};

/// The catalog handlers.
#[derive(Clone)]
pub struct ProductApi {
    pool: PgPool,
    outbox: Outbox,
    /// For BatchGetSkus (see [`catalog::batch_get_skus`]).
    lookups: GenericPlans,
    access: ProductAccess,
    tokens: PageTokens,
    /// The picture store, when there is one (`MEDIA_STORE`).
    media: Option<Media>,
    urls: MediaUrls,
}

impl ProductApi {
    /// Handlers over `pool` and `lookups`, a pool of generic plans beside it, signing ListProducts' page tokens
    /// with `tokens`, storing pictures in `media` and naming them with `urls`.
    pub fn new(
        pool: PgPool,
        outbox: Outbox,
        lookups: GenericPlans,
        access: ProductAccess,
        tokens: PageTokens,
        media: Option<Media>,
        urls: MediaUrls,
    ) -> Self {
        Self { pool, outbox, lookups, access, tokens, media, urls }
    }
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
        Response::ok(CreateProductResponse {
            product: MessageField::some(product_to_wire(view, &self.urls)),
            ..Default::default()
        })
    }

    async fn get_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, GetProductRequest>,
    ) -> ServiceResult<GetProductResponse> {
        let reader = self.access.reader(&ctx)?;
        let view = catalog::get_product(&self.pool, reader, parse_id(request.id, "id")?).await?;
        Response::ok(GetProductResponse {
            product: MessageField::some(product_to_wire(view, &self.urls)),
            ..Default::default()
        })
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
        Response::ok(UpdateProductResponse {
            product: MessageField::some(product_to_wire(view, &self.urls)),
            ..Default::default()
        })
    }

    async fn delete_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, DeleteProductRequest>,
    ) -> ServiceResult<DeleteProductResponse> {
        self.access.admin(&ctx)?;
        catalog::delete_product(&self.pool, self.media.as_ref(), parse_id(request.id, "id")?).await?;
        Response::ok(DeleteProductResponse::default())
    }

    async fn list_products(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, ListProductsRequest>,
    ) -> ServiceResult<ListProductsResponse> {
        let reader = self.access.reader(&ctx)?;
        let page_size = page_token::page_size(request.page_size).map_err(Error::from)?;
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
        let sort = match (request.sort.as_known(), search) {
            (Some(wire::ProductSort::PRODUCT_SORT_UNSPECIFIED), Some(_)) => Sort::Relevance,
            (Some(wire::ProductSort::PRODUCT_SORT_UNSPECIFIED | wire::ProductSort::PRODUCT_SORT_NEWEST), _) => {
                Sort::Newest
            }
            (Some(wire::ProductSort::PRODUCT_SORT_RELEVANCE), Some(_)) => Sort::Relevance,
            (Some(wire::ProductSort::PRODUCT_SORT_RELEVANCE), None) => {
                return Err(Error::InvalidArgument("sorting by relevance needs a search_query".into()).into());
            }
            (Some(wire::ProductSort::PRODUCT_SORT_PRICE_LOW_TO_HIGH), _) => Sort::PriceAscending,
            (Some(wire::ProductSort::PRODUCT_SORT_PRICE_HIGH_TO_LOW), _) => Sort::PriceDescending,
            (None, _) => return Err(Error::InvalidArgument("sort is not a ProductSort".into()).into()),
        };
        let filters = Filters {
            category,
            search: search.map(str::to_owned),
            min_price: request.min_price,
            max_price: request.max_price,
            statuses: reader.lists(asked),
            sort,
        };
        let (views, next_page_token, words) =
            listing::list(&self.pool, &self.tokens, &filters, page_size, request.page_token).await?;
        // Admins' listings carry each SKU's stock record (the back office's stock column), in one query.
        let products = match reader {
            Reader::Admin => {
                let ids: Vec<uuid::Uuid> = views.iter().flat_map(|v| v.skus.iter().map(|s| s.id)).collect();
                let mut stocks: std::collections::HashMap<uuid::Uuid, Stock> =
                    db::stock::find_many(&self.pool, &ids).await?.into_iter().map(|s| (s.sku_id, s)).collect();
                let view = self.access.full_stock();
                views
                    .into_iter()
                    .map(|v| product_with_stock(v, &self.urls, &mut |id| stocks.remove(&id).map(|stock| (stock, view))))
                    .collect()
            }
            Reader::Public => views.into_iter().map(|view| product_to_wire(view, &self.urls)).collect(),
        };
        let matched_any_word = words == Some(listing::Words::Any);
        Response::ok(ListProductsResponse { products, next_page_token, matched_any_word, ..Default::default() })
    }

    async fn publish_product(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, PublishProductRequest>,
    ) -> ServiceResult<PublishProductResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.id, "id")?;
        catalog::publish(&self.pool, &self.outbox, id).await?;
        let view = catalog::get_product(&self.pool, Reader::Admin, id).await?;
        Response::ok(PublishProductResponse {
            product: MessageField::some(product_to_wire(view, &self.urls)),
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
        catalog::hide(&self.pool, &self.outbox, id).await?;
        let view = catalog::get_product(&self.pool, Reader::Admin, id).await?;
        Response::ok(HideProductResponse {
            product: MessageField::some(product_to_wire(view, &self.urls)),
            ..Default::default()
        })
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
            product: MessageField::some(product_to_wire(view, &self.urls)),
            ..Default::default()
        })
    }

    async fn upload_product_image(
        &self,
        ctx: RequestContext,
        request: ServiceRequest<'_, UploadProductImageRequest>,
    ) -> ServiceResult<UploadProductImageResponse> {
        self.access.admin(&ctx)?;
        let id = parse_id(request.product_id, "product_id")?;
        let media = self.media.as_ref().ok_or_else(|| {
            Error::FailedPrecondition("this platform stores no pictures: MEDIA_STORE is not set".into())
        })?;
        let view = catalog::upload_image(&self.pool, media, id, request.data.to_vec(), request.alt_text).await?;
        Response::ok(UploadProductImageResponse {
            product: MessageField::some(product_to_wire(view, &self.urls)),
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
        let view = catalog::remove_image(&self.pool, self.media.as_ref(), id, image).await?;
        Response::ok(RemoveProductImageResponse {
            product: MessageField::some(product_to_wire(view, &self.urls)),
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
        let actor = Actor::account(caller.user_id);
        let sku =
            catalog::create_sku(&self.pool, &actor, product, &code, &price, &attributes, request.initial_quantity)
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
                .map(|found| wire::SkuWithProduct {
                    sku: MessageField::some(sku_to_wire(found.sku, Some((found.stock, view)))),
                    product_name: found.product_name,
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
        let sku = catalog::update_sku(&self.pool, &self.outbox, id, change).await?;
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
