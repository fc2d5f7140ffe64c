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

#[tokio::test]
async fn pictures_are_uploaded_through_the_bff_in_every_protocol_and_served_from_media() {
    use ec_proto::product::v1::{AddProductImageRequest, UploadProductImageRequest};
    use ec_testing::pictures::{carries_metadata, noisy_jpeg, with_exif};

    let platform = TestPlatform::start().await;
    let admin = platform.access_token("owner@example.com", true).await;
    let customer = platform.access_token("shopper@example.com", false).await;
    let as_admin = catalog(&platform, Wire::Grpc, Some(&admin));
    let create = CreateProductRequest { name: "Teapot".into(), ..Default::default() };
    let product = as_admin.create_product(create).await.unwrap().into_owned().product;

    // Larger than the BFF's 256 KiB for any other request: this procedure alone takes up to 10 MiB.
    let photo = with_exif(&noisy_jpeg(1200, 800), 1);
    assert!(photo.len() > 512 * 1024, "{} bytes", photo.len());
    let upload = |data: Vec<u8>| UploadProductImageRequest {
        product_id: product.id.clone(),
        data,
        alt_text: "The teapot".into(),
        ..Default::default()
    };
    // Refused from the headers, before the BFF reads the body: no token, or no admin's.
    for wire in Wire::ALL {
        let anonymous = catalog(&platform, wire, None).upload_product_image(upload(photo.clone())).await;
        assert_eq!(anonymous.unwrap_err().code, ErrorCode::Unauthenticated, "{wire:?}");
    }
    let as_customer = catalog(&platform, Wire::ConnectJson, Some(&customer));
    let refused = as_customer.upload_product_image(upload(photo.clone())).await;
    assert_eq!(refused.unwrap_err().code, ErrorCode::PermissionDenied);
    // A refused picture says why in a detail the BFF passes on, for clients to put in their own words.
    for wire in Wire::ALL {
        let refused =
            catalog(&platform, wire, Some(&admin)).upload_product_image(upload(b"not a picture".to_vec())).await;
        let error = refused.unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidArgument, "{wire:?}");
        // Named as each protocol names it: by the bare message name in Connect, by a type URL in gRPC's status.
        let name = match wire {
            Wire::ConnectJson | Wire::ConnectProto => "product.v1.PictureRefusedDetail",
            Wire::GrpcWeb | Wire::Grpc => "type.googleapis.com/product.v1.PictureRefusedDetail",
        };
        let detail = error.details.iter().find(|d| d.type_url == name);
        assert!(detail.is_some_and(|d| d.value.is_some()), "{wire:?}: {error:?}");
    }
    let mut images = Vec::new();
    for wire in Wire::ALL {
        let answer = catalog(&platform, wire, Some(&admin)).upload_product_image(upload(photo.clone())).await;
        let product = answer.unwrap_or_else(|e| panic!("{wire:?}: {e:?}")).into_owned().product.into_option().unwrap();
        images = product.images;
    }
    assert_eq!(images.len(), 4);
    let widths: Vec<i32> = images[3].variants.iter().map(|v| v.width).collect();
    assert_eq!(widths, [320, 640, 960, 1200]);

    // Over 10 MiB, the BFF refuses the call before any backend sees it; and the larger limit is this
    // procedure's only.
    let mut huge = photo.clone();
    huge.resize(ec_platform::media::MAX_PICTURE_BYTES + 128 * 1024, 0);
    let too_large = as_admin.upload_product_image(upload(huge)).await.unwrap_err();
    assert_eq!(too_large.code, ErrorCode::ResourceExhausted, "{too_large:?}");
    let long_alt = AddProductImageRequest {
        product_id: product.id.clone(),
        url: "https://cdn.example.com/a.jpg".into(),
        alt_text: "a".repeat(512 * 1024),
        ..Default::default()
    };
    assert_eq!(as_admin.add_product_image(long_alt).await.unwrap_err().code, ErrorCode::ResourceExhausted);

    // Served by the BFF from the picture store: WebP, cacheable for a year, revalidated without a read.
    let http = reqwest::Client::new();
    let variant = &images[3].variants[1];
    assert!(variant.url.starts_with("/media/products/"), "{}", variant.url);
    let url = format!("{}{}", platform.bff_url(), variant.url);
    let served = http.get(&url).send().await.unwrap();
    assert_eq!(served.status(), 200);
    let header = |name: &str| served.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("content-type").as_deref(), Some("image/webp"));
    assert_eq!(header("cache-control").as_deref(), Some("public, max-age=31536000, immutable"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    let etag = header("etag").expect("an ETag");
    let bytes = served.bytes().await.unwrap();
    let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP).unwrap();
    assert_eq!((decoded.width() as i32, decoded.height() as i32), (variant.width, variant.height));
    assert!(!carries_metadata(&bytes));
    let again = http.get(&url).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    for path in [
        "/media/products/../../etc/passwd".to_string(),
        format!("/media/products/{}/641.webp", images[3].id),
        format!("/media/products/{}/640.png", images[3].id),
        "/media/anything".to_string(),
    ] {
        let status = http.get(format!("{}{path}", platform.bff_url())).send().await.unwrap().status();
        assert_eq!(status, 404, "{path}");
    }
    platform.stop().await;
}

#[tokio::test]
async fn picture_reads_that_reach_the_store_are_limited_per_client_ip() {
    let platform = TestPlatform::start_with(|config| {
        (config.bff.edge.media_per_minute, config.bff.edge.media_burst) = (1, 3);
    })
    .await;
    let http = reqwest::Client::new();
    let get = |path: String, etag: Option<String>| {
        let mut request = http.get(format!("{}{path}", platform.bff_url()));
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        async move { request.send().await.unwrap() }
    };
    let made_up = || format!("/media/products/{}/640.webp", uuid::Uuid::now_v7());
    // Paths no picture could have are answered without the store, and take nothing.
    for _ in 0..5 {
        assert_eq!(get("/media/products/x/640.webp".into(), None).await.status(), 404);
    }
    // Three made-up keys are looked up and not found; the fourth is not looked up.
    for n in 0..3 {
        assert_eq!(get(made_up(), None).await.status(), 404, "lookup {n}");
    }
    let limited = get(made_up(), None).await;
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(limited.headers()["cache-control"], "no-store");
    // A client that is no trusted proxy cannot choose another bucket by saying whom it forwards for.
    let forwarded = http.get(format!("{}{}", platform.bff_url(), made_up())).header("x-forwarded-for", "203.0.113.9");
    assert_eq!(forwarded.send().await.unwrap().status(), 429);
    // A revalidation is answered from the key alone, so it is answered while the client is limited.
    let key = made_up();
    let etag = format!("\"{}\"", key.trim_start_matches("/media/"));
    assert_eq!(get(key, Some(etag)).await.status(), 304);
    platform.stop().await;
}

#[tokio::test]
async fn the_bff_reads_four_uploads_at_once_and_turns_more_away_until_one_ends() {
    use ec_proto::product::v1::UploadProductImageRequest;
    use tokio::io::AsyncWriteExt;

    let platform = TestPlatform::start().await;
    let admin = platform.access_token("owner@example.com", true).await;
    let as_admin = catalog(&platform, Wire::ConnectProto, Some(&admin));
    let create = CreateProductRequest { name: "Teapot".into(), ..Default::default() };
    let product = as_admin.create_product(create).await.unwrap().into_owned().product;
    let upload = || UploadProductImageRequest {
        product_id: product.id.clone(),
        data: ec_testing::pictures::jpeg(64, 48),
        ..Default::default()
    };

    // Four admins' uploads whose bodies are slow to come: each holds its place while the BFF reads it.
    let address = platform.bff_url().trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..4 {
        let mut connection = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /product.v1.ProductService/UploadProductImage HTTP/1.1\r\nhost: {address}\r\n\
             content-type: application/proto\r\nauthorization: Bearer {admin}\r\ncontent-length: 1000000\r\n\r\n"
        );
        connection.write_all(head.as_bytes()).await.unwrap();
        connection.write_all(&[0x0a; 100]).await.unwrap();
        slow.push(connection);
    }
    // A fifth is turned away (429, which a Connect client reads as `unavailable`) once the four are in.
    let turned_away =
        ec_testing::eventually("a fifth upload turned away", std::time::Duration::from_secs(10), || async {
            match as_admin.upload_product_image(upload()).await {
                Err(e) if e.code == ErrorCode::Unavailable => Ok(()),
                other => Err(ec_testing::Seen(format!("{:?}", other.map(|_| "stored")))),
            }
        });
    turned_away.await;
    // When the slow ones end, uploads go through again.
    drop(slow);
    let stored = ec_testing::eventually("an upload through again", std::time::Duration::from_secs(10), || async {
        as_admin.upload_product_image(upload()).await.map(|_| ()).map_err(|e| ec_testing::Seen(e.code))
    });
    stored.await;
    platform.stop().await;
}
