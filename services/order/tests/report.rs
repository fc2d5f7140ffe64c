//! The back office's sales report against real orders in PostgreSQL: every figure equals what the test's own
//! orders add up to, days are the shop's calendar days, currencies are summed apart, and bad requests and
//! callers are refused with their codes.

mod support;

use connectrpc::ErrorCode;
use ec_proto::order::v1::{
    AdminSalesReportRequest, AdminSalesReportResponse, CancelOrderRequest, ListOrdersRequest, OrderStatus,
    ShipOrderRequest,
};
use support::*;
use uuid::Uuid;

fn report(time_zone: &str, days: i32) -> AdminSalesReportRequest {
    AdminSalesReportRequest { time_zone: time_zone.into(), days, ..Default::default() }
}

/// Moves order `id`'s placement to `at` (an SQL expression of a time).
async fn placed_at(platform: &Platform, id: &str, at: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE order_service.orders SET created_at = {at} WHERE id = $1")))
        .bind(Uuid::parse_str(id).unwrap())
        .execute(platform.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_sales_report_adds_up_the_shops_own_orders_by_day_status_currency_and_product() {
    let platform = Platform::start().await;
    let admin = platform.orders(&Who::Admin(Uuid::now_v7()));
    // A shop without orders: no currencies, no statuses, nothing to ship.
    let quiet = admin.admin_sales_report(report("Asia/Tokyo", 7)).await.unwrap().into_owned();
    assert!(quiet.currencies.is_empty() && quiet.orders_by_status.is_empty() && quiet.awaiting_shipment == 0);
    let skus = platform.skus(&[100, 100]).await;
    let buyer = customer();
    // Five orders: three that went through (one shipped), one declined, one cancelled.
    let mut placed = Vec::new();
    for (n, (sku, quantity, card)) in [
        (skus[0], 2, APPROVE),
        (skus[0], 1, APPROVE),
        (skus[1], 3, APPROVE),
        (skus[1], 1, DECLINE),
        (skus[0], 4, APPROVE),
    ]
    .into_iter()
    .enumerate()
    {
        platform.add(&buyer, sku, quantity).await;
        placed.push(platform.checkout(&buyer, &format!("order-{n}"), card).await.unwrap());
    }
    let orders = platform.orders(&buyer);
    let cancel =
        CancelOrderRequest { id: placed[4].id.clone(), reason: "changed my mind".into(), ..Default::default() };
    orders.cancel_order(cancel).await.unwrap();
    let ship = ShipOrderRequest { id: placed[2].id.clone(), tracking_number: "JP1".into(), ..Default::default() };
    admin.ship_order(ship).await.unwrap();
    let total = |n: usize| placed[n].total.amount;

    // In Tokyo: order 1 was placed a minute before today began (yesterday there), order 0 three days ago.
    let tokyo_midnight = "(date_trunc('day', now() AT TIME ZONE 'Asia/Tokyo') AT TIME ZONE 'Asia/Tokyo')";
    placed_at(&platform, &placed[1].id, &format!("{tokyo_midnight} - interval '1 minute'")).await;
    placed_at(&platform, &placed[0].id, &format!("{tokyo_midnight} - interval '3 days' + interval '1 hour'")).await;
    // One more, confirmed but placed 40 days ago: outside the period, still waiting to be shipped.
    platform.add(&buyer, skus[0], 1).await;
    let old = platform.checkout(&buyer, "old", APPROVE).await.unwrap();
    placed_at(&platform, &old.id, "now() - interval '40 days'").await;

    let answer: AdminSalesReportResponse =
        admin.admin_sales_report(report("Asia/Tokyo", 0)).await.unwrap().into_owned();
    let first = chrono::NaiveDate::parse_from_str(&answer.first_day, "%Y-%m-%d").unwrap();
    let today = chrono::NaiveDate::parse_from_str(&answer.today, "%Y-%m-%d").unwrap();
    assert_eq!((today - first).num_days(), 29, "30 days, today included");
    assert_eq!(answer.currencies.len(), 1);
    let jpy = &answer.currencies[0];
    assert_eq!(jpy.currency_code, "JPY");
    // Revenue: the confirmed and shipped orders of the period (0, 1, 2), at their totals.
    assert_eq!(jpy.period.revenue.amount, total(0) + total(1) + total(2));
    assert_eq!(jpy.period.orders, 3);
    assert_eq!(jpy.period.average_order_value.amount, (total(0) + total(1) + total(2)) / 3);
    assert_eq!((jpy.today.revenue.amount, jpy.today.orders), (total(2), 1));
    assert_eq!(jpy.days.len(), 30);
    assert_eq!(jpy.days.first().unwrap().date, answer.first_day);
    assert_eq!(jpy.days.last().unwrap().date, answer.today);
    let day = |back: usize| &jpy.days[29 - back];
    assert_eq!((day(1).revenue.amount, day(1).orders), (total(1), 1), "a minute before midnight is yesterday");
    assert_eq!((day(3).revenue.amount, day(3).orders), (total(0), 1));
    assert_eq!(jpy.days.iter().map(|d| d.revenue.amount).sum::<i64>(), jpy.period.revenue.amount);
    // Best sellers by units: both SKUs are one product's; 2 + 1 + 3 units went through (the declined one and the
    // cancelled 4 are left out).
    let best: Vec<(&str, i64, i64)> =
        jpy.best_sellers.iter().map(|p| (p.product_name.as_str(), p.units, p.revenue.amount)).collect();
    assert_eq!(best, [("Stoneware mug", 6, 6 * 1500)]);
    // Orders by status, in the period: every status the test made.
    let by_status: Vec<(OrderStatus, i64)> =
        answer.orders_by_status.iter().map(|s| (s.status.as_known().unwrap(), s.count)).collect();
    assert_eq!(
        by_status,
        [
            (OrderStatus::ORDER_STATUS_CONFIRMED, 2),
            (OrderStatus::ORDER_STATUS_FAILED, 1),
            (OrderStatus::ORDER_STATUS_CANCELLED, 1),
            (OrderStatus::ORDER_STATUS_SHIPPED, 1),
        ]
    );
    // Waiting to be shipped: the confirmed ones, the 40-day-old one too.
    assert_eq!(answer.awaiting_shipment, 3);

    // The customer's history can leave the failed attempt out, or show only it; a page token goes on only with
    // the statuses it was made for.
    let mine = |statuses: Vec<OrderStatus>, page_size: i32, page_token: String| ListOrdersRequest {
        statuses: statuses.into_iter().map(Into::into).collect(),
        page_size,
        page_token,
        ..Default::default()
    };
    let kept = [
        OrderStatus::ORDER_STATUS_PENDING,
        OrderStatus::ORDER_STATUS_CONFIRMED,
        OrderStatus::ORDER_STATUS_CANCELLED,
        OrderStatus::ORDER_STATUS_SHIPPED,
    ];
    let shown = orders.list_orders(mine(kept.to_vec(), 0, String::new())).await.unwrap().into_owned().orders;
    assert_eq!(shown.len(), 5);
    assert!(shown.iter().all(|o| o.status.as_known() != Some(OrderStatus::ORDER_STATUS_FAILED)));
    let failed = orders
        .list_orders(mine(vec![OrderStatus::ORDER_STATUS_FAILED], 0, String::new()))
        .await
        .unwrap()
        .into_owned()
        .orders;
    assert_eq!(failed.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), [placed[3].id.as_str()]);
    let page = orders.list_orders(mine(kept.to_vec(), 2, String::new())).await.unwrap().into_owned();
    assert_eq!(page.orders.len(), 2);
    let other = mine(vec![OrderStatus::ORDER_STATUS_FAILED], 2, page.next_page_token.clone());
    assert_eq!(code(orders.list_orders(other).await), ErrorCode::InvalidArgument, "a token for other statuses");
    let unknown = mine(vec![OrderStatus::ORDER_STATUS_UNSPECIFIED], 0, String::new());
    assert_eq!(code(orders.list_orders(unknown).await), ErrorCode::InvalidArgument);

    platform.stop().await;
}

#[tokio::test]
async fn currencies_are_reported_apart_and_bad_reports_and_callers_are_refused() {
    let platform = Platform::start().await;
    let skus = platform.skus(&[10]).await;
    let buyer = customer();
    let mut totals = Vec::new();
    for n in 0..2 {
        platform.add(&buyer, skus[0], 1).await;
        totals.push(platform.checkout(&buyer, &format!("k{n}"), APPROVE).await.unwrap());
    }
    // The second as if it had been placed in another currency: never added to the first.
    sqlx::query("UPDATE order_service.orders SET currency_code = 'USD', subtotal = 700, shipping_fee = 300, total = 1000 WHERE id = $1")
        .bind(Uuid::parse_str(&totals[1].id).unwrap())
        .execute(platform.pool())
        .await
        .unwrap();
    let admin = platform.orders(&Who::Admin(Uuid::now_v7()));
    let answer = admin.admin_sales_report(report("", 1)).await.unwrap().into_owned();
    assert_eq!(answer.first_day, answer.today, "one day: today");
    let currencies: Vec<(&str, i64, i64)> = answer
        .currencies
        .iter()
        .map(|c| (c.currency_code.as_str(), c.period.revenue.amount, c.period.orders))
        .collect();
    assert_eq!(currencies, [("JPY", totals[0].total.amount, 1), ("USD", 1000, 1)], "as many orders: by code");
    assert_eq!(answer.currencies[1].days.len(), 1);

    for (request, why) in [
        (report("Mars/Olympus_Mons", 0), "an unknown time zone"),
        (report("Asia/Tokyo'; DROP TABLE order_service.orders; --", 0), "SQL in a time zone"),
        (report("UTC+9", 0), "a POSIX time zone, whose sign PostgreSQL inverts"),
        (report("PST", 0), "an abbreviation"),
        (report("UTC", 367), "more than a year"),
        (report("UTC", -1), "negative days"),
    ] {
        assert_eq!(code(admin.admin_sales_report(request).await), ErrorCode::InvalidArgument, "{why}");
    }
    assert_eq!(code(platform.orders(&buyer).admin_sales_report(report("", 0)).await), ErrorCode::PermissionDenied);
    assert_eq!(code(platform.orders(&Who::Nobody).admin_sales_report(report("", 0)).await), ErrorCode::Unauthenticated);

    platform.stop().await;
}
