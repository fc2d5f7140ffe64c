#!/usr/bin/env bash
# Dashboard benchmark: seeds 100,000 orders (2.5 items each) placed over the last 30 days in two currencies and
# every status by 5,000 customers, and 100,000 SKUs for sale, then reports p50/p99 of the back office's admin
# RPCs, AdminSalesReport (30 days and a year, in Asia/Tokyo), ListLowStock and AdminListOrders (the newest page,
# by the start of a customer's email, one day's), called directly on their services
# as the BFF calls them (an admin's identity with the internal secret), with CLIENTS concurrent clients and
# with one. Prints Markdown. Results: docs/performance.md.
#
#   scripts/dashboard-bench.sh               # DURATION=10 CLIENTS=4 ORDERS=100000
#
# It builds the release binary, starts `ec dev` (no demo data) on private ports with its own embedded
# PostgreSQL, seeds with SQL, measures with h2load, and stops everything. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-4}"
ORDERS="${ORDERS:-100000}"
command -v h2load >/dev/null || { echo "h2load is needed: apt-get install nghttp2-client" >&2; exit 1; }
. scripts/lib.sh

SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
ORDER=$(port); PRODUCT=$(port)
start_ec_dev INTERNAL_AUTH_TOKEN="$SECRET" -- \
  --no-demo-data --order-addr "127.0.0.1:$ORDER" --product-addr "127.0.0.1:$PRODUCT" \
  --bff-addr 127.0.0.1:0 --user-addr 127.0.0.1:0 --login-addr 127.0.0.1:0 \
  --oauth-public-addr 127.0.0.1:0 --oauth-admin-addr 127.0.0.1:0

# Seed: 2,000 products of 50 SKUs each (100,000 SKUs; one in 40 running out), and the orders: placed at even
# intervals over 30 days, 9 in 10 in yen and the rest in dollars, of which 70 % confirmed, 15 % shipped, 8 %
# cancelled, 6 % failed and 1 % pending, with 1 to 4 items of the SKUs above.
echo "seeding $ORDERS orders..." >&2
psql <<SQL
INSERT INTO product_service.products (id, name, status)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(p), 12, '0'))::uuid, 'Product no. ' || p, 'published'
FROM generate_series(1, 2000) p;
INSERT INTO product_service.skus (id, product_id, code, price_amount, currency_code)
SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(s), 12, '0'))::uuid,
       ('00000000-0000-7000-8000-' || lpad(to_hex(1 + (s - 1) / 50), 12, '0'))::uuid, 'SKU-' || s, 500 + s % 5000, 'JPY'
FROM generate_series(1, 100000) s;
INSERT INTO product_service.inventory (sku_id, quantity)
SELECT id, CASE WHEN hashtext(id::text) % 40 = 0 THEN abs(hashtext(id::text)) % 6 ELSE 20 + abs(hashtext(id::text)) % 80 END
FROM product_service.skus;
INSERT INTO order_service.orders (id, user_id, status, payment_status, currency_code, subtotal, shipping_fee, total,
                                  shipping_address, step, next_attempt_at, tracking_number, shipped_at, created_at,
                                  updated_at, customer_email, customer_name, customer_email_key)
SELECT gen_random_uuid(), ('00000000-0000-7000-a000-' || lpad(to_hex(1 + i % 5000), 12, '0'))::uuid,
       CASE WHEN i % 100 < 70 THEN 'confirmed' WHEN i % 100 < 85 THEN 'shipped' WHEN i % 100 < 93 THEN 'cancelled'
            WHEN i % 100 < 99 THEN 'failed' ELSE 'pending' END,
       'authorized', CASE WHEN i % 10 = 0 THEN 'USD' ELSE 'JPY' END, 0, 500, 500,
       '{"recipient_name": "Bench", "line1": "1", "line2": "", "city": "Tokyo", "region": "", "postal_code": "100-0001", "country_code": "JP", "phone": ""}',
       -- A pending order's saga is due a year from now: the recovery worker leaves it alone meanwhile.
       CASE WHEN i % 100 = 99 THEN 'confirm' ELSE 'done' END,
       CASE WHEN i % 100 = 99 THEN now() + interval '1 year' END, CASE WHEN i % 100 BETWEEN 70 AND 84 THEN 'JP' || i END,
       CASE WHEN i % 100 BETWEEN 70 AND 84 THEN now() END, now() - (i * interval '30 days' / $ORDERS), now(),
       'Customer' || (1 + i % 5000) || '@example.com', 'Customer no. ' || (1 + i % 5000),
       'customer' || (1 + i % 5000) || '@example.com'
FROM generate_series(1, $ORDERS) i;
INSERT INTO order_service.order_items (order_id, sku_id, product_id, product_name, sku_code, quantity, unit_price)
SELECT o.id, ('00000000-0000-7000-9000-' || lpad(to_hex(1 + abs(hashtext(o.id::text || k)) % 100000), 12, '0'))::uuid,
       ('00000000-0000-7000-8000-' || lpad(to_hex(1 + (abs(hashtext(o.id::text || k)) % 100000) / 50), 12, '0'))::uuid,
       'Product', 'SKU', 1 + k % 3, 1000 + k * 250
FROM order_service.orders o, generate_series(1, 4) k
WHERE k <= 1 + abs(hashtext(o.id::text)) % 4
ON CONFLICT DO NOTHING;
UPDATE order_service.orders o SET subtotal = i.sum, total = i.sum + 500
FROM (SELECT order_id, sum(quantity * unit_price) AS sum FROM order_service.order_items GROUP BY order_id) i
WHERE o.id = i.order_id;
ANALYZE;
SQL
items=$(psql -At -c "SELECT count(*) FROM order_service.order_items")
echo "seeded $ORDERS orders with $items items, 100000 SKUs" >&2

admin="00000000-0000-7000-a000-ffffffffffff"
headers=(-H "content-type: application/json" -H "x-ec-internal-token: $SECRET" -H "x-ec-caller-id: $admin"
         -H "x-ec-caller-roles: customer,admin")
body() { printf '%s' "$2" >"$work/$1.json"; }
body month '{"timeZone":"Asia/Tokyo","days":30}'
body year '{"timeZone":"Asia/Tokyo","days":366}'
body stock '{"limit":10}'
# The back office's order list: the newest page, one customer's orders by the start of their email (20 of
# 100,000), and one day's, 15 days ago (about 3,300).
body newest '{"pageSize":20}'
body customer '{"pageSize":20,"customerEmail":"CUSTOMER4242@"}'
body day "{\"pageSize\":20,\"placedAfter\":\"$(date -u -d '15 days ago' +%FT%TZ)\",\"placedBefore\":\"$(date -u -d '14 days ago' +%FT%TZ)\"}"
# Each answers, and adds up: the report's 30 days hold every order that went through.
curl -sf "${headers[@]}" --data-binary "@$work/month.json" "http://127.0.0.1:$ORDER/order.v1.OrderService/AdminSalesReport" \
  | python3 -c '
import json, sys
report = json.load(sys.stdin)
orders = sum(int(c["period"].get("orders", 0)) for c in report.get("currencies", []))
currencies = len(report.get("currencies", []))
print(f"30-day report: {orders} orders that went through, {currencies} currencies", file=sys.stderr)
assert orders > 0, report'
curl -sf "${headers[@]}" --data-binary "@$work/stock.json" "http://127.0.0.1:$PRODUCT/product.v1.InventoryService/ListLowStock" \
  | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("low stock:", r.get("soldOutCount", 0), "sold out,", r.get("lowCount", 0), "low", file=sys.stderr)'
for page in newest customer day; do
  curl -sf "${headers[@]}" --data-binary "@$work/$page.json" "http://127.0.0.1:$ORDER/order.v1.OrderService/AdminListOrders" \
    | python3 -c '
import json, sys
orders = json.load(sys.stdin).get("orders", [])
print(sys.argv[1], "orders:", len(orders), "listed,", len({o.get("customerEmail") for o in orders}), "customers", file=sys.stderr)
assert len(orders) > 0, orders' "$page"
done

echo "| request | clients | requests/s | p50 | p75 | p90 | p99 | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
measure() { # measure LABEL CLIENTS URL BODY
  rm -f "$work/latency.tsv"
  h2load -c "$2" -m 1 -t 1 --warm-up-time=2 -D "$DURATION" -d "$work/$4.json" "${headers[@]}" \
    --log-file="$work/latency.tsv" "$3" >"$work/h2load.out"
  python3 scripts/load/summarize.py "$1" "$2" "$DURATION" "$work/latency.tsv"
}
for clients in 1 "$CLIENTS"; do
  measure "AdminSalesReport, 30 days" "$clients" "http://127.0.0.1:$ORDER/order.v1.OrderService/AdminSalesReport" month
  measure "AdminSalesReport, 366 days" "$clients" "http://127.0.0.1:$ORDER/order.v1.OrderService/AdminSalesReport" year
  measure "ListLowStock, 10 of 100,000 SKUs" "$clients" "http://127.0.0.1:$PRODUCT/product.v1.InventoryService/ListLowStock" stock
  measure "AdminListOrders, newest 20" "$clients" "http://127.0.0.1:$ORDER/order.v1.OrderService/AdminListOrders" newest
  measure "AdminListOrders, by email prefix" "$clients" "http://127.0.0.1:$ORDER/order.v1.OrderService/AdminListOrders" customer
  measure "AdminListOrders, one day" "$clients" "http://127.0.0.1:$ORDER/order.v1.OrderService/AdminListOrders" day
done
