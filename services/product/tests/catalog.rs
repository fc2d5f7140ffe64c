//! `product.v1.ProductService` through the product service's gRPC port: the product status machine, who sees
//! what, the category tree, every error code of the contract, and ListProducts' pages, filters, search and
//! page tokens.

mod support;

use std::collections::HashSet;

use connectrpc::{ErrorCode, client::HttpClient};
use ec_proto::product::v1::{
    AddProductImageRequest, BatchGetSkusRequest, BatchReserveInventoryRequest, CreateCategoryRequest,
    CreateProductRequest, CreateSkuRequest, DeleteCategoryRequest, DeleteProductRequest, DeleteSkuRequest,
    GetProductRequest, GetSkuRequest, HideProductRequest, ListCategoriesRequest, ListProductsRequest, Money, Product,
    ProductServiceClient, ProductSort, ProductStatus, PublishProductRequest, RemoveProductImageRequest,
    ReservationItem, UpdateCategoryRequest, UpdateProductRequest, UpdateSkuRequest,
};
use support::{Service, Who, code};

type Catalog = ProductServiceClient<HttpClient>;

fn money(amount: i64, currency: &str) -> buffa::MessageField<Money, buffa::Inline<Money>> {
    buffa::MessageField::some(Money { amount, currency_code: currency.into(), ..Default::default() })
}

async fn product(admin: &Catalog, name: &str, description: &str, category: Option<&str>) -> Product {
    let request = CreateProductRequest {
        name: name.into(),
        description: description.into(),
        category_id: category.map(str::to_owned),
        ..Default::default()
    };
    admin.create_product(request).await.unwrap().into_owned().product.into_option().unwrap()
}

fn sku_request(product_id: &str, code: &str, amount: i64, currency: &str) -> CreateSkuRequest {
    CreateSkuRequest {
        product_id: product_id.into(),
        code: code.into(),
        price: money(amount, currency),
        initial_quantity: 5,
        ..Default::default()
    }
}

/// A published product with one SKU at `amount` yen.
async fn on_sale(admin: &Catalog, name: &str, description: &str, category: Option<&str>, amount: i64) -> Product {
    let created = product(admin, name, description, category).await;
    let code = format!("S-{}", uuid::Uuid::now_v7().simple());
    admin.create_sku(sku_request(&created.id, &code, amount, "JPY")).await.unwrap();
    let publish = PublishProductRequest { id: created.id.clone(), ..Default::default() };
    admin.publish_product(publish).await.unwrap().into_owned().product.into_option().unwrap()
}

fn get(id: &str) -> GetProductRequest {
    GetProductRequest { id: id.into(), ..Default::default() }
}

#[tokio::test]
async fn products_move_through_their_statuses_by_the_legal_transitions_only_and_are_seen_accordingly() {
    let service = Service::start().await;
    let admin = service.catalog(Who::Admin);
    let public = service.catalog(Who::Nobody);
    let draft = product(&admin, "Kettle", "", None).await;
    assert_eq!(draft.status, ProductStatus::PRODUCT_STATUS_DRAFT);
    assert_eq!(code(public.get_product(get(&draft.id)).await), ErrorCode::NotFound, "drafts are for admins");
    assert!(admin.get_product(get(&draft.id)).await.is_ok());

    let publish = || PublishProductRequest { id: draft.id.clone(), ..Default::default() };
    let hide = || HideProductRequest { id: draft.id.clone(), ..Default::default() };
    assert_eq!(code(admin.publish_product(publish()).await), ErrorCode::FailedPrecondition, "no SKU yet");
    assert_eq!(code(admin.hide_product(hide()).await), ErrorCode::FailedPrecondition, "a draft cannot be hidden");
    admin.create_sku(sku_request(&draft.id, "KETTLE-1", 3980, "JPY")).await.unwrap();
    let published = admin.publish_product(publish()).await.unwrap().into_owned().product.into_option().unwrap();
    assert_eq!(published.status, ProductStatus::PRODUCT_STATUS_PUBLISHED);
    assert_eq!(published.min_price.as_option().map(|m| (m.amount, m.currency_code.as_str())), Some((3980, "JPY")));
    assert_eq!(code(admin.publish_product(publish()).await), ErrorCode::FailedPrecondition, "already published");

    let hidden = admin.hide_product(hide()).await.unwrap().into_owned().product.into_option().unwrap();
    assert_eq!(hidden.status, ProductStatus::PRODUCT_STATUS_HIDDEN);
    assert_eq!(code(admin.hide_product(hide()).await), ErrorCode::FailedPrecondition, "already hidden");
    let by_id = public.get_product(get(&draft.id)).await.unwrap().into_owned().product.into_option().unwrap();
    assert_eq!(by_id.status, ProductStatus::PRODUCT_STATUS_HIDDEN, "hidden stays readable by id");
    let listed = public.list_products(ListProductsRequest::default()).await.unwrap().into_owned().products;
    assert!(listed.is_empty(), "but is not listed");
    let republished = admin.publish_product(publish()).await.unwrap().into_owned().product.into_option().unwrap();
    assert_eq!(republished.status, ProductStatus::PRODUCT_STATUS_PUBLISHED, "hidden can go back on sale");
    let listed = public.list_products(ListProductsRequest::default()).await.unwrap().into_owned().products;
    assert_eq!(listed.len(), 1);

    // Deleted: gone for everyone, admins included.
    admin.delete_product(DeleteProductRequest { id: draft.id.clone(), ..Default::default() }).await.unwrap();
    assert_eq!(code(admin.get_product(get(&draft.id)).await), ErrorCode::NotFound);
    let delete_again = DeleteProductRequest { id: draft.id.clone(), ..Default::default() };
    assert_eq!(code(admin.delete_product(delete_again).await), ErrorCode::NotFound);
    service.stop().await;
}

#[tokio::test]
async fn changing_the_catalog_needs_an_admin_and_bad_input_has_its_code() {
    let service = Service::start().await;
    let admin = service.catalog(Who::Admin);
    let create = |name: &str, description: &str, category: Option<&str>| CreateProductRequest {
        name: name.into(),
        description: description.into(),
        category_id: category.map(str::to_owned),
        ..Default::default()
    };
    assert_eq!(
        code(service.catalog(Who::Nobody).create_product(create("A", "", None)).await),
        ErrorCode::Unauthenticated
    );
    assert_eq!(
        code(service.catalog(Who::Customer).create_product(create("A", "", None)).await),
        ErrorCode::PermissionDenied
    );
    let long_name = "n".repeat(201);
    let long_description = "d".repeat(10_001);
    for (name, description, category) in [
        ("", "", None),
        ("  ", "", None),
        (long_name.as_str(), "", None),
        ("Bell\u{7}", "", None),
        ("A", long_description.as_str(), None),
        ("A", "", Some("not-a-uuid")),
    ] {
        let result = admin.create_product(create(name, description, category)).await;
        assert_eq!(code(result), ErrorCode::InvalidArgument, "{name:?} {category:?}");
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(code(admin.create_product(create("A", "", Some(&unknown))).await), ErrorCode::NotFound);

    // SKUs.
    let item = product(&admin, "Shirt", "", None).await;
    let mut too_many = sku_request(&item.id, "SHIRT-X", 100, "JPY");
    too_many.attributes = (0..21).map(|n| (format!("k{n}"), "v".to_owned())).collect();
    for (request, why) in [
        (sku_request(&item.id, "", 100, "JPY"), "empty code"),
        (sku_request(&item.id, "has space", 100, "JPY"), "malformed code"),
        (sku_request(&item.id, "SHIRT-1", -1, "JPY"), "negative price"),
        (sku_request(&item.id, "SHIRT-1", 100, "ABC"), "unknown currency"),
        (sku_request(&item.id, "SHIRT-1", 100, "XAU"), "gold is not money for prices"),
        (sku_request(&item.id, "SHIRT-1", 100, "jpy"), "lower case"),
        (too_many, "21 attributes"),
        (CreateSkuRequest { initial_quantity: -1, ..sku_request(&item.id, "SHIRT-1", 100, "JPY") }, "negative stock"),
        (
            CreateSkuRequest { price: buffa::MessageField::none(), ..sku_request(&item.id, "SHIRT-1", 100, "JPY") },
            "no price",
        ),
    ] {
        assert_eq!(code(admin.create_sku(request).await), ErrorCode::InvalidArgument, "{why}");
    }
    admin.create_sku(sku_request(&item.id, "SHIRT-BLU-M", 2500, "JPY")).await.unwrap();
    let other_currency = admin.create_sku(sku_request(&item.id, "SHIRT-RED-M", 20, "USD")).await;
    assert_eq!(code(other_currency), ErrorCode::InvalidArgument, "one currency per product");
    let taken = admin.create_sku(sku_request(&item.id, "shirt-blu-m", 2500, "JPY")).await;
    assert_eq!(code(taken), ErrorCode::AlreadyExists, "codes are unique whatever their case");
    assert_eq!(code(admin.create_sku(sku_request(&unknown, "X-1", 1, "JPY")).await), ErrorCode::NotFound);
    let customer_sku = service.catalog(Who::Customer).create_sku(sku_request(&item.id, "X-2", 1, "JPY")).await;
    assert_eq!(code(customer_sku), ErrorCode::PermissionDenied);

    // Images.
    let image = |url: &str, alt: &str| AddProductImageRequest {
        product_id: item.id.clone(),
        url: url.into(),
        alt_text: alt.into(),
        ..Default::default()
    };
    let long_alt = "a".repeat(501);
    for (url, alt) in [
        ("http://cdn.example.com/a.jpg", ""),
        ("/a.jpg", ""),
        ("https://", ""),
        ("javascript:alert(1)", ""),
        ("https://cdn.example.com/a.jpg", long_alt.as_str()),
    ] {
        assert_eq!(code(admin.add_product_image(image(url, alt)).await), ErrorCode::InvalidArgument, "{url}");
    }
    let mut last = None;
    for n in 0..20 {
        let url = format!("https://cdn.example.com/shirt-{n}.jpg");
        last = Some(
            admin.add_product_image(image(&url, "A shirt")).await.unwrap().into_owned().product.into_option().unwrap(),
        );
    }
    let with_images = last.unwrap();
    assert_eq!(with_images.images.len(), 20);
    assert!(with_images.images.windows(2).all(|w| w[0].position < w[1].position), "in order");
    let full = admin.add_product_image(image("https://cdn.example.com/21.jpg", "")).await;
    assert_eq!(code(full), ErrorCode::FailedPrecondition);
    let remove = |image_id: &str| RemoveProductImageRequest {
        product_id: item.id.clone(),
        image_id: image_id.into(),
        ..Default::default()
    };
    let after = admin.remove_product_image(remove(&with_images.images[0].id)).await.unwrap().into_owned();
    assert_eq!(after.product.images.len(), 19);
    assert_eq!(code(admin.remove_product_image(remove(&with_images.images[0].id)).await), ErrorCode::NotFound);
    service.stop().await;
}

#[tokio::test]
async fn skus_are_updated_and_deleted_with_the_products_prices_kept_right() {
    let service = Service::start().await;
    let admin = service.catalog(Who::Admin);
    let item = product(&admin, "Tea", "", None).await;
    let small = admin.create_sku(sku_request(&item.id, "TEA-S", 800, "JPY")).await.unwrap().into_owned().sku;
    let large = admin.create_sku(sku_request(&item.id, "TEA-L", 1500, "JPY")).await.unwrap().into_owned().sku;
    assert_eq!(small.inventory.quantity, 5, "created with its stock");
    let prices = |p: &Product| (p.min_price.amount, p.max_price.amount);
    let current = admin.get_product(get(&item.id)).await.unwrap().into_owned().product.into_option().unwrap();
    assert_eq!(prices(&current), (800, 1500));

    let update = UpdateSkuRequest { id: large.id.clone(), price: money(600, "JPY"), ..Default::default() };
    let updated = admin.update_sku(update).await.unwrap().into_owned().sku;
    assert_eq!(updated.price.amount, 600);
    let current = admin.get_product(get(&item.id)).await.unwrap().into_owned().product.into_option().unwrap();
    assert_eq!(prices(&current), (600, 800));
    let taken = UpdateSkuRequest { id: large.id.clone(), code: Some("TEA-S".into()), ..Default::default() };
    assert_eq!(code(admin.update_sku(taken).await), ErrorCode::AlreadyExists);
    let currency = UpdateSkuRequest { id: large.id.clone(), price: money(5, "USD"), ..Default::default() };
    assert_eq!(code(admin.update_sku(currency).await), ErrorCode::InvalidArgument);
    let attributes = UpdateSkuRequest {
        id: large.id.clone(),
        attributes: [("size".to_owned(), "L".to_owned())].into_iter().collect(),
        replace_attributes: true,
        ..Default::default()
    };
    let replaced = admin.update_sku(attributes).await.unwrap().into_owned().sku;
    assert_eq!(replaced.attributes.get("size").map(String::as_str), Some("L"));

    // A SKU held by a pending reservation cannot go, nor can its product.
    admin.publish_product(PublishProductRequest { id: item.id.clone(), ..Default::default() }).await.unwrap();
    let hold = BatchReserveInventoryRequest {
        items: vec![ReservationItem { sku_id: small.id.clone(), quantity: 1, ..Default::default() }],
        idempotency_key: "order-1".into(),
        ..Default::default()
    };
    service.client(Who::Internal).batch_reserve_inventory(hold).await.unwrap();
    let delete_small = || DeleteSkuRequest { id: small.id.clone(), ..Default::default() };
    assert_eq!(code(admin.delete_sku(delete_small()).await), ErrorCode::FailedPrecondition);
    let delete_item = DeleteProductRequest { id: item.id.clone(), ..Default::default() };
    assert_eq!(code(admin.delete_product(delete_item).await), ErrorCode::FailedPrecondition);
    admin.delete_sku(DeleteSkuRequest { id: large.id.clone(), ..Default::default() }).await.unwrap();
    let current = admin.get_product(get(&item.id)).await.unwrap().into_owned().product.into_option().unwrap();
    assert_eq!((current.skus.len(), prices(&current)), (1, (800, 800)));
    assert_eq!(
        code(admin.delete_sku(DeleteSkuRequest { id: large.id.clone(), ..Default::default() }).await),
        ErrorCode::NotFound
    );
    let gone = service.catalog(Who::Nobody).get_sku(GetSkuRequest { id: large.id.clone(), ..Default::default() }).await;
    assert_eq!(code(gone), ErrorCode::NotFound);

    // BatchGetSkus: the purchasable ones with stock and product name, the rest listed as missing.
    let unknown = uuid::Uuid::now_v7().to_string();
    let batch =
        BatchGetSkusRequest { ids: vec![small.id.clone(), large.id.clone(), unknown.clone()], ..Default::default() };
    let answer = service.catalog(Who::Internal).batch_get_skus(batch).await.unwrap().into_owned();
    assert_eq!(answer.skus.len(), 1);
    assert_eq!((answer.skus[0].product_name.as_str(), answer.skus[0].sku.inventory.reserved), ("Tea", 1));
    assert_eq!(answer.missing_sku_ids, vec![large.id.clone(), unknown]);
    let too_many =
        BatchGetSkusRequest { ids: (0..101).map(|_| uuid::Uuid::now_v7().to_string()).collect(), ..Default::default() };
    assert_eq!(code(service.catalog(Who::Nobody).batch_get_skus(too_many).await), ErrorCode::InvalidArgument);
    let malformed = BatchGetSkusRequest { ids: vec!["nope".into()], ..Default::default() };
    assert_eq!(code(service.catalog(Who::Nobody).batch_get_skus(malformed).await), ErrorCode::InvalidArgument);
    service.stop().await;
}

#[tokio::test]
async fn categories_form_a_tree_without_cycles_and_only_empty_ones_are_deleted() {
    let service = Service::start().await;
    let admin = service.catalog(Who::Admin);
    let create = |name: &str, slug: &str, parent: Option<&str>| CreateCategoryRequest {
        name: name.into(),
        slug: slug.into(),
        parent_id: parent.map(str::to_owned),
        ..Default::default()
    };
    let made = |r: ec_proto::product::v1::CreateCategoryResponse| r.category.into_option().unwrap();
    let kitchen = made(admin.create_category(create("Kitchen & Dining", "", None)).await.unwrap().into_owned());
    assert_eq!(kitchen.slug, "kitchen-dining", "derived from the name");
    let tea = made(admin.create_category(create("Tea", "", Some(&kitchen.id))).await.unwrap().into_owned());
    let pots = made(admin.create_category(create("Teapots", "pots", Some(&tea.id))).await.unwrap().into_owned());
    let garden = made(admin.create_category(create("Garden", "", None)).await.unwrap().into_owned());
    // Slugs are unique among siblings only.
    assert_eq!(
        code(admin.create_category(create("Tea again", "tea", Some(&kitchen.id))).await),
        ErrorCode::AlreadyExists
    );
    assert_eq!(code(admin.create_category(create("Garden", "", None)).await), ErrorCode::AlreadyExists, "roots too");
    admin.create_category(create("Tea", "tea", Some(&garden.id))).await.unwrap();
    for bad in
        [create("", "", None), create("X", "Bad Slug", None), create("日本茶", "", None), create("X", "", Some("nope"))]
    {
        assert_eq!(code(admin.create_category(bad).await), ErrorCode::InvalidArgument);
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(code(admin.create_category(create("X", "", Some(&unknown))).await), ErrorCode::NotFound);
    assert_eq!(
        code(service.catalog(Who::Customer).create_category(create("X", "", None)).await),
        ErrorCode::PermissionDenied
    );

    // No cycles: not under itself, not under a descendant.
    let move_to = |id: &str, parent: &str| UpdateCategoryRequest {
        id: id.into(),
        parent_id: Some(parent.into()),
        ..Default::default()
    };
    assert_eq!(code(admin.update_category(move_to(&kitchen.id, &kitchen.id)).await), ErrorCode::FailedPrecondition);
    assert_eq!(code(admin.update_category(move_to(&kitchen.id, &pots.id)).await), ErrorCode::FailedPrecondition);
    assert_eq!(code(admin.update_category(move_to(&kitchen.id, &unknown)).await), ErrorCode::NotFound);
    let moved = admin.update_category(move_to(&pots.id, &garden.id)).await.unwrap().into_owned().category;
    assert_eq!(moved.parent_id.as_deref(), Some(garden.id.as_str()));
    let to_root = admin.update_category(move_to(&pots.id, "")).await.unwrap().into_owned().category;
    assert_eq!(to_root.parent_id, None);

    // The tree and the flat list.
    let public = service.catalog(Who::Nobody);
    let tree = public.list_categories(ListCategoriesRequest::default()).await.unwrap().into_owned().categories;
    let roots: Vec<&str> = tree.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(roots, ["Garden", "Kitchen & Dining", "Teapots"]);
    assert_eq!(tree[1].children.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Tea"]);
    let flat = public.list_categories(ListCategoriesRequest { flat: true, ..Default::default() }).await.unwrap();
    let flat = flat.into_owned().categories;
    assert_eq!(flat.len(), 5);
    assert!(flat.iter().all(|c| c.children.is_empty()));

    // Only empty categories go.
    let delete = |id: &str| DeleteCategoryRequest { id: id.into(), ..Default::default() };
    assert_eq!(code(admin.delete_category(delete(&kitchen.id)).await), ErrorCode::FailedPrecondition, "has a child");
    product(&admin, "Sencha", "", Some(&tea.id)).await;
    assert_eq!(code(admin.delete_category(delete(&tea.id)).await), ErrorCode::FailedPrecondition, "has a product");
    admin.delete_category(delete(&pots.id)).await.unwrap();
    assert_eq!(code(admin.delete_category(delete(&pots.id)).await), ErrorCode::NotFound);
    service.stop().await;
}

async fn walk(client: &Catalog, mut request: ListProductsRequest, between: impl AsyncFn(usize)) -> Vec<String> {
    let mut seen = Vec::new();
    for page in 0.. {
        let answer = client.list_products(request.clone()).await.unwrap().into_owned();
        seen.extend(answer.products.iter().map(|p| p.name.clone()));
        if answer.next_page_token.is_empty() {
            break;
        }
        between(page).await;
        request.page_token = answer.next_page_token;
    }
    seen
}

#[tokio::test]
async fn pages_neither_repeat_nor_skip_while_products_come_and_go_and_tokens_are_checked() {
    let service = Service::start().await;
    let admin = service.catalog(Who::Admin);
    let mut ids = Vec::new();
    for n in 0..45 {
        ids.push(on_sale(&admin, &format!("Product {n:02}"), "", None, 100 + n).await.id);
    }
    let public = service.catalog(Who::Nobody);
    let page = ListProductsRequest { page_size: 10, ..Default::default() };
    // Between pages: a new product arrives (newest first, so before the cursor) and an unseen one is deleted.
    let deleted = std::cell::RefCell::new(Vec::new());
    let seen = walk(&public, page.clone(), async |n| {
        on_sale(&admin, &format!("Late {n}"), "", None, 1).await;
        let victim = &ids[n];
        admin.delete_product(DeleteProductRequest { id: victim.clone(), ..Default::default() }).await.unwrap();
        deleted.borrow_mut().push(format!("Product {n:02}"));
    })
    .await;
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no product twice: {seen:?}");
    for n in 0..45 {
        let name = format!("Product {n:02}");
        if !deleted.borrow().contains(&name) {
            assert!(unique.contains(&name), "{name} was never listed: {seen:?}");
        }
    }
    assert!(seen.iter().all(|name| !name.starts_with("Late")), "products added behind the cursor come on later walks");

    // Tokens: made up, edited, or issued for other filters or another audience.
    let first = public.list_products(page.clone()).await.unwrap().into_owned();
    let token = first.next_page_token.clone();
    let mut edited = token.clone().into_bytes();
    let last = edited.len() - 1;
    edited[last] = if edited[last] == b'A' { b'B' } else { b'A' };
    let edited = String::from_utf8(edited).unwrap();
    for bad in ["garbage", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", edited.as_str()] {
        let request = ListProductsRequest { page_token: bad.into(), ..page.clone() };
        assert_eq!(code(public.list_products(request).await), ErrorCode::InvalidArgument, "{bad}");
    }
    let other_filter = ListProductsRequest { page_token: token.clone(), min_price: Some(110), ..page.clone() };
    assert_eq!(code(public.list_products(other_filter).await), ErrorCode::InvalidArgument);
    let as_admin = ListProductsRequest { page_token: token.clone(), ..page.clone() };
    assert_eq!(code(admin.list_products(as_admin).await), ErrorCode::InvalidArgument, "another audience");
    let bigger_page = ListProductsRequest { page_token: token, page_size: 20, ..page.clone() };
    assert!(public.list_products(bigger_page).await.is_ok(), "the page size is not a filter");

    for bad in [
        ListProductsRequest { page_size: 101, ..Default::default() },
        ListProductsRequest { page_size: -1, ..Default::default() },
        ListProductsRequest { min_price: Some(10), max_price: Some(5), ..Default::default() },
        ListProductsRequest { category_id: Some("nope".into()), ..Default::default() },
        ListProductsRequest { search_query: Some("q".repeat(201)), ..Default::default() },
    ] {
        assert_eq!(code(public.list_products(bad).await), ErrorCode::InvalidArgument);
    }
    let default = public.list_products(ListProductsRequest::default()).await.unwrap().into_owned();
    assert_eq!(default.products.len(), 20, "20 by default");
    service.stop().await;
}

#[tokio::test]
async fn filters_by_category_subtree_price_status_and_search_with_ranking() {
    let service = Service::start().await;
    let admin = service.catalog(Who::Admin);
    let category = |name: &str, parent: Option<&str>| CreateCategoryRequest {
        name: name.into(),
        parent_id: parent.map(str::to_owned),
        ..Default::default()
    };
    let kitchen = admin.create_category(category("Kitchen", None)).await.unwrap().into_owned().category;
    let tea = admin.create_category(category("Tea", Some(&kitchen.id))).await.unwrap().into_owned().category;
    let garden = admin.create_category(category("Garden", None)).await.unwrap().into_owned().category;
    on_sale(&admin, "Cast iron teapot", "Keeps tea hot for an hour.", Some(&tea.id), 6000).await;
    on_sale(&admin, "Glass kettle", "Boils water for tea and coffee.", Some(&kitchen.id), 3000).await;
    on_sale(&admin, "Watering can", "For the garden.", Some(&garden.id), 1500).await;
    on_sale(&admin, "Teapot warmer", "A candle stand.", None, 900).await;
    on_sale(&admin, "Camping stove", "Heats a kettle in minutes.", None, 5000).await;
    product(&admin, "Draft teapot", "Not for sale yet.", Some(&tea.id)).await;

    let public = service.catalog(Who::Nobody);
    let names = async |request: ListProductsRequest| -> Vec<String> {
        let mut names = walk(&public, request, async |_| {}).await;
        names.sort();
        names
    };
    let in_kitchen = ListProductsRequest { category_id: Some(kitchen.id.clone()), ..Default::default() };
    assert_eq!(names(in_kitchen).await, ["Cast iron teapot", "Glass kettle"], "the subtree, published only");
    let priced = ListProductsRequest { min_price: Some(1000), max_price: Some(3000), ..Default::default() };
    assert_eq!(names(priced).await, ["Glass kettle", "Watering can"], "inclusive bounds");
    let drafts_asked =
        ListProductsRequest { status: Some(ProductStatus::PRODUCT_STATUS_DRAFT.into()), ..Default::default() };
    assert_eq!(names(drafts_asked.clone()).await.len(), 5, "the public always gets PUBLISHED");
    let drafts = walk(&admin, drafts_asked, async |_| {}).await;
    assert_eq!(drafts, ["Draft teapot"], "admins may filter by status");

    // Search: a match in the name ranks above one in the description (the stove is newer, so it would come
    // first on a tie); words are stemmed ("teapots" finds "teapot"); filters still apply.
    let search = |q: &str| ListProductsRequest { search_query: Some(q.into()), ..Default::default() };
    let found = async |q: &str| -> Vec<String> {
        let answer = public.list_products(search(q)).await.unwrap().into_owned();
        answer.products.into_iter().map(|p| p.name).collect()
    };
    assert_eq!(found("kettle").await, ["Glass kettle", "Camping stove"]);
    let mut teapots = found("teapots").await;
    teapots.sort();
    assert_eq!(teapots, ["Cast iron teapot", "Teapot warmer"], "stemmed, and the draft is not listed");
    assert_eq!(found("tea").await.len(), 2);
    let mixed = ListProductsRequest {
        search_query: Some("tea".into()),
        category_id: Some(tea.id.clone()),
        ..Default::default()
    };
    assert_eq!(names(mixed).await, ["Cast iron teapot"]);
    assert!(found("& | !").await.is_empty(), "a query of operators only matches nothing and is no error");
    let paged = ListProductsRequest { page_size: 1, ..search("tea") };
    let walked = walk(&public, paged, async |_| {}).await;
    assert_eq!(walked.len(), 2, "search results page too: {walked:?}");

    // All the words; when no product has them all, any of them, more of them and in the name first.
    let answer = async |q: &str| public.list_products(search(q)).await.unwrap().into_owned();
    assert_eq!(found("teapot warmer").await, ["Teapot warmer"]);
    assert!(!answer("teapot warmer").await.matched_any_word);
    let either = answer("watering stove").await;
    assert!(either.matched_any_word);
    let names: Vec<&str> = either.products.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(names[2], "Glass kettle", "a match in the description ranks below the names': {names:?}");
    assert_eq!(found("teapot -warmer").await, ["Cast iron teapot"], "an excluded word still excludes");
    let excluding = answer("watering stove -glass").await;
    assert!(excluding.products.is_empty() && !excluding.matched_any_word, "any word would bring the glass back");
    assert!(found("the of and").await.is_empty(), "stop words alone match nothing and are no error");
    let any_paged = ListProductsRequest { page_size: 1, ..search("watering stove") };
    assert_eq!(walk(&public, any_paged, async |_| {}).await, names, "any-word results page alike");

    // Sorted by price, both ways, page by page; with a search too; products without a price are left out.
    let by = |sort: ProductSort| ListProductsRequest { sort: sort.into(), page_size: 2, ..Default::default() };
    let cheapest_first = walk(&public, by(ProductSort::PRODUCT_SORT_PRICE_LOW_TO_HIGH), async |_| {}).await;
    let priciest = ["Teapot warmer", "Watering can", "Glass kettle", "Camping stove", "Cast iron teapot"];
    assert_eq!(cheapest_first, priciest);
    let dearest_first = walk(&public, by(ProductSort::PRODUCT_SORT_PRICE_HIGH_TO_LOW), async |_| {}).await;
    assert_eq!(dearest_first, priciest.iter().rev().copied().collect::<Vec<_>>());
    let newest = walk(&public, by(ProductSort::PRODUCT_SORT_NEWEST), async |_| {}).await;
    assert_eq!(newest, ["Camping stove", "Teapot warmer", "Watering can", "Glass kettle", "Cast iron teapot"]);
    let tea_by_price =
        ListProductsRequest { search_query: Some("tea".into()), ..by(ProductSort::PRODUCT_SORT_PRICE_LOW_TO_HIGH) };
    assert_eq!(walk(&public, tea_by_price, async |_| {}).await, ["Glass kettle", "Cast iron teapot"]);
    let everything = ListProductsRequest { page_size: 100, ..by(ProductSort::PRODUCT_SORT_PRICE_LOW_TO_HIGH) };
    let all_priced = walk(&admin, everything, async |_| {}).await;
    assert!(!all_priced.contains(&"Draft teapot".to_string()), "a product without a price: {all_priced:?}");

    // Relevance needs a search; a sort the contract does not know is refused; a token is its sort's only.
    let relevance = by(ProductSort::PRODUCT_SORT_RELEVANCE);
    assert_eq!(code(public.list_products(relevance).await), ErrorCode::InvalidArgument);
    let unknown = ListProductsRequest { sort: buffa::EnumValue::from(99), ..Default::default() };
    assert_eq!(code(public.list_products(unknown).await), ErrorCode::InvalidArgument);
    let first = public.list_products(by(ProductSort::PRODUCT_SORT_PRICE_LOW_TO_HIGH)).await.unwrap().into_owned();
    let other_order =
        ListProductsRequest { page_token: first.next_page_token, ..by(ProductSort::PRODUCT_SORT_PRICE_HIGH_TO_LOW) };
    assert_eq!(code(public.list_products(other_order).await), ErrorCode::InvalidArgument);
    service.stop().await;
}

#[tokio::test]
async fn updates_change_only_the_fields_that_are_set() {
    let service = Service::start().await;
    let admin = service.catalog(Who::Admin);
    let category = admin
        .create_category(CreateCategoryRequest { name: "Cups".into(), ..Default::default() })
        .await
        .unwrap()
        .into_owned()
        .category;
    let cup = product(&admin, "Cup", "White.", Some(&category.id)).await;
    let update = UpdateProductRequest { id: cup.id.clone(), name: Some("Tea cup".into()), ..Default::default() };
    let renamed = admin.update_product(update).await.unwrap().into_owned().product;
    assert_eq!((renamed.name.as_str(), renamed.description.as_str()), ("Tea cup", "White."));
    assert_eq!(renamed.category_id.as_deref(), Some(category.id.as_str()));
    let out = UpdateProductRequest { id: cup.id.clone(), category_id: Some(String::new()), ..Default::default() };
    assert_eq!(admin.update_product(out).await.unwrap().into_owned().product.category_id, None);
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = UpdateProductRequest { id: unknown.clone(), name: Some("X".into()), ..Default::default() };
    assert_eq!(code(admin.update_product(missing).await), ErrorCode::NotFound);
    let no_category = UpdateProductRequest { id: cup.id.clone(), category_id: Some(unknown), ..Default::default() };
    assert_eq!(code(admin.update_product(no_category).await), ErrorCode::NotFound);
    let empty_name = UpdateProductRequest { id: cup.id.clone(), name: Some(String::new()), ..Default::default() };
    assert_eq!(code(admin.update_product(empty_name).await), ErrorCode::InvalidArgument);
    service.stop().await;
}

#[tokio::test]
async fn every_rpc_checks_who_calls_and_every_id_it_is_given() {
    use ec_proto::product::v1::{GetCategoryRequest, UpdateSkuRequest as UpdateSku};
    let service = Service::start().await;
    let admin = service.catalog(Who::Admin);
    let unknown = uuid::Uuid::now_v7().to_string();
    let malformed = "not-a-uuid".to_owned();
    let item = on_sale(&admin, "Bowl", "", None, 1000).await;
    let sku = item.skus[0].id.clone();

    // Every admin RPC, called by a customer and by nobody, before anything else is looked at: even an id
    // that does not exist gets the caller's refusal, not not_found.
    for (who, expected) in [(Who::Customer, ErrorCode::PermissionDenied), (Who::Nobody, ErrorCode::Unauthenticated)] {
        let client = service.catalog(who);
        let id = || unknown.clone();
        let codes = [
            code(
                client
                    .update_product(UpdateProductRequest { id: id(), name: Some("X".into()), ..Default::default() })
                    .await,
            ),
            code(client.delete_product(DeleteProductRequest { id: id(), ..Default::default() }).await),
            code(client.publish_product(PublishProductRequest { id: id(), ..Default::default() }).await),
            code(client.hide_product(HideProductRequest { id: id(), ..Default::default() }).await),
            code(
                client
                    .add_product_image(AddProductImageRequest {
                        product_id: id(),
                        url: "https://x.example/a.jpg".into(),
                        ..Default::default()
                    })
                    .await,
            ),
            code(
                client
                    .remove_product_image(RemoveProductImageRequest {
                        product_id: id(),
                        image_id: id(),
                        ..Default::default()
                    })
                    .await,
            ),
            code(client.update_sku(UpdateSku { id: id(), ..Default::default() }).await),
            code(client.delete_sku(DeleteSkuRequest { id: id(), ..Default::default() }).await),
            code(client.update_category(UpdateCategoryRequest { id: id(), ..Default::default() }).await),
            code(client.delete_category(DeleteCategoryRequest { id: id(), ..Default::default() }).await),
        ];
        assert!(codes.iter().all(|c| *c == expected), "{expected:?}: {codes:?}");
    }

    // Every id an admin gives: malformed is invalid_argument, unknown is not_found.
    for (id, expected) in [(&malformed, ErrorCode::InvalidArgument), (&unknown, ErrorCode::NotFound)] {
        let id = || id.clone();
        let codes = [
            code(admin.get_product(get(&id())).await),
            code(
                admin
                    .update_product(UpdateProductRequest { id: id(), name: Some("X".into()), ..Default::default() })
                    .await,
            ),
            code(admin.delete_product(DeleteProductRequest { id: id(), ..Default::default() }).await),
            code(admin.publish_product(PublishProductRequest { id: id(), ..Default::default() }).await),
            code(admin.hide_product(HideProductRequest { id: id(), ..Default::default() }).await),
            code(
                admin
                    .add_product_image(AddProductImageRequest {
                        product_id: id(),
                        url: "https://x.example/a.jpg".into(),
                        ..Default::default()
                    })
                    .await,
            ),
            code(admin.get_sku(GetSkuRequest { id: id(), ..Default::default() }).await),
            code(admin.update_sku(UpdateSku { id: id(), price: money(1, "JPY"), ..Default::default() }).await),
            code(admin.delete_sku(DeleteSkuRequest { id: id(), ..Default::default() }).await),
            code(admin.get_category(GetCategoryRequest { id: id(), ..Default::default() }).await),
            code(
                admin
                    .update_category(UpdateCategoryRequest { id: id(), name: Some("X".into()), ..Default::default() })
                    .await,
            ),
            code(admin.delete_category(DeleteCategoryRequest { id: id(), ..Default::default() }).await),
        ];
        assert!(codes.iter().all(|c| *c == expected), "{expected:?}: {codes:?}");
    }
    let remove =
        RemoveProductImageRequest { product_id: item.id.clone(), image_id: malformed.clone(), ..Default::default() };
    assert_eq!(code(admin.remove_product_image(remove).await), ErrorCode::InvalidArgument);
    let update = UpdateSku { id: sku.clone(), code: Some("bad code".into()), ..Default::default() };
    assert_eq!(code(admin.update_sku(update).await), ErrorCode::InvalidArgument);

    // Categories: a rename to a sibling's slug, and malformed names and slugs.
    let create = |name: &str| CreateCategoryRequest { name: name.into(), ..Default::default() };
    let bowls = admin.create_category(create("Bowls")).await.unwrap().into_owned().category;
    admin.create_category(create("Plates")).await.unwrap();
    let rename = |slug: Option<&str>, name: Option<&str>| UpdateCategoryRequest {
        id: bowls.id.clone(),
        slug: slug.map(str::to_owned),
        name: name.map(str::to_owned),
        ..Default::default()
    };
    assert_eq!(code(admin.update_category(rename(Some("plates"), None)).await), ErrorCode::AlreadyExists);
    assert_eq!(code(admin.update_category(rename(Some("Not A Slug"), None)).await), ErrorCode::InvalidArgument);
    assert_eq!(code(admin.update_category(rename(None, Some(""))).await), ErrorCode::InvalidArgument);
    let renamed = admin.update_category(rename(Some("bowls-and-cups"), Some("Bowls & Cups"))).await.unwrap();
    assert_eq!(renamed.into_owned().category.slug, "bowls-and-cups");
    service.stop().await;
}

#[tokio::test]
async fn the_public_reads_stock_levels_and_admins_and_the_order_service_read_stock_records() {
    use ec_proto::product::v1::StockLevel;
    let service = Service::start().await;
    let ids = service.skus(&[50, 3, 0]).await;
    // Two of the fifty held by a checkout in flight.
    let hold = BatchReserveInventoryRequest {
        items: vec![ReservationItem { sku_id: ids[0].clone(), quantity: 2, ..Default::default() }],
        idempotency_key: "order-watched".into(),
        ..Default::default()
    };
    service.client(Who::Internal).batch_reserve_inventory(hold).await.unwrap();
    let expected_public = [
        (StockLevel::STOCK_LEVEL_IN_STOCK, 0),
        (StockLevel::STOCK_LEVEL_LOW, 3),
        (StockLevel::STOCK_LEVEL_SOLD_OUT, 0),
    ];
    for who in [Who::Nobody, Who::Forwarded, Who::Customer] {
        let label = match who {
            Who::Nobody => "a direct caller",
            Who::Forwarded => "an anonymous shopper through the BFF",
            _ => "a signed-in shopper",
        };
        let client = service.catalog(who);
        let batch = BatchGetSkusRequest { ids: ids.clone(), ..Default::default() };
        let skus = client.batch_get_skus(batch).await.unwrap().into_owned().skus;
        for (id, (with_product, (level, available))) in ids.iter().zip(skus.iter().zip(expected_public)) {
            let single = client.get_sku(GetSkuRequest { id: id.clone(), ..Default::default() }).await.unwrap();
            for stock in [&with_product.sku.inventory, &single.into_owned().sku.inventory] {
                assert_eq!(stock.level.as_known(), Some(level), "{label}");
                assert_eq!(
                    (stock.available, stock.quantity, stock.reserved, stock.version, stock.updated_at.is_set()),
                    (available, 0, 0, 0, false),
                    "{label} reads no stock record"
                );
            }
        }
    }
    for who in [Who::Admin, Who::Internal] {
        let batch = BatchGetSkusRequest { ids: ids.clone(), ..Default::default() };
        let skus = service.catalog(who).batch_get_skus(batch).await.unwrap().into_owned().skus;
        let stock = &skus[0].sku.inventory;
        assert_eq!((stock.quantity, stock.reserved, stock.available), (50, 2, 48));
        assert_eq!(stock.level.as_known(), Some(StockLevel::STOCK_LEVEL_IN_STOCK));
        assert!(stock.version > 0 && stock.updated_at.is_set());
    }
    // Listings: an admin's carry every SKU's stock record (the back office's stock column), each its own;
    // everyone else's none.
    let reading = &service;
    let listed = |who| async move {
        let client = reading.catalog(who);
        let products = client.list_products(ListProductsRequest::default()).await.unwrap().into_owned().products;
        products.into_iter().flat_map(|p| p.skus).map(|s| (s.id, s.inventory.into_option())).collect::<Vec<_>>()
    };
    let admin: Vec<(String, i64)> = listed(Who::Admin)
        .await
        .into_iter()
        .map(|(id, stock)| (id, stock.expect("a stock record").available))
        .collect();
    let mut expected: Vec<(String, i64)> = ids.iter().cloned().zip([48, 3, 0]).collect();
    let mut sorted = admin.clone();
    sorted.sort();
    expected.sort();
    assert_eq!(sorted, expected);
    for who in [Who::Nobody, Who::Forwarded, Who::Customer] {
        assert!(listed(who).await.iter().all(|(_, stock)| stock.is_none()), "a listing shows no stock");
    }
    service.stop().await;
}
