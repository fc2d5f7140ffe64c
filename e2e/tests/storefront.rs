//! `ec dev` serves the built storefront: its pages, its assets, and the `/config.json` that tells it where the
//! platform is. A small stand-in build (an index.html and one asset) is enough to check the serving; the app
//! itself is tested in Debian's Chromium driven by playwright-core, against the real build that `make test`
//! makes first (`npm ci && npm run build` in web/): a shopper's journey (`web/tests/storefront.mjs`) and a shop
//! owner's (`web/tests/backoffice.mjs`), each on a platform of its own, seeded here through the BFF.
use std::path::PathBuf;

use ec_e2e::{
    TestPlatform,
    clients::{self, Wire},
};
use ec_proto::product::v1::{
    CreateCategoryRequest, CreateProductRequest, CreateSkuRequest, Money, ProductServiceClient, PublishProductRequest,
    UploadProductImageRequest,
};
use ec_testing::webhooks::{self, WebhookReceiver};
use serde_json::json;

struct Build(PathBuf);

impl Build {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("ec-storefront-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(dir.join("assets")).unwrap();
        std::fs::write(dir.join("index.html"), "<!doctype html><title>Shop</title><div id=root></div>").unwrap();
        std::fs::write(dir.join("assets/app-1a2b3c.js"), "console.log('shop')").unwrap();
        std::fs::write(dir.join("silent-callback.html"), "<!doctype html><title>Signing in</title>").unwrap();
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

    // Every answer carries the security headers: the app may load its own files and call the BFF and the
    // issuer, nothing else, and frame only itself, the issuer and its login pages (the silent sign-in); no
    // framing of the app (but the silent sign-in's page, by the storefront only), no sniffing, no referrer; no
    // HSTS over plain HTTP.
    let issuer_origin = url::Url::parse(platform.issuer()).unwrap().origin();
    let login_origin = format!("http://{}", platform.addresses.login.unwrap());
    for path in ["/", "/assets/app-1a2b3c.js", "/config.json", "/silent-callback.html"] {
        let answer = get(&format!("{web}{path}")).await;
        let headers = answer.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        let connect = csp.split(';').map(str::trim).find(|d| d.starts_with("connect-src")).unwrap();
        assert_eq!(
            connect,
            format!("connect-src 'self' {} {}", platform.bff_url(), issuer_origin.ascii_serialization()),
            "{path}"
        );
        let frames = csp.split(';').map(str::trim).find(|d| d.starts_with("frame-src")).unwrap();
        assert_eq!(frames, format!("frame-src 'self' {} {login_origin}", issuer_origin.ascii_serialization()));
        assert!(csp.contains("script-src 'self';"), "{csp}");
        if path == "/silent-callback.html" {
            assert!(csp.ends_with("frame-ancestors 'self'"), "{csp}");
            assert_eq!(headers["x-frame-options"], "SAMEORIGIN");
            assert_eq!(headers["cache-control"], "no-cache");
        } else {
            assert!(csp.ends_with("frame-ancestors 'none'"), "{path}: {csp}");
            assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        }
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        assert!(!headers.contains_key("strict-transport-security"), "{path}");
    }

    // Where the platform is: this BFF, this issuer, the storefront client, the audience the BFF checks.
    let config = get(&format!("{web}/config.json")).await;
    assert_eq!(config.headers()["cache-control"], "no-cache");
    let config: serde_json::Value = config.json().await.unwrap();
    let issuer = platform.issuer();
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

fn catalog(platform: &TestPlatform, admin: &str) -> ProductServiceClient<connectrpc::client::HttpClient> {
    let (http, config) = clients::transport_as(&platform.bff_url(), Wire::Grpc, Some(admin));
    ProductServiceClient::new(http, config)
}

/// Creates a category, under `parent` if given, and answers its id.
async fn category(platform: &TestPlatform, admin: &str, name: &str, parent: Option<&str>) -> String {
    let create = CreateCategoryRequest { name: name.into(), parent_id: parent.map(Into::into), ..Default::default() };
    catalog(platform, admin).create_category(create).await.unwrap().into_owned().category.id.clone()
}

/// Publishes a product in `category` with SKUs `(code, size, yen, stock)`, as a shop owner does through the BFF,
/// and answers the SKUs' ids.
async fn publish(
    platform: &TestPlatform,
    admin: &str,
    name: &str,
    category: Option<&str>,
    skus: &[(&str, &str, i64, i64)],
) -> Vec<String> {
    publish_pictured(platform, admin, name, category, skus, None).await
}

/// How a product of the shopper's test is shown: a file of the demo catalog's pictures, and a description.
type Shown<'a> = (&'a str, &'a str);

/// [`publish`], with a picture uploaded and a description of its own.
async fn publish_pictured(
    platform: &TestPlatform,
    admin: &str,
    name: &str,
    category: Option<&str>,
    skus: &[(&str, &str, i64, i64)],
    shown: Option<Shown<'_>>,
) -> Vec<String> {
    let catalog = catalog(platform, admin);
    let create = CreateProductRequest {
        name: name.into(),
        description: shown.map_or_else(|| format!("{name}, from Shizuoka."), |(_, description)| description.into()),
        category_id: category.map(Into::into),
        ..Default::default()
    };
    let product = catalog.create_product(create).await.unwrap().into_owned().product;
    if let Some((file, _)) = shown {
        let data = std::fs::read(repo().join("services/product/demo/pictures").join(file)).unwrap();
        let upload = UploadProductImageRequest {
            product_id: product.id.clone(),
            data,
            alt_text: name.into(),
            ..Default::default()
        };
        catalog.upload_product_image(upload).await.unwrap();
    }
    let mut ids = Vec::new();
    for (code, size, yen, stock) in skus {
        let sku = CreateSkuRequest {
            product_id: product.id.clone(),
            code: (*code).into(),
            price: buffa::MessageField::some(Money { amount: *yen, currency_code: "JPY".into(), ..Default::default() }),
            attributes: [("size".to_owned(), (*size).to_owned())].into_iter().collect(),
            initial_quantity: *stock,
            ..Default::default()
        };
        ids.push(catalog.create_sku(sku).await.unwrap().into_owned().sku.id.clone());
    }
    catalog.publish_product(PublishProductRequest { id: product.id.clone(), ..Default::default() }).await.unwrap();
    ids
}

/// Buys one unit of `sku` as the holder of `token` with the approving card, through the BFF, and answers the
/// order's id and total (in yen) once it is CONFIRMED.
async fn buy(platform: &TestPlatform, token: &str, sku: &str) -> (String, i64) {
    let (status, answer) =
        platform.call("/order.v1.CartService/AddCartItem", Some(token), &json!({"skuId": sku, "quantity": 1})).await;
    assert_eq!(status, 200, "{answer}");
    let checkout = json!({
        "idempotencyKey": uuid::Uuid::now_v7().to_string(),
        "shippingAddress": {"recipientName": "Jiro Sato", "line1": "7-8-9 Sakae", "city": "Nagoya",
            "postalCode": "460-0008", "countryCode": "JP"},
        "paymentToken": "4242424242424242",
    });
    let (status, answer) = platform.call("/order.v1.OrderService/CreateOrder", Some(token), &checkout).await;
    assert_eq!((status, answer["order"]["status"].as_str()), (200, Some("ORDER_STATUS_CONFIRMED")), "{answer}");
    let total = answer["order"]["total"]["amount"].as_str().unwrap().parse().unwrap();
    (answer["order"]["id"].as_str().unwrap().to_owned(), total)
}

/// A platform serving the real storefront build on a port of its own, registered as a redirect of the
/// storefront client (the app's origin must be one its client lists), and the storefront's URL.
async fn storefront() -> (TestPlatform, String) {
    let build = repo().join("web/dist");
    assert!(
        build.join("index.html").exists() && repo().join("web/node_modules/playwright-core").exists(),
        "the storefront is not built: run `npm ci && npm run build` in web/ (make test does)"
    );
    let (port, login_port) = (ec_testing::child_port(), ec_testing::child_port());
    let platform = TestPlatform::start_with(|config| {
        config.web.dir = build;
        config.web.addr = ([127, 0, 0, 1], port).into();
        config.oauth.spa_redirect_uris.push(format!("http://127.0.0.1:{port}/callback"));
        config.oauth.spa_redirect_uris.push(format!("http://127.0.0.1:{port}/silent-callback.html"));
        // What the shop mails links to the storefront and the login pages under test.
        config.user.mail.storefront_url = format!("http://127.0.0.1:{port}/").parse().unwrap();
        config.user.login.addr = ([127, 0, 0, 1], login_port).into();
        config.user.login.public_url = format!("http://127.0.0.1:{login_port}/").parse().unwrap();
    })
    .await;
    (platform, format!("http://127.0.0.1:{port}"))
}

/// Runs the browser test `web/tests/{script}` against the storefront at `web` with `env`, and checks that it
/// passed every step in `steps` (each prints "ok <step>").
async fn in_browser(script: &str, web: &str, env: &[(&str, &str)], steps: &[&str]) -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: apt-get install chromium (make test does)"
    );
    // Screenshots of the main pages, desktop and phone width; docs/screenshots holds a copy of a run's.
    let screenshots = repo().join("target/screenshots");
    std::fs::create_dir_all(&screenshots).unwrap();
    let output = tokio::process::Command::new("node")
        .arg(repo().join("web/tests").join(script))
        .env("WEB_URL", web)
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS_DIR", screenshots)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    print!("{stdout}");
    for step in steps {
        assert!(stdout.lines().any(|line| line == format!("ok {step}")), "{step}: {stdout}");
    }
    stdout.into_owned()
}

/// Products beyond the two the shopper's test is about: name, how it is shown (a picture of the demo catalog's
/// and a description) and price in yen. None of them has a word of the two's names, nor "teapot", which the
/// test searches for.
const FILLERS: [(&str, Shown, i64); 11] = [
    ("Genmaicha", ("genmaicha.webp", "Green tea with toasted rice: nutty, mellow, for every day."), 900),
    ("Ceremonial matcha", ("ceremonial-matcha.webp", "Stone-ground first-flush matcha, 30 g tin."), 2800),
    ("Tea cups, set of two", ("tea-cups-set-of-two.webp", "Glazed stoneware cups, 150 ml each."), 3200),
    ("Glass pour-over kettle", ("glass-pour-over-kettle.webp", "Borosilicate glass with a slim spout, 1 l."), 4500),
    ("Ceramic coffee dripper", ("ceramic-coffee-dripper.webp", "Spiral-ribbed porcelain for one to four cups."), 2400),
    (
        "Hand coffee grinder",
        ("hand-coffee-grinder.webp", "Steel burrs, adjustable from espresso to French press."),
        6800,
    ),
    (
        "Single-origin coffee beans",
        ("single-origin-coffee-beans.webp", "Medium roast from Huila, Colombia, 200 g."),
        1600,
    ),
    ("Donabe clay pot", ("donabe-clay-pot.webp", "Iga clay for rice and hot pots, two to three servings."), 7400),
    ("Hinoki cutting board", ("hinoki-cutting-board.webp", "Japanese cypress, kind to knife edges, 36 cm."), 3900),
    ("Tamagoyaki pan", ("tamagoyaki-pan.webp", "Tinned copper for rolled omelettes, 13 × 18 cm."), 4200),
    ("Linen tea towels, set of three", ("linen-tea-towels-set-of-three.webp", "Stonewashed linen, 50 × 70 cm."), 2100),
];

#[tokio::test]
async fn a_shopper_signs_up_browses_fills_a_cart_checks_out_and_cancels_in_a_real_browser() {
    let (platform, web) = storefront().await;
    let admin = platform.access_token("owner@example.com", true).await;
    // More than a page of products (12), so the catalog has a second one to load. The newest come first: these
    // are published before the two the test is about.
    // Each with a picture of the demo catalog's, so the screenshots show a shop as a shopper would see it.
    for (n, (name, shown, yen)) in FILLERS.into_iter().enumerate() {
        let code = format!("ITEM-{:02}", n + 1);
        let sku = [(code.as_str(), "one", yen, 5)];
        publish_pictured(&platform, &admin, name, None, &sku, Some(shown)).await;
    }
    let tea = category(&platform, &admin, "Tea", None).await;
    let green = category(&platform, &admin, "Green tea", Some(&tea)).await;
    let skus = [("HOJICHA-100G", "100g", 1200, 10), ("HOJICHA-200G", "200g", 2200, 3)];
    let shown = ("hojicha-roasted-tea.webp", "Roasted green tea from Shizuoka: toasty, low in caffeine.");
    let hojicha = publish_pictured(&platform, &admin, "Hojicha", Some(&tea), &skus, Some(shown)).await;
    let shown = ("sencha-green-tea.webp", "First-flush sencha from Shizuoka, steamed and rolled.");
    let sencha_sku = [("SENCHA-100G", "100g", 1500, 10)];
    let sencha = publish_pictured(&platform, &admin, "Sencha", Some(&green), &sencha_sku, Some(shown)).await;
    // Someone else's order, whose URL the shopper must not be able to open.
    let neighbour = platform.access_token("neighbour@example.com", false).await;
    let (theirs, _) = buy(&platform, &neighbour, &sencha[0]).await;

    let mailbox = format!("{}/dev/mail", platform.login_url());
    let env = [
        ("EMAIL", "shopper@example.com"),
        ("PASSWORD", "correct horse"),
        ("PRODUCT", "Hojicha"),
        ("OTHER_PRODUCT", "Sencha"),
        ("OTHERS_ORDER", &theirs),
        ("FILLERS", &FILLERS.len().to_string()),
        ("BFF_URL", &platform.bff_url()),
        ("ADMIN_TOKEN", &admin),
        ("PRICED_SKU", &hojicha[0]),
        ("MAILBOX_URL", &mailbox),
    ];
    let steps = [
        "bundle",
        "browse",
        "search",
        "any word and sort",
        "categories",
        "price filter",
        "guest cart",
        "guest cart limits",
        "sign up",
        "guest cart joins the account's",
        "sign in",
        "reload stays signed in",
        "variants",
        "add to cart",
        "cart",
        "checkout",
        "confirmation mail",
        "cancel",
        "declined",
        "price change",
        "not found",
        "account",
        "address book",
        "password",
        "japanese",
        "sign out",
        "sign-in pages in japanese",
        "new password",
        "signed out in every tab",
        "reset password",
        "delete account",
    ];
    let pages = [
        "catalog",
        "sorted search results",
        "guest cart",
        "sign-up page",
        "sign-in page",
        "product page",
        "cart",
        "checkout",
        "order",
        "account",
        "failed orders",
        "catalog in Japanese",
        "sign-out page",
        "sign-in page in Japanese",
    ];
    let pages = pages.map(|page| format!("accessible {page}"));
    let steps: Vec<&str> = steps.into_iter().chain(pages.iter().map(String::as_str)).collect();
    in_browser("storefront.mjs", &web, &env, &steps).await;
    platform.stop().await;
}

#[tokio::test]
async fn a_shop_owner_runs_the_back_office_in_a_real_browser() {
    let (platform, web) = storefront().await;
    let admin = platform.access_token("owner@example.com", true).await;
    let sencha = publish(&platform, &admin, "Sencha", None, &[("SENCHA-100G", "100g", 1500, 10)]).await;
    let shopper = platform.access_token("buyer@example.com", false).await;
    // Today's sales, which the dashboard must add up to: two orders of one Sencha each.
    let (order, first) = buy(&platform, &shopper, &sencha[0]).await;
    let (_, second) = buy(&platform, &shopper, &sencha[0]).await;
    // Stock running out: two whisks left, the stands sold out.
    publish(&platform, &admin, "Matcha whisk", None, &[("WHISK-80", "80 tines", 3000, 2)]).await;
    publish(&platform, &admin, "Whisk stand", None, &[("STAND-1", "ceramic", 1800, 0)]).await;
    // The buyer followed the link mailed at sign-up; the newcomer has not yet.
    sqlx::query("UPDATE user_service.users SET email_verified_at = now() WHERE email = 'buyer@example.com'")
        .execute(&platform.database.pool)
        .await
        .unwrap();
    platform.sign_up("newcomer@example.com", "correct horse").await;
    let receiver = WebhookReceiver::start().await;
    let webhook_url = format!("{}/backoffice", receiver.url);

    let env = [
        ("ADMIN_EMAIL", "owner@example.com"),
        ("SHOPPER_EMAIL", "buyer@example.com"),
        ("NEWCOMER_EMAIL", "newcomer@example.com"),
        ("WEBHOOK_URL", &webhook_url),
        ("PASSWORD", "correct horse"),
        ("ORDER_ID", &order),
        ("REVENUE", &(first + second).to_string()),
        ("ORDERS", "2"),
    ];
    let stdout = in_browser("backoffice.mjs", &web, &env, BACKOFFICE_STEPS).await;
    // The endpoint the owner added got the published product, signed with the secret the page showed, and the
    // delivery sent again.
    let secret = stdout.lines().find_map(|line| line.strip_prefix("secret ")).expect("the page showed a secret");
    let requests = receiver.wait_for("/backoffice", 2, std::time::Duration::from_secs(30)).await;
    for request in &requests {
        assert_eq!(webhooks::verify(request, secret), Ok("product.v1.published".to_owned()), "{request:?}");
    }
    platform.stop().await;
}

/// What the back-office browser test must have done, each printed by `web/tests/backoffice.mjs` as "ok <step>".
const BACKOFFICE_STEPS: &[&str] = &[
    "sign in",
    "dashboard",
    "category",
    "product",
    "sku price and delete",
    "image",
    "publish",
    "stock conflict",
    "adjust",
    "product list",
    "delete",
    "ship",
    "orders by customer",
    "webhook",
    "deliveries",
    "roles",
    "shopper finds it",
    "not an admin",
    "accessible dashboard",
    "accessible categories",
    "accessible new product",
    "accessible product",
    "accessible products",
    "accessible orders",
    "accessible order",
    "accessible orders by customer",
    "accessible users",
    "accessible webhooks",
    "accessible webhook deliveries",
];

#[tokio::test]
async fn served_over_https_the_storefront_and_the_login_pages_send_hsts() {
    let build = Build::new();
    let dir = build.0.clone();
    let platform = TestPlatform::start_with(|config| {
        config.web.dir = dir;
        config.web.https = true;
        config.user.login.secure_cookies = true;
    })
    .await;
    let web = format!("http://{}", platform.addresses.web.expect("a built storefront is served"));
    let login = platform.login_url();
    for url in [format!("{web}/"), format!("{login}/oauth2/error?error=access_denied")] {
        let answer = get(&url).await;
        assert_eq!(answer.headers()["strict-transport-security"], "max-age=31536000", "{url}");
    }
    platform.stop().await;
}
