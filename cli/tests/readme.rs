//! The README's recipe for running one service per process, run verbatim: the shell block between its
//! `separate-processes` markers, from the repository's root, with the `ec` this test was built with on the
//! `PATH` (as the README's "build once" step puts it there). Then a demo shopper signs in through the login
//! pages the recipe started and buys through its BFF, so a recipe that no longer starts a working shop fails
//! here rather than in a new user's terminal.
//!
//! The recipe names its own ports (the platform's standard ones) and database (`ec_processes`), so this test
//! needs them: it refuses to start while anything listens on those ports (an `ec dev` left running), runs
//! with no other test beside it (`.config/nextest.toml`), and drops that database before it starts and once it
//! has passed. It stops the shop as the README says (SIGINT to every `ec`, here only the recipe's), and checks
//! that every part exits cleanly.

use std::{path::Path, process::Command, time::Duration};

use ec_testing::{Process, Seen, Signal, browser::sign_in_at, eventually};
use serde_json::{Value, json};

/// The ports the recipe's processes listen on: OAuth2 public and admin, login pages, user, product, order,
/// BFF, the BFF's operations port, the storefront.
const PORTS: [u16; 9] = [4444, 4445, 8051, 50051, 50052, 50053, 8080, 8090, 5173];
const DATABASE: &str = "ec_processes";
const BFF: &str = "http://127.0.0.1:8080";

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ is inside the repository")
}

/// The shell block between the README's `separate-processes` markers.
fn recipe() -> String {
    let readme = std::fs::read_to_string(repository().join("README.md")).unwrap();
    let (_, rest) = readme.split_once("<!-- separate-processes:begin -->").expect("the README marks its recipe");
    let (block, _) = rest.split_once("<!-- separate-processes:end -->").expect("the recipe's end is marked");
    let block = block.trim();
    let script = block.strip_prefix("```sh").and_then(|b| b.strip_suffix("```")).expect("one ```sh block");
    script.trim().to_owned()
}

async fn drop_database() {
    let admin = sqlx::PgPool::connect(&ec_testing::admin_database_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
}

/// A Connect JSON call through the BFF; the HTTP status and the body.
async fn call(procedure: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{BFF}/{procedure}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_readme_recipe_for_separate_processes_starts_a_shop_a_shopper_can_buy_from() {
    for port in PORTS {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is taken: this test runs the README's recipe on the standard ports (stop `ec dev` first)"
        );
    }
    assert!(
        repository().join("web/dist/index.html").exists(),
        "the recipe serves the storefront's build: run `make web` first (make test does)"
    );
    drop_database().await;

    let bin = Path::new(env!("CARGO_BIN_EXE_ec")).parent().unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // The recipe leaves its processes in the background, as in a terminal. The shell stays, and exits once every
    // one of them has, with the first failure's status; a test that fails half-way has the shell stop them.
    let script = format!(
        "set -eu\n{}\ntrap 'kill -TERM $(jobs -p) 2>/dev/null' TERM\nfor part in $(jobs -p); do wait \"$part\"; done\n",
        recipe()
    );
    let mut command = Command::new("bash");
    command.args(["-c", &script]).current_dir(repository()).env("PATH", path).env("RUST_LOG", "warn");
    // The recipe's events go to the local NATS, under streams of this test's own rather than a shop's `EC_*`.
    command.env("NATS_PREFIX", "ec-readme");
    let mut shop = Process::spawn("the README's recipe", command).stop_on_drop(Signal::Term);

    let ready = Duration::from_secs(120);
    shop.wait_ready("the BFF to be ready", ready, || async {
        let answer = reqwest::get("http://127.0.0.1:8090/ready").await.map_err(|e| e.to_string())?;
        if answer.status().is_success() { Ok(()) } else { Err(answer.status().to_string()) }
    })
    .await;
    for port in PORTS {
        shop.wait_for_port(port, ready).await;
    }
    let config: Value = reqwest::get("http://127.0.0.1:5173/config.json")
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(config["bffUrl"].as_str().map(|url| url.trim_end_matches('/')), Some(BFF), "{config}");

    // The demo shopper signs in through the login pages, which reach the local issuer's admin API.
    let tokens =
        sign_in_at("http://127.0.0.1:4444/", "http://127.0.0.1:8051", "shopper@example.com", "shopper-password").await;
    let token = tokens["access_token"].as_str().expect("an access token");

    // The demo catalog is there, and a SKU of it is bought at the total the cart showed.
    let (status, listing) = call("product.v1.ProductService/ListProducts", None, &json!({"pageSize": 50})).await;
    assert_eq!(status, 200, "{listing}");
    let sku = listing["products"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|product| product["skus"].as_array().unwrap())
        .find(|sku| sku["price"]["currencyCode"] == "JPY")
        .unwrap_or_else(|| panic!("a demo SKU priced in yen: {listing}"));
    let added = json!({"skuId": sku["id"], "quantity": 1});
    let (status, cart) = call("order.v1.CartService/AddCartItem", Some(token), &added).await;
    assert_eq!(status, 200, "{cart}");
    let total = cart["cart"]["total"].clone();
    assert!(total["amount"].is_string() || total["amount"].is_number(), "a total: {cart}");
    let order = json!({
        "idempotencyKey": uuid::Uuid::now_v7().to_string(),
        "paymentToken": "4242424242424242",
        "expectedTotal": total,
        "shippingAddress": {"recipientName": "Hanako Yamada", "line1": "1-2-3 Jingumae", "city": "Tokyo",
            "postalCode": "150-0001", "countryCode": "JP"},
    });
    let (status, placed) = call("order.v1.OrderService/CreateOrder", Some(token), &order).await;
    assert_eq!(status, 200, "{placed}");
    assert_eq!(placed["order"]["status"], "ORDER_STATUS_CONFIRMED", "{placed}");
    assert_eq!(placed["order"]["total"], total, "the order's total is the one the cart showed");

    // The README's `pkill -INT -x ec`, for the recipe's parts only.
    let stopped = Command::new("pkill").args(["-INT", "-x", "-P", &shop.id().to_string(), "ec"]).status().unwrap();
    assert!(stopped.success(), "pkill found the recipe's parts");
    let status = shop.wait_exit(Duration::from_secs(60)).await;
    assert!(status.success(), "every part of the recipe exits cleanly on SIGINT: {status}");
    eventually("every port of the recipe to be closed", Duration::from_secs(30), || async {
        let open: Vec<u16> =
            PORTS.into_iter().filter(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_err()).collect();
        if open.is_empty() { Ok(()) } else { Err(Seen(open)) }
    })
    .await;
    drop_database().await;
}
