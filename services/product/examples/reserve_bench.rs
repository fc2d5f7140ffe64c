//! Reservations per second against a real PostgreSQL: `clients` tasks each making one-unit reservations (each
//! its own transaction, with its idempotency key and movement) for `seconds`, on one hot SKU and then spread
//! over many SKUs; the SKUs hold far more stock than the run can reserve. Used by
//! `scripts/catalog-bench.sh`; figures in docs/performance.md.
//!
//!     cargo run --release -p ec-product --example reserve_bench -- DATABASE_URL [clients] [seconds] [hot|spread]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use ec_platform::{config::DatabaseArgs, db::GenericPlans};
use ec_product::{
    catalog,
    domain::{Actor, Attributes, Description, IdempotencyKey, Price, ProductName, ReservationItems, SkuCode},
    inventory,
};
use sqlx::PgPool;
use uuid::Uuid;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: reserve_bench DATABASE_URL [clients] [seconds] [hot|spread]");
    let clients: u32 = args.next().map_or(16, |n| n.parse().expect("clients is a number"));
    let seconds: u64 = args.next().map_or(15, |n| n.parse().expect("seconds is a number"));
    // One of the two only, when named: so a script can alternate runs with other measurements.
    let only = args.next();
    let database = DatabaseArgs { url, max_connections: clients + 2 };
    let pool = ec_platform::startup::database(&database, ec_product::SCHEMA, ec_product::migrator()).await.unwrap();

    let wanted = |mode: &str| only.as_deref().is_none_or(|only| only == mode);
    let mut runs = Vec::new();
    if wanted("hot") {
        runs.push(("one hot SKU", skus(&pool, 1).await));
    }
    if wanted("spread") {
        runs.push(("1,000 SKUs, one per reservation", skus(&pool, 1000).await));
    }
    for (name, skus) in runs {
        // Reservations run on a pool of generic plans, as the service runs them.
        let lookups = GenericPlans::beside(&pool);
        let per_second = run(lookups.pool(), Arc::new(skus), clients, Duration::from_secs(seconds)).await;
        println!("{name}: {per_second:.0} reservations/s ({clients} clients, {seconds} s)");
    }
}

/// `n` SKUs of one published product, with plenty of stock.
async fn skus(pool: &PgPool, n: usize) -> Vec<Uuid> {
    let actor = Actor("bench".into());
    let name = ProductName::parse("Benchmark product").unwrap();
    let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let code = SkuCode::parse(&format!("BENCH-{}", Uuid::now_v7().simple())).unwrap();
        let price = Price::parse(100, "JPY").unwrap();
        let sku = catalog::create_sku(pool, &actor, product.id, &code, &price, &Attributes::default(), 1_000_000_000)
            .await
            .unwrap();
        ids.push(sku.id);
    }
    catalog::publish(pool, &ec_product::events::outbox(), product.id).await.unwrap();
    ids
}

/// Reservations made per second by `clients` tasks for `duration`.
async fn run(pool: &PgPool, skus: Arc<Vec<Uuid>>, clients: u32, duration: Duration) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let (pool, skus, stop, made) = (pool.clone(), skus.clone(), stop.clone(), made.clone());
            tokio::spawn(async move {
                let mut n = client as usize;
                while !stop.load(Ordering::Relaxed) {
                    let sku = skus[n % skus.len()].to_string();
                    n += clients as usize;
                    let items = ReservationItems::parse([(sku.as_str(), 1)]).unwrap();
                    let key = IdempotencyKey::parse(&Uuid::now_v7().to_string()).unwrap();
                    inventory::reserve(&pool, "bench", &key, &items, Duration::from_secs(900)).await.unwrap();
                    made.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let count = made.load(Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    count as f64 / elapsed
}
