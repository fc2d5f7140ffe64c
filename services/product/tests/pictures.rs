//! UploadProductImage against a real S3 API (moto in server mode) and a real directory: what is stored, under
//! which keys, what the product then says, and every refusal, each leaving the store as it was.

mod support;

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::STANDARD_NO_PAD};
use connectrpc::{ConnectError, ErrorCode};
use ec_proto::product::v1::{
    CreateProductRequest, PictureRefusal, PictureRefusedDetail, Product, RemoveProductImageRequest,
    UploadProductImageRequest, UploadProductImageResponse,
};
use ec_testing::{
    pictures::{carries_metadata, jpeg, png, with_exif},
    s3::S3Server,
};
use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use support::{Service, Who};

/// The reason (and the size in pixels) of the `PictureRefusedDetail` `error` carries, if it carries one.
fn refusal(error: &ConnectError) -> Option<(PictureRefusal, u32, u32)> {
    let detail = error.details.iter().find(|d| d.type_url.ends_with("product.v1.PictureRefusedDetail"))?;
    let bytes = STANDARD_NO_PAD.decode(detail.value.as_deref()?.trim_end_matches('=')).unwrap();
    let detail = <PictureRefusedDetail as buffa::Message>::decode_from_slice(&bytes).unwrap();
    Some((detail.reason.as_known().unwrap(), detail.width, detail.height))
}

fn upload(product_id: &str, data: Vec<u8>, alt: &str) -> UploadProductImageRequest {
    UploadProductImageRequest { product_id: product_id.into(), data, alt_text: alt.into(), ..Default::default() }
}

async fn new_product(service: &Service) -> Product {
    let request = CreateProductRequest { name: "Teapot".into(), ..Default::default() };
    let created = service.catalog(Who::Admin).create_product(request).await.unwrap();
    created.into_owned().product.into_option().unwrap()
}

/// Every key in `store`, sorted.
async fn keys(store: &Arc<dyn ObjectStore>) -> Vec<String> {
    let mut keys: Vec<String> =
        store.list(None).map(|meta| meta.unwrap().location.to_string()).collect::<Vec<_>>().await;
    keys.sort();
    keys
}

fn product_of(response: UploadProductImageResponse) -> Product {
    response.product.into_option().unwrap()
}

#[tokio::test]
async fn an_upload_is_kept_in_s3_as_webp_copies_without_metadata_and_removed_with_its_image() {
    let s3 = S3Server::start().await;
    let store = ec_platform::media::open(&s3.media_store_url("shop")).unwrap();
    let service = Service::start_with_media(store.clone()).await;
    let product = new_product(&service).await;
    let admin = service.catalog(Who::Admin);

    // A photo taken with the camera turned a quarter: 2400 x 1600 as stored, 1600 x 2400 upright.
    let sent = with_exif(&jpeg(2400, 1600), 6);
    let answer = admin.upload_product_image(upload(&product.id, sent, "The teapot, front")).await.unwrap();
    let product = product_of(answer.into_owned());
    let [image] = &product.images[..] else { panic!("one image: {:?}", product.images) };
    assert_eq!(image.alt_text, "The teapot, front");
    let sizes: Vec<(i32, i32)> = image.variants.iter().map(|v| (v.width, v.height)).collect();
    assert_eq!(sizes, [(320, 480), (640, 960), (960, 1440), (1600, 2400)]);
    for variant in &image.variants {
        assert_eq!(variant.url, format!("/media/products/{}/{}.webp", image.id, variant.width));
    }
    assert_eq!(image.url, image.variants[3].url);

    // In the bucket, under the prefix: the four copies, WebP, the size they say, with nothing of the EXIF.
    let mut expected: Vec<String> =
        [320, 640, 960, 1600].iter().map(|w| format!("shop/products/{}/{w}.webp", image.id)).collect();
    expected.sort();
    assert_eq!(s3.keys().await, expected);
    for variant in &image.variants {
        let key = Path::from(format!("products/{}/{}.webp", image.id, variant.width));
        let bytes = store.get(&key).await.unwrap().bytes().await.unwrap();
        let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP).unwrap();
        assert_eq!((decoded.width() as i32, decoded.height() as i32), (variant.width, variant.height));
        assert!(!carries_metadata(&bytes), "the {} px copy carries metadata", variant.width);
    }

    // Removing the image removes its copies.
    let remove =
        RemoveProductImageRequest { product_id: product.id.clone(), image_id: image.id.clone(), ..Default::default() };
    let after = admin.remove_product_image(remove).await.unwrap().into_owned().product.into_option().unwrap();
    assert!(after.images.is_empty());
    assert_eq!(s3.keys().await, Vec::<String>::new());

    // Proportions that do not divide evenly: the heights the product says are the copies' own.
    let odd = admin.upload_product_image(upload(&product.id, jpeg(1601, 321), "")).await.unwrap();
    let odd = product_of(odd.into_owned());
    for variant in &odd.images[0].variants {
        let key = Path::from(format!("products/{}/{}.webp", odd.images[0].id, variant.width));
        let bytes = store.get(&key).await.unwrap().bytes().await.unwrap();
        let decoded = image::load_from_memory_with_format(&bytes, image::ImageFormat::WebP).unwrap();
        assert_eq!((decoded.width() as i32, decoded.height() as i32), (variant.width, variant.height));
    }
    service.stop().await;
}

#[tokio::test]
async fn refused_uploads_store_nothing() {
    let dir = std::env::temp_dir().join(format!("ec-pictures-{}", uuid::Uuid::now_v7().simple()));
    let store = ec_platform::media::open(url::Url::from_directory_path(&dir).unwrap().as_str()).unwrap();
    let service = Service::start_with_media(store.clone()).await;
    let product = new_product(&service).await;
    let admin = service.catalog(Who::Admin);
    let small = jpeg(400, 300);
    let whole_png = png(400, 300);
    let cut_png = whole_png[..whole_png.len() / 2].to_vec();

    use PictureRefusal::*;
    let wide = png(12_001, 1);
    // Who, which product, the bytes, the alt text; the code, and the reason a refused picture's detail gives.
    let refusals = [
        (Who::Nobody, product.id.clone(), small.clone(), "", ErrorCode::Unauthenticated, None),
        (Who::Customer, product.id.clone(), small.clone(), "", ErrorCode::PermissionDenied, None),
        (Who::Admin, "not-a-uuid".into(), small.clone(), "", ErrorCode::InvalidArgument, None),
        (Who::Admin, uuid::Uuid::now_v7().to_string(), small.clone(), "", ErrorCode::NotFound, None),
        (
            Who::Admin,
            product.id.clone(),
            Vec::new(),
            "",
            ErrorCode::InvalidArgument,
            Some((PICTURE_REFUSAL_EMPTY, 0, 0)),
        ),
        (
            Who::Admin,
            product.id.clone(),
            b"GIF89a\x01\x00\x01\x00".to_vec(),
            "",
            ErrorCode::InvalidArgument,
            Some((PICTURE_REFUSAL_UNSUPPORTED_TYPE, 0, 0)),
        ),
        (
            Who::Admin,
            product.id.clone(),
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
            "",
            ErrorCode::InvalidArgument,
            Some((PICTURE_REFUSAL_UNSUPPORTED_TYPE, 0, 0)),
        ),
        (
            Who::Admin,
            product.id.clone(),
            cut_png.clone(),
            "",
            ErrorCode::InvalidArgument,
            Some((PICTURE_REFUSAL_UNDECODABLE, 0, 0)),
        ),
        (
            Who::Admin,
            product.id.clone(),
            wide,
            "",
            ErrorCode::InvalidArgument,
            Some((PICTURE_REFUSAL_TOO_MANY_PIXELS, 12_001, 1)),
        ),
        (Who::Admin, product.id.clone(), small.clone(), &"a".repeat(501), ErrorCode::InvalidArgument, None),
        (Who::Admin, product.id.clone(), small.clone(), "tab\there", ErrorCode::InvalidArgument, None),
    ];
    for (n, (who, id, data, alt, expected, reason)) in refusals.into_iter().enumerate() {
        let error = service.catalog(who).upload_product_image(upload(&id, data, alt)).await.unwrap_err();
        assert_eq!((error.code, refusal(&error)), (expected, reason), "refusal {n}: {error:?}");
    }
    // Over 10 MiB: refused by the service, not cut off by the transport.
    let mut huge = small.clone();
    huge.resize(ec_platform::media::MAX_PICTURE_BYTES + 1, 0);
    let error = admin.upload_product_image(upload(&product.id, huge, "")).await.unwrap_err();
    assert_eq!((error.code, refusal(&error)), (ErrorCode::InvalidArgument, Some((PICTURE_REFUSAL_TOO_LARGE, 0, 0))));
    assert!(error.message.as_deref().unwrap_or_default().contains("at most 10 MiB"), "{error:?}");
    assert_eq!(keys(&store).await, Vec::<String>::new());

    // A product holds at most 20 images: of 6 uploads at once to a product with 17, 3 are kept, and the
    // copies of the 3 refused under the product's lock are removed again.
    for _ in 0..17 {
        admin.upload_product_image(upload(&product.id, jpeg(64, 48), "")).await.unwrap();
    }
    let uploads = (0..6).map(|_| {
        let admin = service.catalog(Who::Admin);
        let id = product.id.clone();
        async move { admin.upload_product_image(upload(&id, jpeg(400, 300), "")).await.map(|_| ()) }
    });
    let results = futures::future::join_all(uploads).await;
    let kept = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(kept, 3, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| e.code == ErrorCode::FailedPrecondition));
    let request = ec_proto::product::v1::GetProductRequest { id: product.id.clone(), ..Default::default() };
    let stored = admin.get_product(request).await.unwrap();
    let images = stored.into_owned().product.into_option().unwrap().images;
    assert_eq!(images.len(), 20);
    let named: usize = images.iter().map(|i| i.variants.len()).sum();
    assert_eq!(keys(&store).await.len(), named, "only the kept images' copies are in the store");
    service.stop().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn without_a_picture_store_uploads_are_refused_and_links_still_work() {
    let service = Service::start().await;
    let product = new_product(&service).await;
    let error = service.catalog(Who::Admin).upload_product_image(upload(&product.id, jpeg(64, 64), "")).await;
    let error = error.unwrap_err();
    assert_eq!(error.code, ErrorCode::FailedPrecondition);
    assert!(error.message.as_deref().unwrap_or_default().contains("MEDIA_STORE"), "{error:?}");
    service.stop().await;
}
