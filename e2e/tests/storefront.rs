//! `ec dev` serves the built storefront: its pages, its assets, and the `/config.json` that tells it where the
//! platform is. A small stand-in build (an index.html and one asset) is enough to check the serving; the app
//! itself is tested in a browser.

use ec_e2e::TestPlatform;

struct Build(std::path::PathBuf);

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
