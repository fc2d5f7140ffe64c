#!/usr/bin/env bash
# Catalog benchmark: seeds 100,000 products with 250,000 SKUs, then reports p50/p99 of ListProducts (first
# page, page 200 reached through page tokens, a category subtree, a price range, a search) and GetProduct,
# through the BFF (anonymous, Connect JSON) and directly to the product service, with 16 concurrent clients;
# then reservations per second on one hot SKU and spread over 1,000 SKUs, next to pgbench's TPC-B on the same
# PostgreSQL (alternating, three rounds with durable commits and three without). Prints Markdown. Results:
# docs/performance.md.
#
#   scripts/catalog-bench.sh                 # DURATION=10 CLIENTS=16 PRODUCTS=100000
#
# It builds the release binary and the reservation benchmark, starts `ec dev` (no demo data) on private ports
# with its own embedded PostgreSQL, seeds the catalog with SQL, measures with h2load, and stops everything.
# Run it on an otherwise idle machine; the load generator shares the machine with the servers.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
CLIENTS="${CLIENTS:-16}"
PRODUCTS="${PRODUCTS:-100000}"
command -v h2load >/dev/null || { echo "h2load is needed: apt-get install nghttp2-client" >&2; exit 1; }
. scripts/lib.sh
need_pgbench

BFF=$(port); PRODUCT=$(port)
start_ec_dev RATE_ANONYMOUS_PER_MINUTE=1000000000 RATE_ANONYMOUS_BURST=1000000000 -- \
  --no-demo-data --bff-addr "127.0.0.1:$BFF" --product-addr "127.0.0.1:$PRODUCT" \
  --user-addr 127.0.0.1:0 --order-addr 127.0.0.1:0 --login-addr 127.0.0.1:0 \
  --oauth-public-addr 127.0.0.1:0 --oauth-admin-addr 127.0.0.1:0

# Seed: 10 root categories with 5 children each; products spread over the children, names and descriptions
# from word lists (so search has something to find), 2 or 3 SKUs each (250,000 for 100,000 products) with
# stock, and the products' price ranges as the service keeps them.
echo "seeding $PRODUCTS products..." >&2
psql <<SQL
INSERT INTO product_service.categories (id, parent_id, name, slug)
SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(r), 12, '0'))::uuid, NULL, 'Department ' || r, 'department-' || r
FROM generate_series(1, 10) r;
INSERT INTO product_service.categories (id, parent_id, name, slug)
SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(r * 10 + c), 12, '0'))::uuid,
       ('00000000-0000-7000-8000-' || lpad(to_hex(r), 12, '0'))::uuid, 'Aisle ' || r || '.' || c, 'aisle-' || c
FROM generate_series(1, 10) r, generate_series(1, 5) c;
INSERT INTO product_service.products (id, name, description, category_id, status)
SELECT gen_random_uuid(),
       $BENCH_PRODUCT_NAME,
       $BENCH_PRODUCT_DESCRIPTION,
       ('00000000-0000-7000-9000-' || lpad(to_hex((1 + i % 10) * 10 + 1 + (i / 10) % 5), 12, '0'))::uuid,
       CASE WHEN i % 50 = 0 THEN 'hidden' ELSE 'published' END
FROM generate_series(1, $PRODUCTS) i;
INSERT INTO product_service.skus (id, product_id, code, price_amount, currency_code, attributes)
SELECT gen_random_uuid(), p.id, 'SKU-' || row_number() OVER () , 100 + ((hashtext(p.id::text || v) & 65535) % 49900),
       'JPY', jsonb_build_object('variant', v)
FROM (SELECT id, row_number() OVER () AS n FROM product_service.products) p,
     generate_series(1, 3) v
WHERE v <= 2 + (p.n % 2);
INSERT INTO product_service.inventory (sku_id, quantity) SELECT id, 1 + (hashtext(id::text) & 63) FROM product_service.skus;
INSERT INTO product_service.stock_movements (sku_id, quantity_delta, reserved_delta, kind, actor)
SELECT sku_id, quantity, 0, 'initial', 'seed' FROM product_service.inventory;
UPDATE product_service.products p SET min_price = s.lo, max_price = s.hi, currency_code = 'JPY'
FROM (SELECT product_id, min(price_amount) lo, max(price_amount) hi FROM product_service.skus GROUP BY product_id) s
WHERE p.id = s.product_id;
ANALYZE;
SQL
skus=$(psql -At -c "SELECT count(*) FROM product_service.skus")
echo "seeded $PRODUCTS products, $skus SKUs" >&2

# One request body per shape. Page 200 is reached the way a client reaches it: through 199 page tokens.
body() { printf '%s' "$2" >"$work/$1.json"; }
call() { curl -sf -H 'content-type: application/json' --data-binary "@$work/$1.json" "http://127.0.0.1:$PRODUCT/product.v1.ProductService/$2"; }
body first '{}'
token=""
for _ in $(seq 1 199); do
  body walk "{\"pageToken\":\"$token\"}"
  token=$(call walk ListProducts | python3 -c 'import json,sys; print(json.load(sys.stdin)["nextPageToken"])')
done
body page200 "{\"pageToken\":\"$token\"}"
body subtree '{"categoryId":"00000000-0000-7000-8000-000000000003"}'
body price '{"minPrice":"10000","maxPrice":"12000"}'
body search '{"searchQuery":"copper kettle"}'
product_id=$(call first ListProducts | python3 -c 'import json,sys; print(json.load(sys.stdin)["products"][0]["id"])')
body get "{\"id\":\"$product_id\"}"
for shape in first page200 subtree price search; do
  call "$shape" ListProducts | python3 -c 'import json,sys; n=len(json.load(sys.stdin).get("products",[])); assert n > 0, "empty page"' \
    || { echo "ListProducts $shape returned nothing" >&2; exit 1; }
done

echo "| request | path | requests/s | p50 | p75 | p90 | p99 | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
measure() { # measure LABEL PATH-LABEL PORT METHOD BODY
  local url="http://127.0.0.1:$3/product.v1.ProductService/$4"
  rm -f "$work/latency.tsv"
  h2load -c "$CLIENTS" -m 1 -t 1 --warm-up-time=2 -D "$DURATION" -d "$work/$5.json" \
    -H "content-type: application/json" --log-file="$work/latency.tsv" "$url" >"$work/h2load.out"
  python3 scripts/load/summarize.py "$1" "$2" "$DURATION" "$work/latency.tsv"
}
for shape in "first:ListProducts, first page" "page200:ListProducts, page 200" "subtree:ListProducts, category subtree" \
             "price:ListProducts, price range" "search:ListProducts, search" "get:GetProduct"; do
  name=${shape%%:*}; label=${shape#*:}; method=ListProducts; [ "$name" = get ] && method=GetProduct
  measure "$label" "through the BFF" "$BFF" "$method" "$name"
  measure "$label" "direct" "$PRODUCT" "$method" "$name"
done

# Every call the BFF answered, by result: anything but "ok" means the figures above are not valid.
echo
curl -s "http://127.0.0.1:$OPS/metrics" | grep '^ec_rpc_requests_total{server="bff"' | sed 's/^/# /'
if curl -s "http://127.0.0.1:$OPS/metrics" | grep '^ec_rpc_requests_total{server="bff"' | grep -v 'code="ok"' | grep -q .; then
  echo "the BFF answered some calls with an error: the figures above are not valid" >&2
  exit 1
fi

echo
# Reservations and pgbench alternate, three rounds of each, so a drift of the disk's flush latency (the
# limit of both when commits are durable) falls on both alike; each round's ratio is printed. Then three
# more rounds with synchronous_commit off, for both: commits no longer wait for the disk, so what is
# compared is the work each transaction makes PostgreSQL (and its client) do.
"$PG_BIN/psql" -q "postgres://postgres@127.0.0.1:$PG/postgres" -c 'CREATE DATABASE pgbench'
"$PG_BIN/pgbench" -q -i -s 10 "postgres://postgres@127.0.0.1:$PG/pgbench" >/dev/null 2>&1
target/release/examples/reserve_bench "$url" "$CLIENTS" "$DURATION" hot | sed 's/^/- /'
rounds() {
  for round in 1 2 3; do
    spread=$(target/release/examples/reserve_bench "$url" "$CLIENTS" "$DURATION" spread \
      | sed -n 's/.*: \([0-9]*\) reservations.*/\1/p')
    tps=$("$PG_BIN/pgbench" -c "$CLIENTS" -j 2 -T "$DURATION" "postgres://postgres@127.0.0.1:$PG/pgbench" 2>/dev/null \
      | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
    echo "- $1, round $round: $spread reservations/s spread over 1,000 SKUs, pgbench TPC-B (scale 10) $tps" \
      "transactions/s: $(python3 -c "print(f'{100 * $spread / $tps:.0f} %')")"
  done
}
rounds "durable commits"
psql -c 'ALTER SYSTEM SET synchronous_commit = off' -c 'SELECT pg_reload_conf()' >/dev/null
rounds "synchronous_commit off"
