//! `ec migrate` and `ec serve` as an operator runs them.

use std::process::Command;

use ec_testing::TestDatabase;

fn ec() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
    for variable in ["DATABASE_URL", "USER_SERVICE_URL", "BFF_ADDR", "USER_ADDR"] {
        command.env_remove(variable);
    }
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
        .args(["serve", "bff", "--bff-addr", "127.0.0.1:0", "--user-service-url", "https://user:50051"])
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
    let output = ec().args(["serve", "bff", "--bff-addr", &addr]).output().unwrap();
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
    ec_user::accounts::create(&database.pool, email, password, None).await.unwrap();

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
