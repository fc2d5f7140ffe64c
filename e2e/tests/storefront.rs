//! `ec dev` serves the built storefront: its pages, its assets, and the `/config.json` that tells it where the
//! platform is. A small stand-in build (an index.html and one asset) is enough to check the serving; the app
//! itself is tested in Debian's Chromium driven by playwright-core (`web/tests/storefront.mjs`), against the
//! real build that `make test` makes first (`npm ci && npm run build` in web/).

use std::path::PathBuf;

use ec_e2e::{
    TestPlatform,
    clients::{self, Wire},
};
use ec_proto::product::v1::{
    CreateProductRequest, CreateSkuRequest, Money, ProductServiceClient, PublishProductRequest,
};

struct Build(PathBuf);

impl Build {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("ec-storefront-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html><title>Shop</title><div id=root></div>").unwrap();
        std::fs::write(dir.join("assets/app-1a2b3c.js"), "console.log('shop')").unwrap();
        Self(dir)
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

#[tokio::test]
async fn the_storefront_gets_its_pages_assets_and_configuration() {
    let build = Build::new();
    let dir = build.0.clone();
    let platform = TestPlatform::start_with(|config| config.web.dir = dir).await;
    let web = format!("http://{}", platform.addresses.web.expect("a built storefront is served"));

    // Every page of the app is index.html, never cached: the app routes in the browser.
    for path in ["/", "/products/0191c2a0-0000-7000-8000-000000000001", "/orders?status=confirmed"] {
        let page = get(&format!("{web}{path}")).await;
        assert_eq!(page.status(), 200, "{path}");
        assert_eq!(page.headers()["cache-control"], "no-cache", "{path}");
        assert!(page.text().await.unwrap().contains("<title>Shop</title>"), "{path}");
    }
    // Built assets are content-hashed: cached for good; a missing one is a 404, not the page.
    let asset = get(&format!("{web}/assets/app-1a2b3c.js")).await;
    assert_eq!(asset.status(), 200);
    assert!(asset.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(asset.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert_eq!(get(&format!("{web}/assets/gone-000.js")).await.status(), 404);
    assert_eq!(get(&format!("{web}/assets/..%2F..%2F..%2Fetc%2Fpasswd")).await.status(), 404);

    // Where the platform is: this BFF, this issuer, the storefront client, the audience the BFF checks.
    let config = get(&format!("{web}/config.json")).await;
    assert_eq!(config.headers()["cache-control"], "no-cache");
    let config: serde_json::Value = config.json().await.unwrap();
    let issuer = &platform.addresses.oauth.as_ref().unwrap().issuer;
    assert_eq!(
        config,
        serde_json::json!({
            "bffUrl": platform.bff_url(),
            "issuer": issuer,
            "clientId": "ec-spa",
            "audience": "ec-api",
        })
    );
    platform.stop().await;
}

#[tokio::test]
async fn without_a_build_no_storefront_is_served_and_the_platform_still_starts() {
    let platform = TestPlatform::start().await;
    assert!(platform.addresses.web.is_none());
    let (status, _) =
        ec_e2e::answer(platform.post("/product.v1.ProductService/ListProducts").json(&serde_json::json!({}))).await;
    assert_eq!(status, 200);
    platform.stop().await;
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// Publishes a product with SKUs `(code, size, yen, stock)`, as a shop owner does through the BFF.
async fn publish(platform: &TestPlatform, admin: &str, name: &str, skus: &[(&str, &str, i64, i64)]) {
    let (http, config) = clients::transport_as(&platform.bff_url(), Wire::Grpc, Some(admin));
    let catalog = ProductServiceClient::new(http, config);
    let create = CreateProductRequest {
        name: name.into(),
        description: format!("{name}, from Shizuoka."),
        ..Default::default()
    };
    let product = catalog.create_product(create).await.unwrap().into_owned().product;
    for (code, size, yen, stock) in skus {
        let sku = CreateSkuRequest {
            product_id: product.id.clone(),
            code: (*code).into(),
            price: buffa::MessageField::some(Money { amount: *yen, currency_code: "JPY".into(), ..Default::default() }),
            attributes: [("size".to_owned(), (*size).to_owned())].into_iter().collect(),
            initial_quantity: *stock,
            ..Default::default()
        };
        catalog.create_sku(sku).await.unwrap();
    }
    catalog.publish_product(PublishProductRequest { id: product.id.clone(), ..Default::default() }).await.unwrap();
}

#[tokio::test]
async fn a_shopper_browses_signs_in_fills_a_cart_checks_out_and_cancels_in_a_real_browser() {
    let (build, script) = (repo().join("web/dist"), repo().join("web/tests/storefront.mjs"));
    assert!(
        build.join("index.html").exists() && repo().join("web/node_modules/playwright-core").exists(),
        "the storefront is not built: run `npm ci && npm run build` in web/ (make test does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install chromium (make test does)"
    );
    // The storefront's origin must be the one its client is registered with, so its port is chosen first.
    let port = ec_testing::child_port();
    let platform = TestPlatform::start_with(|config| {
        config.web.dir = build;
        config.web.addr = ([127, 0, 0, 1], port).into();
        config.oauth.spa_redirect_uris.push(format!("http://127.0.0.1:{port}/callback"));
    })
    .await;
    let admin = platform.access_token("owner@example.com", true).await;
    publish(&platform, &admin, "Hojicha", &[("HOJICHA-100G", "100g", 1200, 10), ("HOJICHA-200G", "200g", 2200, 3)])
        .await;
    publish(&platform, &admin, "Sencha", &[("SENCHA-100G", "100g", 1500, 10)]).await;
    platform.sign_up("shopper@example.com", "correct horse").await;

    let screenshots = repo().join("target/screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .env("WEB_URL", format!("http://127.0.0.1:{port}"))
        .env("EMAIL", "shopper@example.com")
        .env("PASSWORD", "correct horse")
        .env("PRODUCT", "Hojicha")
        .env("OTHER_PRODUCT", "Sencha")
        .env("CHROMIUM", &chromium)
        // Screenshots of the main pages, desktop and phone width; docs/screenshots holds a copy of a run's.
        .env("SCREENSHOTS_DIR", screenshots)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    print!("{stdout}");
    let steps = ["bundle", "browse", "search", "sign in", "variants", "add to cart", "cart", "checkout", "cancel"];
    let steps = steps.into_iter().chain(["declined", "not found", "sign out"]);
    let pages = ["catalog", "sign-in page", "product page", "cart", "checkout", "order", "sign-out page"];
    for step in steps.map(str::to_owned).chain(pages.map(|page| format!("accessible {page}"))) {
        assert!(stdout.contains(&format!("ok {step}")), "{step}: {stdout}");
    }
    platform.stop().await;
}
