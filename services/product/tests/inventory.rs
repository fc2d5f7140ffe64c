//! Stock and reservations against a real PostgreSQL, under concurrency: no oversell, no deadlock, stock moved
//! exactly once per reservation, one reservation per idempotency key, and the books always balance.
//!
//! The races are run through the service's functions on a pool of many connections (so they really run in
//! parallel in PostgreSQL); `inventory_api.rs` calls the same through the gRPC port.

use std::{collections::HashMap, time::Duration};

use ec_platform::config::DatabaseArgs;
use ec_product::{
    catalog,
    db::{reservations::Reservation, skus::SkuChange},
    domain::{
        Actor, Attributes, Description, IdempotencyKey, Price, ProductName, ReservationItems, ReservationStatus,
        SkuCode,
    },
    error::{Error, ProductError},
    expiry, inventory,
};
use ec_testing::TestDatabase;
use sqlx::PgPool;
use uuid::Uuid;

const TTL: Duration = Duration::from_secs(900);

struct Db {
    pool: PgPool,
    database: TestDatabase,
}

impl Db {
    /// A fresh database with the product schema, and a pool of 20 connections.
    async fn start() -> Self {
        let database = TestDatabase::create().await;
        let args = DatabaseArgs { url: database.url(), max_connections: 20 };
        let pool = ec_platform::startup::database(&args, ec_product::SCHEMA, ec_product::migrator()).await.unwrap();
        Self { pool, database }
    }

    async fn stop(self) {
        self.pool.close().await;
        self.database.drop_now().await;
    }

    /// A published product with one SKU per entry of `stock`, holding that many units; the SKU ids.
    async fn skus(&self, stock: &[i64]) -> Vec<Uuid> {
        let admin = admin();
        let name = ProductName::parse("Test product").unwrap();
        let product = catalog::create_product(&self.pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
        let mut ids = Vec::new();
        for quantity in stock {
            let code = SkuCode::parse(&format!("T-{}", Uuid::now_v7().simple())).unwrap();
            let price = Price::parse(1200, "JPY").unwrap();
            let sku =
                catalog::create_sku(&self.pool, &admin, product.id, &code, &price, &Attributes::default(), *quantity)
                    .await
                    .unwrap();
            ids.push(sku.id);
        }
        catalog::publish(&self.pool, &ec_product::events::outbox(), product.id).await.unwrap();
        ids
    }

    /// Checks the books of every SKU in `skus`: the invariant, quantity and reserved equal to the sums of their
    /// movements, and reserved equal to the units held by pending reservations.
    async fn check_books(&self, skus: &[Uuid]) {
        let rows: Vec<(Uuid, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT i.sku_id, i.quantity, i.reserved,
                    (SELECT coalesce(sum(quantity_delta), 0)::bigint FROM product_service.stock_movements m WHERE m.sku_id = i.sku_id),
                    (SELECT coalesce(sum(reserved_delta), 0)::bigint FROM product_service.stock_movements m WHERE m.sku_id = i.sku_id),
                    (SELECT coalesce(sum(ri.quantity), 0)::bigint FROM product_service.reservation_items ri
                       JOIN product_service.reservations r ON r.id = ri.reservation_id
                      WHERE ri.sku_id = i.sku_id AND r.status = 'pending')
             FROM product_service.inventory i WHERE i.sku_id = ANY($1)",
        )
        .bind(skus)
        .fetch_all(&self.pool)
        .await
        .unwrap();
        assert_eq!(rows.len(), skus.len());
        for (sku, quantity, reserved, moved_quantity, moved_reserved, pending) in rows {
            assert!(0 <= reserved && reserved <= quantity, "{sku}: reserved {reserved}, quantity {quantity}");
            assert_eq!(quantity, moved_quantity, "{sku}: quantity is the sum of its movements");
            assert_eq!(reserved, moved_reserved, "{sku}: reserved is the sum of its movements");
            assert_eq!(reserved, pending, "{sku}: reserved is what pending reservations hold");
        }
    }

    /// Moves a reservation's expiry into the past.
    async fn make_due(&self, id: Uuid) {
        sqlx::query("UPDATE product_service.reservations SET expires_at = now() - interval '1 second' WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .unwrap();
    }
}

fn admin() -> Actor {
    Actor(Uuid::now_v7().to_string())
}

fn key(value: &str) -> IdempotencyKey {
    IdempotencyKey::parse(value).unwrap()
}

fn items(pairs: &[(Uuid, i64)]) -> ReservationItems {
    let strings: Vec<(String, i64)> = pairs.iter().map(|(id, quantity)| (id.to_string(), *quantity)).collect();
    ReservationItems::parse(strings.iter().map(|(id, quantity)| (id.as_str(), *quantity))).unwrap()
}

async fn reserve(pool: &PgPool, key_value: &str, pairs: &[(Uuid, i64)]) -> Result<Reservation, Error> {
    inventory::reserve(pool, "order-service", &key(key_value), &items(pairs), TTL).await
}

/// A small deterministic generator, so a failing random run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn two_hundred_concurrent_reservations_of_one_unit_with_fifty_in_stock_make_exactly_fifty() {
    let db = Db::start().await;
    let sku = db.skus(&[50]).await[0];
    let attempts = (0..200).map(|n| {
        let pool = db.pool.clone();
        tokio::spawn(async move { reserve(&pool, &format!("order-{n}"), &[(sku, 1)]).await })
    });
    let results: Vec<Result<Reservation, Error>> =
        futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();

    let made = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(made, 50);
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        let Error::Own(ProductError::InsufficientStock(short)) = refused else { panic!("{refused:?}") };
        assert_eq!((short.len(), short[0].sku_id, short[0].requested, short[0].available), (1, sku, 1, 0));
    }
    let stock = inventory::get(&db.pool, sku).await.unwrap();
    assert_eq!((stock.quantity, stock.reserved, stock.available()), (50, 50, 0));
    db.check_books(&[sku]).await;
    db.stop().await;
}

#[tokio::test]
async fn random_overlapping_batches_in_random_orders_never_deadlock_and_never_oversell() {
    let db = Db::start().await;
    let skus = db.skus(&[20; 8]).await;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let batches: Vec<Vec<(Uuid, i64)>> = (0..120)
        .map(|_| {
            let mut batch: Vec<(Uuid, i64)> = Vec::new();
            for _ in 0..=rng.below(5) {
                let sku = skus[rng.below(skus.len() as u64) as usize];
                if !batch.iter().any(|(id, _)| *id == sku) {
                    batch.push((sku, 1 + rng.below(3) as i64));
                }
            }
            batch
        })
        .collect();
    let attempts = batches.iter().cloned().enumerate().map(|(n, batch)| {
        let pool = db.pool.clone();
        tokio::spawn(async move {
            // Sent in the order generated: the service sorts, so requests in any order lock in one order.
            let result = reserve(&pool, &format!("batch-{n}"), &batch).await;
            (batch, result)
        })
    });
    let results = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(attempts))
        .await
        .expect("no batch waits forever");

    let mut held: HashMap<Uuid, i64> = HashMap::new();
    let mut refused = 0;
    for (batch, result) in results.into_iter().map(Result::unwrap) {
        match result {
            Ok(reservation) => {
                assert_eq!(reservation.status, ReservationStatus::Pending);
                for (sku, quantity) in batch {
                    *held.entry(sku).or_default() += quantity;
                }
            }
            // Anything else, a deadlock (40P01) included, fails the test.
            Err(Error::Own(ProductError::InsufficientStock(_))) => refused += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert!(refused > 0, "the batches asked for more than the stock, so some must be refused");
    for sku in &skus {
        let stock = inventory::get(&db.pool, *sku).await.unwrap();
        assert_eq!(stock.reserved, held.get(sku).copied().unwrap_or(0), "all or nothing");
        assert!(stock.available() >= 0);
    }
    db.check_books(&skus).await;
    db.stop().await;
}

#[tokio::test]
async fn racing_confirm_release_and_expiry_on_one_reservation_move_its_stock_exactly_once() {
    let db = Db::start().await;
    let skus = db.skus(&[100, 100]).await;
    for round in 0..20 {
        let reservation = reserve(&db.pool, &format!("race-{round}"), &[(skus[0], 2), (skus[1], 1)]).await.unwrap();
        let id = reservation.id;
        // Half the rounds are past their expiry, so the worker (and a late confirm) take part too.
        let due = round % 2 == 0;
        if due {
            db.make_due(id).await;
        }
        let (pool_a, pool_b, pool_c) = (db.pool.clone(), db.pool.clone(), db.pool.clone());
        let confirm =
            tokio::spawn(async move { inventory::confirm(&pool_a, "o", &key(&format!("c{round}")), id).await });
        let release =
            tokio::spawn(async move { inventory::release(&pool_b, "o", &key(&format!("r{round}")), id).await });
        let expire = tokio::spawn(async move { inventory::expire_due(&pool_c, 100).await });
        let (confirm, release, expire) = (confirm.await.unwrap(), release.await.unwrap(), expire.await.unwrap());
        assert!(expire.is_ok(), "{expire:?}");

        let after = inventory::get_reservation(&db.pool, id).await.unwrap();
        // Every item moved out of `pending` exactly once: one movement per item besides the reservation's own.
        let moves: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, count(*) FROM product_service.stock_movements
             WHERE reservation_id = $1 AND kind <> 'reserve' GROUP BY kind",
        )
        .bind(id)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert_eq!(moves.len(), 1, "round {round}: {moves:?}");
        assert_eq!(moves[0].1, 2, "round {round}: one movement per item");
        let expected_kind = match after.status {
            ReservationStatus::Confirmed => "confirm",
            ReservationStatus::Released => "release",
            ReservationStatus::Expired => "expire",
            ReservationStatus::Pending | ReservationStatus::Restocked => panic!("round {round}: {:?}", after.status),
        };
        assert_eq!(moves[0].0, expected_kind, "round {round}");
        // The answers agree with what happened.
        assert_eq!(confirm.is_ok(), after.status == ReservationStatus::Confirmed, "round {round}: {confirm:?}");
        if after.status == ReservationStatus::Confirmed {
            assert!(matches!(release, Err(Error::FailedPrecondition(_))), "round {round}: {release:?}");
        } else {
            assert_eq!(release.unwrap().status, after.status, "round {round}");
        }
        if !due {
            assert_ne!(after.status, ReservationStatus::Expired, "round {round}: not due, not expired");
        }
    }
    db.check_books(&skus).await;
    let confirmed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM product_service.reservations WHERE status = 'confirmed'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let stock = inventory::get(&db.pool, skus[0]).await.unwrap();
    assert_eq!((stock.quantity, stock.reserved), (100 - 2 * confirmed, 0));
    db.stop().await;
}

#[tokio::test]
async fn one_key_sent_twenty_times_at_once_reserves_once() {
    let db = Db::start().await;
    let sku = db.skus(&[10]).await[0];
    let attempts = (0..20).map(|_| {
        let pool = db.pool.clone();
        tokio::spawn(async move { reserve(&pool, "order-42:reserve", &[(sku, 3)]).await })
    });
    let reservations: Vec<Reservation> =
        futures::future::join_all(attempts).await.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert!(reservations.iter().all(|r| r.id == reservations[0].id), "one reservation for every copy");
    assert_eq!(inventory::get(&db.pool, sku).await.unwrap().reserved, 3);

    // The same key with other items is refused; another caller's key of the same name is its own.
    let other = reserve(&db.pool, "order-42:reserve", &[(sku, 4)]).await;
    assert!(matches!(other, Err(Error::AlreadyExists(_))), "{other:?}");
    let elsewhere =
        inventory::reserve(&db.pool, "another-caller", &key("order-42:reserve"), &items(&[(sku, 3)]), TTL).await;
    assert_ne!(elsewhere.unwrap().id, reservations[0].id);
    assert_eq!(inventory::get(&db.pool, sku).await.unwrap().reserved, 6);

    // A refused attempt leaves no key: once stock arrives, the same key is tried afresh.
    let short = reserve(&db.pool, "order-43:reserve", &[(sku, 5)]).await;
    assert!(matches!(short, Err(Error::Own(ProductError::InsufficientStock(_)))), "{short:?}");
    inventory::adjust(&db.pool, &admin(), sku, 5, "delivery").await.unwrap();
    assert!(reserve(&db.pool, "order-43:reserve", &[(sku, 5)]).await.is_ok());

    // Confirm and release keys: a replay is answered the same; the key on another reservation is refused.
    let first = reservations[0].id;
    let confirmed = inventory::confirm(&db.pool, "order-service", &key("order-42:confirm"), first).await.unwrap();
    let again = inventory::confirm(&db.pool, "order-service", &key("order-42:confirm"), first).await.unwrap();
    assert_eq!((confirmed.status, again.status), (ReservationStatus::Confirmed, ReservationStatus::Confirmed));
    let second = reserve(&db.pool, "order-44:reserve", &[(sku, 1)]).await.unwrap();
    let misuse = inventory::confirm(&db.pool, "order-service", &key("order-42:confirm"), second.id).await;
    assert!(matches!(misuse, Err(Error::AlreadyExists(_))), "{misuse:?}");
    assert_eq!(inventory::get_reservation(&db.pool, second.id).await.unwrap().status, ReservationStatus::Pending);
    db.check_books(&[sku]).await;
    db.stop().await;
}

#[tokio::test]
async fn a_shortage_lists_every_short_sku_and_unsellable_skus_are_not_found() {
    let db = Db::start().await;
    let skus = db.skus(&[5, 1, 9]).await;
    let short = reserve(&db.pool, "k1", &[(skus[0], 6), (skus[1], 2), (skus[2], 9)]).await;
    let Err(Error::Own(ProductError::InsufficientStock(mut short))) = short else { panic!("{short:?}") };
    short.sort_by_key(|s| s.sku_id);
    let mut expected = vec![(skus[0], 6, 5), (skus[1], 2, 1)];
    expected.sort();
    assert_eq!(short.iter().map(|s| (s.sku_id, s.requested, s.available)).collect::<Vec<_>>(), expected);
    assert_eq!(inventory::get(&db.pool, skus[2]).await.unwrap().reserved, 0, "all or nothing");

    // A SKU that does not exist, and one of a product that is not on sale.
    let missing = reserve(&db.pool, "k2", &[(skus[0], 1), (Uuid::now_v7(), 1)]).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let name = ProductName::parse("Draft").unwrap();
    let draft = catalog::create_product(&db.pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
    let code = SkuCode::parse("DRAFT-1").unwrap();
    let price = Price::parse(100, "USD").unwrap();
    let unsold =
        catalog::create_sku(&db.pool, &admin(), draft.id, &code, &price, &Attributes::default(), 10).await.unwrap();
    let hidden = reserve(&db.pool, "k3", &[(unsold.id, 1)]).await;
    assert!(matches!(hidden, Err(Error::NotFound(_))), "{hidden:?}");
    // Not for sale and short too: still not found, not a shortage that would name the unsold SKU.
    let hidden_and_short = reserve(&db.pool, "k4", &[(skus[0], 1), (unsold.id, 11)]).await;
    assert!(matches!(hidden_and_short, Err(Error::NotFound(_))), "{hidden_and_short:?}");
    for sku in [skus[0], unsold.id] {
        assert_eq!(inventory::get(&db.pool, sku).await.unwrap().reserved, 0, "nothing held");
    }
    db.stop().await;
}

#[tokio::test]
async fn transitions_out_of_pending_are_final_and_say_why_they_are_refused() {
    let db = Db::start().await;
    let sku = db.skus(&[10]).await[0];
    let id = |r: Reservation| r.id;
    let (o, k) = ("order-service", |v: &str| key(v));

    let released = id(reserve(&db.pool, "a", &[(sku, 1)]).await.unwrap());
    assert_eq!(inventory::release(&db.pool, o, &k("a-r"), released).await.unwrap().status, ReservationStatus::Released);
    assert_eq!(
        inventory::release(&db.pool, o, &k("a-r2"), released).await.unwrap().status,
        ReservationStatus::Released
    );
    let confirm_released = inventory::confirm(&db.pool, o, &k("a-c"), released).await;
    assert!(matches!(confirm_released, Err(Error::FailedPrecondition(_))), "{confirm_released:?}");

    let confirmed = id(reserve(&db.pool, "b", &[(sku, 2)]).await.unwrap());
    inventory::confirm(&db.pool, o, &k("b-c"), confirmed).await.unwrap();
    let release_confirmed = inventory::release(&db.pool, o, &k("b-r"), confirmed).await;
    assert!(matches!(release_confirmed, Err(Error::FailedPrecondition(_))), "{release_confirmed:?}");

    // Late: a confirm past the expiry expires the reservation on the spot and says so.
    let late = id(reserve(&db.pool, "c", &[(sku, 3)]).await.unwrap());
    db.make_due(late).await;
    let confirm_late = inventory::confirm(&db.pool, o, &k("c-c"), late).await;
    assert!(matches!(confirm_late, Err(Error::FailedPrecondition(_))), "{confirm_late:?}");
    assert_eq!(inventory::get_reservation(&db.pool, late).await.unwrap().status, ReservationStatus::Expired);
    assert_eq!(inventory::release(&db.pool, o, &k("c-r"), late).await.unwrap().status, ReservationStatus::Expired);

    let unknown = Uuid::now_v7();
    assert!(matches!(inventory::confirm(&db.pool, o, &k("x"), unknown).await, Err(Error::NotFound(_))));
    assert!(matches!(inventory::release(&db.pool, o, &k("x"), unknown).await, Err(Error::NotFound(_))));
    assert!(matches!(inventory::get_reservation(&db.pool, unknown).await, Err(Error::NotFound(_))));

    let stock = inventory::get(&db.pool, sku).await.unwrap();
    assert_eq!((stock.quantity, stock.reserved), (8, 0), "only the confirmed 2 units left the shelf");
    db.check_books(&[sku]).await;
    db.stop().await;
}

#[tokio::test]
async fn a_confirmed_reservation_is_restocked_once_and_nothing_else_is() {
    let db = Db::start().await;
    let sku = db.skus(&[10]).await[0];
    let (o, k) = ("order-service", |v: &str| key(v));

    let sold = reserve(&db.pool, "a", &[(sku, 4)]).await.unwrap().id;
    inventory::confirm(&db.pool, o, &k("a-c"), sold).await.unwrap();
    assert_eq!(inventory::get(&db.pool, sku).await.unwrap().quantity, 6);
    // Restocked once, however often it is asked, with the same key or another.
    let restocked = inventory::restock(&db.pool, o, &k("a-s"), sold).await.unwrap();
    assert_eq!(restocked.status, ReservationStatus::Restocked);
    for again in ["a-s", "a-s2"] {
        assert_eq!(
            inventory::restock(&db.pool, o, &k(again), sold).await.unwrap().status,
            ReservationStatus::Restocked
        );
    }
    let stock = inventory::get(&db.pool, sku).await.unwrap();
    assert_eq!((stock.quantity, stock.reserved), (10, 0), "the 4 units are back on hand, once");
    for late in [
        inventory::confirm(&db.pool, o, &k("a-c2"), sold).await,
        inventory::release(&db.pool, o, &k("a-r"), sold).await,
    ] {
        assert!(matches!(late, Err(Error::FailedPrecondition(_))), "{late:?}");
    }

    // Nothing was sold from a pending, released or expired reservation, so there is nothing to restock.
    let pending = reserve(&db.pool, "b", &[(sku, 1)]).await.unwrap().id;
    let released = reserve(&db.pool, "c", &[(sku, 1)]).await.unwrap().id;
    inventory::release(&db.pool, o, &k("c-r"), released).await.unwrap();
    let expired = reserve(&db.pool, "d", &[(sku, 1)]).await.unwrap().id;
    db.make_due(expired).await;
    expiry::expire_all_due(&db.pool).await;
    for (id, name) in [(pending, "b"), (released, "c"), (expired, "d")] {
        let refused = inventory::restock(&db.pool, o, &k(&format!("{name}-s")), id).await;
        assert!(matches!(refused, Err(Error::FailedPrecondition(_))), "{name}: {refused:?}");
    }
    assert!(matches!(inventory::restock(&db.pool, o, &k("x"), Uuid::now_v7()).await, Err(Error::NotFound(_))));
    // A key belongs to the reservation it was first used for.
    let other = reserve(&db.pool, "e", &[(sku, 1)]).await.unwrap().id;
    inventory::confirm(&db.pool, o, &k("e-c"), other).await.unwrap();
    let reused = inventory::restock(&db.pool, o, &k("a-s"), other).await;
    assert!(matches!(reused, Err(Error::AlreadyExists(_))), "{reused:?}");

    let stock = inventory::get(&db.pool, sku).await.unwrap();
    assert_eq!((stock.quantity, stock.reserved), (9, 1), "one sold (e), one still held (b)");
    db.check_books(&[sku]).await;
    db.stop().await;
}

#[tokio::test]
async fn the_expiry_worker_gives_stock_back_and_leaves_what_is_not_due() {
    let db = Db::start().await;
    let skus = db.skus(&[10, 100]).await;
    let sku = skus[0];
    let due = reserve(&db.pool, "due", &[(sku, 4)]).await.unwrap().id;
    let not_due = reserve(&db.pool, "not-due", &[(sku, 1)]).await.unwrap().id;
    db.make_due(due).await;
    expiry::expire_all_due(&db.pool).await;
    assert_eq!(inventory::get_reservation(&db.pool, due).await.unwrap().status, ReservationStatus::Expired);
    assert_eq!(inventory::get_reservation(&db.pool, not_due).await.unwrap().status, ReservationStatus::Pending);
    assert_eq!(inventory::get(&db.pool, sku).await.unwrap().reserved, 1);

    // Several workers at once (replicas) expire each reservation once.
    let mut many = Vec::new();
    for n in 0..30 {
        many.push(reserve(&db.pool, &format!("m{n}"), &[(skus[1], 2)]).await.unwrap().id);
    }
    for id in &many {
        db.make_due(*id).await;
    }
    let workers = (0..4).map(|_| {
        let pool = db.pool.clone();
        tokio::spawn(async move { inventory::expire_due(&pool, 5).await.unwrap() })
    });
    let mut expired: usize = futures::future::join_all(workers).await.into_iter().map(Result::unwrap).sum();
    loop {
        let more = inventory::expire_due(&db.pool, 100).await.unwrap();
        if more == 0 {
            break;
        }
        expired += more;
    }
    assert_eq!(expired, many.len());
    assert_eq!(inventory::get(&db.pool, skus[1]).await.unwrap().reserved, 0);
    let movements: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM product_service.stock_movements WHERE kind = 'expire' AND sku_id = $1",
    )
    .bind(skus[1])
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(movements, 30, "one expiry movement per reservation");
    db.check_books(&skus).await;
    db.stop().await;
}

#[tokio::test]
async fn stock_counts_need_the_current_version_and_never_go_below_what_is_reserved() {
    let db = Db::start().await;
    let sku = db.skus(&[10]).await[0];
    let admin = admin();
    reserve(&db.pool, "hold", &[(sku, 4)]).await.unwrap();
    let stock = inventory::get(&db.pool, sku).await.unwrap();

    let counted = inventory::update(&db.pool, &admin, sku, 12, stock.version).await.unwrap();
    assert_eq!((counted.quantity, counted.reserved, counted.version), (12, 4, stock.version + 1));
    let stale = inventory::update(&db.pool, &admin, sku, 11, stock.version).await;
    assert!(matches!(stale, Err(Error::Aborted(_))), "{stale:?}");
    let below = inventory::update(&db.pool, &admin, sku, 3, counted.version).await;
    assert!(matches!(below, Err(Error::FailedPrecondition(_))), "{below:?}");
    let negative = inventory::update(&db.pool, &admin, sku, -1, counted.version).await;
    assert!(matches!(negative, Err(Error::InvalidArgument(_))), "{negative:?}");

    // Two admins counting from the same read: exactly one count lands.
    let (a, b) = futures::future::join(
        inventory::update(&db.pool, &admin, sku, 20, counted.version),
        inventory::update(&db.pool, &admin, sku, 30, counted.version),
    )
    .await;
    let (landed, refused) = match (a, b) {
        (Ok(landed), refused @ Err(_)) | (refused @ Err(_), Ok(landed)) => (landed, refused),
        (a, b) => panic!("exactly one count lands: {a:?} {b:?}"),
    };
    assert!(
        matches!(&refused, Err(Error::Aborted("the stock changed since it was read; read it again and retry"))),
        "the other is told its read is stale, nothing else: {refused:?}"
    );
    assert!([20, 30].contains(&landed.quantity) && landed.version == counted.version + 1, "{landed:?}");
    assert_eq!(inventory::get(&db.pool, sku).await.unwrap(), landed, "the count that landed is the stock");

    assert!(matches!(inventory::adjust(&db.pool, &admin, sku, 0, "").await, Err(Error::InvalidArgument(_))));
    let too_far = inventory::adjust(&db.pool, &admin, sku, -100, "breakage").await;
    assert!(matches!(too_far, Err(Error::FailedPrecondition(_))), "{too_far:?}");
    let overflow = inventory::adjust(&db.pool, &admin, sku, i64::MAX, "").await;
    assert!(matches!(overflow, Err(Error::InvalidArgument(_))), "{overflow:?}");
    let adjusted = inventory::adjust(&db.pool, &admin, sku, -2, "breakage").await.unwrap();
    assert_eq!(adjusted.reserved, 4);
    let note: (String, String) =
        sqlx::query_as("SELECT actor, note FROM product_service.stock_movements WHERE sku_id = $1 AND kind = 'adjust'")
            .bind(sku)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(note, (admin.0.clone(), "breakage".to_owned()), "who and why are kept");
    assert!(matches!(inventory::get(&db.pool, Uuid::now_v7()).await, Err(Error::NotFound(_))));
    db.check_books(&[sku]).await;
    db.stop().await;
}

#[tokio::test]
async fn catalog_edits_deletes_and_reservations_on_one_product_at_once_never_deadlock_nor_cross() {
    let db = Db::start().await;
    for round in 0..5 {
        let skus = db.skus(&[100, 100, 100, 100]).await;
        let product: Uuid = sqlx::query_scalar("SELECT product_id FROM product_service.skus WHERE id = $1")
            .bind(skus[0])
            .fetch_one(&db.pool)
            .await
            .unwrap();
        let mut work: Vec<tokio::task::JoinHandle<Result<(), Error>>> = Vec::new();
        for n in 0..12 {
            let (pool, skus) = (db.pool.clone(), skus.clone());
            work.push(tokio::spawn(async move {
                let pairs: Vec<(Uuid, i64)> = skus.iter().rev().map(|sku| (*sku, 1)).collect();
                reserve(&pool, &format!("r{round}-{n}"), &pairs).await.map(|_| ())
            }));
        }
        for (n, sku) in skus.iter().enumerate() {
            let (pool, sku) = (db.pool.clone(), *sku);
            work.push(tokio::spawn(async move {
                let change = SkuChange {
                    code: None,
                    price: Some(Price::parse(100 + n as i64, "JPY").unwrap()),
                    attributes: None,
                };
                catalog::update_sku(&pool, &ec_product::events::outbox(), sku, change).await.map(|_| ())
            }));
            let pool = db.pool.clone();
            work.push(tokio::spawn(async move { catalog::delete_sku(&pool, sku).await }));
        }
        let pool = db.pool.clone();
        work.push(tokio::spawn(async move {
            catalog::hide(&pool, &ec_product::events::outbox(), product).await.map(|_| ())
        }));
        let pool = db.pool.clone();
        work.push(tokio::spawn(async move { catalog::delete_product(&pool, None, product).await }));

        for result in futures::future::join_all(work).await {
            match result.unwrap() {
                Ok(())
                | Err(
                    Error::FailedPrecondition(_) | Error::NotFound(_) | Error::Own(ProductError::InsufficientStock(_)),
                ) => {}
                Err(other) => panic!("round {round}: {other:?}"),
            }
        }
        // No pending reservation holds a SKU that was deleted, or a SKU of a deleted product.
        let crossed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM product_service.reservation_items ri
             JOIN product_service.reservations r ON r.id = ri.reservation_id AND r.status = 'pending'
             JOIN product_service.skus s ON s.id = ri.sku_id
             JOIN product_service.products p ON p.id = s.product_id
             WHERE s.deleted_at IS NOT NULL OR p.deleted_at IS NOT NULL",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(crossed, 0, "round {round}");
        db.check_books(&skus).await;
    }
    db.stop().await;
}

#[tokio::test]
async fn a_reservation_that_waited_on_a_delete_holds_nothing_of_what_it_deleted() {
    let db = Db::start().await;
    let skus = db.skus(&[10, 10]).await;
    let deleted = |sku: Uuid| {
        let pool = db.pool.clone();
        async move {
            let deleted: bool =
                sqlx::query_scalar("SELECT deleted_at IS NOT NULL FROM product_service.inventory WHERE sku_id = $1")
                    .bind(sku)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            deleted
        }
    };

    // A delete marks the stock it deletes, which is how a reservation that read the SKU as for sale before the
    // delete committed learns that it is gone.
    catalog::delete_sku(&db.pool, skus[1]).await.unwrap();
    assert!(deleted(skus[1]).await, "a delete marks the stock deleted");

    // A delete as it happens, held open: the stock locked, the SKU and its stock marked deleted. A reservation
    // starts meanwhile (its snapshot shows the SKU for sale), waits on the lock, and is let go when the delete
    // commits: it must find the SKU gone, not hold it.
    let mut delete = db.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM product_service.inventory WHERE sku_id = $1 FOR UPDATE")
        .bind(skus[0])
        .execute(&mut *delete)
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let (pool, sku) = (db.pool.clone(), skus[0]);
        async move { reserve(&pool, "waits-on-a-delete", &[(sku, 1)]).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the reservation waits on the delete's lock");
    sqlx::query("UPDATE product_service.skus SET deleted_at = now() WHERE id = $1")
        .bind(skus[0])
        .execute(&mut *delete)
        .await
        .unwrap();
    sqlx::query("UPDATE product_service.inventory SET deleted_at = now() WHERE sku_id = $1")
        .bind(skus[0])
        .execute(&mut *delete)
        .await
        .unwrap();
    delete.commit().await.unwrap();
    let reserved = waiting.await.unwrap();
    assert!(matches!(reserved, Err(Error::NotFound(_))), "{reserved:?}");
    db.check_books(&skus).await;
    db.stop().await;
}
