//! The catalog through the BFF, as a storefront and a back office use it: anonymous reads in every protocol
//! (and as Connect GETs a browser or CDN may cache for a while), admins' writes, and everyone else refused.

use connectrpc::ErrorCode;
use ec_e2e::{
    TestPlatform,
    clients::{self, Wire},
};
use ec_proto::product::v1::{
    CreateProductRequest, CreateSkuRequest, GetProductRequest, ListProductsRequest, Money, ProductServiceClient,
    PublishProductRequest,
};
use serde_json::json;

fn catalog(
    platform: &TestPlatform,
    wire: Wire,
    token: Option<&str>,
) -> ProductServiceClient<connectrpc::client::HttpClient> {
    let (http, config) = clients::transport_as(&platform.bff_url(), wire, token);
    ProductServiceClient::new(http, config)
}

#[tokio::test]
async fn the_public_reads_the_catalog_in_every_protocol_and_only_admins_change_it() {
    let platform = TestPlatform::start().await;
    let admin = platform.access_token("owner@example.com", true).await;
    let customer = platform.access_token("shopper@example.com", false).await;

    let create =
        CreateProductRequest { name: "Hojicha".into(), description: "Roasted green tea.".into(), ..Default::default() };
    for wire in Wire::ALL {
        let refused = catalog(&platform, wire, Some(&customer)).create_product(create.clone()).await;
        assert_eq!(refused.unwrap_err().code, ErrorCode::PermissionDenied, "{wire:?}");
        let anonymous = catalog(&platform, wire, None).create_product(create.clone()).await;
        assert_eq!(anonymous.unwrap_err().code, ErrorCode::Unauthenticated, "{wire:?}");
    }
    let as_admin = catalog(&platform, Wire::Grpc, Some(&admin));
    let product = as_admin.create_product(create).await.unwrap().into_owned().product;
    let sku = CreateSkuRequest {
        product_id: product.id.clone(),
        code: "HOJICHA-100G".into(),
        price: buffa::MessageField::some(Money { amount: 1200, currency_code: "JPY".into(), ..Default::default() }),
        initial_quantity: 30,
        ..Default::default()
    };
    as_admin.create_sku(sku).await.unwrap();

    // A draft: admins see it, the public does not.
    let get = || GetProductRequest { id: product.id.clone(), ..Default::default() };
    for wire in Wire::ALL {
        let hidden = catalog(&platform, wire, None).get_product(get()).await;
        assert_eq!(hidden.unwrap_err().code, ErrorCode::NotFound, "{wire:?}");
        assert!(catalog(&platform, wire, Some(&admin)).get_product(get()).await.is_ok(), "{wire:?}");
    }
    as_admin.publish_product(PublishProductRequest { id: product.id.clone(), ..Default::default() }).await.unwrap();
    for wire in Wire::ALL {
        for token in [None, Some(customer.as_str())] {
            let listed = catalog(&platform, wire, token).list_products(ListProductsRequest::default()).await.unwrap();
            let names: Vec<String> = listed.into_owned().products.into_iter().map(|p| p.name).collect();
            assert_eq!(names, ["Hojicha"], "{wire:?}");
        }
    }

    // As a Connect GET: cacheable for a while when anonymous, never when signed in.
    let message = json!({"id": product.id}).to_string();
    let url = format!(
        "{}/product.v1.ProductService/GetProduct?connect=v1&encoding=json&message={}",
        platform.bff_url(),
        url::form_urlencoded::byte_serialize(message.as_bytes()).collect::<String>()
    );
    let anonymous = reqwest::get(&url).await.unwrap();
    assert_eq!(anonymous.status(), 200);
    assert_eq!(anonymous.headers()["cache-control"], "public, max-age=30");
    assert_eq!(anonymous.headers()["vary"], "authorization");
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["product"]["skus"][0]["code"], "HOJICHA-100G");
    let signed_in = reqwest::Client::new().get(&url).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(
        (signed_in.status().as_u16(), &signed_in.headers()["cache-control"]),
        (200, &"private, no-store".parse::<http::HeaderValue>().unwrap())
    );
    // Writes are never answered as cacheable, and cannot come as GETs.
    let write = format!(
        "{}/product.v1.ProductService/PublishProduct?connect=v1&encoding=json&message={}",
        platform.bff_url(),
        url::form_urlencoded::byte_serialize(message.as_bytes()).collect::<String>()
    );
    let refused = reqwest::Client::new().get(&write).bearer_auth(&admin).send().await.unwrap();
    assert_ne!(refused.status(), 200);
    platform.stop().await;
}
