#!/usr/bin/env bash
# Checkout load test: signed-in shoppers, each in a loop putting one unit of a SKU in the cart and checking
# out, through the BFF (gRPC): WARMUP seconds, then VACUUM ANALYZE (as autovacuum would have done in a shop
# open for a while), then DURATION seconds counted; reports confirmed orders per second, p50/p99 of
# CreateOrder and of the whole journey, and PostgreSQL commits per checkout; then pgbench's TPC-B on the same
# PostgreSQL; ROUNDS times in turn, and the median ratio of the two. Also the CPU time a checkout costs the
# `ec` process, the load generator and the rest of the machine (PostgreSQL). Results: docs/performance.md.
#
#   scripts/checkout-load.sh                 # DURATION=10 WARMUP=10 USERS=16 SKUS=1000 POOL=4 ROUNDS=3
#
# It builds the release binary and the load generator, starts `ec dev` (no demo data, rate limits lifted: one
# machine is every shopper here) on private ports with its own embedded PostgreSQL, seeds SKUs with plenty of
# stock, runs `e2e/examples/checkout_load.rs`, and stops everything. Run it on an otherwise idle machine; the
# load generator shares the machine with the servers.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
WARMUP="${WARMUP:-10}"
USERS="${USERS:-16}"
SKUS="${SKUS:-1000}"
# Connections each service keeps to PostgreSQL. PostgreSQL shares this machine's two cores with everything
# else here, and more backends than it has cores to run them only take turns: 4 a service gave about a seventh
# more confirmed orders a second than the default 10 (docs/performance.md).
POOL="${POOL:-4}"
ROUNDS="${ROUNDS:-3}"
. scripts/lib.sh
need_pgbench

BFF=$(port); LOGIN=$(port); OAUTH=$(port)
# With NATS_URL set, events go to NATS JetStream, under a prefix of this run's own: the durable consumers an
# earlier run left on a shared prefix would make this run work through that run's events too.
if [ -n "${NATS_URL:-}" ]; then export NATS_PREFIX="load-$(date +%s)-$$"; fi
start_ec_dev RATE_ANONYMOUS_PER_MINUTE=1000000000 RATE_ANONYMOUS_BURST=1000000000 \
  RATE_USER_PER_MINUTE=1000000000 RATE_USER_BURST=1000000000 \
  RATE_SIGN_UP_PER_MINUTE=1000000000 RATE_SIGN_UP_BURST=1000000000 DATABASE_MAX_CONNECTIONS="$POOL" -- \
  --no-demo-data --bff-addr "127.0.0.1:$BFF" --login-addr "127.0.0.1:$LOGIN" --oauth-public-addr "127.0.0.1:$OAUTH" \
  --oauth-admin-addr 127.0.0.1:0 --user-addr 127.0.0.1:0 --product-addr 127.0.0.1:0 --order-addr 127.0.0.1:0

# One published product with SKUS SKUs at ¥1,200, each with far more stock than the run can sell.
psql <<SQL
INSERT INTO product_service.products (id, name, description, status, min_price, max_price, currency_code)
VALUES ('00000000-0000-7000-a000-000000000001', 'Load test mug', 'Bought again and again.', 'published', 1200, 1200, 'JPY');
INSERT INTO product_service.skus (id, product_id, code, price_amount, currency_code)
SELECT gen_random_uuid(), '00000000-0000-7000-a000-000000000001', 'LOAD-' || i, 1200, 'JPY' FROM generate_series(1, $SKUS) i;
INSERT INTO product_service.inventory (sku_id, quantity) SELECT id, 1000000000 FROM product_service.skus;
INSERT INTO product_service.stock_movements (sku_id, quantity_delta, reserved_delta, kind, actor)
SELECT sku_id, quantity, 0, 'initial', 'seed' FROM product_service.inventory;
ANALYZE;
SQL
skus=$(psql -At -c "SELECT string_agg(id::text, ',') FROM product_service.skus")

"$PG_BIN/psql" -q "postgres://postgres@127.0.0.1:$PG/postgres" -c 'CREATE DATABASE pgbench'
"$PG_BIN/pgbench" -q -i -s 10 "postgres://postgres@127.0.0.1:$PG/pgbench" >/dev/null 2>&1

# Shopping and pgbench take turns, ROUNDS times, so a drift of the machine falls on both alike; each ratio
# is of two measurements a minute apart.
ratios=()
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round:"
  psql -c 'CHECKPOINT'
  shopping=$(STATS_DATABASE_URL="$url" EC_PID="$ec_pid" target/release/examples/checkout_load "http://127.0.0.1:$BFF" \
    "http://127.0.0.1:$OAUTH/" "http://127.0.0.1:$LOGIN" "$skus" "$USERS" "$DURATION" "$WARMUP")
  echo "$shopping" | sed 's/^/- /'
  psql -c 'CHECKPOINT'
  tps=$("$PG_BIN/pgbench" -c 16 -j 2 -T "$DURATION" "postgres://postgres@127.0.0.1:$PG/pgbench" 2>/dev/null \
    | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  echo "- pgbench TPC-B (scale 10): $tps transactions/s (16 clients, $DURATION s)"
  orders=$(echo "$shopping" | sed -n 's|^confirmed orders: \([0-9]*\)/s.*|\1|p')
  ratios+=("$(python3 -c "print(f'{100 * $orders / $tps:.1f}')")")
  echo "- confirmed orders ÷ pgbench: ${ratios[-1]} %"
done
echo "median of $ROUNDS rounds: $(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p") % of pgbench's TPC-B"
