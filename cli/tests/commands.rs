//! `ec migrate` and `ec serve` as an operator runs them.

use std::process::Command;

use sqlx::{ConnectOptions, PgPool, postgres::PgConnectOptions};

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn ec() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ec"));
    for variable in ["DATABASE_URL", "USER_SERVICE_URL", "BFF_ADDR", "USER_ADDR"] {
        command.env_remove(variable);
    }
    command
}

#[tokio::test]
async fn ec_migrate_creates_every_schema_and_is_safe_to_repeat() {
    let admin = PgPool::connect(&admin_url())
        .await
        .expect("PostgreSQL must be running (make test starts it)");
    let name = format!("ec_migrate_test_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    let options: PgConnectOptions = admin_url().parse().unwrap();
    let url = options.clone().database(&name).to_url_lossy().to_string();

    for run in 1..=2 {
        let output = ec()
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let pool = PgPool::connect_with(options.database(&name)).await.unwrap();
    for schema in ["user_service", "product_service", "order_service"] {
        let history: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(format!("{schema}._sqlx_migrations"))
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(history.is_some(), "{schema} has its own migration history");
    }
    let users: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('user_service.users')::text")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(users.is_some());
    pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
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
        .args([
            "serve",
            "bff",
            "--bff-addr",
            "127.0.0.1:0",
            "--user-service-url",
            "https://user:50051",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("https://user:50051") && stderr.contains("http://host:port"),
        "{stderr}"
    );
}

#[test]
fn ec_serve_reports_a_port_that_is_taken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = ec()
        .args(["serve", "bff", "--bff-addr", &addr])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
}
