//! The production topology on one machine: every service its own `ec serve` process, two BFF replicas sharing
//! Redis, and the embedded OAuth2 server (`ec serve oauth`) standing in for Hydra, wired by flags and
//! environment variables only, as deploy/compose.yaml and deploy/k8s wire the containers, with events on NATS
//! JetStream.
//!
//! - A shopper signs up through one BFF, signs in through the login pages, and buys through both; every
//!   process's `/metrics` then shows what the one checkout and one declined card did.
//! - A rolling restart (SIGTERM, wait for the drain, start again) of every service and both BFFs, one at a
//!   time, under a light steady load of catalog reads and checkouts: no call fails except with `unavailable`
//!   (or `deadline_exceeded` for a checkout still running), which the client retries, on the other BFF or
//!   with the same idempotency key; every checkout ends CONFIRMED, and the orders, reservations and stock agree.

use std::{
    collections::{BTreeMap, BTreeSet},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use ec_testing::{Process, Seen, Signal, TestDatabase, browser::sign_in_at, child_port, eventually};
use serde_json::{Value, json};
use uuid::Uuid;

const APPROVE: &str = "4242424242424242";
const DECLINE: &str = "4000000000000002";
const STOCK: i64 = 10_000;

/// One part of the platform: its `ec` command line, kept so it can be started again after a stop, and its
/// process while it runs.
struct Part {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(String, String)>,
    health: String,
    running: Option<Process>,
}

impl Part {
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
        // As Compose runs them: staging, the production topology with the payment sandbox (`ec serve` would
        // assume production, which refuses it).
        command.env("EC_ENV", "staging");
        command.args(&self.args).envs(self.env.iter().cloned()).stdout(Stdio::null()).stderr(Stdio::inherit());
        command
    }

    /// Starts the process and waits until its health check passes; fails at once if it exits instead.
    async fn start(&mut self) {
        let mut process = Process::spawn(self.name, self.command());
        wait_healthy(&mut process, &self.health).await;
        self.running = Some(process);
    }

    /// SIGTERM, as an orchestrator stops a container, and waits for a clean exit (the drain finished).
    async fn terminate(&mut self) {
        self.running.take().expect("running").stop(Signal::Term, Duration::from_secs(60)).await;
    }
}

/// Waits until `ec check-health`'s check of `health` passes, as a container's health check would.
async fn wait_healthy(process: &mut Process, health: &str) {
    let health: url::Url = health.parse().unwrap();
    let what = format!("its health check at {health} to pass");
    process.wait_ready(what, Duration::from_secs(60), || ec_cli::health::check(&health)).await;
}

/// Every component as its own process, on ports of its own.
struct Topology {
    database: TestDatabase,
    issuer: String,
    login: String,
    bffs: [String; 2],
    ops: [String; 2],
    user: String,
    product: String,
    order: String,
    processes: BTreeMap<&'static str, Part>,
}

fn local(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

impl Topology {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// The topology with `extra` in every process's environment.
    async fn start_with(extra: &[(&str, String)]) -> Self {
        let database = TestDatabase::create().await;
        let [oauth, oauth_admin, user, login, product, order, bff_a, bff_b, ops_a, ops_b] =
            std::array::from_fn(|_| child_port());
        let issuer = format!("http://{}/", local(oauth));
        let login_url = format!("http://{}", local(login));
        let (user_url, product_url, order_url) = (
            format!("http://{}", local(user)),
            format!("http://{}", local(product)),
            format!("http://{}", local(order)),
        );
        // What every process shares, as the Compose file's and the Kubernetes ConfigMap's environment.
        let env: Vec<(String, String)> = [
            ("DATABASE_URL", database.url()),
            ("REDIS_URL", ec_testing::redis_url()),
            ("REDIS_KEY_PREFIX", format!("topology-{}:", Uuid::now_v7())),
            // Events on NATS JetStream, as in production, under a prefix of this run's own.
            ("NATS_URL", ec_testing::nats::nats_url()),
            ("NATS_PREFIX", ec_testing::nats::nats_prefix()),
            ("INTERNAL_AUTH_TOKEN", ec_platform::identity::IdentityVerifier::generate_token()),
            ("SHUTDOWN_GRACE_SECS", "10".into()),
            ("RUST_LOG", "warn".into()),
        ]
        .into_iter()
        .chain(extra.iter().cloned())
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let migrate = Command::new(env!("CARGO_BIN_EXE_ec")).arg("migrate").envs(env.iter().cloned()).status().unwrap();
        assert!(migrate.success(), "ec migrate failed");
        let catalog = std::env::temp_dir().join(format!("topology-{}.json", Uuid::now_v7()));
        std::fs::write(&catalog, catalog_file().to_string()).unwrap();
        let import = Command::new(env!("CARGO_BIN_EXE_ec"))
            .args(["catalog", "import", catalog.to_str().unwrap()])
            .envs(env.iter().cloned())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        std::fs::remove_file(&catalog).unwrap();
        assert!(import.success(), "ec catalog import failed");

        let process = |name: &'static str, args: Vec<String>, health: String| Part {
            name,
            args,
            env: env.clone(),
            health,
            running: None,
        };
        let grpc = |port: u16| format!("http://{}", local(port));
        let strings = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let mut processes = BTreeMap::new();
        processes.insert(
            "oauth",
            process(
                "oauth",
                strings(&[
                    "serve",
                    "oauth",
                    "--oauth-public-addr",
                    &local(oauth),
                    "--oauth-admin-addr",
                    &local(oauth_admin),
                    "--oauth-login-url",
                    &format!("{login_url}/oauth2/login"),
                    "--oauth-consent-url",
                    &format!("{login_url}/oauth2/consent"),
                    "--oauth-logout-url",
                    &format!("{login_url}/oauth2/logout"),
                ]),
                format!("{issuer}.well-known/openid-configuration"),
            ),
        );
        let hydra_admin = format!("http://{}", local(oauth_admin));
        let args = ["serve", "user", "--user-addr", &local(user), "--login-addr", &local(login)];
        let mut args = strings(&args);
        args.extend(strings(&["--hydra-admin-url", &hydra_admin]));
        processes.insert("user", process("user", args, grpc(user)));
        processes.insert(
            "product",
            process("product", strings(&["serve", "product", "--product-addr", &local(product)]), grpc(product)),
        );
        let args = ["serve", "order", "--order-addr", &local(order), "--order-product-service-url", &product_url];
        let mut args = strings(&args);
        // A saga cut short by a stop is taken over by the next process within seconds, not the default 30.
        args.extend(strings(&["--saga-lease-secs", "3", "--saga-recovery-interval-secs", "1"]));
        processes.insert("order", process("order", args, grpc(order)));
        for (name, bff, ops) in [("bff-a", bff_a, ops_a), ("bff-b", bff_b, ops_b)] {
            let mut args = strings(&["serve", "bff", "--bff-addr", &local(bff), "--ops-addr", &local(ops)]);
            args.extend(strings(&["--user-service-url", &user_url, "--product-service-url", &product_url]));
            args.extend(strings(&["--order-service-url", &order_url, "--oidc-issuer", &issuer]));
            // One client address (this test) is every shopper here, so the per-address limits are lifted.
            for limit in ["--rate-anonymous-per-minute", "--rate-anonymous-burst", "--rate-sign-up-per-minute"] {
                args.extend(strings(&[limit, "1000000"]));
            }
            args.extend(strings(&["--rate-sign-up-burst", "1000000"]));
            processes.insert(name, process(name, args, grpc(bff)));
        }
        for name in ["oauth", "user", "product", "order", "bff-a", "bff-b"] {
            processes.get_mut(name).unwrap().start().await;
        }
        Self {
            database,
            issuer,
            login: login_url,
            bffs: [grpc(bff_a), grpc(bff_b)],
            ops: [grpc(ops_a), grpc(ops_b)],
            user: user_url,
            product: product_url,
            order: order_url,
            processes,
        }
    }

    async fn restart(&mut self, name: &str) {
        let process = self.processes.get_mut(name).unwrap();
        process.terminate().await;
        process.start().await;
    }

    /// Signs up `email` through a BFF and signs in through the login pages; the access token.
    async fn shopper(&self, email: &str) -> String {
        let (status, answer) = call(
            &self.bffs[0],
            "/user.v1.UserService/CreateUser",
            None,
            &json!({"email": email, "password": "correct horse"}),
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{answer}");
        let tokens = sign_in_at(&self.issuer, &self.login, email, "correct horse").await;
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    /// The catalog's one product and its SKU, read through the second BFF.
    async fn tea(&self) -> (String, String) {
        let (status, answer) =
            call(&self.bffs[1], "/product.v1.ProductService/ListProducts", None, &json!({})).await.unwrap();
        assert_eq!(status, 200, "{answer}");
        let product = &answer["products"][0];
        (product["id"].as_str().unwrap().to_owned(), product["skus"][0]["id"].as_str().unwrap().to_owned())
    }

    async fn stop(mut self) {
        for name in ["bff-a", "bff-b", "order", "product", "user", "oauth"] {
            self.processes.get_mut(name).unwrap().terminate().await;
        }
        self.database.drop_now().await;
    }
}

fn catalog_file() -> Value {
    json!({
        "categories": [{"name": "Tea", "slug": "tea"}],
        "products": [{
            "name": "Topology sencha",
            "description": "Steamed green tea from Shizuoka.",
            "category": "tea",
            "skus": [{"code": "TOPO-SENCHA-100", "price": 1200, "currency": "JPY", "stock": STOCK,
                      "attributes": {"size": "100 g"}}],
        }],
    })
}

/// A Connect JSON call, as curl or a browser makes it; the HTTP status and body, or the transport error.
async fn call(base: &str, procedure: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value), reqwest::Error> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut request = client.post(format!("{base}{procedure}")).header("content-type", "application/json");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.body(body.to_string()).send().await?;
    let status = response.status().as_u16();
    let text = response.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

fn checkout(key: &str, card: &str) -> Value {
    json!({
        "idempotencyKey": key,
        "shippingAddress": {"recipientName": "Hanako Yamada", "line1": "1-2-3 Jingumae", "city": "Tokyo",
            "postalCode": "150-0001", "countryCode": "JP"},
        "paymentToken": card,
    })
}

/// Every line of a `/metrics` page that names `metric` and carries every one of `labels`.
fn series<'a>(page: &'a str, metric: &str, labels: &[&str]) -> Vec<&'a str> {
    page.lines()
        .filter(|line| line.starts_with(&format!("{metric}{{")) || line.starts_with(&format!("{metric} ")))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .collect()
}

/// The value of the one series of `metric` with `labels`.
fn value(page: &str, metric: &str, labels: &[&str]) -> f64 {
    let found = series(page, metric, labels);
    assert_eq!(found.len(), 1, "one {metric} {labels:?} series in\n{page}");
    found[0].rsplit(' ').next().unwrap().parse().unwrap()
}

async fn metrics(base: &str) -> String {
    reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap()
}

/// A span an OTLP exporter sent, as the receiver decoded it.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    kind: i32,
    attributes: Vec<String>,
}

const SERVER: i32 = opentelemetry_proto::tonic::trace::v1::span::SpanKind::Server as i32;
const CLIENT: i32 = opentelemetry_proto::tonic::trace::v1::span::SpanKind::Client as i32;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP/HTTP receiver on a port of its own, as a collector would be: what every process exports to
/// `{url}/v1/traces` (protobuf) is decoded and kept.
async fn collector() -> (String, Arc<std::sync::Mutex<Vec<Received>>>) {
    use opentelemetry_proto::tonic::{collector::trace::v1::ExportTraceServiceRequest, common::v1::any_value};
    use prost::Message;
    let spans = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = spans.clone();
    let receive = move |body: axum::body::Bytes| {
        let kept = kept.clone();
        async move {
            let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf export");
            for resource in request.resource_spans {
                let service = resource
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|a| a.key == "service.name")
                    .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                        any_value::Value::StringValue(name) => Some(name.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                    kept.lock().unwrap().push(Received {
                        service: service.clone(),
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent: hex(&span.parent_span_id),
                        name: span.name,
                        kind: span.kind,
                        attributes: span.attributes.into_iter().map(|a| a.key).collect(),
                    });
                }
            }
            ([(http::header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new())
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/v1/traces", axum::routing::post(receive));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, spans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_part_as_its_own_process_sells_through_both_bffs_and_reports_its_metrics_and_traces() {
    let (otlp, exported) = collector().await;
    let tracing = [("OTEL_EXPORTER_OTLP_ENDPOINT", otlp), ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned())];
    let platform = Topology::start_with(&tracing).await;
    let token = platform.shopper(&format!("topology-{}@example.com", Uuid::now_v7())).await;
    let (_, sku) = platform.tea().await;
    let [bff_a, bff_b] = &platform.bffs;

    let add = json!({"skuId": sku, "quantity": 2});
    let (status, answer) = call(bff_a, "/order.v1.CartService/AddCartItem", Some(&token), &add).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    let key = Uuid::now_v7().to_string();
    // The checkout is part of the browser's trace, which it says in `traceparent`.
    let (trace_id, browser_span) = (hex(Uuid::new_v4().as_bytes()), hex(&Uuid::new_v4().as_bytes()[..8]));
    let traced = reqwest::Client::new()
        .post(format!("{bff_b}/order.v1.OrderService/CreateOrder"))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace_id}-{browser_span}-01"))
        .bearer_auth(&token)
        .body(checkout(&key, APPROVE).to_string());
    let first: Value = traced.send().await.unwrap().json().await.unwrap();
    assert_eq!(first["order"]["status"].as_str(), Some("ORDER_STATUS_CONFIRMED"), "{first}");
    // The same checkout through the other replica is the same order.
    let (status, again) =
        call(bff_a, "/order.v1.OrderService/CreateOrder", Some(&token), &checkout(&key, APPROVE)).await.unwrap();
    assert_eq!((status, &again["order"]["id"]), (200, &first["order"]["id"]), "{again}");
    // A declined card: the order fails, and the reservation is released (a compensation).
    let (status, answer) = call(bff_b, "/order.v1.CartService/AddCartItem", Some(&token), &add).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    let declined = checkout(&Uuid::now_v7().to_string(), DECLINE);
    let (status, failed) = call(bff_a, "/order.v1.OrderService/CreateOrder", Some(&token), &declined).await.unwrap();
    assert_eq!((status, failed["order"]["status"].as_str()), (200, Some("ORDER_STATUS_FAILED")), "{failed}");

    // Each process counts what it did itself.
    let user = metrics(&platform.user).await;
    assert!(
        value(&user, "ec_rpc_requests_total", &["server=\"user\"", "UserService/CreateUser", "code=\"ok\""]) >= 1.0
    );
    for page in [&user, &metrics(&platform.product).await, &metrics(&platform.order).await] {
        assert!(!series(page, "ec_db_query_duration_seconds_count", &["statement=\"select\""]).is_empty(), "{page}");
        assert!(!series(page, "ec_db_pool_connections", &["state=\"in_use\""]).is_empty(), "{page}");
        assert!(!series(page, "ec_db_pool_max_connections", &[]).is_empty(), "{page}");
    }
    assert_eq!(value(&user, "ec_redis_fallback", &["feature=\"login-attempts\""]), 0.0);
    let product = metrics(&platform.product).await;
    let reserve = ["server=\"product\"", "InventoryService/BatchReserveInventory", "code=\"ok\""];
    assert_eq!(value(&product, "ec_rpc_requests_total", &reserve), 2.0);
    assert_eq!(value(&product, "ec_reservations_expired_total", &[]), 0.0);
    assert_eq!(value(&product, "ec_idempotent_replays_total", &["operation=\"reserve\""]), 0.0);
    assert!(!series(&product, "ec_db_pool_connections", &["pool=\"product_lookups\""]).is_empty());
    let order = metrics(&platform.order).await;
    let create = ["server=\"order\"", "OrderService/CreateOrder", "code=\"ok\""];
    assert_eq!(value(&order, "ec_rpc_requests_total", &create), 3.0);
    assert!(!series(&order, "ec_rpc_request_duration_seconds_bucket", &["OrderService/CreateOrder"]).is_empty());
    assert_eq!(value(&order, "ec_orders_placed_total", &[]), 2.0);
    assert_eq!(value(&order, "ec_orders_finished_total", &["status=\"confirmed\""]), 1.0);
    assert_eq!(value(&order, "ec_orders_finished_total", &["status=\"failed\""]), 1.0);
    assert_eq!(value(&order, "ec_idempotent_replays_total", &["operation=\"create_order\""]), 1.0);
    assert_eq!(value(&order, "ec_saga_steps_total", &["step=\"release\"", "outcome=\"advanced\""]), 1.0);
    assert_eq!(value(&order, "ec_saga_steps_total", &["step=\"confirm\"", "outcome=\"advanced\""]), 1.0);
    assert_eq!(value(&order, "ec_saga_recovery_lag_seconds", &[]), 0.0);
    assert_eq!(value(&order, "ec_sagas_recovered_total", &[]), 0.0);
    assert!(!series(&order, "ec_db_pool_connections", &["pool=\"order_unflushed\""]).is_empty());
    let mut key_fetches = 0.0;
    for (bff, ops) in platform.bffs.iter().zip(&platform.ops) {
        let page = metrics(ops).await;
        let created = ["server=\"bff\"", "OrderService/CreateOrder", "protocol=\"connect\"", "code=\"ok\""];
        assert_eq!(value(&page, "ec_rpc_requests_total", &created), if bff == bff_a { 2.0 } else { 1.0 }, "{page}");
        for feature in ["rate", "jwks", "revoked"] {
            assert_eq!(value(&page, "ec_redis_fallback", &[&format!("feature=\"{feature}\"")]), 0.0, "{page}");
        }
        for fallbacks in series(&page, "ec_redis_fallbacks_total", &[]) {
            assert!(fallbacks.ends_with(" 0"), "Redis answered every call: {fallbacks}");
        }
        // The replicas share the issuer's keys through Redis: one of them fetched them.
        key_fetches += series(&page, "ec_bff_jwks_fetches_total", &["result=\"ok\""]).len() as f64;
    }
    assert!(key_fetches >= 1.0);
    // Every metric the alerts and the dashboard are built on is exported.
    let mut pages = vec![user, product, order];
    for ops in &platform.ops {
        pages.push(metrics(ops).await);
    }
    let names: BTreeSet<&str> = pages
        .iter()
        .flat_map(|page| page.lines())
        .filter(|line| line.starts_with("ec_"))
        .map(|line| line.split(['{', ' ']).next().unwrap())
        .collect();
    let watched = [include_str!("../../deploy/prometheus/rules.yaml"), include_str!("../../deploy/grafana/ec.json")];
    for text in watched {
        for name in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("ec_")) {
            assert!(names.contains(name), "{name} is watched but not exported: {names:?}");
        }
    }

    // One trace, from the browser's span through the BFF, the order service and the product service, with
    // each process's own spans and its SQL statements.
    let trace = eventually("the checkout's trace to be exported", Duration::from_secs(15), || {
        let spans: Vec<Received> =
            exported.lock().unwrap().iter().filter(|s| s.trace_id == trace_id).cloned().collect();
        let product_sql = spans.iter().any(|s| s.service == "ec-product" && s.name.contains("product_service."));
        let exported = product_sql && spans.iter().any(|s| s.service == "ec-bff" && s.kind == SERVER);
        async move { if exported { Ok(spans) } else { Err(Seen(spans)) } }
    })
    .await;
    let find = |service: &str, kind: i32, name: &str, parent: &str| {
        trace
            .iter()
            .find(|s| s.service == service && s.kind == kind && s.name == name && s.parent == parent)
            .unwrap_or_else(|| panic!("no {service} span {name} under {parent} in {trace:#?}"))
    };
    let create = "/order.v1.OrderService/CreateOrder";
    let reserve = "/product.v1.InventoryService/BatchReserveInventory";
    let bff = find("ec-bff", SERVER, create, &browser_span);
    let bff_call = find("ec-bff", CLIENT, create, &bff.span_id);
    let order = find("ec-order", SERVER, create, &bff_call.span_id);
    let order_call = find("ec-order", CLIENT, reserve, &order.span_id);
    find("ec-product", SERVER, reserve, &order_call.span_id);
    // The BFF's rate limit and revocation check is one Redis call within its span.
    find("ec-bff", CLIENT, "redis", &bff.span_id);
    let statements: Vec<&Received> = trace.iter().filter(|s| s.name.contains("_service.")).collect();
    for (service, schema) in [("ec-order", " order_service."), ("ec-product", " product_service.")] {
        let own = statements.iter().filter(|s| s.service == service && s.name.contains(schema)).count();
        assert!(own >= 2, "{service}'s statements: {statements:#?}");
    }
    for statement in &statements {
        assert_eq!(statement.kind, CLIENT);
        // Named, never with its text or values.
        assert!(
            statement.attributes.iter().all(|a| a.starts_with("db.") && a != "db.query.text" && a != "db.statement"),
            "{statement:?}"
        );
    }
    platform.stop().await;
}

/// What the steady load did.
#[derive(Default)]
struct Tally {
    reads: AtomicU64,
    checkouts: AtomicU64,
    retries: AtomicU64,
}

/// Calls `procedure` until it answers, retrying what a client may retry: no connection or one closed before
/// an answer (a BFF restarting), `unavailable` (a service restarting behind the BFF) and, for a checkout under
/// its idempotency key, `deadline_exceeded` (the saga outlived the call's wait). Anything else fails the test.
/// Each try goes to the next BFF, as a load balancer would send it.
async fn until_answered(
    bffs: &[String; 2],
    procedure: &str,
    token: Option<&str>,
    body: &Value,
    tally: &Tally,
) -> Value {
    let mut turn = rand_turn();
    eventually(format!("{procedure} to be answered"), Duration::from_secs(60), || {
        turn += 1;
        let bff = &bffs[turn % 2];
        async move {
            let answer = call(bff, procedure, token, body).await;
            let retry = match &answer {
                Ok((200, body)) => return Ok(body.clone()),
                Ok((_, body)) => matches!(body["code"].as_str(), Some("unavailable" | "deadline_exceeded")),
                // Refused (the BFF is down), or closed before an answer (it was stopping as the request came):
                // retried, which the books at the end check was safe.
                Err(e) => e.is_connect() || e.is_request(),
            };
            assert!(retry, "{procedure} failed with an answer no client retries: {answer:?}");
            tally.retries.fetch_add(1, Ordering::Relaxed);
            Err(Seen(answer))
        }
    })
    .await
}

fn rand_turn() -> usize {
    Uuid::new_v4().as_bytes()[0] as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_process_under_load_loses_no_call_and_no_order() {
    let mut platform = Topology::start().await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(platform.shopper(&format!("rolling-{}@example.com", Uuid::now_v7())).await);
    }
    let (product, sku) = platform.tea().await;
    let bffs = Arc::new(platform.bffs.clone());
    let tally = Arc::new(Tally::default());
    let running = Arc::new(AtomicBool::new(true));
    let mut load = tokio::task::JoinSet::new();
    {
        let (bffs, tally, running) = (bffs.clone(), tally.clone(), running.clone());
        load.spawn(async move {
            let get = json!({"id": product});
            while running.load(Ordering::Relaxed) {
                let answer = until_answered(&bffs, "/product.v1.ProductService/GetProduct", None, &get, &tally).await;
                assert_eq!(answer["product"]["name"], "Topology sencha");
                tally.reads.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Vec::new()
        });
    }
    for token in &tokens {
        let (bffs, tally, running, token, sku) =
            (bffs.clone(), tally.clone(), running.clone(), token.clone(), sku.clone());
        load.spawn(async move {
            let mut orders = Vec::new();
            while running.load(Ordering::Relaxed) {
                let add = json!({"skuId": sku, "quantity": 1});
                until_answered(&bffs, "/order.v1.CartService/AddCartItem", Some(&token), &add, &tally).await;
                let create = checkout(&Uuid::now_v7().to_string(), APPROVE);
                let answer =
                    until_answered(&bffs, "/order.v1.OrderService/CreateOrder", Some(&token), &create, &tally).await;
                // A checkout answered while its saga still runs is asked again under the same key.
                let mut order = answer["order"].clone();
                if order["status"] == "ORDER_STATUS_PENDING" {
                    order = eventually("a pending checkout to finish", Duration::from_secs(60), || async {
                        let procedure = "/order.v1.OrderService/CreateOrder";
                        let answer = until_answered(&bffs, procedure, Some(&token), &create, &tally).await;
                        let order = answer["order"].clone();
                        if order["status"] == "ORDER_STATUS_PENDING" { Err(Seen(order)) } else { Ok(order) }
                    })
                    .await;
                }
                assert_eq!(order["status"], "ORDER_STATUS_CONFIRMED", "{order}");
                orders.push(order["id"].as_str().unwrap().to_owned());
                tally.checkouts.fetch_add(1, Ordering::Relaxed);
            }
            orders
        });
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    // Our processes; the OAuth2 server stands in for Hydra, which is not ours to restart.
    for name in ["product", "order", "user", "bff-a", "bff-b"] {
        let before = tally.reads.load(Ordering::Relaxed) + tally.checkouts.load(Ordering::Relaxed);
        platform.restart(name).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let after = tally.reads.load(Ordering::Relaxed) + tally.checkouts.load(Ordering::Relaxed);
        assert!(after > before, "no call was answered while {name} restarted");
    }
    running.store(false, Ordering::Relaxed);
    let mut answered_orders = Vec::new();
    while let Some(orders) = load.join_next().await {
        answered_orders.extend(orders.expect("the load's checks hold"));
    }
    println!(
        "rolling restart: {} reads, {} checkouts, {} retried calls",
        tally.reads.load(Ordering::Relaxed),
        tally.checkouts.load(Ordering::Relaxed),
        tally.retries.load(Ordering::Relaxed)
    );
    assert!(answered_orders.len() >= 3, "the load checked out");

    // The books: one order per answered checkout, each CONFIRMED; its reservation confirmed; nothing pending;
    // the stock down by exactly what was sold.
    let pool = &platform.database.pool;
    let orders: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, status FROM order_service.orders").fetch_all(pool).await.unwrap();
    let mut in_database: Vec<String> = orders.iter().map(|(id, _)| id.to_string()).collect();
    in_database.sort();
    answered_orders.sort();
    assert_eq!(in_database, answered_orders, "exactly the answered orders exist");
    assert!(orders.iter().all(|(_, status)| status == "confirmed"), "{orders:?}");
    let (confirmed, pending): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'confirmed'), count(*) FILTER (WHERE status = 'pending')
         FROM product_service.reservations",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!((confirmed, pending), (orders.len() as i64, 0));
    let (quantity, reserved): (i64, i64) =
        sqlx::query_as("SELECT quantity, reserved FROM product_service.inventory").fetch_one(pool).await.unwrap();
    assert_eq!((quantity, reserved), (STOCK - orders.len() as i64, 0));
    platform.stop().await;
}

#[tokio::test]
async fn the_log_lines_of_a_traced_rpc_carry_its_request_id_and_the_callers_trace_id() {
    let database = TestDatabase::create().await;
    let (otlp, _) = collector().await;
    let port = child_port();
    let part = Part {
        name: "product",
        args: ["serve", "product", "--product-addr", &local(port)].map(String::from).to_vec(),
        env: [
            ("DATABASE_URL", database.url()),
            ("RUST_LOG", "sqlx::query=debug,warn".to_owned()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec(),
        health: format!("http://{}", local(port)),
        running: None,
    };
    // Its log is what is under test: captured.
    let mut product = Process::spawn_capturing("product", part.command());
    wait_healthy(&mut product, &part.health).await;
    let trace_id = hex(Uuid::new_v4().as_bytes());
    let listed = reqwest::Client::new()
        .post(format!("{}/product.v1.ProductService/ListProducts", part.health))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .header("x-request-id", "checkout-page-42")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    product.stop(Signal::Term, Duration::from_secs(60)).await;

    // The statement's debug line was logged within the RPC's span, which names the request and the trace.
    let lines = product.lines();
    let statement = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| {
            line["target"] == "sqlx::query" && line["span"]["otel.name"] == "/product.v1.ProductService/ListProducts"
        })
        .unwrap_or_else(|| panic!("no statement logged within ListProducts:\n{}", lines.join("\n")));
    assert_eq!(statement["span"]["trace_id"], trace_id.as_str(), "{statement}");
    assert_eq!(statement["span"]["request_id"], "checkout-page-42", "{statement}");
    database.drop_now().await;
}
