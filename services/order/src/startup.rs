//! Building the order service: its [`Application`].

use std::{sync::Arc, time::Duration};

use ec_platform::{
    access::Access,
    config::DatabaseArgs,
    db::Unflushed,
    events::relay::Relay,
    page_token::{self, PageTokens},
    server::{Reflection, Server, ServerError},
    shutdown::CancellationToken,
    startup::{Dependencies, StartupError},
};
use ec_proto::order::v1::{CART_SERVICE_SERVICE_NAME, CartServiceExt, ORDER_SERVICE_SERVICE_NAME, OrderServiceExt};
use sqlx::PgPool;

use crate::{
    api::{CartApi, OrderApi},
    cart::Carts,
    checkout::Checkouts,
    config::OrderConfig,
    events, payment,
    pricing::Pricing,
    product_client::ProductClient,
    recovery::{self, RecoverySchedule},
    saga::Saga,
};

/// The order service, connected, migrated and bound, ready to serve.
pub struct Application {
    server: Server,
    pool: PgPool,
    saga: Saga,
    recovery: RecoverySchedule,
    unflushed: Unflushed,
    relay: Relay,
}

/// What page tokens of order lists are signed with, derived from the internal secret.
const PAGE_TOKEN_PURPOSE: &[u8] = b"ec order page token v1";

impl Application {
    /// Connects to PostgreSQL at `database`, brings the `order_service` schema (and the payment sandbox's
    /// ledger) up to date, and binds the gRPC port.
    pub async fn build(
        config: &OrderConfig,
        database: &DatabaseArgs,
        deps: &Dependencies,
    ) -> Result<Self, StartupError> {
        config.payment_provider.check(deps.environment).map_err(StartupError::Config)?;
        deps.require_events()?;
        describe_metrics();
        let pool = ec_platform::startup::database(database, crate::SCHEMA, crate::migrator()).await?;
        ec_platform::db::migrate(&pool, payment::SANDBOX_SCHEMA, payment::sandbox_migrator())
            .await
            .map_err(|source| StartupError::Migrate { schema: payment::SANDBOX_SCHEMA, source })?;
        let product = deps
            .channel(&config.product_service_url)
            .map_err(|e| StartupError::Config(format!("the product service URL {e}")))?;
        let product =
            ProductClient::new(product, &deps.identity, Duration::from_millis(config.product_call_timeout_ms));
        let unflushed = Unflushed::beside(&pool);
        let payments =
            config.payment_provider.connect(deps.environment, &unflushed, config.payment_sandbox_transient_failures);
        let outbox = events::outbox();
        let saga = Saga::new(
            pool.clone(),
            unflushed.clone(),
            product.clone(),
            payments,
            config.retry(),
            outbox.clone(),
            config.saga_pause_after,
        );
        let tokens = PageTokens::new(&page_token::key(&deps.identity, PAGE_TOKEN_PURPOSE));
        let access = Access::new(deps.identity.clone());
        let pricing = Pricing::new(product, config.shipping_rules.clone());
        let carts = Carts::new(pool.clone(), unflushed.clone(), pricing.clone());
        let checkouts = Checkouts::new(pool.clone(), pricing, saga.clone());
        let carts = Arc::new(CartApi::new(carts, access.clone()));
        let orders = Arc::new(OrderApi::new(
            pool.clone(),
            checkouts,
            saga.clone(),
            access,
            tokens,
            Duration::from_secs(config.checkout_wait_secs),
        ));
        let router = orders.register(carts.register(connectrpc::Router::new()));
        let reflection = deps.serving.reflection.or_off(Reflection::Api);
        let services = [CART_SERVICE_SERVICE_NAME, ORDER_SERVICE_SERVICE_NAME];
        let server = Server::bind("order", config.addr, router, &services, reflection).await?;
        let recovery = RecoverySchedule {
            interval: Duration::from_secs(config.saga_recovery_interval_secs),
            key_age: Duration::from_secs(config.checkout_key_days * 24 * 3600),
        };
        let relay = deps.relay(&pool, &outbox)?;
        Ok(Self {
            server: server.with_connection_limits(deps.serving.limits()),
            pool,
            unflushed,
            saga,
            recovery,
            relay,
        })
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

    /// Serves, and runs the saga recovery worker and the events relay, until `shutdown` fires; then drains for
    /// at most `grace`.
    pub async fn serve(self, shutdown: CancellationToken, grace: Duration) -> Result<(), ServerError> {
        tokio::spawn(ec_platform::metrics::watch_pool("order", self.pool.clone(), shutdown.clone()));
        let unflushed = self.unflushed.pool().clone();
        tokio::spawn(ec_platform::metrics::watch_pool("order_unflushed", unflushed, shutdown.clone()));
        let worker = tokio::spawn(recovery::run(self.pool, self.saga, self.recovery, shutdown.clone()));
        // The relay goes on until the drain is over and the recovery worker has stopped, then hands over what
        // they committed.
        self.relay
            .beside(async move {
                let served = self.server.serve(shutdown, grace).await;
                if let Err(e) = worker.await {
                    tracing::error!(error = %e, "the saga recovery worker failed");
                }
                served
            })
            .await
    }
}

/// Says what the order service counts (docs/operations.md has the alerts on them), and starts the counters of
/// rarer events at zero, so dashboards and alerts have a series before the first one happens.
fn describe_metrics() {
    use metrics::{counter, describe_counter, describe_gauge};
    describe_counter!("ec_orders_placed_total", "Orders placed: CreateOrder calls with a new idempotency key.");
    describe_counter!("ec_orders_finished_total", "Checkout sagas finished, by the order's status then.");
    describe_counter!(
        "ec_saga_steps_total",
        "Saga steps run, by step and outcome (advanced, retried); release, restock and void are compensations."
    );
    describe_counter!("ec_sagas_recovered_total", "Unfinished sagas the recovery worker took over.");
    describe_gauge!(
        "ec_saga_recovery_lag_seconds",
        "How long the longest-waiting unfinished saga has been due with no one driving it."
    );
    describe_counter!(
        "ec_idempotent_replays_total",
        "Calls answered with an earlier call's result because they repeated its idempotency key."
    );
    counter!("ec_orders_placed_total").increment(0);
    counter!("ec_sagas_recovered_total").increment(0);
    counter!("ec_idempotent_replays_total", "operation" => "create_order").increment(0);
    for status in [crate::orders::Status::Confirmed, crate::orders::Status::Failed, crate::orders::Status::Cancelled] {
        counter!("ec_orders_finished_total", "status" => status.as_str()).increment(0);
    }
}
