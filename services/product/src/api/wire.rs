//! Conversions between the `ec_proto` wire types and the product service's own: stock, reservations,
//! products, SKUs and categories to the wire, and the request fields that need more than a domain type's
//! `parse` from it.

use std::collections::HashMap;

use buffa::MessageField;
use ec_proto::product::v1 as wire;
use uuid::Uuid;

use crate::{
    api::access::StockView,
    catalog::ProductView,
    db::{categories::CategoryRow, images::ImageRow, reservations::Reservation, skus::SkuRow, stock::Stock},
    domain::{Price, ProductStatus, ReservationStatus, parse_id},
    error::Error,
    pictures::{MediaUrls, variant_height},
};

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

pub fn reservation_to_wire(reservation: Reservation) -> wire::Reservation {
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

pub fn status_from_wire(status: buffa::EnumValue<wire::ProductStatus>) -> Result<ProductStatus, Error> {
    match status.as_known() {
        Some(wire::ProductStatus::PRODUCT_STATUS_DRAFT) => Ok(ProductStatus::Draft),
        Some(wire::ProductStatus::PRODUCT_STATUS_PUBLISHED) => Ok(ProductStatus::Published),
        Some(wire::ProductStatus::PRODUCT_STATUS_HIDDEN) => Ok(ProductStatus::Hidden),
        _ => Err(Error::InvalidArgument("status must be DRAFT, PUBLISHED or HIDDEN".into())),
    }
}

/// A SKU (and its stock as `view` shows it, when given) on the wire.
pub fn sku_to_wire(sku: SkuRow, stock: Option<(Stock, StockView)>) -> wire::Sku {
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

/// A product, its stored pictures named by `urls`.
pub fn product_to_wire(view: ProductView, urls: &MediaUrls) -> wire::Product {
    product_with_stock(view, urls, &mut |_| None)
}

/// A product whose SKUs carry the stock `stock_of` gives them.
pub fn product_with_stock(
    view: ProductView,
    urls: &MediaUrls,
    stock_of: &mut dyn FnMut(Uuid) -> Option<(Stock, StockView)>,
) -> wire::Product {
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
        skus: skus
            .into_iter()
            .map(|sku| {
                let stock = stock_of(sku.id);
                sku_to_wire(sku, stock)
            })
            .collect(),
        images: images.into_iter().map(|image| image_to_wire(image, urls)).collect(),
        created_at: MessageField::some(product.created_at.into()),
        updated_at: MessageField::some(product.updated_at.into()),
        ..Default::default()
    }
}

/// An image: a link as it was given, or a stored picture's copies, the widest also as its `url`.
fn image_to_wire(image: ImageRow, urls: &MediaUrls) -> wire::ProductImage {
    let variants: Vec<wire::ImageVariant> = match (image.width, image.height) {
        (Some(full_width), Some(full_height)) => image
            .stored_widths
            .iter()
            .map(|&width| wire::ImageVariant {
                width,
                height: variant_height(full_width.unsigned_abs(), full_height.unsigned_abs(), width.unsigned_abs())
                    as i32,
                url: urls.of(image.id, width.unsigned_abs()),
                ..Default::default()
            })
            .collect(),
        _ => Vec::new(),
    };
    let url = image.url.or_else(|| variants.last().map(|v| v.url.clone())).unwrap_or_default();
    wire::ProductImage {
        id: image.id.to_string(),
        url,
        alt_text: image.alt_text,
        position: image.position,
        variants,
        ..Default::default()
    }
}

pub fn category_to_wire(category: CategoryRow) -> wire::Category {
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
pub fn category_tree(categories: Vec<CategoryRow>) -> Vec<wire::Category> {
    let mut children: HashMap<Option<Uuid>, Vec<CategoryRow>> = HashMap::new();
    for category in categories {
        children.entry(category.parent_id).or_default().push(category);
    }
    fn build(parent: Option<Uuid>, children: &mut HashMap<Option<Uuid>, Vec<CategoryRow>>) -> Vec<wire::Category> {
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
pub fn optional_id(raw: Option<&str>, field: &str) -> Result<Option<Option<Uuid>>, Error> {
    match raw {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(id) => Ok(Some(Some(parse_id(id, field)?))),
    }
}

/// The price in field `field`, which is required.
pub fn price(view: Option<&wire::__buffa::view::MoneyView<'_>>, field: &str) -> Result<Price, Error> {
    let view = view.ok_or_else(|| Error::InvalidArgument(format!("{field} is required")))?;
    Price::parse(view.amount, view.currency_code)
}
