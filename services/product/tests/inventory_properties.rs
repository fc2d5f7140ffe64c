//! Random sequences of reserve, confirm, release, expire, adjust and update against a real PostgreSQL; after
//! every step the books must balance for every SKU:
//! - the invariant `0 <= reserved <= quantity`;
//! - conservation: quantity is the initial stock plus the sum of the movements, and reserved the sum of
//!   theirs;
//! - reserved equals the units held by pending reservations;
//! - and the service agrees with a plain model of what each step should have done.

use std::{collections::BTreeMap, time::Duration};

use ec_platform::config::DatabaseArgs;
use ec_product::{
    catalog,
    db::reservations::Reservation,
    domain::{
        Actor, Attributes, Description, IdempotencyKey, Price, ProductName, ReservationItems, ReservationStatus,
        SkuCode,
    },
    error::{Error, ProductError},
    inventory,
};
use ec_testing::TestDatabase;
use proptest::prelude::*;
use sqlx::PgPool;
use uuid::Uuid;

const SKUS: usize = 3;
const INITIAL: i64 = 10;

#[derive(Clone, Debug)]
enum Step {
    /// Units per SKU (0 = not in the batch).
    Reserve([i64; SKUS]),
    /// Of the reservations made so far, the n-th (modulo their number).
    Confirm(usize),
    Release(usize),
    Expire(usize),
    Adjust(usize, i64),
    /// Set the quantity, quoting the current version or a stale one.
    Update(usize, i64, bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => prop::array::uniform3(0i64..5).prop_map(Step::Reserve),
        2 => any::<usize>().prop_map(Step::Confirm),
        2 => any::<usize>().prop_map(Step::Release),
        1 => any::<usize>().prop_map(Step::Expire),
        1 => (0..SKUS, -8i64..8).prop_map(|(sku, delta)| Step::Adjust(sku, delta)),
        1 => (0..SKUS, 0i64..20, any::<bool>()).prop_map(|(sku, quantity, stale)| Step::Update(sku, quantity, stale)),
    ]
}

/// What the stock should be: quantity and reserved per SKU, and each reservation's items and status.
#[derive(Default)]
struct Model {
    quantity: [i64; SKUS],
    reserved: [i64; SKUS],
    reservations: Vec<(Uuid, [i64; SKUS], ReservationStatus)>,
}

struct Fixture {
    pool: PgPool,
    skus: [Uuid; SKUS],
}

async fn fixture(pool: &PgPool) -> Fixture {
    let actor = Actor("admin".into());
    let name = ProductName::parse("Property").unwrap();
    let product = catalog::create_product(pool, &name, &Description::parse("").unwrap(), None).await.unwrap();
    let mut skus = [Uuid::nil(); SKUS];
    for sku in &mut skus {
        let code = SkuCode::parse(&format!("P-{}", Uuid::now_v7().simple())).unwrap();
        let price = Price::parse(500, "EUR").unwrap();
        *sku = catalog::create_sku(pool, &actor, product.id, &code, &price, &Attributes::default(), INITIAL)
            .await
            .unwrap()
            .id;
    }
    catalog::publish(pool, &ec_product::events::outbox(), product.id).await.unwrap();
    Fixture { pool: pool.clone(), skus }
}

impl Fixture {
    async fn run(&self, steps: &[Step]) {
        let mut model = Model { quantity: [INITIAL; SKUS], ..Model::default() };
        let actor = Actor("admin".into());
        for (n, step) in steps.iter().enumerate() {
            let key = IdempotencyKey::parse(&format!("{}-{n}", Uuid::now_v7())).unwrap();
            let pick = |i: usize| (!model.reservations.is_empty()).then(|| i % model.reservations.len());
            match step.clone() {
                Step::Reserve(units) => {
                    let pairs: Vec<(String, i64)> =
                        (0..SKUS).filter(|&s| units[s] > 0).map(|s| (self.skus[s].to_string(), units[s])).collect();
                    let Ok(items) = ReservationItems::parse(pairs.iter().map(|(id, q)| (id.as_str(), *q))) else {
                        continue; // an empty batch: refused before the database
                    };
                    let fits = (0..SKUS).all(|s| model.quantity[s] - model.reserved[s] >= units[s]);
                    let result = inventory::reserve(&self.pool, "p", &key, &items, Duration::from_secs(900)).await;
                    match result {
                        Ok(reservation) => {
                            assert!(fits, "step {n}: reserved beyond the stock");
                            (0..SKUS).for_each(|s| model.reserved[s] += units[s]);
                            model.reservations.push((reservation.id, units, ReservationStatus::Pending));
                        }
                        Err(Error::Own(ProductError::InsufficientStock(_))) => {
                            assert!(!fits, "step {n}: refused though it fits")
                        }
                        Err(e) => panic!("step {n}: {e:?}"),
                    }
                }
                Step::Confirm(i) | Step::Release(i) | Step::Expire(i) => {
                    let Some(i) = pick(i) else { continue };
                    let (id, units, status) = model.reservations[i];
                    let pending = status == ReservationStatus::Pending;
                    let to = match step {
                        Step::Confirm(_) => {
                            let result = inventory::confirm(&self.pool, "p", &key, id).await;
                            match status {
                                ReservationStatus::Pending | ReservationStatus::Confirmed => {
                                    assert_made(&result, ReservationStatus::Confirmed, n)
                                }
                                ReservationStatus::Released => {
                                    assert_refused(&result, failed_precondition("the reservation was released"), n)
                                }
                                ReservationStatus::Expired => {
                                    assert_refused(&result, failed_precondition("the reservation has expired"), n)
                                }
                                ReservationStatus::Restocked => unreachable!("no step restocks"),
                            }
                            ReservationStatus::Confirmed
                        }
                        Step::Release(_) => {
                            let result = inventory::release(&self.pool, "p", &key, id).await;
                            match status {
                                ReservationStatus::Pending => assert_made(&result, ReservationStatus::Released, n),
                                // Already given back: answered as it is.
                                ReservationStatus::Released | ReservationStatus::Expired => {
                                    assert_made(&result, status, n)
                                }
                                ReservationStatus::Confirmed => assert_refused(
                                    &result,
                                    failed_precondition(
                                        "the reservation was confirmed; a cancelled order's stock goes back through \
                                         RestockReservation",
                                    ),
                                    n,
                                ),
                                ReservationStatus::Restocked => unreachable!("no step restocks"),
                            }
                            ReservationStatus::Released
                        }
                        _ => {
                            sqlx::query("UPDATE product_service.reservations SET expires_at = now() - interval '1 s' WHERE id = $1")
                                .bind(id)
                                .execute(&self.pool)
                                .await
                                .unwrap();
                            inventory::expire_due(&self.pool, 100).await.unwrap();
                            ReservationStatus::Expired
                        }
                    };
                    if pending {
                        for (s, held) in units.iter().enumerate() {
                            model.reserved[s] -= held;
                            if to == ReservationStatus::Confirmed {
                                model.quantity[s] -= held;
                            }
                        }
                        model.reservations[i].2 = to;
                    }
                }
                Step::Adjust(s, delta) => {
                    let result = inventory::adjust(&self.pool, &actor, self.skus[s], delta, "count").await;
                    let (quantity, reserved) = (model.quantity[s] + delta, model.reserved[s]);
                    if delta == 0 {
                        assert_refused(&result, Error::InvalidArgument("delta must not be zero".into()), n);
                    } else if quantity < reserved {
                        let below =
                            format!("the quantity would drop to {quantity}, below the {reserved} units reserved");
                        assert_refused(&result, failed_precondition(&below), n);
                    } else {
                        let stock = result.unwrap_or_else(|e| panic!("step {n}: {e:?}"));
                        assert_eq!((stock.quantity, stock.reserved), (quantity, reserved), "step {n}");
                        model.quantity[s] = quantity;
                    }
                }
                Step::Update(s, quantity, stale) => {
                    let current = inventory::get(&self.pool, self.skus[s]).await.unwrap().version;
                    let version = if stale { current - 1 } else { current };
                    let result = inventory::update(&self.pool, &actor, self.skus[s], quantity, version).await;
                    let reserved = model.reserved[s];
                    if stale {
                        let changed = Error::Aborted("the stock changed since it was read; read it again and retry");
                        assert_refused(&result, changed, n);
                    } else if quantity < reserved {
                        let below = format!("quantity {quantity} is below the {reserved} units reserved");
                        assert_refused(&result, failed_precondition(&below), n);
                    } else {
                        let stock = result.unwrap_or_else(|e| panic!("step {n}: {e:?}"));
                        assert_eq!((stock.quantity, stock.reserved), (quantity, reserved), "step {n}");
                        model.quantity[s] = quantity;
                    }
                }
            }
            self.check(&model, n).await;
        }
    }

    async fn check(&self, model: &Model, n: usize) {
        for (s, sku) in self.skus.iter().enumerate() {
            let stock = inventory::get(&self.pool, *sku).await.unwrap();
            assert!(0 <= stock.reserved && stock.reserved <= stock.quantity, "step {n}: {stock:?}");
            assert_eq!((stock.quantity, stock.reserved), (model.quantity[s], model.reserved[s]), "step {n}, SKU {s}");
            let (moved_quantity, moved_reserved): (i64, i64) = sqlx::query_as(
                "SELECT coalesce(sum(quantity_delta) FILTER (WHERE kind <> 'initial'), 0)::bigint,
                        coalesce(sum(reserved_delta), 0)::bigint
                 FROM product_service.stock_movements WHERE sku_id = $1",
            )
            .bind(sku)
            .fetch_one(&self.pool)
            .await
            .unwrap();
            assert_eq!(stock.quantity, INITIAL + moved_quantity, "step {n}: conservation of quantity");
            assert_eq!(stock.reserved, moved_reserved, "step {n}: conservation of reserved");
            let pending: i64 = sqlx::query_scalar(
                "SELECT coalesce(sum(ri.quantity), 0)::bigint FROM product_service.reservation_items ri
                 JOIN product_service.reservations r ON r.id = ri.reservation_id
                 WHERE ri.sku_id = $1 AND r.status = 'pending'",
            )
            .bind(sku)
            .fetch_one(&self.pool)
            .await
            .unwrap();
            assert_eq!(stock.reserved, pending, "step {n}: reserved is what pending reservations hold");
        }
        let statuses: BTreeMap<Uuid, ReservationStatus> =
            model.reservations.iter().map(|(id, _, st)| (*id, *st)).collect();
        for (id, expected) in statuses {
            assert_eq!(inventory::get_reservation(&self.pool, id).await.unwrap().status, expected, "step {n}");
        }
    }
}

fn failed_precondition(message: &str) -> Error {
    Error::FailedPrecondition(message.to_owned())
}

/// `result` is exactly the refusal `expected`, its kind and its message: a deadlock, a database error or
/// another refusal does not pass for it.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: &Result<T, Error>, expected: Error, n: usize) {
    match result {
        Err(refused) => assert_eq!(format!("{refused:?}"), format!("{expected:?}"), "step {n}"),
        Ok(answer) => panic!("step {n}: expected {expected:?}, got {answer:?}"),
    }
}

/// `result` is a reservation, now in `status`.
#[track_caller]
fn assert_made(result: &Result<Reservation, Error>, status: ReservationStatus, n: usize) {
    match result {
        Ok(reservation) => assert_eq!(reservation.status, status, "step {n}"),
        Err(e) => panic!("step {n}: expected a reservation {status:?}, got {e:?}"),
    }
}

#[test]
fn random_sequences_keep_the_books_balanced() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (database, pool) = runtime.block_on(async {
        let database = TestDatabase::create().await;
        let args = DatabaseArgs { url: database.url(), max_connections: 4 };
        let pool = ec_platform::startup::database(&args, ec_product::SCHEMA, ec_product::migrator()).await.unwrap();
        (database, pool)
    });
    let config = ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(steps in prop::collection::vec(step(), 1..25))| {
        runtime.block_on(async {
            let fixture = fixture(&pool).await;
            fixture.run(&steps).await;
        });
    });
    runtime.block_on(async {
        pool.close().await;
        database.drop_now().await;
    });
}
