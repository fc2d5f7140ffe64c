//! `ec dev` as a user runs it: the real binary, its embedded PostgreSQL, Ctrl-C, and a second start that finds
//! the first one's data.

use std::{
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use ec_testing::{Process, Signal};
use serde_json::{Value, json};

struct Ports {
    bff: u16,
    user: u16,
    product: u16,
    order: u16,
    login: u16,
    oauth_public: u16,
    oauth_admin: u16,
    postgres: u16,
}

/// `ec dev` on its embedded PostgreSQL, its data in `data_dir`.
fn dev(data_dir: &Path, ports: &Ports) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
    command.arg("dev").args(["--pg-data-dir", data_dir.to_str().unwrap()]);
    // The embedded database is what is under test, whatever the test runner's environment says.
    command.env_remove("DATABASE_URL");
    spawn(command, ports)
}

/// `ec dev` on the PostgreSQL database at `url`, with `args`.
fn dev_on(url: &str, ports: &Ports, args: &[&str]) -> Process {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
    // Pictures in a directory of the test's own, not `.ec/media` in the crate.
    let media = std::env::temp_dir().join(format!("ec-dev-media-{}", uuid::Uuid::now_v7().simple()));
    let media = url::Url::from_directory_path(media).expect("the temporary directory is absolute").to_string();
    command.arg("dev").args(["--database-url", url, "--media-store", &media]).args(args);
    spawn(command, ports)
}

/// A running `ec dev`; interrupted like Ctrl-C if a test fails half-way, so its embedded PostgreSQL stops too
/// and nothing is left running.
fn spawn(mut command: Command, ports: &Ports) -> Process {
    let addr = |port: u16| format!("127.0.0.1:{port}");
    command
        .args(["--pg-port", &ports.postgres.to_string()])
        .args(["--bff-addr", &addr(ports.bff)])
        .args(["--ops-addr", "127.0.0.1:0"])
        .args(["--user-addr", &addr(ports.user)])
        .args(["--product-addr", &addr(ports.product)])
        .args(["--order-addr", &addr(ports.order)])
        .args(["--login-addr", &addr(ports.login)])
        .args(["--oauth-public-addr", &addr(ports.oauth_public)])
        .args(["--oauth-admin-addr", &addr(ports.oauth_admin)])
        .env_remove("EC_ENV")
        .env_remove("USER_SERVICE_URL")
        .env_remove("HYDRA_ADMIN_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    Process::spawn("ec dev", command).stop_on_drop(Signal::Int)
}

/// How long `ec dev` may take to open its ports (initdb on a first start) and to stop.
const START: Duration = Duration::from_secs(120);
const STOP: Duration = Duration::from_secs(30);

async fn create_user(bff: u16, email: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{bff}/user.v1.UserService/CreateUser"))
        .header("content-type", "application/json")
        .body(json!({"email": email, "password": "correct horse"}).to_string())
        .send()
        .await
        .expect("the BFF answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// How many products the public catalog lists, and how many root categories it has.
async fn public_catalog(bff: u16) -> (usize, usize) {
    let call = |method: &str, body: Value| {
        reqwest::Client::new()
            .post(format!("http://127.0.0.1:{bff}/product.v1.ProductService/{method}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let mut products = 0;
    let mut token = String::new();
    loop {
        let page: Value =
            call("ListProducts", json!({"pageSize": 100, "pageToken": token})).await.unwrap().json().await.unwrap();
        products += page["products"].as_array().map_or(0, Vec::len);
        token = page["nextPageToken"].as_str().unwrap_or("").to_owned();
        if token.is_empty() {
            break;
        }
    }
    let tree: Value = call("ListCategories", json!({})).await.unwrap().json().await.unwrap();
    (products, tree["categories"].as_array().map_or(0, Vec::len))
}

fn port_is_closed(port: u16) -> bool {
    TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err()
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Ports {
    fn free() -> Self {
        Ports {
            bff: ec_testing::child_port(),
            user: ec_testing::child_port(),
            product: ec_testing::child_port(),
            order: ec_testing::child_port(),
            login: ec_testing::child_port(),
            oauth_public: ec_testing::child_port(),
            oauth_admin: ec_testing::child_port(),
            postgres: ec_testing::child_port(),
        }
    }
}

#[tokio::test]
async fn ec_dev_pointed_at_a_database_of_its_own_makes_demo_accounts_there_only_when_asked() {
    let database = ec_testing::TestDatabase::create().await;
    let demo_accounts = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM user_service.users WHERE email IN ('admin@example.com', 'shopper@example.com')",
        )
        .fetch_one(&database.pool)
        .await
        .unwrap()
    };
    // Someone's own account with the demo admin's email must not become an admin with a public password.
    let ports = Ports::free();
    let mut dev = dev_on(&database.url(), &ports, &[]);
    dev.wait_for_port(ports.bff, START).await;
    assert_eq!(demo_accounts().await, 0, "no demo account in a database given by DATABASE_URL");
    assert_eq!(public_catalog(ports.bff).await, (0, 0), "nor the demo catalog");
    dev.stop(Signal::Int, STOP).await;

    let ports = Ports::free();
    let mut dev = dev_on(&database.url(), &ports, &["--demo-data"]);
    dev.wait_for_port(ports.bff, START).await;
    assert_eq!(demo_accounts().await, 2, "--demo-data asks for them");
    dev.stop(Signal::Int, STOP).await;
    database.drop_now().await;
}

#[tokio::test]
async fn ec_dev_runs_on_an_embedded_postgres_stops_it_on_ctrl_c_or_sigterm_and_keeps_its_data() {
    let dir = TempDir(std::env::temp_dir().join(format!("ec-dev-test-{}", uuid::Uuid::now_v7().simple())));
    let ports = Ports::free();

    let mut first = dev(&dir.0, &ports);
    first.wait_for_port(ports.bff, START).await;
    let (status, created) = create_user(ports.bff, "keep@example.com").await;
    assert_eq!(status, 200, "{created}");
    // The demo catalog: 60 products (one hidden and one draft, so 58 listed) under 3 root categories.
    assert_eq!(public_catalog(ports.bff).await, (58, 3));
    first.stop(Signal::Int, STOP).await;

    for (name, port) in [
        ("BFF", ports.bff),
        ("user", ports.user),
        ("product", ports.product),
        ("order", ports.order),
        ("login pages", ports.login),
        ("OAuth2 public", ports.oauth_public),
        ("OAuth2 admin", ports.oauth_admin),
        ("PostgreSQL", ports.postgres),
    ] {
        assert!(port_is_closed(port), "{name} still listens on {port} after Ctrl-C");
    }
    assert!(!dir.0.join("data/postmaster.pid").exists(), "the embedded PostgreSQL was shut down cleanly");

    let mut second = dev(&dir.0, &ports);
    second.wait_for_port(ports.bff, START).await;
    let (status, error) = create_user(ports.bff, "keep@example.com").await;
    assert_eq!((status, error["code"].as_str()), (409, Some("already_exists")), "the account survived the restart");
    assert_eq!(public_catalog(ports.bff).await, (58, 3), "the demo catalog is loaded once");
    second.stop(Signal::Term, STOP).await;
    assert!(port_is_closed(ports.postgres), "SIGTERM stops the embedded PostgreSQL too");
}
