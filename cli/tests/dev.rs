//! `ec dev` as a user runs it: the real binary, its embedded PostgreSQL, Ctrl-C, and a second start that finds
//! the first one's data.

use std::{
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

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

/// A running `ec dev`; interrupted like Ctrl-C if a test fails half-way, so nothing is left running.
struct Dev {
    child: Option<Child>,
}

impl Dev {
    /// `ec dev` on its embedded PostgreSQL, its data in `data_dir`.
    fn start(data_dir: &Path, ports: &Ports) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
        command.arg("dev").args(["--pg-data-dir", data_dir.to_str().unwrap()]);
        // The embedded database is what is under test, whatever the test runner's environment says.
        command.env_remove("DATABASE_URL");
        Self::spawn(command, ports)
    }

    /// `ec dev` on the PostgreSQL database at `url`, with `args`.
    fn start_on(url: &str, ports: &Ports, args: &[&str]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
        command.arg("dev").args(["--database-url", url]).args(args);
        Self::spawn(command, ports)
    }

    fn spawn(mut command: Command, ports: &Ports) -> Self {
        let addr = |port: u16| format!("127.0.0.1:{port}");
        let child = command
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
            .stderr(Stdio::inherit())
            .spawn()
            .expect("ec starts");
        Self { child: Some(child) }
    }

    /// Waits until `ec dev` listens on `port`; fails at once if it exited instead.
    async fn wait_until_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err() {
            let child = self.child.as_mut().expect("still running");
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                panic!("ec dev exited ({status}) before it opened port {port}; its error is above");
            }
            assert!(Instant::now() < deadline, "ec dev did not open port {port} within 120 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Sends SIGINT, as Ctrl-C does, and waits for a clean exit.
    fn interrupt(&mut self) {
        self.signal("-INT");
    }

    /// Sends SIGTERM, as `docker stop` and Kubernetes do, and waits for a clean exit.
    fn terminate(&mut self) {
        self.signal("-TERM");
    }

    fn signal(&mut self, signal: &str) {
        let mut child = self.child.take().expect("still running");
        let status = Command::new("kill").args([signal, &child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "ec dev exits cleanly on Ctrl-C, got {status}");
                return;
            }
            assert!(Instant::now() < deadline, "ec dev did not stop within 30 s of Ctrl-C");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if self.child.is_some() && !std::thread::panicking() {
            self.interrupt();
        } else if let Some(child) = &mut self.child {
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
}

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
    let mut dev = Dev::start_on(&database.url(), &ports, &[]);
    dev.wait_until_listening(ports.bff).await;
    assert_eq!(demo_accounts().await, 0, "no demo account in a database given by DATABASE_URL");
    assert_eq!(public_catalog(ports.bff).await, (0, 0), "nor the demo catalog");
    dev.interrupt();

    let ports = Ports::free();
    let mut dev = Dev::start_on(&database.url(), &ports, &["--demo-data"]);
    dev.wait_until_listening(ports.bff).await;
    assert_eq!(demo_accounts().await, 2, "--demo-data asks for them");
    dev.interrupt();
    database.drop_now().await;
}

#[tokio::test]
async fn ec_dev_runs_on_an_embedded_postgres_stops_it_on_ctrl_c_or_sigterm_and_keeps_its_data() {
    let dir = TempDir(std::env::temp_dir().join(format!("ec-dev-test-{}", uuid::Uuid::now_v7().simple())));
    let ports = Ports::free();

    let mut first = Dev::start(&dir.0, &ports);
    first.wait_until_listening(ports.bff).await;
    let (status, created) = create_user(ports.bff, "keep@example.com").await;
    assert_eq!(status, 200, "{created}");
    // The demo catalog: 60 products (one hidden and one draft, so 58 listed) under 3 root categories.
    assert_eq!(public_catalog(ports.bff).await, (58, 3));
    first.interrupt();

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

    let mut second = Dev::start(&dir.0, &ports);
    second.wait_until_listening(ports.bff).await;
    let (status, error) = create_user(ports.bff, "keep@example.com").await;
    assert_eq!((status, error["code"].as_str()), (409, Some("already_exists")), "the account survived the restart");
    assert_eq!(public_catalog(ports.bff).await, (58, 3), "the demo catalog is loaded once");
    second.terminate();
    assert!(port_is_closed(ports.postgres), "SIGTERM stops the embedded PostgreSQL too");
}
