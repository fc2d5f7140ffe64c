# Shared by the benchmark scripts (sourced after `set -euo pipefail` and a `cd` to the repository): the release
# build, a private `ec dev` on its own embedded PostgreSQL, and psql on its database.

# PostgreSQL's programs (psql, pgbench), from its server package.
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
need_pgbench() { [ -x "$PG_BIN/pgbench" ] || { echo "pgbench is needed (PostgreSQL's server package)" >&2; exit 1; }; }

# A free TCP port on the loopback.
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_ec_dev [VAR=value ...] -- [flag ...]
#
# Builds the release binaries (one build command for every benchmark script, so dependencies are never rebuilt
# with other features), then starts `ec dev` with the environment's database, Redis and issuer settings
# removed and the given ones added, and the given flags (at least the ports of the servers the script calls,
# 127.0.0.1:0 for the others; `--no-demo-data` unless the script wants the demo accounts and catalog). Sets `work` (a scratch directory), `PG` (the embedded
# PostgreSQL's port), `OPS` (the operations port) and `url` (the platform's database); waits until the
# platform is ready; stops it and removes `work` when the script exits.
start_ec_dev() {
  local settings=()
  while [ "$1" != "--" ]; do settings+=("$1"); shift; done
  shift
  cargo build --release --workspace --bins --examples
  work=$(mktemp -d)
  chmod 755 "$work"  # the embedded PostgreSQL runs as the postgres user when we are root
  PG=$(port); OPS=$(port)
  env -u DATABASE_URL -u HYDRA_ADMIN_URL -u REDIS_URL -u OIDC_ISSUER LOG_FORMAT=json RUST_LOG=warn "${settings[@]}" \
    target/release/ec dev --pg-data-dir "$work/pg" --pg-port "$PG" --ops-addr "127.0.0.1:$OPS" \
    "$@" >"$work/ec.log" 2>&1 &
  ec_pid=$!
  trap 'kill -INT "$ec_pid" 2>/dev/null; wait "$ec_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$OPS/ready" >/dev/null && break; sleep 0.5; done
  curl -sf "http://127.0.0.1:$OPS/ready" >/dev/null || { cat "$work/ec.log"; exit 1; }
  url="postgres://postgres@127.0.0.1:$PG/ec"
}

psql() { "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 "$url" "$@"; }

# The benchmark catalog's product names and descriptions: SQL expressions of `i`, the product's number (names
# such as "Copper kettle no. 105": 20 materials by 50 things; descriptions of 8 by 8 phrases), which
# catalog-bench.sh and search-bench.sh both seed with, so a search finds the same products in either.
BENCH_PRODUCT_NAME="(ARRAY['Cast iron','Glass','Linen','Ceramic','Bamboo','Copper','Wool','Oak','Steel','Cotton','Paper','Brass',
              'Stone','Clay','Walnut','Enamel','Silk','Leather','Cedar','Porcelain'])[1 + i % 20] || ' ' ||
       (ARRAY['teapot','kettle','mug','blanket','lamp','knife','bowl','basket','towel','chair','planter','candle',
              'notebook','pan','vase','tray','cushion','jar','spoon','board','lantern','bag','scarf','clock','mirror',
              'shelf','stool','rug','cup','plate','glass','bottle','box','brush','hook','rack','bench','sheet',
              'pillow','apron','tumbler','grinder','dripper','steamer','whisk','ladle','skillet','pot','lid','tin'])[1 + (i / 20) % 50]
       || ' no. ' || i"
BENCH_PRODUCT_DESCRIPTION="'A ' || (ARRAY['handmade','durable','light','classic','compact','generous','quiet','simple'])[1 + i % 8] ||
       ' piece for the ' || (ARRAY['kitchen','garden','bedroom','study','terrace','bathroom','hallway','table'])[1 + (i / 8) % 8] ||
       ', made to last and easy to care for.'"
