#!/usr/bin/env bash
# The whole test suite, as CI runs it: services, formatting, lints (Rust, proto, the storefront, the GitHub
# workflows), every test, the deployment files.
#
#   scripts/test.sh              everything
#   scripts/test.sh --lint-only  formatting and lints, no tests
#
# PostgreSQL, Redis and NATS with JetStream come from DATABASE_URL / REDIS_URL / NATS_URL, or are the local
# servers on their standard ports, started here if they are down (as root on a machine with Debian's packages,
# like CI). Tests that stop a server start their own (`redis-server`, `nats-server`), so both must be on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
export NATS_URL="${NATS_URL:-nats://127.0.0.1:4222}"

# A fresh clone gains nothing from incremental compilation, and its caches double the size of target/.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

step() { printf '\n==> %s\n' "$*"; }
lint_only=false
[ "${1:-}" = "--lint-only" ] && lint_only=true

postgres_answers() { pg_isready -q -d "$DATABASE_URL" 2>/dev/null; }
redis_answers() { [ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = "PONG" ]; }
# A NATS server's first line to a client is its INFO, which says whether JetStream is on.
nats_answers() {
  local address=${NATS_URL#*://}; address=${address##*@}; address=${address%%/*}
  timeout 3 bash -c "exec 3<>/dev/tcp/${address%:*}/${address##*:} && head -n 1 <&3" 2>/dev/null \
    | grep -q '"jetstream":true'
}

wait_for() { # wait_for NAME CHECK
  for _ in $(seq 1 30); do "$2" && return 0; sleep 1; done
  echo "$1 did not come up" >&2; return 1
}

ensure_services() {
  step "PostgreSQL, Redis and NATS"
  if ! postgres_answers; then
    echo "PostgreSQL does not answer at $DATABASE_URL; starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
    wait_for PostgreSQL postgres_answers
  fi
  echo "PostgreSQL answers"
  if ! redis_answers; then
    echo "Redis does not answer at $REDIS_URL; starting a local server"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_for Redis redis_answers
  fi
  echo "Redis answers"
  if ! nats_answers; then
    echo "NATS with JetStream does not answer at $NATS_URL; starting a local server"
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_for "NATS with JetStream" nats_answers
  fi
  echo "NATS with JetStream answers"
}

ensure_tools() {
  step "Tools"
  # rust-toolchain.toml pins 1.95.0. Offline machines whose stable toolchain *is* 1.95.0 get it by a link
  # instead of a download.
  if ! rustup run 1.95.0 rustc --version >/dev/null 2>&1; then
    if rustc +stable --version 2>/dev/null | grep -q '^rustc 1\.95\.0 '; then
      rustup toolchain link 1.95.0 "$(rustc +stable --print sysroot)"
    fi
  fi
  rustc --version
  df -h . | tail -n 1 | awk '{print "disk: " $4 " free of " $2}'
  if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
  fi
  cargo nextest --version | head -n 1
  # The pinned JavaScript tools: buf (lint, buf curl) and the Node Connect clients the tests drive.
  npm ci --no-audit --no-fund --loglevel=error
  echo "buf $(node_modules/.bin/buf --version), node $(node --version)"
  node_modules/.bin/buf generate --template clients/node/buf.gen.yaml
  # The storefront's build, and the browser its tests drive: Debian's Chromium, never a downloaded build.
  if ! [ -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
    else
      echo "the browser tests need Debian's chromium: sudo apt-get install chromium" >&2; exit 1
    fi
  fi
  chromium --version
  # The tests' SMTP server (aiosmtpd; crates/testing/smtp), from PyPI into a venv of its own.
  local smtp=target/test-tools
  if ! cmp -s crates/testing/smtp/tools.txt "$smtp/tools.txt" 2>/dev/null; then
    rm -rf "$smtp"
    python3 -m venv "$smtp"
    "$smtp/bin/pip" install --quiet --disable-pip-version-check -r crates/testing/smtp/tools.txt
    cp crates/testing/smtp/tools.txt "$smtp/tools.txt"
  fi
  echo "aiosmtpd $("$smtp/bin/python" -c 'import aiosmtpd; print(aiosmtpd.__version__)')"
  make web
}

ensure_tools
step "cargo fmt --check"
cargo fmt --all --check
step "buf lint"
node_modules/.bin/buf lint
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "storefront: ESLint and Prettier"
(cd web && npm run lint)
step "GitHub Actions workflows: actionlint, zizmor"
scripts/check-workflows.sh
$lint_only && exit 0

ensure_services
step "cargo nextest (the whole suite)"
cargo nextest run --workspace --locked --no-fail-fast
step "deployment files: Dockerfile, Compose, Kubernetes, settings"
scripts/check-deploy.sh target/debug/ec
