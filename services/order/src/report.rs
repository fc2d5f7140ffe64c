//! The back office's sales report (`AdminSalesReport`): every figure is aggregated by PostgreSQL, in one
//! read-only snapshot, over the orders placed since the period's first midnight in the shop's time zone, which
//! an index on `created_at` (with the status, currency and total beside it) reaches without touching the rest.
//!
//! Revenue counts the orders that went through and stayed so (`confirmed`, `shipped`) at their total;
//! pending, failed and cancelled orders are counted by status only. Each currency is summed on its own: amounts
//! in different currencies are never added.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{error::Error, orders::Status};

/// Days in a period when none are asked for.
pub const DEFAULT_DAYS: i32 = 30;
/// The longest period: a year, leap day included.
pub const MAX_DAYS: i32 = 366;

/// The report.
#[derive(Debug)]
pub struct Report {
    pub first_day: NaiveDate,
    pub today: NaiveDate,
    /// The most orders first, then by code.
    pub currencies: Vec<CurrencySales>,
    /// Orders placed in the period, by status, in the statuses' order.
    pub by_status: Vec<(Status, i64)>,
    /// Confirmed orders, of any age, not shipped yet.
    pub awaiting_shipment: i64,
}

/// Sales in one currency.
#[derive(Debug)]
pub struct CurrencySales {
    pub currency_code: String,
    pub today: Figures,
    pub period: Figures,
    /// Every day of the period, oldest first: (day, revenue, orders).
    pub days: Vec<(NaiveDate, Figures)>,
    pub best_sellers: Vec<ProductSales>,
}

/// Revenue (in minor units) and orders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub revenue: i64,
    pub orders: i64,
}

impl Figures {
    /// Revenue per order, rounded down; 0 without orders.
    pub fn average(self) -> i64 {
        if self.orders == 0 { 0 } else { self.revenue / self.orders }
    }
}

/// One product's sales.
#[derive(Debug, sqlx::FromRow)]
pub struct ProductSales {
    pub product_id: Uuid,
    pub product_name: String,
    pub units: i64,
    pub revenue: i64,
}

/// The sales of the `days` days up to today in `time_zone` (an IANA name; empty is UTC).
pub async fn sales(pool: &PgPool, time_zone: &str, days: i32) -> Result<Report, Error> {
    let days = match days {
        0 => DEFAULT_DAYS,
        1..=MAX_DAYS => days,
        _ => return Err(Error::InvalidArgument(format!("days must be 0 (for {DEFAULT_DAYS}) to {MAX_DAYS}"))),
    };
    let zone = if time_zone.is_empty() { "UTC" } else { time_zone };
    if !known_zone(pool, zone).await? {
        return Err(Error::InvalidArgument("time_zone must be an IANA time zone such as Asia/Tokyo".into()));
    }
    let mut tx = pool.begin().await?;
    // One snapshot for every figure, so they add up even while orders are placed.
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    let (first_day, today, since): (NaiveDate, NaiveDate, DateTime<Utc>) = sqlx::query_as(
        "SELECT today - ($2 - 1), today, (today - ($2 - 1))::timestamp AT TIME ZONE $1
         FROM (SELECT (now() AT TIME ZONE $1)::date AS today) AS local",
    )
    .bind(zone)
    .bind(days)
    .fetch_one(&mut *tx)
    .await?;

    let daily: Vec<(String, NaiveDate, i64, i64)> = sqlx::query_as(
        // Summed per currency and day first (a hash aggregate over the period's orders), then laid over every
        // day of the period, so days without sales show.
        "WITH sold AS (
             SELECT currency_code, (created_at AT TIME ZONE $1)::date AS day, sum(total) AS revenue, count(*) AS orders
             FROM order_service.orders
             WHERE created_at >= $2 AND status IN ('confirmed', 'shipped')
             GROUP BY 1, 2
         )
         SELECT c.currency_code, d.day::date, coalesce(s.revenue, 0)::bigint, coalesce(s.orders, 0)
         FROM (SELECT DISTINCT currency_code FROM sold) AS c
         CROSS JOIN generate_series($3::date::timestamp, $4::date::timestamp, interval '1 day') AS d(day)
         LEFT JOIN sold AS s ON s.currency_code = c.currency_code AND s.day = d.day::date
         ORDER BY 1, 2",
    )
    .bind(zone)
    .bind(since)
    .bind(first_day)
    .bind(today)
    .fetch_all(&mut *tx)
    .await?;

    let best: Vec<(String, ProductSales)> = sqlx::query_as::<_, (String, Uuid, String, i64, i64)>(
        // Hash-aggregated (no sort of the period's items): a renamed product shows the last of its names in
        // alphabetical order.
        "SELECT currency_code, product_id, product_name, units, revenue FROM (
             SELECT o.currency_code, i.product_id, max(i.product_name) AS product_name,
                    sum(i.quantity)::bigint AS units, sum(i.quantity * i.unit_price)::bigint AS revenue,
                    row_number() OVER (PARTITION BY o.currency_code
                                       ORDER BY sum(i.quantity) DESC, sum(i.quantity * i.unit_price) DESC,
                                                i.product_id) AS rank
             FROM order_service.orders AS o JOIN order_service.order_items AS i ON i.order_id = o.id
             WHERE o.created_at >= $1 AND o.status IN ('confirmed', 'shipped')
             GROUP BY o.currency_code, i.product_id
         ) AS ranked
         WHERE rank <= 5 ORDER BY currency_code, rank",
    )
    .bind(since)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|(currency, product_id, product_name, units, revenue)| {
        (currency, ProductSales { product_id, product_name, units, revenue })
    })
    .collect();

    let by_status: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM order_service.orders WHERE created_at >= $1 GROUP BY status")
            .bind(since)
            .fetch_all(&mut *tx)
            .await?;
    let awaiting_shipment: i64 =
        sqlx::query_scalar("SELECT count(*) FROM order_service.orders WHERE status = 'confirmed'")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;

    Ok(Report {
        first_day,
        today,
        currencies: by_currency(daily, best, today),
        by_status: in_status_order(by_status),
        awaiting_shipment,
    })
}

/// The IANA time zone names PostgreSQL knows, read once per process: reading `pg_timezone_names` takes tens of
/// milliseconds, and `AT TIME ZONE` alone would also take POSIX strings (`UTC+9`, whose sign is inverted) and
/// abbreviations (`PST`, which ignores daylight saving) without complaint.
static ZONES: tokio::sync::OnceCell<HashSet<String>> = tokio::sync::OnceCell::const_new();

async fn known_zone(pool: &PgPool, zone: &str) -> Result<bool, Error> {
    let zones = ZONES
        .get_or_try_init(|| async {
            let names: Vec<String> = sqlx::query_scalar("SELECT name FROM pg_timezone_names").fetch_all(pool).await?;
            Ok::<_, Error>(names.into_iter().collect())
        })
        .await?;
    Ok(zones.contains(zone))
}

/// The daily rows (sorted by currency, then day) and best sellers gathered per currency: the most orders
/// first, then by code (amounts in different currencies are not compared).
fn by_currency(
    daily: Vec<(String, NaiveDate, i64, i64)>,
    best: Vec<(String, ProductSales)>,
    today: NaiveDate,
) -> Vec<CurrencySales> {
    let mut currencies: Vec<CurrencySales> = Vec::new();
    for (currency_code, day, revenue, orders) in daily {
        if currencies.last().is_none_or(|c| c.currency_code != currency_code) {
            currencies.push(CurrencySales {
                currency_code,
                today: Figures::default(),
                period: Figures::default(),
                days: Vec::new(),
                best_sellers: Vec::new(),
            });
        }
        let sales = currencies.last_mut().expect("pushed above");
        let figures = Figures { revenue, orders };
        sales.period.revenue += revenue;
        sales.period.orders += orders;
        if day == today {
            sales.today = figures;
        }
        sales.days.push((day, figures));
    }
    for (currency_code, product) in best {
        if let Some(sales) = currencies.iter_mut().find(|c| c.currency_code == currency_code) {
            sales.best_sellers.push(product);
        }
    }
    currencies.sort_by(|a, b| b.period.orders.cmp(&a.period.orders).then(a.currency_code.cmp(&b.currency_code)));
    currencies
}

fn in_status_order(counts: Vec<(String, i64)>) -> Vec<(Status, i64)> {
    let mut counted: Vec<(Status, i64)> =
        counts.into_iter().map(|(status, count)| (Status::parse(&status), count)).collect();
    counted.sort_by_key(|(status, _)| *status as u8);
    counted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, n).unwrap()
    }

    #[test]
    fn currencies_are_summed_apart_and_the_one_with_most_orders_comes_first() {
        let daily = vec![
            ("EUR".to_owned(), day(5), 0, 0),
            ("EUR".to_owned(), day(6), 9_000, 1),
            ("JPY".to_owned(), day(5), 3_000, 2),
            ("JPY".to_owned(), day(6), 12_000, 3),
        ];
        let product =
            |name: &str| ProductSales { product_id: Uuid::nil(), product_name: name.into(), units: 1, revenue: 1 };
        let best = vec![("JPY".to_owned(), product("Hojicha")), ("EUR".to_owned(), product("Sencha"))];
        let sales = by_currency(daily, best, day(6));
        assert_eq!(sales.iter().map(|c| c.currency_code.as_str()).collect::<Vec<_>>(), ["JPY", "EUR"]);
        assert_eq!(sales[0].period, Figures { revenue: 15_000, orders: 5 });
        assert_eq!(sales[0].today, Figures { revenue: 12_000, orders: 3 });
        assert_eq!(sales[0].period.average(), 3_000);
        assert_eq!(sales[0].days.len(), 2);
        assert_eq!(sales[0].best_sellers[0].product_name, "Hojicha");
        assert_eq!(sales[1].best_sellers[0].product_name, "Sencha");
        assert_eq!(Figures::default().average(), 0);
    }
}
