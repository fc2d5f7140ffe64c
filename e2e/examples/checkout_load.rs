//! The shopping journey under load, through the BFF: `users` shoppers sign up and sign in through the real
//! flow, then each, in a loop, puts one unit of a SKU in the cart and checks out with a new idempotency key:
//! for `warmup` seconds not counted, then for `seconds` counted. Reports confirmed orders per second and the
//! p50/p99 of CreateOrder and of the whole journey (add to cart, check out). Used by
//! `scripts/checkout-load.sh`; figures in docs/performance.md.
//!
//! With `STATS_DATABASE_URL` set, it also runs `VACUUM ANALYZE` after the warm-up (what autovacuum does in a
//! shop that has been open a while: without it, every plan is made for the empty tables a test starts
//! with), and reads PostgreSQL's commit counters around the counted part. With `EC_PID` set (Linux), it reads
//! the CPU time the platform's process, this load generator and the whole machine spent in the counted part
//! (`/proc`), and reports each per checkout; on the benchmark machine the rest is PostgreSQL.
//!
//!     cargo run --release -p ec-e2e --example checkout_load -- BFF_URL ISSUER LOGIN_URL SKU_ID[,SKU_ID...] [users] [seconds] [warmup]

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use ec_e2e::{browser, clients};
use ec_proto::order::v1::{
    AddCartItemRequest, Address, CartServiceClient, CreateOrderRequest, OrderServiceClient, OrderStatus,
};

#[derive(Default)]
struct Tally {
    confirmed: u64,
    failed: u64,
    errors: u64,
    checkout: Vec<Duration>,
    journey: Vec<Duration>,
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: checkout_load BFF_URL ISSUER LOGIN_URL SKU_ID[,SKU_ID...] [users] [seconds]";
    let (bff, issuer, login) = (args.next().expect(usage), args.next().expect(usage), args.next().expect(usage));
    let skus: Vec<String> = args.next().expect(usage).split(',').map(str::to_owned).collect();
    let users: usize = args.next().map_or(16, |n| n.parse().expect("users is a number"));
    let seconds: u64 = args.next().map_or(10, |n| n.parse().expect("seconds is a number"));
    let warmup: u64 = args.next().map_or(10, |n| n.parse().expect("warmup is a number"));

    // Sign everyone in first, eight at a time: that is not what is measured.
    let mut tokens = Vec::with_capacity(users);
    let run = uuid::Uuid::now_v7().simple().to_string();
    for batch in (0..users).collect::<Vec<_>>().chunks(8) {
        let signed_in = futures::future::join_all(batch.iter().map(|n| {
            let (bff, issuer, login, email) = (&bff, &issuer, &login, format!("shopper{n}-{run}@example.com"));
            async move {
                let body = serde_json::json!({"email": email, "password": "correct horse"});
                let created = reqwest::Client::new()
                    .post(format!("{bff}/user.v1.UserService/CreateUser"))
                    .json(&body)
                    .send()
                    .await
                    .expect("the BFF answers");
                assert!(created.status().is_success(), "signing up {email}: {}", created.status());
                let tokens = browser::sign_in_at(issuer, login, &email, "correct horse").await;
                tokens["access_token"].as_str().expect("an access token").to_owned()
            }
        }))
        .await;
        tokens.extend(signed_in);
    }
    eprintln!("{users} shoppers signed in; shopping for {warmup} s, then for {seconds} s counted");
    // With STATS_DATABASE_URL, PostgreSQL's commit counter is read around the shopping, for commits per order.
    let stats = match std::env::var("STATS_DATABASE_URL") {
        Ok(url) => Some(sqlx::PgPool::connect(&url).await.expect("the statistics database answers")),
        Err(_) => None,
    };

    let stop = Arc::new(AtomicBool::new(false));
    let counting = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let shoppers: Vec<_> = tokens
        .into_iter()
        .enumerate()
        .map(|(n, token)| {
            let (bff, skus, stop, tally) = (bff.clone(), skus.clone(), stop.clone(), tally.clone());
            let counting = counting.clone();
            tokio::spawn(async move {
                let (http, config) = clients::transport_as(&bff, clients::Wire::Grpc, Some(&token));
                let carts = CartServiceClient::new(http.clone(), config.clone());
                let orders = OrderServiceClient::new(http, config);
                let mut round = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let sku_id = skus[(n + round) % skus.len()].clone();
                    round += 1;
                    let started = Instant::now();
                    let add = AddCartItemRequest { sku_id, quantity: 1, ..Default::default() };
                    if carts.add_cart_item(add).await.is_err() {
                        if counting.load(Ordering::Relaxed) {
                            tally.lock().unwrap().errors += 1;
                        }
                        continue;
                    }
                    let checkout_started = Instant::now();
                    let placed = orders.create_order(checkout(&format!("{n}-{round}"))).await;
                    let (checkout, journey) = (checkout_started.elapsed(), started.elapsed());
                    if !counting.load(Ordering::Relaxed) {
                        continue;
                    }
                    let mut tally = tally.lock().unwrap();
                    match placed.map(|answer| answer.into_owned().order.status) {
                        Ok(status) if status == OrderStatus::ORDER_STATUS_CONFIRMED => tally.confirmed += 1,
                        Ok(_) => tally.failed += 1,
                        Err(_) => tally.errors += 1,
                    }
                    tally.checkout.push(checkout);
                    tally.journey.push(journey);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(warmup)).await;
    if let Some(pool) = &stats {
        sqlx::raw_sql("VACUUM ANALYZE").execute(pool).await.expect("VACUUM ANALYZE runs");
    }
    let commits_before = commits(stats.as_ref()).await;
    let platform = std::env::var("EC_PID").ok().map(|pid| pid.parse::<u32>().expect("EC_PID is a process id"));
    let cpu_before = platform.map(CpuTime::now);
    counting.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let cpu_spent = cpu_before.map(|before| CpuTime::now(before.platform_pid).since(&before));
    stop.store(true, Ordering::Relaxed);
    for shopper in shoppers {
        shopper.await.unwrap();
    }

    let mut tally = Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap();
    println!("confirmed orders: {:.0}/s ({} in {seconds} s)", tally.confirmed as f64 / seconds as f64, tally.confirmed);
    if let (Some(before), Some(after)) = (commits_before, commits(stats.as_ref()).await) {
        let checkouts = (tally.confirmed + tally.failed).max(1) as f64;
        println!(
            "per checkout (add to cart included): {:.1} transactions committed (read-only ones too), {:.1} WAL flushes",
            (after.0 - before.0) as f64 / checkouts,
            (after.1 - before.1) as f64 / checkouts
        );
    }
    if let Some(spent) = cpu_spent {
        let per_checkout = |seconds: f64| 1000.0 * seconds / (tally.confirmed + tally.failed).max(1) as f64;
        println!(
            "CPU per checkout: ec {:.2} ms, load generator {:.2} ms, the rest of the machine (PostgreSQL) {:.2} ms; \
             machine busy {:.0} %",
            per_checkout(spent.platform),
            per_checkout(spent.generator),
            per_checkout(spent.machine - spent.platform - spent.generator),
            100.0 * spent.machine / spent.capacity
        );
    }
    println!("failed orders: {}, errors: {}", tally.failed, tally.errors);
    for (name, latencies) in [("CreateOrder", &mut tally.checkout), ("journey (add + checkout)", &mut tally.journey)] {
        latencies.sort();
        let at = |q: f64| latencies.get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)));
        let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
        println!("{name}: p50 {:.1} ms, p99 {:.1} ms", ms(at(0.50)), ms(at(0.99)));
    }
    if tally.errors > 0 || tally.failed > 0 {
        std::process::exit(1);
    }
}

/// Transactions committed in the statistics database so far, and WAL flushes to disk (fsyncs, which group
/// commits share), once the server has published its counters.
async fn commits(stats: Option<&sqlx::PgPool>) -> Option<(i64, i64)> {
    let pool = stats?;
    // Backends publish their counters at most once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sqlx::query_as(
        "SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
                (SELECT wal_sync FROM pg_stat_wal)",
    )
    .fetch_one(pool)
    .await
    .ok()
}

/// CPU seconds spent so far (Linux's `/proc`): by the platform's process, by this load generator, and by the
/// whole machine (every core's busy time), with the wall-clock capacity of all cores.
struct CpuTime {
    platform_pid: u32,
    platform: f64,
    generator: f64,
    machine: f64,
    capacity: f64,
}

impl CpuTime {
    fn now(platform_pid: u32) -> Self {
        let ticks = 100.0; // USER_HZ, the unit of /proc's CPU times on every Linux
        let process = |path: String| {
            let stat = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // After the command name in parentheses: state is field 3, utime 14, stime 15.
            let fields: Vec<&str> = stat.rsplit_once(')').expect("a /proc stat line").1.split_whitespace().collect();
            (fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap()) / ticks
        };
        let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
        let all: Vec<f64> =
            stat.lines().next().unwrap().split_whitespace().skip(1).map(|n| n.parse().unwrap()).collect();
        // user nice system idle iowait irq softirq steal: busy is what ran here; idle, iowait and steal (time
        // the hypervisor gave to other machines) did not.
        let (busy, idle) = (all[0] + all[1] + all[2] + all[5] + all[6], all[3] + all[4] + all[7]);
        Self {
            platform_pid,
            platform: process(format!("/proc/{platform_pid}/stat")),
            generator: process("/proc/self/stat".to_owned()),
            machine: busy / ticks,
            capacity: (busy + idle) / ticks,
        }
    }

    fn since(self, before: &Self) -> Self {
        Self {
            platform_pid: self.platform_pid,
            platform: self.platform - before.platform,
            generator: self.generator - before.generator,
            machine: self.machine - before.machine,
            capacity: self.capacity - before.capacity,
        }
    }
}

fn checkout(key: &str) -> CreateOrderRequest {
    CreateOrderRequest {
        idempotency_key: key.into(),
        shipping_address: buffa::MessageField::some(Address {
            recipient_name: "Load Tester".into(),
            line1: "1-1 Marunouchi".into(),
            city: "Tokyo".into(),
            postal_code: "100-0005".into(),
            country_code: "JP".into(),
            ..Default::default()
        }),
        payment_token: "4242424242424242".into(),
        ..Default::default()
    }
}
