//! Helpers for tests that need a real PostgreSQL: a fresh database per test, so tests run in parallel without
//! seeing each other's rows. Used by this workspace's tests only.

use sqlx::{ConnectOptions, PgPool, postgres::PgConnectOptions};

/// The server tests create their databases on: `DATABASE_URL`, or the local PostgreSQL.
pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database of its own for one test, dropped by [`TestDatabase::drop_now`]. Missing PostgreSQL is a loud
/// failure, never a skip.
pub struct TestDatabase {
    pub pool: PgPool,
    options: PgConnectOptions,
    admin: PgPool,
    name: String,
}

impl TestDatabase {
    /// Creates an empty database with a unique name.
    pub async fn create() -> Self {
        let admin_url = admin_database_url();
        let admin = PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!("PostgreSQL must be running at DATABASE_URL ({admin_url}); `make test` starts it: {e}")
        });
        let name = format!("ec_test_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("the DATABASE_URL role must be allowed to create databases");
        let options = admin_url.parse::<PgConnectOptions>().expect("DATABASE_URL is a valid URL").database(&name);
        let pool = PgPool::connect_with(options.clone()).await.expect("connect to the test database");
        Self { pool, options, admin, name }
    }

    /// The database's URL, for a child process.
    pub fn url(&self) -> String {
        self.options.to_url_lossy().to_string()
    }

    /// Closes every connection and drops the database.
    pub async fn drop_now(self) {
        self.pool.close().await;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&self.admin)
            .await
            .expect("drop the test database");
    }
}
