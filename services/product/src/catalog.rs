//! The catalog: products, their SKUs and images, and the product status machine (DRAFT -> PUBLISHED <->
//! HIDDEN): what can be done with them and who may see what, over the SQL of [`crate::db::products`],
//! [`crate::db::skus`] and [`crate::db::images`].
//!
//! A SKU is created with its stock (an `inventory` row, and an `initial` movement when it starts with some),
//! and every change of a product's SKUs recomputes the product's `min_price`/`max_price` in the same
//! transaction, so price filters read an indexed column that is never stale. Publishing, hiding and repricing
//! are announced in the outbox ([`crate::events`]) in the same transaction. Edits lock the product first,
//! then its SKUs, and deletes then their stock ([`crate::inventory::lock_for_delete`]): the order the
//! inventory's docs explain.

use std::collections::HashMap;

use ec_platform::{db::GenericPlans, events::Outbox};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    db::{
        self,
        images::{ImageRow, ImageSource},
        products::{ProductChange, ProductRow},
        skus::{PurchasableSku, SkuChange, SkuRow},
    },
    domain::{
        Actor, Attributes, Description, ImageUrl, MAX_IMAGES, Price, ProductName, ProductStatus, Reader, SkuCode,
    },
    error::Error,
    events, inventory,
    pictures::{Media, Picture},
};

/// A product with its live SKUs and its images.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductView {
    pub product: ProductRow,
    pub skus: Vec<SkuRow>,
    pub images: Vec<ImageRow>,
}

/// Adds a product in DRAFT.
pub async fn create_product(
    pool: &PgPool,
    name: &ProductName,
    description: &Description,
    category_id: Option<Uuid>,
) -> Result<ProductRow, Error> {
    db::products::insert(pool, name, description, category_id).await
}

/// Adds a SKU to a live product, with `initial_quantity` units in stock.
pub async fn create_sku(
    pool: &PgPool,
    actor: &Actor,
    product_id: Uuid,
    code: &SkuCode,
    price: &Price,
    attributes: &Attributes,
    initial_quantity: i64,
) -> Result<SkuRow, Error> {
    if initial_quantity < 0 {
        return Err(Error::InvalidArgument("initial_quantity must not be negative".into()));
    }
    let mut tx = pool.begin().await?;
    let product = db::products::lock(&mut tx, product_id).await?;
    if product.currency_code.as_ref().is_some_and(|currency| *currency != price.currency_code) {
        return Err(Error::InvalidArgument(format!(
            "the product's other SKUs are priced in {}; one product has one currency",
            product.currency_code.unwrap_or_default()
        )));
    }
    let sku = db::skus::insert(&mut tx, product_id, code, price, attributes).await?;
    db::stock::insert(&mut tx, actor, sku.id, initial_quantity).await?;
    db::products::refresh_prices(&mut tx, product_id).await?;
    tx.commit().await?;
    Ok(sku)
}

/// Puts a DRAFT or HIDDEN product with at least one SKU on sale, announced in `outbox`
/// (`product.v1.published`).
pub async fn publish(pool: &PgPool, outbox: &Outbox, id: Uuid) -> Result<ProductRow, Error> {
    let mut tx = pool.begin().await?;
    let product = db::products::lock(&mut tx, id).await?;
    if product.status == ProductStatus::Published {
        return Err(Error::FailedPrecondition("the product is already published".into()));
    }
    if product.min_price.is_none() {
        return Err(Error::FailedPrecondition("a product needs a SKU before it can be published".into()));
    }
    let product = db::products::set_status(&mut tx, id, ProductStatus::Published).await?;
    outbox.insert(&mut tx, &events::published(&product)).await?;
    tx.commit().await?;
    outbox.written();
    Ok(product)
}

/// Takes a PUBLISHED product off sale, keeping it readable by id; announced in `outbox` (`product.v1.hidden`).
pub async fn hide(pool: &PgPool, outbox: &Outbox, id: Uuid) -> Result<ProductRow, Error> {
    let mut tx = pool.begin().await?;
    let product = db::products::lock(&mut tx, id).await?;
    if product.status != ProductStatus::Published {
        return Err(Error::FailedPrecondition("only a published product can be hidden".into()));
    }
    let product = db::products::set_status(&mut tx, id, ProductStatus::Hidden).await?;
    outbox.insert(&mut tx, &events::hidden(&product)).await?;
    tx.commit().await?;
    outbox.written();
    Ok(product)
}

/// The live SKUs and the images of `products`, attached to them, in the order given.
pub async fn with_details(pool: &PgPool, products: Vec<ProductRow>) -> Result<Vec<ProductView>, Error> {
    let ids: Vec<Uuid> = products.iter().map(|p| p.id).collect();
    let skus = db::skus::of_products(pool, &ids).await?;
    let images = db::images::of_products(pool, &ids).await?;
    let mut views: Vec<ProductView> =
        products.into_iter().map(|product| ProductView { product, skus: Vec::new(), images: Vec::new() }).collect();
    let index: HashMap<Uuid, usize> = views.iter().enumerate().map(|(i, view)| (view.product.id, i)).collect();
    for sku in skus {
        views[index[&sku.product_id]].skus.push(sku);
    }
    for image in images {
        views[index[&image.product_id]].images.push(image);
    }
    Ok(views)
}

/// One product with its SKUs and images.
async fn with_details_of(pool: &PgPool, product: ProductRow) -> Result<ProductView, Error> {
    Ok(with_details(pool, vec![product]).await?.remove(0))
}

/// One product `reader` may see, with its SKUs and images.
pub async fn get_product(pool: &PgPool, reader: Reader, id: Uuid) -> Result<ProductView, Error> {
    let product = db::products::find(pool, id).await?;
    let product = product.filter(|p| reader.sees(p.status)).ok_or(Error::NotFound("product"))?;
    with_details_of(pool, product).await
}

/// Changes the fields of a live product that are set.
pub async fn update_product(pool: &PgPool, id: Uuid, change: ProductChange) -> Result<ProductView, Error> {
    let product = db::products::update(pool, id, &change).await?.ok_or(Error::NotFound("product"))?;
    with_details_of(pool, product).await
}

/// Soft-deletes a product and its SKUs, unless one of them is held by a pending reservation; then deletes its
/// stored pictures' copies from `media` (its image rows stay, as the product's row does).
pub async fn delete_product(pool: &PgPool, media: Option<&Media>, id: Uuid) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    // The product, then its SKUs' stock (`lock_for_delete`): reservations in flight finish first and are seen;
    // later ones wait, then find the SKUs gone.
    if !db::products::lock_for_delete(&mut tx, id).await? {
        return Err(Error::NotFound("product"));
    }
    let skus = db::skus::live_ids_of_product(&mut tx, id).await?;
    if inventory::lock_for_delete(&mut tx, &skus).await? {
        return Err(Error::FailedPrecondition("one of its SKUs is held by a pending reservation".into()));
    }
    db::skus::mark_all_deleted(&mut tx, &skus).await?;
    db::products::mark_deleted(&mut tx, id).await?;
    tx.commit().await?;
    if let Some(media) = media {
        for image in db::images::of_products(pool, &[id]).await? {
            media.remove(image.id, &image.stored_widths.iter().map(|w| w.unsigned_abs()).collect::<Vec<_>>()).await;
        }
    }
    Ok(())
}

/// Appends a link to an image to a live product.
pub async fn add_image(pool: &PgPool, product_id: Uuid, url: &ImageUrl, alt_text: &str) -> Result<ProductView, Error> {
    let alt_text = checked_alt_text(alt_text)?;
    append_image(pool, product_id, ImageSource::Link(url), alt_text).await
}

/// Checks a picture, stores its copies in `media` and appends it to a live product ([`store_picture`]). The
/// cheap refusals (no such product, too many images) come before the picture is processed.
pub async fn upload_image(
    pool: &PgPool,
    media: &Media,
    product_id: Uuid,
    data: Vec<u8>,
    alt_text: &str,
) -> Result<ProductView, Error> {
    let alt_text = checked_alt_text(alt_text)?;
    db::products::find(pool, product_id).await?.ok_or(Error::NotFound("product"))?;
    room_for_an_image(&mut *pool.acquire().await?, product_id).await?;
    let picture = media.process(data).await?;
    store_picture(pool, media, product_id, picture, alt_text).await
}

/// Writes a processed picture's copies to `media`, then appends it to a live product, checking again under the
/// product's lock that it has room; should that check or the insert fail, the copies are removed. It runs to
/// the end on a task of its own, so a caller that goes away meanwhile leaves no copy that no row names.
pub async fn store_picture(
    pool: &PgPool,
    media: &Media,
    product_id: Uuid,
    picture: Picture,
    alt_text: &str,
) -> Result<ProductView, Error> {
    let alt_text = checked_alt_text(alt_text)?.to_owned();
    let (pool, media) = (pool.clone(), media.clone());
    let stored = tokio::spawn(async move {
        let id = Uuid::now_v7();
        let widths: Vec<u32> = picture.variants.iter().map(|v| v.width).collect();
        media.put(id, &picture.variants).await?;
        let kept: Vec<i32> = widths.iter().map(|&w| i32::try_from(w).expect("at most 1600")).collect();
        let size = |side: u32| i32::try_from(side).expect("at most 12,000");
        let source =
            ImageSource::Stored { id, widths: &kept, width: size(picture.width), height: size(picture.height) };
        let appended = append_image(&pool, product_id, source, &alt_text).await;
        if appended.is_err() {
            media.remove(id, &widths).await;
        }
        appended
    });
    stored.await.unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic()))
}

/// Alt text, trimmed, if it is acceptable.
fn checked_alt_text(alt_text: &str) -> Result<&str, Error> {
    if alt_text.chars().count() > 500 || alt_text.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(
            "alt_text must be at most 500 characters without control characters".into(),
        ));
    }
    Ok(alt_text.trim())
}

/// Where the next image of a product goes, unless it has all the images it may have.
async fn room_for_an_image(conn: &mut sqlx::PgConnection, product_id: Uuid) -> Result<i32, Error> {
    let count = db::images::count(conn, product_id).await?;
    if count.images >= MAX_IMAGES {
        return Err(Error::FailedPrecondition(format!("a product has at most {MAX_IMAGES} images")));
    }
    Ok(count.next_position)
}

/// Appends an image to a live product, under its lock.
async fn append_image(
    pool: &PgPool,
    product_id: Uuid,
    source: ImageSource<'_>,
    alt_text: &str,
) -> Result<ProductView, Error> {
    let mut tx = pool.begin().await?;
    let product = db::products::lock(&mut tx, product_id).await?;
    let position = room_for_an_image(&mut tx, product_id).await?;
    db::images::insert(&mut tx, product_id, source, alt_text, position).await?;
    tx.commit().await?;
    with_details_of(pool, product).await
}

/// Removes one image of a live product, and a stored picture's copies from `media` once that is committed.
pub async fn remove_image(
    pool: &PgPool,
    media: Option<&Media>,
    product_id: Uuid,
    image_id: Uuid,
) -> Result<ProductView, Error> {
    let mut tx = pool.begin().await?;
    let product = db::products::lock(&mut tx, product_id).await?;
    let widths = db::images::delete(&mut tx, product_id, image_id).await?.ok_or(Error::NotFound("image"))?;
    tx.commit().await?;
    if let Some(media) = media {
        media.remove(image_id, &widths.iter().map(|w| w.unsigned_abs()).collect::<Vec<_>>()).await;
    }
    with_details_of(pool, product).await
}

/// One SKU whose product `reader` may see.
pub async fn get_sku(pool: &PgPool, reader: Reader, id: Uuid) -> Result<SkuRow, Error> {
    match db::skus::find(pool, id).await? {
        Some(found) if reader.sees(found.status) => Ok(found.sku),
        _ => Err(Error::NotFound("SKU")),
    }
}

/// The purchasable SKUs among `ids` (live, of a live PUBLISHED product) with their stock and their product's
/// name, read in one statement on `lookups` ([`db::skus::purchasable`]), and the ids that are not
/// purchasable, both in the order asked.
pub async fn batch_get_skus(lookups: &GenericPlans, ids: &[Uuid]) -> Result<(Vec<PurchasableSku>, Vec<Uuid>), Error> {
    let mut found: HashMap<Uuid, PurchasableSku> =
        db::skus::purchasable(lookups, ids).await?.into_iter().map(|hit| (hit.sku.id, hit)).collect();
    let (mut skus, mut missing): (Vec<PurchasableSku>, Vec<Uuid>) = (Vec::new(), Vec::new());
    for id in ids {
        match found.remove(id) {
            Some(hit) => skus.push(hit),
            None if !missing.contains(id) && !skus.iter().any(|hit| hit.sku.id == *id) => missing.push(*id),
            None => {}
        }
    }
    Ok((skus, missing))
}

/// Changes a live SKU's code, price or attributes, keeping its product's price range up to date; a new price
/// is announced in `outbox` (`product.v1.repriced`).
pub async fn update_sku(pool: &PgPool, outbox: &Outbox, id: Uuid, change: SkuChange) -> Result<SkuRow, Error> {
    let mut tx = pool.begin().await?;
    let product_id = db::skus::product_of(&mut tx, id).await?.ok_or(Error::NotFound("SKU"))?;
    db::products::lock(&mut tx, product_id).await?;
    if let Some(price) = &change.price {
        let others = db::skus::currency_of_others(&mut tx, product_id, id).await?;
        if others.as_ref().is_some_and(|currency| *currency != price.currency_code) {
            return Err(Error::InvalidArgument(format!(
                "the product's other SKUs are priced in {}; one product has one currency",
                others.unwrap_or_default()
            )));
        }
    }
    // Read under the product's lock, which every change of its SKUs takes first.
    let old = db::skus::price_of(&mut tx, id).await?;
    let sku = db::skus::update(&mut tx, id, &change).await?.ok_or(Error::NotFound("SKU"))?;
    db::products::refresh_prices(&mut tx, product_id).await?;
    let repriced = old.filter(|old| *old != sku.price).map(|old| events::repriced(&sku, &old));
    if let Some(event) = &repriced {
        outbox.insert(&mut tx, event).await?;
    }
    tx.commit().await?;
    if repriced.is_some() {
        outbox.written();
    }
    Ok(sku)
}

/// Soft-deletes a SKU, unless a pending reservation holds it.
pub async fn delete_sku(pool: &PgPool, id: Uuid) -> Result<(), Error> {
    let mut tx = pool.begin().await?;
    // Product first, then SKU, then its stock, as every catalog edit locks them (`lock_for_delete`):
    // reservations in flight finish first and are seen; later ones wait, then find the SKU gone.
    let product_id = db::skus::product_of(&mut tx, id).await?.ok_or(Error::NotFound("SKU"))?;
    db::products::lock(&mut tx, product_id).await?;
    if !db::skus::lock_for_delete(&mut tx, id).await? {
        return Err(Error::NotFound("SKU"));
    }
    if inventory::lock_for_delete(&mut tx, &[id]).await? {
        return Err(Error::FailedPrecondition("the SKU is held by a pending reservation".into()));
    }
    db::skus::mark_deleted(&mut tx, id).await?;
    db::products::refresh_prices(&mut tx, product_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether a live SKU has any of these codes (in any case).
pub async fn any_live_sku_code(pool: &PgPool, codes: &[SkuCode]) -> Result<bool, Error> {
    db::skus::any_live_code(pool, codes).await
}
