//! `ec`: the platform's command line. See `ec --help`.

/// mimalloc instead of the system allocator: a request allocates many small, short-lived buffers (headers,
/// messages, futures), and glibc's malloc spent a sixth of the CPU time on them under load
/// (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use ec_cli::{
    demo,
    embedded_pg::{EmbeddedPgArgs, EmbeddedPostgres},
    health,
    platform::{self, Platform, PlatformConfig},
    web::{self, StorefrontArgs, WebArgs},
};
use ec_platform::{
    config::{DatabaseArgs, RedisArgs, ShutdownArgs},
    db,
    environment::{Environment, EnvironmentArgs},
    events::EventArgs,
    identity::InternalAuthArgs,
    media::MediaArgs,
    server::{Server, ServingArgs},
    shutdown::{self, CancellationToken},
    startup::Dependencies,
    telemetry::{self, LogArgs, LogFormat},
};

/// The e-commerce platform: a BFF (Connect, gRPC-Web, gRPC) in front of user, product and order services.
#[derive(Parser)]
#[command(name = "ec", version, propagate_version = true)]
struct Cli {
    /// Log line format: json or pretty. Default: pretty for `dev`, `user`, `catalog` and `check-health`, json
    /// otherwise. Level filter: RUST_LOG.
    #[arg(long = "log-format", env = "LOG_FORMAT", value_enum, global = true)]
    log_format: Option<LogFormat>,

    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up; boxing the big variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run every service, the BFF, the login pages and an embedded OAuth2 server in one process on the standard
    /// ports (BFF 8080, user 50051, product 50052, order 50053, login 8051, OAuth2 4444/4445, and the storefront
    /// 5173 when it is built), with demo
    /// accounts and, on first start, a demo catalog. Without DATABASE_URL, starts an embedded PostgreSQL from the local server binaries and stops it
    /// on exit. With HYDRA_ADMIN_URL, uses that Hydra instead of the embedded server. Ctrl-C stops everything.
    Dev(DevArgs),
    /// Run one service (or the BFF) as its own process, as in production. Services migrate their schema at
    /// start-up.
    #[command(subcommand)]
    Serve(Service),
    /// Create the database if it does not exist, apply every service's migrations, then exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Also create the demo accounts (their passwords are public) and load the demo catalog into an empty
        /// catalog, as `ec dev` does. Refused in production.
        #[arg(long = "demo-data")]
        demo_data: bool,
        #[command(flatten)]
        environment: EnvironmentArgs,
        /// Where the demo catalog's pictures go; unset, it is loaded without them.
        #[command(flatten)]
        media: MediaArgs,
    },
    /// Operator tasks on accounts, run directly against the database.
    #[command(subcommand)]
    User(UserCommand),
    /// Operator tasks on the catalog, run directly against the database.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Exit 0 when the server at URL is healthy: without a path, a gRPC server that reports SERVING
    /// (grpc.health.v1); with one, an HTTP 2xx answer. For container health checks (the image has no curl).
    CheckHealth {
        /// For example http://127.0.0.1:50051 or http://127.0.0.1:8090/ready.
        url: url::Url,
    },
}

#[derive(clap::Args)]
struct DevArgs {
    /// PostgreSQL URL. Unset: use the embedded PostgreSQL described by the --pg-* flags.
    #[arg(id = "database_url", long = "database-url", env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// Most connections a service's pool keeps open to PostgreSQL (the order and product services each open a
    /// second pool as large: the order service for writes that need no disk flush, the product service for
    /// lookups by lists of keys).
    #[arg(
        id = "database_max_connections",
        long = "database-max-connections",
        env = "DATABASE_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    database_max_connections: u32,

    /// Do not create the demo accounts, nor load the demo catalog into an empty catalog.
    #[arg(long = "no-demo-data", conflicts_with = "demo_data")]
    no_demo_data: bool,

    /// Create the demo accounts (their passwords are public; an existing account with the demo admin's email
    /// becomes an admin) and load the demo catalog into an empty catalog even in the database of DATABASE_URL.
    /// Without it, demo data goes only into the embedded PostgreSQL.
    #[arg(long = "demo-data")]
    demo_data: bool,

    #[command(flatten)]
    embedded: EmbeddedPgArgs,

    #[command(flatten)]
    platform: PlatformConfig,
}

#[allow(clippy::large_enum_variant)]
/// What every `ec serve` process takes besides its service's own settings.
#[derive(clap::Args)]
struct ProcessArgs {
    #[command(flatten)]
    redis: RedisArgs,
    #[command(flatten)]
    events: EventArgs,
    #[command(flatten)]
    internal: InternalAuthArgs,
    #[command(flatten)]
    serving: ServingArgs,
    #[command(flatten)]
    shutdown: ShutdownArgs,
    #[command(flatten)]
    environment: EnvironmentArgs,
}

impl ProcessArgs {
    /// Connects what the process's service shares (Redis, the internal secret, the serving settings), in
    /// the environment it says (production when it says none).
    async fn dependencies(&self) -> anyhow::Result<Dependencies> {
        let environment = self.environment.resolve(Environment::Production);
        Ok(Dependencies::connect(&self.redis, &self.internal, &self.serving, &self.events, environment).await?)
    }
}

#[derive(Subcommand)]
enum Service {
    /// The user service (accounts and credentials), with the login pages when HYDRA_ADMIN_URL is set.
    User {
        #[command(flatten)]
        config: ec_user::config::UserConfig,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        process: ProcessArgs,
    },
    /// The product service (catalog and inventory).
    Product {
        #[command(flatten)]
        config: ec_product::config::ProductConfig,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Where uploaded pictures are written.
        #[command(flatten)]
        media: MediaArgs,
        #[command(flatten)]
        process: ProcessArgs,
    },
    /// The order service (carts and orders).
    Order {
        #[command(flatten)]
        config: ec_order::config::OrderConfig,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        process: ProcessArgs,
    },
    /// The BFF, the public front door.
    Bff {
        #[command(flatten)]
        config: ec_bff::config::BffConfig,
        /// Where the pictures served under /media/ are read.
        #[command(flatten)]
        media: MediaArgs,
        #[command(flatten)]
        process: ProcessArgs,
    },
    /// The storefront: the built single-page app and the /config.json that points it at the BFF and the issuer.
    Web {
        #[command(flatten)]
        web: WebArgs,
        #[command(flatten)]
        storefront: StorefrontArgs,
        #[command(flatten)]
        serving: ServingArgs,
        #[command(flatten)]
        shutdown: ShutdownArgs,
    },
    /// The embedded OAuth2 server (a development stand-in for Ory Hydra; refuses EC_ENV=production, which is
    /// what an unset EC_ENV means here).
    Oauth {
        #[command(flatten)]
        config: ec_oauth_server::config::OAuthServerConfig,
        #[command(flatten)]
        shutdown: ShutdownArgs,
        #[command(flatten)]
        environment: EnvironmentArgs,
    },
}

impl Service {
    /// The process's `service.name` in its traces.
    fn trace_name(&self) -> &'static str {
        match self {
            Service::User { .. } => "ec-user",
            Service::Product { .. } => "ec-product",
            Service::Order { .. } => "ec-order",
            Service::Bff { .. } => "ec-bff",
            Service::Web { .. } => "ec-web",
            Service::Oauth { .. } => "ec-oauth",
        }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Give an existing account the admin role. This is how the first admin is made: sign up, then run this.
    /// Later admins can be made by an admin through SetUserRole.
    MakeAdmin {
        /// Email of the account (any case).
        #[arg(long)]
        email: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(clap::Subcommand)]
enum CatalogCommand {
    /// Load categories, products, SKUs with their stock, and images from a JSON or CSV file (see
    /// `ec_product::import` for the formats). Idempotent: categories are found by slug path and products whose
    /// SKU codes exist already are left as they are.
    Import {
        /// The file; `.csv` is read as CSV, anything else as JSON.
        file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
        /// Where the pictures of `"file"` images go (they are read beside the catalog file).
        #[command(flatten)]
        media: MediaArgs,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let default_format = match cli.command {
        Command::Dev(_) | Command::User(_) | Command::Catalog(_) | Command::CheckHealth { .. } => LogFormat::Pretty,
        _ => LogFormat::Json,
    };
    // Each process names itself in its traces by what it serves.
    let traced = match &cli.command {
        Command::Dev(_) => Some("ec"),
        Command::Serve(service) => Some(service.trace_name()),
        _ => None,
    };
    let telemetry = telemetry::init(&LogArgs { format: cli.log_format.unwrap_or(default_format) }, traced);
    let stop = CancellationToken::new();
    shutdown::cancel_on_signal(stop.clone());

    let result = match cli.command {
        Command::Dev(args) => dev(args, stop).await,
        Command::Serve(service) => serve(service, stop).await,
        Command::Migrate { database, demo_data, environment, media } => {
            migrate(&database, demo_data, environment.resolve(Environment::Production), &media).await
        }
        Command::User(UserCommand::MakeAdmin { email, database }) => make_admin(&email, &database).await,
        Command::Catalog(CatalogCommand::Import { file, database, media }) => {
            import_catalog(&file, &database, &media).await
        }
        Command::CheckHealth { url } => health::check(&url).await,
    };
    telemetry.shutdown();
    result
}

async fn dev(mut args: DevArgs, stop: CancellationToken) -> anyhow::Result<()> {
    let mut embedded = None;
    if args.platform.media.media_store.is_none() {
        // Beside the embedded PostgreSQL's files (`.ec/media` by default): a developer's pictures outlive a
        // restart, as their catalog does, and go where a test's own data directory is.
        let beside = args.embedded.data_dir.parent().unwrap_or(std::path::Path::new("."));
        let dir = std::path::absolute(beside.join("media"))?;
        let url =
            url::Url::from_directory_path(&dir).map_err(|()| anyhow::anyhow!("{} is not a path", dir.display()))?;
        args.platform.media.media_store = Some(url.to_string());
    }
    let url = match args.database_url {
        Some(url) => url,
        None => {
            let settings = args.embedded.clone();
            let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&settings)).await??;
            let url = pg.url();
            connect_creating(&DatabaseArgs { url: url.clone(), max_connections: 1 }).await?.close().await;
            embedded = Some(pg);
            url
        }
    };
    let environment = args.platform.environment.resolve(Environment::Development);
    let demo_data = demo::wanted(environment, embedded.is_some(), args.no_demo_data, args.demo_data);
    if embedded.is_none() && !demo_data && !args.no_demo_data {
        tracing::info!("DATABASE_URL is set: no demo accounts or catalog are made there (--demo-data makes them)");
    }
    let database = DatabaseArgs { url, max_connections: args.database_max_connections };
    let result = run_platform(&database, &args.platform, demo_data, stop).await;
    if let Some(mut pg) = embedded {
        tokio::task::spawn_blocking(move || pg.stop()).await??;
    }
    result
}

async fn run_platform(
    database: &DatabaseArgs,
    config: &PlatformConfig,
    demo_data: bool,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    if demo_data {
        let pool = db::connect(database).await.context("cannot connect to PostgreSQL")?;
        platform::migrate_all(&pool).await?;
        load_demo_data(&pool, &config.media).await?;
        pool.close().await;
    }
    let running = Platform::start(config, database, stop).await?;
    println!("{}", demo::banner(&running.addresses, &config.oauth, demo_data));
    running.wait().await
}

/// `ec migrate`: the database created if missing, every schema brought up to date, and the demo data loaded
/// when asked for (never in production).
async fn migrate(
    database: &DatabaseArgs,
    demo_data: bool,
    environment: Environment,
    media: &MediaArgs,
) -> anyhow::Result<()> {
    if demo_data && environment == Environment::Production {
        anyhow::bail!("EC_ENV=production refuses --demo-data: the demo admin's password is public");
    }
    let pool = connect_creating(database).await?;
    platform::migrate_all(&pool).await?;
    if demo_data {
        load_demo_data(&pool, media).await?;
    }
    pool.close().await;
    Ok(())
}

/// The demo accounts, and the demo catalog if the catalog is empty.
async fn load_demo_data(pool: &sqlx::PgPool, media: &MediaArgs) -> anyhow::Result<()> {
    demo::ensure_accounts(pool).await?;
    let media = media.open()?.map(ec_product::pictures::Media::new);
    if let Some(report) = ec_product::import::load_demo_if_empty(pool, media.as_ref()).await? {
        tracing::info!(products = report.products_created, skus = report.skus_created, "demo catalog loaded");
    }
    Ok(())
}

/// A pool to `database`, which is created first if it does not exist. Only then is the server's `postgres`
/// database reached (to run `CREATE DATABASE`), so a role that may connect to its own database alone, as in
/// production, migrates an existing one.
async fn connect_creating(database: &DatabaseArgs) -> anyhow::Result<sqlx::PgPool> {
    use sqlx::migrate::MigrateDatabase;
    const INVALID_CATALOG_NAME: &str = "3D000";
    match db::connect(database).await {
        Err(e) if e.as_database_error().and_then(|db| db.code()).as_deref() == Some(INVALID_CATALOG_NAME) => {
            sqlx::Postgres::create_database(&database.url).await.context("cannot create the database")?;
            tracing::info!("database created");
            Ok(db::connect(database).await.context("cannot connect to the database just created")?)
        }
        connected => connected.context("cannot connect to PostgreSQL"),
    }
}

async fn import_catalog(path: &std::path::Path, database: &DatabaseArgs, media: &MediaArgs) -> anyhow::Result<()> {
    use ec_product::import;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let is_csv = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let file = if is_csv { import::parse_csv(&text)? } else { import::parse_json(&text)? };
    let pool = db::connect(database).await.context("cannot connect to PostgreSQL")?;
    db::migrate(&pool, ec_product::SCHEMA, ec_product::migrator()).await?;
    let media = media.open()?.map(ec_product::pictures::Media::new);
    let beside = path.parent().unwrap_or(std::path::Path::new("."));
    // Files beside the catalog, or below: an absolute path or `..` would reach anywhere.
    let read = |name: &str| {
        let relative = std::path::Path::new(name);
        let inside = relative.components().all(|part| matches!(part, std::path::Component::Normal(_)));
        if !inside {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a path beside the catalog"));
        }
        std::fs::read(beside.join(relative))
    };
    let pictures = media.as_ref().map(|media| import::PictureFiles { media, read: &read });
    let actor = ec_product::domain::Actor("import".into());
    let report = import::import(&pool, &actor, &file, pictures.as_ref()).await?;
    println!(
        "{} categories, {} products and {} SKUs created; {} products already there, left as they were",
        report.categories_created, report.products_created, report.skus_created, report.products_skipped
    );
    Ok(())
}

async fn make_admin(email: &str, database: &DatabaseArgs) -> anyhow::Result<()> {
    let email = ec_user::domain::Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pool = db::connect(database).await.context("cannot connect to PostgreSQL")?;
    db::migrate(&pool, ec_user::SCHEMA, ec_user::migrator()).await?;
    match ec_user::accounts::make_admin_by_email(&pool, &email).await {
        Ok(row) => {
            println!("{} ({}) is now an admin", row.email, row.id);
            Ok(())
        }
        Err(ec_user::error::Error::NotFound(_)) => {
            anyhow::bail!("no live account has the email {}; sign up first", email.as_str())
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs one service as its own process, through the same `Application::build` as `ec dev` and the tests.
async fn serve(service: Service, stop: CancellationToken) -> anyhow::Result<()> {
    match service {
        Service::User { config, database, process } => {
            let app = ec_user::startup::Application::build(&config, &database, &process.dependencies().await?).await?;
            Ok(app.serve(stop, process.shutdown.grace()).await?)
        }
        Service::Product { config, database, media, process } => {
            let deps = Dependencies { media: media.open()?, ..process.dependencies().await? };
            let app = ec_product::startup::Application::build(&config, &database, &deps).await?;
            Ok(app.serve(stop, process.shutdown.grace()).await?)
        }
        Service::Order { config, database, process } => {
            let deps = process.dependencies().await?;
            let app = ec_order::startup::Application::build(&config, &database, &deps).await?;
            Ok(app.serve(stop, process.shutdown.grace()).await?)
        }
        Service::Bff { config, media, process } => {
            let deps = Dependencies { media: media.open()?, ..process.dependencies().await? };
            let app = ec_bff::startup::Application::build(&config, &deps).await?;
            Ok(app.serve(stop, process.shutdown.grace()).await?)
        }
        Service::Web { web, storefront, serving, shutdown } => {
            if !web::is_built(&web.dir) {
                anyhow::bail!("no storefront build in {} (`make web` writes web/dist)", web.dir.display());
            }
            let app = web::storefront(&web.dir, &storefront.config(), web.https);
            // Browsers reach this port, so connections are capped per client address as well.
            let limits = serving.limits().per_client(&serving.connections, web.trusted_proxies.clone());
            let server = Server::http("web", web.addr, app).await?.with_connection_limits(limits);
            Ok(server.serve(stop, shutdown.grace()).await?)
        }
        Service::Oauth { config, shutdown, environment } => {
            let environment = environment.resolve(Environment::Production);
            let server = ec_oauth_server::OAuthServer::bind(&config, environment).await?;
            Ok(server.serve(stop, shutdown.grace()).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    fn assert_documented(command: &clap::Command, path: &str) {
        for arg in command.get_arguments() {
            assert!(arg.get_help().is_some(), "`{path}` flag {:?} has no help text", arg.get_id());
        }
        for sub in command.get_subcommands() {
            assert!(sub.get_about().is_some(), "`{path} {}` has no description", sub.get_name());
            assert_documented(sub, &format!("{path} {}", sub.get_name()));
        }
    }

    #[test]
    fn every_command_and_flag_is_unique_and_documented() {
        super::Cli::command().debug_assert();
        assert_documented(&super::Cli::command(), "ec");
    }
}
