#!/usr/bin/env bash
# ListProducts' search in SQL alone, at 100,000 products: the statements the product service sends for a
# search every word of which some product has (`copper kettle`: about 100 matches), and for one no product has
# whole (`copper zebra`), which is answered by the all-words statement (no match) and then the any-word one
# (about 5,000 matches of `copper`, every one ranked); and, for comparison, the any-word statement alone for
# `copper kettle` (the first version, which asked for any word every time). The products table is the
# service's (its generated `search` column and GIN index, migration 0001), seeded as scripts/catalog-bench.sh
# seeds it, in a scratch database on the PostgreSQL of DATABASE_URL (default: the local one), dropped after.
# pgbench with 2 clients, DURATION seconds per statement, ROUNDS rounds; prints the mean latency of each.
#
#   scripts/search-bench.sh          # DURATION=5 ROUNDS=3
#
# Results: docs/performance.md, "Search: all the words, then any". Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
need_pgbench
DURATION="${DURATION:-5}"
ROUNDS="${ROUNDS:-3}"
server="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="ec_search_bench_$$"
scratch="${server%/*}/$db"
work=$(mktemp -d)
trap '"$PG_BIN/psql" -q "$server" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; rm -rf "$work"' EXIT
"$PG_BIN/psql" -q "$server" -c "CREATE DATABASE $db"
"$PG_BIN/psql" -q "$scratch" <<SQL
CREATE TABLE products (
    id uuid PRIMARY KEY, name text NOT NULL, description text NOT NULL, status text NOT NULL,
    deleted_at timestamptz, min_price bigint,
    search tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A') || setweight(to_tsvector('english', description), 'B')
    ) STORED
);
CREATE INDEX products_search ON products USING gin (search) WHERE deleted_at IS NULL;
INSERT INTO products (id, name, description, status, min_price)
SELECT gen_random_uuid(),
       $BENCH_PRODUCT_NAME,
       $BENCH_PRODUCT_DESCRIPTION,
       CASE WHEN i % 50 = 0 THEN 'hidden' ELSE 'published' END, 100 + i % 49900
FROM generate_series(1, 100000) i;
ANALYZE;
SQL
# The statement of crate::db::products::page for a first page by relevance, with `words` as the query.
statement() {
  echo "WITH q AS (SELECT $1 AS words) SELECT p.id, ts_rank(p.search, q.words) AS rank, p.min_price AS price
FROM products p, q WHERE p.deleted_at IS NULL AND p.status = ANY('{published}') AND p.search @@ q.words
ORDER BY rank DESC, p.id DESC LIMIT 21;"
}
all() { echo "websearch_to_tsquery('english', '$1')"; }
any() { echo "replace(plainto_tsquery('english', '$1')::text, ' & ', ' | ')::tsquery"; }
statement "$(all 'copper kettle')" >"$work/all.sql"
{ statement "$(all 'copper zebra')"; statement "$(any 'copper zebra')"; } >"$work/fallback.sql"
statement "$(any 'copper kettle')" >"$work/any.sql"
echo "| round | all the words (copper kettle) | none has all: all, then any (copper zebra) | any word, every time (copper kettle) |"
echo "|---:|---:|---:|---:|"
for round in $(seq "$ROUNDS"); do
  line="| $round"
  for shape in all fallback any; do
    latency=$("$PG_BIN/pgbench" -n -T "$DURATION" -c 2 -f "$work/$shape.sql" "$scratch" 2>/dev/null \
      | sed -n 's/^latency average = \(.*\)$/\1/p')
    line="$line | $latency"
  done
  echo "$line |"
done
