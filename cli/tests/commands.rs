//! `ec migrate` and `ec serve` as an operator runs them.

use std::{process::Command, time::Duration};

use ec_testing::{
    Process, Signal, TestDatabase, eventually,
    nats::{nats_prefix, nats_url},
};

fn ec() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
    for variable in [
        "DATABASE_URL",
        "REDIS_URL",
        "INTERNAL_AUTH_TOKEN",
        "USER_SERVICE_URL",
        "PRODUCT_SERVICE_URL",
        "ORDER_SERVICE_URL",
        "BFF_ADDR",
        "OPS_ADDR",
        "USER_ADDR",
        "PRODUCT_ADDR",
        "ORDER_ADDR",
        "OIDC_ISSUER",
        "HYDRA_ADMIN_URL",
        "PAYMENT_PROVIDER",
    ] {
        command.env_remove(variable);
    }
    // `ec serve` without EC_ENV assumes production; the tests that are about production say so.
    command.env("EC_ENV", "development");
    command
}

#[tokio::test]
async fn ec_migrate_creates_every_schema_and_is_safe_to_repeat() {
    let database = TestDatabase::create().await;
    let url = database.url();

    for run in 1..=2 {
        let output = ec().args(["migrate", "--database-url", &url]).output().unwrap();
        assert!(output.status.success(), "run {run}: {}", String::from_utf8_lossy(&output.stderr));
    }

    let pool = &database.pool;
    for schema in ["user_service", "product_service", "order_service"] {
        let history: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!("{schema}._sqlx_migrations"))
            .fetch_one(pool)
            .await
            .unwrap();
        assert!(history.is_some(), "{schema} has its own migration history");
    }
    let users: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('user_service.users')::text").fetch_one(pool).await.unwrap();
    assert!(users.is_some());
    database.drop_now().await;
}

#[test]
fn ec_migrate_without_a_database_url_says_what_is_missing() {
    let output = ec().arg("migrate").output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--database-url"), "{stderr}");
}

#[test]
fn ec_serve_bff_refuses_a_backend_url_it_cannot_use() {
    let output = ec()
        .args(["serve", "bff", "--bff-addr", "127.0.0.1:0", "--ops-addr", "127.0.0.1:0"])
        .args(["--user-service-url", "https://user:50051"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("https://user:50051") && stderr.contains("http://host:port"), "{stderr}");
}

#[test]
fn ec_serve_reports_a_port_that_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = ec().args(["serve", "bff", "--bff-addr", &addr, "--ops-addr", "127.0.0.1:0"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
}

#[tokio::test]
async fn ec_user_make_admin_promotes_an_existing_account_and_refuses_unknown_ones() {
    let database = TestDatabase::create().await;
    ec_cli::platform::migrate_all(&database.pool).await.unwrap();
    let email = ec_user::domain::Email::parse("boss@example.com").unwrap();
    let password = ec_user::domain::Password::parse("correct horse").unwrap();
    ec_user::accounts::create(&database.pool, &ec_user::events::outbox(), email, password, None, Default::default())
        .await
        .unwrap();

    let output = ec()
        .args(["user", "make-admin", "--email", "BOSS@example.com", "--database-url", &database.url()])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("boss@example.com"));
    let roles: Vec<String> =
        sqlx::query_scalar("SELECT roles FROM user_service.users").fetch_one(&database.pool).await.unwrap();
    assert_eq!(roles, ["customer", "admin"]);

    let output = ec()
        .args(["user", "make-admin", "--email", "nobody@example.com", "--database-url", &database.url()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("sign up first"));

    database.drop_now().await;
}

#[tokio::test]
async fn ec_catalog_import_loads_json_and_csv_files_once_and_says_where_a_file_is_wrong() {
    let database = TestDatabase::create().await;
    let dir = std::env::temp_dir().join(format!("ec-import-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    // The demo catalog, its picture files beside it, and a picture store to import them into.
    let json_file = dir.join("catalog.json");
    std::fs::write(&json_file, ec_product::import::DEMO_CATALOG).unwrap();
    for (name, bytes) in ec_product::import::DEMO_PICTURES {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let media = dir.join("media");
    let media_store = url::Url::from_directory_path(&media).unwrap().to_string();
    let csv_file = dir.join("more.csv");
    std::fs::write(
        &csv_file,
        "category,product,description,status,sku,price,currency,stock,attributes,images\n\
         kitchen/tea-coffee,Kukicha,Twig tea.,,KUKICHA-100,1100,JPY,12,weight=100g,\n\
         kitchen/tea-coffee,Kukicha,Twig tea.,,KUKICHA-200,2000,JPY,0,weight=200g,\n\
         stationery/pens,Fountain Pen,A steel nib.,,PEN-F,4800,JPY,3,nib=F,https://cdn.example.com/pen.jpg\n",
    )
    .unwrap();
    let import = |file: &std::path::Path| {
        let store = ["--media-store", &media_store];
        ec().args(["catalog", "import"])
            .arg(file)
            .args(["--database-url", &database.url()])
            .args(store)
            .output()
            .unwrap()
    };
    let count = |table: &'static str| {
        let pool = database.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM product_service.{table}")))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };

    // Picture files without a store to put them in: refused, before anything is written.
    let output =
        ec().args(["catalog", "import"]).arg(&json_file).args(["--database-url", &database.url()]).output().unwrap();
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && error.contains("picture files need a picture store (MEDIA_STORE)"), "{error}");
    assert_eq!(count("products").await, 0);
    for file in [&json_file, &csv_file] {
        let output = import(file);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!((count("products").await, count("skus").await, count("categories").await), (62, 131, 11));
    // A picture per demo product, stored as its copies (1200 px wide: four each), and the pen's link.
    assert_eq!(count("product_images").await, 61);
    let stored = std::fs::read_dir(media.join("products")).unwrap().count();
    assert_eq!(stored, 60);
    let copies: usize = std::fs::read_dir(media.join("products"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(copies, 240);
    let sold_out: i64 = sqlx::query_scalar("SELECT count(*) FROM product_service.inventory WHERE quantity = 0")
        .fetch_one(&database.pool)
        .await
        .unwrap();
    assert!(sold_out > 0);
    // Again: nothing new.
    let output = import(&csv_file);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("0 products and 0 SKUs created; 2 products already there")
    );
    assert_eq!(count("products").await, 62);

    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"products": [{"name": "Bad", "skus": [{"code": "B-1", "price": -5, "currency": "JPY"}]}]}"#,
    )
    .unwrap();
    let output = import(&bad);
    assert!(!output.status.success());
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(error.contains("product 1") && error.contains("price.amount must not be negative"), "{error}");

    // A picture file is read beside the catalog only: a path out of its directory is refused, and nothing of
    // the product is written.
    let outside = dir.with_extension("webp");
    std::fs::write(&outside, ec_product::import::DEMO_PICTURES[0].1).unwrap();
    let name = outside.file_name().unwrap().to_str().unwrap();
    let absolute = outside.to_str().unwrap();
    for path in [format!("../{name}"), absolute.to_owned(), format!("pictures/../../{name}")] {
        let escaping = dir.join("escaping.json");
        let catalog = serde_json::json!({"products": [{"name": "Escape", "images": [{"file": path, "alt": "x"}],
            "skus": [{"code": "ESC-1", "price": 100, "currency": "JPY"}]}]});
        std::fs::write(&escaping, catalog.to_string()).unwrap();
        let output = import(&escaping);
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && error.contains("not a path beside the catalog"), "{path}: {error}");
    }
    assert_eq!(count("products").await, 62);
    std::fs::remove_file(&outside).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    database.drop_now().await;
}

/// One `ec serve` process (killed if the test fails before it is stopped).
fn serve(args: &[&str], env: &[(&str, &str)]) -> Process {
    serve_with(ec(), args, env)
}

fn serve_with(mut command: Command, args: &[&str], env: &[(&str, &str)]) -> Process {
    command.args(args).envs(env.iter().copied()).env("RUST_LOG", "warn").stdout(std::process::Stdio::null());
    Process::spawn(format!("ec {}", args[..2].join(" ")), command)
}

/// Sends SIGTERM, as an orchestrator does, and checks the process drains and exits cleanly.
async fn stop(mut served: Process) {
    served.stop(Signal::Term, Duration::from_secs(60)).await;
}

fn free_addr() -> String {
    format!("127.0.0.1:{}", ec_testing::child_port())
}

#[tokio::test]
async fn ec_serve_runs_each_service_as_its_own_process_and_the_bff_routes_to_them() {
    let database = TestDatabase::create().await;
    let url = database.url();
    let secret = "a-shared-internal-secret-of-32-characters";
    let prefix = format!("ec-test:{}:", uuid::Uuid::now_v7().simple());
    let redis = ec_testing::redis_url();
    let env = [("INTERNAL_AUTH_TOKEN", secret), ("REDIS_URL", redis.as_str()), ("REDIS_KEY_PREFIX", prefix.as_str())];
    let (user, product, order, bff, ops) = (free_addr(), free_addr(), free_addr(), free_addr(), free_addr());
    let db = ["--database-url", url.as_str()];
    let services = [
        serve(&[&["serve", "user", "--user-addr", &user][..], &db].concat(), &env),
        serve(&[&["serve", "product", "--product-addr", &product][..], &db].concat(), &env),
        serve(&[&["serve", "order", "--order-addr", &order][..], &db].concat(), &env),
    ];
    let backend = |addr: &str| format!("http://{addr}");
    let (user_url, product_url, order_url) = (backend(&user), backend(&product), backend(&order));
    let mut front = serve(
        &[
            "serve",
            "bff",
            "--bff-addr",
            &bff,
            "--ops-addr",
            &ops,
            "--user-service-url",
            &user_url,
            "--product-service-url",
            &product_url,
            "--order-service-url",
            &order_url,
        ],
        &env,
    );

    // Ready once every backend has migrated its schema, bound its port and reports SERVING.
    let http = reqwest::Client::new();
    let ready = front
        .wait_ready("the BFF to be ready", Duration::from_secs(20), || async {
            match http.get(format!("http://{ops}/ready")).send().await {
                Ok(response) if response.status() == 200 => Ok(response.json::<serde_json::Value>().await.unwrap()),
                Ok(response) => Err(format!("{} {}", response.status(), response.text().await.unwrap_or_default())),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
    for backend in ["user_service", "product_service", "order_service"] {
        assert_eq!(ready[backend], true, "{ready}");
    }

    // A call through the BFF reaches the user service and its database.
    let created = http
        .post(format!("http://{bff}/user.v1.UserService/CreateUser"))
        .json(&serde_json::json!({"email": "served@example.com", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200, "{:?}", created.text().await);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM user_service.users WHERE email = 'served@example.com'")
        .fetch_one(&database.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    for schema in ["product_service", "order_service"] {
        let history: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!("{schema}._sqlx_migrations"))
            .fetch_one(&database.pool)
            .await
            .unwrap();
        assert!(history.is_some(), "{schema} was migrated by its own service at start-up");
    }

    // Readiness covers every backend: with the product service gone, the BFF is not ready.
    let [user_service, product_service, order_service] = services;
    stop(product_service).await;
    let what = "the BFF to be not ready once the product service has stopped";
    let not_ready = eventually(what, Duration::from_secs(5), || async {
        let response = http.get(format!("http://{ops}/ready")).send().await.unwrap();
        match response.status().as_u16() {
            503 => Ok(response.json::<serde_json::Value>().await.unwrap()),
            status => Err(format!("{status}")),
        }
    })
    .await;
    assert_eq!(
        (not_ready["product_service"].as_bool(), not_ready["user_service"].as_bool()),
        (Some(false), Some(true))
    );

    stop(front).await;
    stop(user_service).await;
    stop(order_service).await;
    database.drop_now().await;
}

/// `ec check-health URL`'s exit status and the reason it prints.
fn check_health(url: &str) -> (bool, String) {
    let output = ec().args(["check-health", url]).env("RUST_BACKTRACE", "0").output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn ec_serve_web_serves_a_storefront_build_with_its_config_and_ec_check_health_says_which_servers_answer() {
    let database = TestDatabase::create().await;
    let build = std::env::temp_dir().join(format!("ec-web-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(build.join("assets")).unwrap();
    std::fs::write(build.join("index.html"), "<!doctype html><title>shop</title>").unwrap();
    let (web, product) = (free_addr(), free_addr());
    let storefront = serve(
        &["serve", "web", "--web-addr", &web, "--web-dir", build.to_str().unwrap()],
        &[
            ("PUBLIC_BFF_URL", "https://api.shop.example/"),
            ("OIDC_ISSUER", "https://auth.shop.example/"),
            ("LOGIN_PUBLIC_URL", "https://account.shop.example/"),
        ],
    );
    let url = database.url();
    let catalog = serve(&["serve", "product", "--product-addr", &product, "--database-url", &url], &[]);
    let (web_config, product_url) = (format!("http://{web}/config.json"), format!("http://{product}"));
    eventually("both servers to be healthy", Duration::from_secs(10), || async {
        for url in [&web_config, &product_url] {
            let (healthy, why) = check_health(url);
            if !healthy {
                return Err(why);
            }
        }
        Ok(())
    })
    .await;

    // The storefront points the browser at the BFF and the issuer it was given; unknown paths are the app's.
    let config: serde_json::Value = reqwest::get(&web_config).await.unwrap().json().await.unwrap();
    assert_eq!(
        config,
        serde_json::json!({"bffUrl": "https://api.shop.example", "issuer": "https://auth.shop.example/",
            "clientId": "ec-spa", "audience": "ec-api"})
    );
    let page = reqwest::get(format!("http://{web}/orders/42")).await.unwrap();
    // The silent sign-in's hidden frame may show the issuer and its login pages, and the storefront itself.
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("frame-src 'self' https://auth.shop.example https://account.shop.example;"), "{csp}");
    assert!(page.text().await.unwrap().contains("<title>shop</title>"));

    // An asset that is not there, and a port nobody listens on, are not healthy, and say why.
    let (healthy, why) = check_health(&format!("http://{web}/assets/missing.js"));
    assert!(!healthy && why.contains("404"), "{why}");
    let (healthy, why) = check_health(&format!("http://{}", free_addr()));
    assert!(!healthy && why.contains("does not answer"), "{why}");

    stop(storefront).await;
    stop(catalog).await;
    std::fs::remove_dir_all(&build).unwrap();
    database.drop_now().await;
}

#[test]
fn ec_serve_web_refuses_a_directory_without_a_build() {
    let empty = std::env::temp_dir().join(format!("ec-no-web-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&empty).unwrap();
    let output = ec()
        .args(["serve", "web", "--web-addr", &free_addr(), "--web-dir", empty.to_str().unwrap()])
        .args(["--public-bff-url", "https://api.shop.example", "--oidc-issuer", "https://auth.shop.example/"])
        .args(["--login-public-url", "https://account.shop.example/"])
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&empty).unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no storefront build"), "{output:?}");
}

/// What `ec ARGS` printed on both streams, with EC_ENV=`environment` (unset for `None`), and whether it
/// succeeded. For commands that are expected to stop at start-up.
fn refused_start(args: &[&str], environment: Option<&str>, env: &[(&str, &str)]) -> (bool, String) {
    let mut command = ec();
    match environment {
        Some(environment) => command.env("EC_ENV", environment),
        None => command.env_remove("EC_ENV"),
    };
    // `make test` exports NATS_URL for the tests; a test about a missing one must not inherit it.
    command.env_remove("NATS_URL");
    let output = command.args(args).envs(env.iter().copied()).env("RUST_LOG", "info").output().unwrap();
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), printed)
}

#[test]
fn production_refuses_development_secrets_placeholders_guessable_and_missing_ones_at_start_up() {
    // A value this repository publishes (deploy/.env), one that says it is a placeholder, a long repetition.
    let published = "development-only-internal-token-0123456789abcdef";
    let placeholder = "change-me-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c";
    let repeated = "ab".repeat(20);
    let serve = ["serve", "product", "--product-addr", "127.0.0.1:0", "--database-url", "postgres://127.0.0.1:1/none"];
    for (token, why) in [
        (Some(published), "published in this repository"),
        (Some(placeholder), "placeholder"),
        (Some(repeated.as_str()), "too guessable"),
        (None, "needs INTERNAL_AUTH_TOKEN"),
    ] {
        let env: Vec<(&str, &str)> = token.map(|token| ("INTERNAL_AUTH_TOKEN", token)).into_iter().collect();
        let (started, printed) = refused_start(&serve, Some("production"), &env);
        assert!(!started, "{token:?} was accepted");
        assert!(printed.contains(why) && printed.contains("openssl rand -hex 32"), "{token:?}: {printed}");
    }
    // Staging, like Compose, takes a published one (and so the process gets as far as the unreachable database).
    let (_, printed) = refused_start(&serve, Some("staging"), &[("INTERNAL_AUTH_TOKEN", published)]);
    assert!(!printed.contains("published") && printed.contains("cannot connect to PostgreSQL"), "{printed}");
}

#[test]
fn production_refuses_the_payment_sandbox_and_the_embedded_oauth_server() {
    let secret = ec_platform::identity::IdentityVerifier::generate_token();
    let env = [("INTERNAL_AUTH_TOKEN", secret.as_str())];
    let order = ["serve", "order", "--order-addr", "127.0.0.1:0", "--database-url", "postgres://127.0.0.1:1/none"];
    for provider in [None, Some("sandbox")] {
        let env: Vec<(&str, &str)> = env.iter().copied().chain(provider.map(|p| ("PAYMENT_PROVIDER", p))).collect();
        let (started, printed) = refused_start(&order, Some("production"), &env);
        assert!(!started);
        assert!(
            printed.contains("refuses PAYMENT_PROVIDER=sandbox") && printed.contains("PAYMENT_PROVIDER=none"),
            "{provider:?}: {printed}"
        );
        assert!(!printed.contains("cannot connect to PostgreSQL"), "refused before touching the database: {printed}");
    }
    // Without EC_ENV, `ec serve` assumes production, and says so before anything else.
    let (started, printed) = refused_start(&order, None, &env);
    assert!(!started && printed.contains("refuses PAYMENT_PROVIDER=sandbox"), "{printed}");
    let first = printed.lines().next().unwrap_or_default();
    assert!(first.contains("EC_ENV is not set: assuming production"), "first line: {first}");

    let oauth = ["serve", "oauth", "--oauth-public-addr", "127.0.0.1:0", "--oauth-admin-addr", "127.0.0.1:0"];
    for environment in [Some("production"), None] {
        let (started, printed) = refused_start(&oauth, environment, &[]);
        assert!(!started && printed.contains("configure Ory Hydra instead"), "{environment:?}: {printed}");
    }
}

#[test]
fn production_refuses_the_user_and_order_services_without_nats() {
    let secret = ec_platform::identity::IdentityVerifier::generate_token();
    let env = [("INTERNAL_AUTH_TOKEN", secret.as_str()), ("PAYMENT_PROVIDER", "none")];
    for service in ["user", "order"] {
        let addr = format!("--{service}-addr");
        let serve = ["serve", service, &addr, "127.0.0.1:0", "--database-url", "postgres://127.0.0.1:1/none"];
        let (started, printed) = refused_start(&serve, Some("production"), &env);
        assert!(!started && printed.contains("NATS_URL is required in production"), "{service}: {printed}");
        assert!(!printed.contains("cannot connect to PostgreSQL"), "refused before the database: {printed}");
        // Staging keeps its events in process, and so gets as far as the unreachable database.
        let (_, printed) = refused_start(&serve, Some("staging"), &env);
        assert!(printed.contains("cannot connect to PostgreSQL"), "{service}: {printed}");
    }
}

#[tokio::test]
async fn a_production_order_service_without_a_payment_provider_keeps_carts_and_refuses_checkout() {
    let database = TestDatabase::create().await;
    let secret = ec_platform::identity::IdentityVerifier::generate_token();
    let addr = free_addr();
    let (nats, prefix) = (nats_url(), nats_prefix());
    let env = [
        ("INTERNAL_AUTH_TOKEN", secret.as_str()),
        ("PAYMENT_PROVIDER", "none"),
        ("NATS_URL", nats.as_str()),
        ("NATS_PREFIX", prefix.as_str()),
    ];
    let mut command = ec();
    command.env("EC_ENV", "production");
    let mut order =
        serve_with(command, &["serve", "order", "--order-addr", &addr, "--database-url", &database.url()], &env);
    let http = reqwest::Client::new();
    let call = |method: &'static str, body: serde_json::Value| {
        let request = http
            .post(format!("http://{addr}/order.v1.{method}"))
            .header("x-ec-internal-token", &secret)
            .header("x-ec-caller-id", uuid::Uuid::now_v7().to_string())
            .header("x-ec-caller-roles", "customer")
            .json(&body);
        async move {
            let response = request.send().await?;
            Ok::<_, reqwest::Error>((response.status().as_u16(), response.json::<serde_json::Value>().await?))
        }
    };
    let what = "the order service to answer";
    let cart =
        order.wait_ready(what, Duration::from_secs(20), || call("CartService/GetCart", serde_json::json!({}))).await;
    assert_eq!(cart.0, 200);
    let checkout = serde_json::json!({
        "idempotencyKey": uuid::Uuid::now_v7().to_string(),
        "paymentToken": "4242424242424242",
        "shippingAddress": {"recipientName": "A", "line1": "1-1 Chiyoda", "city": "Tokyo", "postalCode": "100-0001", "countryCode": "JP"},
    });
    let (status, error) = call("OrderService/CreateOrder", checkout).await.unwrap();
    assert_eq!((status, error["code"].as_str()), (400, Some("failed_precondition")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("no payment provider"), "{error}");
    let orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_service.orders").fetch_one(&database.pool).await.unwrap();
    assert_eq!(orders, 0, "nothing was written");
    stop(order).await;
    database.drop_now().await;
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in bytes.
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("Linux reports VmHWM");
    line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}

#[tokio::test]
async fn a_burst_of_sign_ups_keeps_the_user_services_memory_within_its_hashing_bound() {
    const CONCURRENT: u64 = 4;
    let database = TestDatabase::create().await;
    let addr = free_addr();
    let concurrent = CONCURRENT.to_string();
    let mut user = serve(
        &["serve", "user", "--user-addr", &addr, "--database-url", &database.url()],
        &[("PASSWORD_HASH_CONCURRENCY", concurrent.as_str()), ("PASSWORD_HASH_QUEUE_MS", "1000")],
    );
    let http = reqwest::Client::new();
    let call = |method: &str, body: serde_json::Value| {
        http.post(format!("http://{addr}/user.v1.UserService/{method}")).json(&body).send()
    };
    user.wait_ready("the user service to answer", Duration::from_secs(20), || async {
        let first = serde_json::json!({"email": "first@example.com", "password": "correct horse"});
        match call("CreateUser", first).await {
            Ok(answer) if answer.status() == 200 => Ok(()),
            Ok(answer) => Err(format!("{}: {}", answer.status(), answer.text().await.unwrap_or_default())),
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    let before = peak_memory(user.id());

    // Sixty sign-ups at once, each an Argon2id hash.
    let burst: Vec<_> = (0..60)
        .map(|i| {
            let body = serde_json::json!({"email": format!("burst-{i}@example.com"), "password": "correct horse"});
            tokio::spawn(call("CreateUser", body))
        })
        .collect();
    let mut busy = 0;
    for answer in burst {
        let answer = answer.await.unwrap().unwrap();
        match answer.status().as_u16() {
            200 => {}
            429 => {
                assert!(answer.headers().contains_key("retry-after"));
                busy += 1;
            }
            status => panic!("{status}: {}", answer.text().await.unwrap()),
        }
    }
    let after = peak_memory(user.id());
    // Argon2id holds 19 MiB per hash: the bound allows four at once, with room for the rest of the process.
    let allowed = CONCURRENT * 19 * 1024 * 1024 + 64 * 1024 * 1024;
    assert!(
        after.saturating_sub(before) < allowed,
        "the peak grew by {} MiB, more than {} MiB; {busy} refused as busy",
        after.saturating_sub(before) / (1024 * 1024),
        allowed / (1024 * 1024)
    );
    stop(user).await;
    database.drop_now().await;
}

#[test]
fn a_picture_stores_credentials_never_show_in_the_help() {
    // MEDIA_STORE may carry a key in its query; `--help` names the setting without its value.
    for service in ["product", "bff"] {
        let output = ec()
            .args(["serve", service, "--help"])
            .env("MEDIA_STORE", "s3://shop-media/pictures?aws_secret_access_key=not-for-your-eyes")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success() && help.contains("--media-store"), "{help}");
        assert!(!help.contains("not-for-your-eyes") && !help.contains("shop-media"), "{help}");
    }
}
