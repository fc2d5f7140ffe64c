//! Loading a catalog from a file, for real shops (`ec catalog import FILE`) and for the demo catalog `ec dev`
//! loads on first start.
//!
//! Two formats:
//! - **JSON**: `{"categories": [...], "products": [...]}`. A category has a `name`, an optional `slug` and
//!   `children`; a product a `name`, `description`, `category` (the slug path, `kitchen/tea-coffee`), `status`
//!   (`draft`, `published` (the default) or `hidden`), `images` (`{"url", "alt"}` for a link, `{"file", "alt"}`
//!   for a picture file beside the catalog, checked and stored as an upload is) and `skus` (`{"code", "price",
//!   "currency", "attributes", "stock"}`, the price in minor units).
//! - **CSV**: one row per SKU, with a header row: `category,product,description,status,sku,price,currency,
//!   stock,attributes,images`. Rows with the same category and product name are one product; `category` is a
//!   slug path whose categories are made as needed (named after their slugs), `attributes` is
//!   `name=value;name=value`, `images` space-separated URLs.
//!
//! Everything goes through the same checks as the API, and a product is checked whole before any of it is
//! written. Importing is idempotent: categories are found by their slug path, and a product whose SKU codes
//! are already in the catalog is left as it is, so a file can be loaded again after an edit that only adds
//! products. (A product is written in several transactions: should the database fail half-way through one,
//! that product may be left without all its SKUs or images; delete it and import again.)

use std::collections::BTreeMap;

use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    catalog, categories, db,
    domain::{
        Actor, Attributes, CategoryName, Description, ImageUrl, Price, ProductName, ProductStatus, SkuCode, Slug,
    },
    error::Error,
    pictures::{Media, Picture},
};

/// A catalog file, parsed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    #[serde(default)]
    pub categories: Vec<CategoryEntry>,
    #[serde(default)]
    pub products: Vec<ProductEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryEntry {
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub children: Vec<CategoryEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductEntry {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Slug path of the category, e.g. `kitchen/tea-coffee`.
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default = "published")]
    pub status: String,
    #[serde(default)]
    pub images: Vec<ImageEntry>,
    pub skus: Vec<SkuEntry>,
}

fn published() -> String {
    "published".into()
}

/// An image: a link (`url`), or a picture file (`file`) that is uploaded as UploadProductImage would.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageEntry {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub alt: String,
}

/// Where an import finds the picture files its entries name, and the store it puts them in.
pub struct PictureFiles<'a> {
    pub media: &'a Media,
    /// The bytes of a file named in the catalog (beside the catalog file, for `ec catalog import`).
    pub read: &'a (dyn Fn(&str) -> std::io::Result<Vec<u8>> + Sync),
}

/// An image of an entry, checked (a picture decoded and made into its copies), before anything of its product
/// is written.
enum ImageToAdd<'a> {
    Link(ImageUrl, &'a str),
    Picture(Picture, &'a str),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkuEntry {
    pub code: String,
    /// Minor units of `currency`.
    pub price: i64,
    pub currency: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub stock: i64,
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub categories_created: usize,
    pub products_created: usize,
    pub skus_created: usize,
    /// Products left as they were because their SKU codes are in the catalog already.
    pub products_skipped: usize,
}

/// Why a file could not be loaded: where, and what was wrong.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not a catalog: {0}")]
    Format(String),
    #[error("{place}: {error}")]
    Entry { place: String, error: Error },
}

/// Parses a JSON catalog.
pub fn parse_json(text: &str) -> Result<CatalogFile, ImportError> {
    serde_json::from_str(text).map_err(|e| ImportError::Format(e.to_string()))
}

#[derive(Debug, Deserialize)]
struct CsvRow {
    #[serde(default)]
    category: String,
    product: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    status: String,
    sku: String,
    price: i64,
    currency: String,
    #[serde(default)]
    stock: i64,
    #[serde(default)]
    attributes: String,
    #[serde(default)]
    images: String,
}

/// Parses a CSV catalog (one row per SKU).
pub fn parse_csv(text: &str) -> Result<CatalogFile, ImportError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut products: Vec<ProductEntry> = Vec::new();
    for (line, row) in reader.deserialize::<CsvRow>().enumerate() {
        let row = row.map_err(|e| ImportError::Format(format!("row {}: {e}", line + 2)))?;
        let mut attributes = BTreeMap::new();
        for pair in row.attributes.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                ImportError::Format(format!("row {}: attributes are name=value pairs separated by ';'", line + 2))
            })?;
            attributes.insert(name.trim().to_owned(), value.trim().to_owned());
        }
        let sku = SkuEntry { code: row.sku, price: row.price, currency: row.currency, attributes, stock: row.stock };
        let category = Some(row.category).filter(|c| !c.is_empty());
        match products.iter_mut().find(|p| p.name == row.product && p.category == category) {
            Some(product) => product.skus.push(sku),
            None => products.push(ProductEntry {
                name: row.product,
                description: row.description,
                category,
                status: if row.status.is_empty() { published() } else { row.status },
                images: row
                    .images
                    .split_whitespace()
                    .map(|url| ImageEntry { url: Some(url.into()), file: None, alt: String::new() })
                    .collect(),
                skus: vec![sku],
            }),
        }
    }
    Ok(CatalogFile { categories: Vec::new(), products })
}

/// Loads `file` into the catalog, as `actor`.
pub async fn import(
    pool: &PgPool,
    actor: &Actor,
    file: &CatalogFile,
    pictures: Option<&PictureFiles<'_>>,
) -> Result<Report, ImportError> {
    // What can be checked before anything is written is checked first, so a bad file writes nothing of a
    // product: every product has a SKU (its codes are how a later import knows it), and no code is listed twice.
    let mut codes = std::collections::HashMap::new();
    for (n, product) in file.products.iter().enumerate() {
        let place = format!("product {} ({:?})", n + 1, product.name);
        if product.skus.is_empty() {
            let error = Error::InvalidArgument("a product needs at least one SKU".into());
            return Err(ImportError::Entry { place, error });
        }
        for sku in &product.skus {
            if let Some(first) = codes.insert(sku.code.trim().to_uppercase(), n + 1) {
                let error = Error::InvalidArgument(format!("SKU code {:?} is also used by product {first}", sku.code));
                return Err(ImportError::Entry { place, error });
            }
        }
    }
    let mut report = Report::default();
    let mut paths: BTreeMap<String, Uuid> = BTreeMap::new();
    for category in &file.categories {
        create_categories(pool, category, None, "", &mut paths, &mut report).await?;
    }
    for (n, product) in file.products.iter().enumerate() {
        let place = format!("product {} ({:?})", n + 1, product.name);
        let at = |error: Error| ImportError::Entry { place: place.clone(), error };
        let category = match &product.category {
            Some(path) => Some(category_path(pool, path, &mut paths, &mut report).await.map_err(at)?),
            None => None,
        };
        import_product(pool, actor, product, category, pictures, &mut report).await.map_err(at)?;
    }
    Ok(report)
}

async fn create_categories(
    pool: &PgPool,
    entry: &CategoryEntry,
    parent: Option<Uuid>,
    parent_path: &str,
    paths: &mut BTreeMap<String, Uuid>,
    report: &mut Report,
) -> Result<(), ImportError> {
    let at = |error: Error| ImportError::Entry { place: format!("category {:?}", entry.name), error };
    let name = CategoryName::parse(&entry.name).map_err(at)?;
    let slug = match &entry.slug {
        Some(slug) => Slug::parse(slug).map_err(at)?,
        None => name.slug().map_err(at)?,
    };
    let path =
        if parent_path.is_empty() { slug.as_str().to_owned() } else { format!("{parent_path}/{}", slug.as_str()) };
    let id = find_or_create(pool, &name, &slug, parent, report).await.map_err(at)?;
    paths.insert(path.clone(), id);
    for child in &entry.children {
        Box::pin(create_categories(pool, child, Some(id), &path, paths, report)).await?;
    }
    Ok(())
}

/// The category at slug path `path`, made (named after its slugs) where missing.
async fn category_path(
    pool: &PgPool,
    path: &str,
    paths: &mut BTreeMap<String, Uuid>,
    report: &mut Report,
) -> Result<Uuid, Error> {
    if let Some(id) = paths.get(path) {
        return Ok(*id);
    }
    let mut parent = None;
    let mut walked = String::new();
    for slug in path.split('/') {
        let slug = Slug::parse(slug)?;
        walked = if walked.is_empty() { slug.as_str().to_owned() } else { format!("{walked}/{}", slug.as_str()) };
        let id = match paths.get(&walked) {
            Some(id) => *id,
            None => {
                let name = CategoryName::parse(slug.as_str())?;
                find_or_create(pool, &name, &slug, parent, report).await?
            }
        };
        paths.insert(walked.clone(), id);
        parent = Some(id);
    }
    parent.ok_or_else(|| Error::InvalidArgument("category path is empty".into()))
}

async fn find_or_create(
    pool: &PgPool,
    name: &CategoryName,
    slug: &Slug,
    parent: Option<Uuid>,
    report: &mut Report,
) -> Result<Uuid, Error> {
    if let Some(id) = categories::find_by_slug(pool, parent, slug).await? {
        return Ok(id);
    }
    report.categories_created += 1;
    Ok(categories::create(pool, name, slug, parent).await?.id)
}

async fn import_product(
    pool: &PgPool,
    actor: &Actor,
    entry: &ProductEntry,
    category: Option<Uuid>,
    pictures: Option<&PictureFiles<'_>>,
    report: &mut Report,
) -> Result<(), Error> {
    let name = ProductName::parse(&entry.name)?;
    let description = Description::parse(&entry.description)?;
    let status = ProductStatus::from_name(&entry.status).ok_or_else(|| {
        Error::InvalidArgument(format!("status {:?} is not draft, published or hidden", entry.status))
    })?;
    let mut skus = Vec::new();
    for sku in &entry.skus {
        let code = SkuCode::parse(&sku.code)?;
        let price = Price::parse(sku.price, &sku.currency)?;
        let attributes = Attributes::parse(sku.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        skus.push((code, price, attributes, sku.stock));
    }
    if catalog::any_live_sku_code(pool, &skus.iter().map(|(code, ..)| code.clone()).collect::<Vec<_>>()).await? {
        report.products_skipped += 1;
        return Ok(());
    }
    let mut images = Vec::new();
    for image in &entry.images {
        images.push(match (&image.url, &image.file, pictures) {
            (Some(url), None, _) => ImageToAdd::Link(ImageUrl::parse(url)?, &image.alt),
            (None, Some(file), Some(pictures)) => {
                let bytes = (pictures.read)(file)
                    .map_err(|e| Error::InvalidArgument(format!("picture file {file:?} cannot be read: {e}")))?;
                let picture = pictures.media.process(bytes).await.map_err(|e| match e {
                    Error::InvalidArgument(why) => Error::InvalidArgument(format!("picture file {file:?}: {why}")),
                    other => other,
                })?;
                ImageToAdd::Picture(picture, &image.alt)
            }
            (None, Some(_), None) => {
                return Err(Error::FailedPrecondition("picture files need a picture store (MEDIA_STORE)".into()));
            }
            _ => return Err(Error::InvalidArgument("an image has a url or a file, and not both".into())),
        });
    }

    let product = catalog::create_product(pool, &name, &description, category).await?;
    for (code, price, attributes, stock) in &skus {
        catalog::create_sku(pool, actor, product.id, code, price, attributes, *stock).await?;
        report.skus_created += 1;
    }
    for image in images {
        match (image, pictures) {
            (ImageToAdd::Link(url, alt), _) => catalog::add_image(pool, product.id, &url, alt).await?,
            (ImageToAdd::Picture(picture, alt), Some(pictures)) => {
                catalog::store_picture(pool, pictures.media, product.id, picture, alt).await?
            }
            (ImageToAdd::Picture(..), None) => unreachable!("picture files are read only with a store"),
        };
    }
    if status != ProductStatus::Draft && !skus.is_empty() {
        // Announced like any other publication; the service's relay hands the events over at its next look.
        let outbox = crate::events::outbox();
        catalog::publish(pool, &outbox, product.id).await?;
        if status == ProductStatus::Hidden {
            catalog::hide(pool, &outbox, product.id).await?;
        }
    }
    report.products_created += 1;
    Ok(())
}

/// The demo catalog `ec dev` loads into an empty catalog: 9 categories in two levels, 60 products with 1 to 4
/// SKUs each, stock between 0 and 50, and a picture each ([`DEMO_PICTURES`]).
pub const DEMO_CATALOG: &str = include_str!("../demo/catalog.json");

/// `demo_pictures!["a.webp", ...]`: each file of `demo/pictures/` by name, with its bytes.
macro_rules! demo_pictures {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../demo/pictures/", $name)))),*]
    };
}

/// The demo catalog's pictures, drawn for the project by `scripts/demo-pictures.py` and built into the binary,
/// so the demo shop shows them with no network.
pub const DEMO_PICTURES: &[(&str, &[u8])] = demo_pictures![
    "sencha-green-tea.webp",
    "hojicha-roasted-tea.webp",
    "genmaicha.webp",
    "ceremonial-matcha.webp",
    "single-origin-coffee-beans.webp",
    "cast-iron-teapot.webp",
    "glass-pour-over-kettle.webp",
    "ceramic-coffee-dripper.webp",
    "hand-coffee-grinder.webp",
    "tea-cups-set-of-two.webp",
    "carbon-steel-frying-pan.webp",
    "donabe-clay-pot.webp",
    "santoku-knife.webp",
    "hinoki-cutting-board.webp",
    "stainless-steel-saucepan.webp",
    "tamagoyaki-pan.webp",
    "bamboo-steamer.webp",
    "silicone-spatula-set.webp",
    "enamelled-dutch-oven.webp",
    "mortar-and-pestle.webp",
    "linen-duvet-cover.webp",
    "waffle-bath-towel.webp",
    "wool-throw-blanket.webp",
    "cotton-noren-curtain.webp",
    "gauze-pyjama-set.webp",
    "buckwheat-pillow.webp",
    "linen-tea-towels-set-of-three.webp",
    "floor-cushion.webp",
    "merino-wool-socks.webp",
    "organic-cotton-apron.webp",
    "paper-pendant-lamp.webp",
    "brass-table-lamp.webp",
    "led-filament-bulb.webp",
    "rechargeable-lantern.webp",
    "ceramic-wall-sconce.webp",
    "beeswax-candles-pair.webp",
    "floor-lamp-with-linen-shade.webp",
    "reading-light.webp",
    "string-lights.webp",
    "candle-holder.webp",
    "titanium-camping-mug.webp",
    "down-sleeping-bag.webp",
    "two-person-tent.webp",
    "camp-stove.webp",
    "folding-camp-chair.webp",
    "headlamp.webp",
    "insulated-water-bottle.webp",
    "camp-cook-set.webp",
    "sleeping-pad.webp",
    "multi-tool.webp",
    "japanese-garden-shears.webp",
    "watering-can.webp",
    "cedar-raised-bed.webp",
    "hori-hori-garden-knife.webp",
    "seed-starter-kit.webp",
    "garden-gloves.webp",
    "terracotta-planter.webp",
    "compost-bin.webp",
    "bird-feeder.webp",
    "soaker-hose.webp",
];

/// Loads the demo catalog if the catalog has no product yet, and says whether it did. Without a picture store
/// the products come without their pictures.
pub async fn load_demo_if_empty(pool: &PgPool, media: Option<&Media>) -> Result<Option<Report>, ImportError> {
    let empty =
        db::products::none_yet(pool).await.map_err(|error| ImportError::Entry { place: "catalog".into(), error })?;
    if !empty {
        return Ok(None);
    }
    let mut file = parse_json(DEMO_CATALOG)?;
    let read = |name: &str| {
        DEMO_PICTURES
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, bytes)| bytes.to_vec())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not one of the demo pictures"))
    };
    let pictures = media.map(|media| PictureFiles { media, read: &read });
    if pictures.is_none() {
        file.products.iter_mut().for_each(|product| product.images.retain(|image| image.file.is_none()));
    }
    Ok(Some(import(pool, &Actor("demo-data".into()), &file, pictures.as_ref()).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalog_parses_and_has_what_it_promises() {
        let file = parse_json(DEMO_CATALOG).unwrap();
        let children: usize = file.categories.iter().map(|c| c.children.len()).sum();
        assert_eq!(file.categories.len() + children, 9);
        assert_eq!(file.products.len(), 60);
        assert!(file.products.iter().all(|p| (1..=4).contains(&p.skus.len())));
        assert!(file.products.iter().flat_map(|p| &p.skus).all(|s| (0..=50).contains(&s.stock)));
        assert!(file.products.iter().flat_map(|p| &p.skus).any(|s| s.stock == 0), "some sold out");
    }

    #[test]
    fn every_demo_picture_is_used_once_and_every_one_used_is_there() {
        let file = parse_json(DEMO_CATALOG).unwrap();
        let used: Vec<&str> = file.products.iter().flat_map(|p| &p.images).filter_map(|i| i.file.as_deref()).collect();
        assert_eq!(used.len(), file.products.len(), "a picture per product");
        let mut shipped: Vec<&str> = DEMO_PICTURES.iter().map(|(name, _)| *name).collect();
        let mut used_sorted = used.clone();
        used_sorted.sort_unstable();
        shipped.sort_unstable();
        assert_eq!(used_sorted, shipped);
        assert!(file.products.iter().flat_map(|p| &p.images).all(|i| i.url.is_none() && !i.alt.is_empty()));
        for (name, bytes) in DEMO_PICTURES {
            let image = image::load_from_memory_with_format(bytes, image::ImageFormat::WebP).unwrap();
            assert!(image.width() >= 960, "{name} is wide enough for a srcset");
        }
        let copies = crate::pictures::process(DEMO_PICTURES[0].1).unwrap();
        assert!(copies.variants.len() >= 3);
    }

    #[test]
    fn csv_rows_of_one_product_make_one_product() {
        let text = "category,product,description,status,sku,price,currency,stock,attributes,images\n\
                    kitchen/tea,Sencha,Green tea.,,SENCHA-50,900,JPY,10,weight=50g,https://cdn.example.com/s.jpg\n\
                    kitchen/tea,Sencha,Green tea.,,SENCHA-100,1600,JPY,4,weight=100g;origin=Shizuoka,\n\
                    ,Gift card,,draft,GIFT-1,5000,JPY,0,,\n";
        let file = parse_csv(text).unwrap();
        assert_eq!(file.products.len(), 2);
        let sencha = &file.products[0];
        assert_eq!((sencha.skus.len(), sencha.status.as_str(), sencha.images.len()), (2, "published", 1));
        assert_eq!(sencha.skus[1].attributes.get("origin").map(String::as_str), Some("Shizuoka"));
        assert_eq!((file.products[1].category.as_deref(), file.products[1].status.as_str()), (None, "draft"));
        let format_error = |text: &str| match parse_csv(text) {
            Err(ImportError::Format(message)) => message,
            other => panic!("{text:?} is not a catalog, yet it gave {other:?}"),
        };
        let no_price = format_error("product,sku\nA,B\n");
        assert!(no_price.starts_with("row 2: ") && no_price.contains("missing field `price`"), "{no_price}");
        assert_eq!(
            format_error("product,sku,price,currency,attributes\nA,B,1,JPY,novalue\n"),
            "row 2: attributes are name=value pairs separated by ';'"
        );
    }
}
