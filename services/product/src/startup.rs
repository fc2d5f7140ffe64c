//! Building the product service: its [`Application`].

use std::{sync::Arc, time::Duration};

use ec_platform::{
    access::Access,
    config::DatabaseArgs,
    db::GenericPlans,
    events::relay::Relay,
    page_token::{self, PageTokens},
    server::{Reflection, Server, ServerError},
    shutdown::CancellationToken,
    startup::{Dependencies, StartupError},
};
use ec_proto::product::v1::{
    INVENTORY_SERVICE_SERVICE_NAME, InventoryServiceExt, PRODUCT_SERVICE_SERVICE_NAME,
    PRODUCT_SERVICE_UPLOAD_PRODUCT_IMAGE_SPEC, ProductServiceExt,
};
use sqlx::PgPool;

use crate::{
    api::{InventoryApi, ProductAccess, ProductApi},
    config::ProductConfig,
    expiry::{self, ExpirySchedule},
    listing,
    pictures::{self, Media, MediaUrls},
};

/// The product service, connected, migrated and bound, ready to serve.
pub struct Application {
    server: Server,
    pool: PgPool,
    lookups: GenericPlans,
    expiry: ExpirySchedule,
    relay: Relay,
}

impl Application {
    /// Connects to PostgreSQL at `database`, brings the `product_service` schema up to date, and binds the gRPC
    /// port.
    pub async fn build(
        config: &ProductConfig,
        database: &DatabaseArgs,
        deps: &Dependencies,
    ) -> Result<Self, StartupError> {
        deps.require_events()?;
        describe_metrics();
        let pool = ec_platform::startup::database(database, crate::SCHEMA, crate::migrator()).await?;
        // The stock events' trigger reads the threshold from the database (migration 0005).
        sqlx::query("UPDATE product_service.stock_settings SET low_stock_threshold = $1")
            .bind(config.low_stock_threshold)
            .execute(&pool)
            .await
            .map_err(StartupError::Database)?;
        let access = ProductAccess::new(Access::new(deps.identity.clone()), config.low_stock_threshold);
        let tokens = PageTokens::new(&page_token::key(&deps.identity, listing::PAGE_TOKEN_PURPOSE));
        // Lookups by lists of ids (BatchGetSkus, reservations) on their own pool, planned once.
        let lookups = GenericPlans::beside(&pool);
        let outbox = crate::events::outbox();
        let media = deps.media.clone().map(Media::new);
        let urls = MediaUrls::new(config.media_public_url.clone());
        let products = Arc::new(ProductApi::new(
            pool.clone(),
            outbox.clone(),
            lookups.clone(),
            access.clone(),
            tokens,
            media,
            urls,
        ));
        let inventory = Arc::new(InventoryApi::new(pool.clone(), lookups.clone(), access, config.reservation_ttl()));
        // A picture's bytes come in one message: room for the largest, and no more for that one procedure.
        let uploads = connectrpc::Limits::default()
            .with_max_request_body_size(pictures::MAX_BYTES + 64 * 1024)
            .with_max_message_size(pictures::MAX_BYTES + 64 * 1024);
        let router = inventory
            .register(products.register(connectrpc::Router::new()))
            .with_route_limits(PRODUCT_SERVICE_UPLOAD_PRODUCT_IMAGE_SPEC.procedure, uploads);
        let reflection = deps.serving.reflection.or_off(Reflection::Api);
        let services = [PRODUCT_SERVICE_SERVICE_NAME, INVENTORY_SERVICE_SERVICE_NAME];
        let server = Server::bind("product", config.addr, router, &services, reflection).await?;
        let expiry = ExpirySchedule {
            interval: Duration::from_secs(config.expiry_interval_secs),
            key_age: Duration::from_secs(config.idempotency_key_days * 24 * 3600),
        };
        let relay = deps.relay(&pool, &outbox)?;
        Ok(Self { server: server.with_connection_limits(deps.serving.limits()), pool, lookups, expiry, relay })
    }

    /// The gRPC server, for [`ec_platform::channel::InProcess::add`] where other components of the same
    /// process call it.
    pub fn rpc(&self) -> &Server {
        &self.server
    }

    /// The address of the gRPC port.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.server.local_addr()
    }

    /// Serves, and runs the reservation expiry worker and the events relay, until `shutdown` fires; then drains
    /// for at most `grace`.
    pub async fn serve(self, shutdown: CancellationToken, grace: Duration) -> Result<(), ServerError> {
        tokio::spawn(ec_platform::metrics::watch_pool("product", self.pool.clone(), shutdown.clone()));
        let lookups = self.lookups.pool().clone();
        tokio::spawn(ec_platform::metrics::watch_pool("product_lookups", lookups, shutdown.clone()));
        let worker = tokio::spawn(expiry::run(self.pool, self.expiry, shutdown.clone()));
        // The relay goes on until the drain is over and the expiry worker has stopped, then hands over what they
        // committed.
        self.relay
            .beside(async move {
                let served = self.server.serve(shutdown, grace).await;
                if let Err(e) = worker.await {
                    tracing::error!(error = %e, "the reservation expiry worker failed");
                }
                served
            })
            .await
    }
}

/// Says what the product service counts (docs/operations.md has the alerts on them), and starts the counters
/// at zero, so dashboards and alerts have a series before the first event.
fn describe_metrics() {
    use metrics::{counter, describe_counter};
    describe_counter!("ec_reservations_expired_total", "Stock reservations given back because their time was up.");
    describe_counter!(
        "ec_idempotent_replays_total",
        "Calls answered with an earlier call's result because they repeated its idempotency key."
    );
    counter!("ec_reservations_expired_total").increment(0);
    for operation in ["reserve", "confirm", "release", "restock"] {
        counter!("ec_idempotent_replays_total", "operation" => operation).increment(0);
    }
}
