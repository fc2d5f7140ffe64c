//! PostgreSQL: the connection pool and the per-schema migrator.
//!
//! Every service owns one schema and keeps its migration history in a `_sqlx_migrations` table *inside* that
//! schema. Three services can therefore share one database, each numbering its migrations from 1, without
//! seeing each other's history; and a service can move to its own database later with nothing to rename.
//! Migration SQL names its tables with the schema (`user_service.users`), so it does not depend on the
//! connection's `search_path`.

use std::time::Duration;

use sqlx::{PgPool, migrate::Migrator, postgres::PgPoolOptions};

use crate::config::DatabaseArgs;

pub use sqlx::migrate::MigrateError;

/// How long a query waits for a connection from a pool before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a pool and checks that PostgreSQL answers.
pub async fn connect(args: &DatabaseArgs) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new().max_connections(args.max_connections).acquire_timeout(ACQUIRE_TIMEOUT).connect(&args.url).await
}

/// A pool whose commits do not wait for their WAL to reach the disk (`synchronous_commit = off`, a setting
/// each of its connections opens with, so it costs no round trip and needs no transaction), for writes a
/// database crash may lose without harm: such a crash loses the last moments of commits (never part of one,
/// never out of order), and the first later commit that does wait makes every earlier one durable too. Each
/// caller says why its writes are of that kind.
///
/// It is a second pool to the same database as a service's main one, as large at most, and opens its
/// connections when they are first needed.
#[derive(Clone, Debug)]
pub struct Unflushed(PgPool);

impl Unflushed {
    /// An unflushed pool beside `pool`: the same database and the same size.
    pub fn beside(pool: &PgPool) -> Self {
        Self(beside(pool, "synchronous_commit", "off"))
    }

    /// The pool, for statements and transactions whose commits may be lost with a database crash.
    pub fn pool(&self) -> &PgPool {
        &self.0
    }
}

/// A pool whose connections plan each prepared statement once and keep that plan (`plan_cache_mode =
/// force_generic_plan`, a setting each of them opens with), for statements that look rows up by a list of keys
/// (`id = ANY($1)`) and are run often. PostgreSQL would otherwise plan such a statement afresh on every
/// execution: a plan made for the actual array always looks cheaper than the generic one, whose estimate is
/// for "some array", though both are the same index lookups; and planning a join costs many times what
/// running it by key does. Statements whose best plan depends on their values (a search, a price range) do
/// not belong here.
///
/// Like [`Unflushed`], a second pool to the same database as a service's main one, as large at most, that opens
/// its connections when they are first needed.
#[derive(Clone, Debug)]
pub struct GenericPlans(PgPool);

impl GenericPlans {
    /// A generic-plan pool beside `pool`: the same database and the same size.
    pub fn beside(pool: &PgPool) -> Self {
        Self(beside(pool, "plan_cache_mode", "force_generic_plan"))
    }

    /// The pool, for lookups by lists of keys.
    pub fn pool(&self) -> &PgPool {
        &self.0
    }
}

/// A second pool to `pool`'s database, as large, whose connections open with `setting` = `value`; lazily
/// connected.
fn beside(pool: &PgPool, setting: &str, value: &str) -> PgPool {
    let options = pool.connect_options().as_ref().clone().options([(setting, value)]);
    PgPoolOptions::new()
        .max_connections(pool.options().get_max_connections())
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options)
}

/// A failed query as the answer to an RPC. A deadlock or serialization failure is PostgreSQL giving up a
/// transaction it could not order: nothing was written and the same call again can succeed, so it is
/// `aborted`. Anything else is `internal`, logged here, its detail kept from the caller.
pub fn connect_error(e: &sqlx::Error) -> connectrpc::ConnectError {
    let retryable =
        e.as_database_error().and_then(|db| db.code()).is_some_and(|code| code == "40P01" || code == "40001");
    if retryable {
        tracing::warn!(
            error = e as &dyn std::error::Error,
            "transaction aborted by the database; the caller may retry"
        );
        connectrpc::ConnectError::aborted("a concurrent change got in the way; retry")
    } else {
        tracing::error!(error = e as &dyn std::error::Error, "internal error");
        connectrpc::ConnectError::internal("internal error")
    }
}

/// The constraint `e` violates (a unique index, a foreign key, a check), if it is a constraint violation.
/// Table modules turn the ones they expect into domain answers with
/// [`ServiceError::on_violation`](crate::error::ServiceError::on_violation).
pub fn violated_constraint(e: &sqlx::Error) -> Option<&str> {
    e.as_database_error()?.constraint()
}

/// Applies `migrator`'s pending migrations inside `schema`, creating the schema if needed. Safe to run
/// concurrently from several replicas: sqlx takes a database-wide advisory lock while migrating.
pub async fn migrate(pool: &PgPool, schema: &'static str, mut migrator: Migrator) -> Result<(), MigrateError> {
    migrator.create_schema(schema);
    migrator.dangerous_set_table_name(format!("{schema}._sqlx_migrations"));
    migrator.run(pool).await?;
    tracing::info!(schema, "database schema is up to date");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ec_testing::TestDatabase;

    fn migrator(sql: &'static str) -> Migrator {
        Migrator::with_migrations(vec![sqlx::migrate::Migration::new(
            1,
            "first".into(),
            sqlx::migrate::MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe(sql)),
            false,
        )])
    }

    #[tokio::test]
    async fn two_schemas_with_the_same_migration_version_do_not_collide() {
        let database = TestDatabase::create().await;
        let pool = &database.pool;

        migrate(pool, "alpha_service", migrator("CREATE TABLE alpha_service.things (id int)")).await.unwrap();
        migrate(pool, "beta_service", migrator("CREATE TABLE beta_service.things (id int)")).await.unwrap();
        // Running again is a no-op, not an error.
        migrate(pool, "alpha_service", migrator("CREATE TABLE alpha_service.things (id int)")).await.unwrap();

        for schema in ["alpha_service", "beta_service"] {
            let versions: Vec<i64> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT version FROM {schema}._sqlx_migrations")))
                    .fetch_all(pool)
                    .await
                    .unwrap();
            assert_eq!(versions, vec![1], "schema {schema} keeps its own history");
        }
        let in_public: Option<String> =
            sqlx::query_scalar("SELECT to_regclass('public._sqlx_migrations')::text").fetch_one(pool).await.unwrap();
        assert_eq!(in_public, None, "nothing is written to the public schema");

        database.drop_now().await;
    }

    /// A caller that gives up while its `BEGIN` is on the wire (a client's deadline, a dropped connection) must
    /// not hand the pool's next borrower a session still inside that transaction: the borrower's statements
    /// would hold their locks until the session ends and vanish with it. sqlx 0.9.0 did (the checkout saga
    /// saw a reservation it had been given come back `not_found`); 0.9.1 rolls the transaction back.
    #[tokio::test]
    async fn a_transaction_abandoned_while_it_begins_is_not_left_open_for_the_next_borrower() {
        let database = TestDatabase::create().await;
        let pool = connect(&DatabaseArgs { url: database.url(), max_connections: 1 }).await.unwrap();
        // Given up once the server runs it: the transaction has begun there, and its answer is still to come.
        let begin = pool.begin_with("BEGIN; SELECT pg_sleep(2)");
        let running = ec_testing::eventually("the BEGIN to run on the server", Duration::from_secs(2), || async {
            let running: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE query = 'BEGIN; SELECT pg_sleep(2)' AND state = 'active'",
            )
            .fetch_one(&database.pool)
            .await
            .unwrap();
            running == 1
        });
        tokio::select! {
            begun = begin => panic!("the BEGIN was answered before it was given up: {:?}", begun.map(|_| ())),
            () = running => {}
        }

        // The pool's one connection again: what it writes is there for everyone once the statement returns, and
        // the session is left idle, not idle in a transaction.
        let mut borrowed = pool.acquire().await.unwrap();
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut *borrowed).await.unwrap();
        sqlx::query("CREATE TABLE public.written (id int)").execute(&mut *borrowed).await.unwrap();
        let state: Option<String> = sqlx::query_scalar("SELECT state FROM pg_stat_activity WHERE pid = $1")
            .bind(pid)
            .fetch_one(&database.pool)
            .await
            .unwrap();
        assert_eq!(
            state.as_deref(),
            Some("idle"),
            "the next borrower's statements ran inside the abandoned transaction"
        );
        let seen: Option<String> =
            sqlx::query_scalar("SELECT to_regclass('public.written')::text").fetch_one(&database.pool).await.unwrap();
        assert_eq!(seen.as_deref(), Some("written"), "another session sees the write");

        drop(borrowed);
        pool.close().await;
        database.drop_now().await;
    }

    #[tokio::test]
    async fn an_edited_migration_is_refused() {
        let database = TestDatabase::create().await;
        let pool = &database.pool;
        migrate(pool, "gamma_service", migrator("CREATE TABLE gamma_service.t (id int)")).await.unwrap();

        let err =
            migrate(pool, "gamma_service", migrator("CREATE TABLE gamma_service.t (id bigint)")).await.unwrap_err();
        assert!(matches!(err, MigrateError::VersionMismatch(1)), "got {err:?}");

        database.drop_now().await;
    }
}
