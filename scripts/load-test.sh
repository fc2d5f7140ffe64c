#!/usr/bin/env bash
# Load test: a signed-in unary read (GetUser, own account) through the BFF, and the same read made directly
# to the user service, each for DURATION seconds with CONNECTIONS connections, with wrk on loopback.
#
#   scripts/load-test.sh            # DURATION=15 CONNECTIONS=32 by default
#
# It builds the release binary, starts `ec dev` on private ports with its own embedded PostgreSQL and the
# embedded OAuth2 server, signs in through the real login flow to get an access token, runs both loads, and
# stops everything. Rate limits are raised out of the way (they are measured by the tests, not here), and
# without REDIS_URL the limiter works in process. Results: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

cargo build --release --bin ec
work=$(mktemp -d)
chmod 755 "$work"  # the embedded PostgreSQL runs as the postgres user when we are root
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
BFF=$(port); USER_PORT=$(port); LOGIN=$(port); OAUTH=$(port); OAUTH_ADMIN=$(port); PG=$(port)
TOKEN_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

env -u DATABASE_URL -u REDIS_URL -u HYDRA_ADMIN_URL LOG_FORMAT=json RUST_LOG=warn \
  INTERNAL_AUTH_TOKEN="$TOKEN_SECRET" RATE_USER_PER_MINUTE=1000000000 RATE_USER_BURST=1000000000 \
  target/release/ec dev --pg-data-dir "$work/pg" --pg-port "$PG" \
  --bff-addr "127.0.0.1:$BFF" --user-addr "127.0.0.1:$USER_PORT" --login-addr "127.0.0.1:$LOGIN" \
  --product-addr 127.0.0.1:0 --order-addr 127.0.0.1:0 \
  --oauth-public-addr "127.0.0.1:$OAUTH" --oauth-admin-addr "127.0.0.1:$OAUTH_ADMIN" >"$work/ec.log" 2>&1 &
ec_pid=$!
cleanup() { kill -INT "$ec_pid" 2>/dev/null; wait "$ec_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$BFF/ready" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$BFF/ready" >/dev/null || { cat "$work/ec.log"; exit 1; }

# Sign in as the storefront would: authorization code with PKCE through the login page.
verifier=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
challenge=$(python3 -c "import base64,hashlib,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b'=').decode())" "$verifier")
redirect=http://127.0.0.1:5173/callback
jar="$work/cookies"
hop() { curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' "$@"; }
login_page=$(hop "http://127.0.0.1:$OAUTH/oauth2/auth?response_type=code&client_id=ec-spa&redirect_uri=$redirect&scope=openid&audience=ec-api&state=load-test-state&code_challenge=$challenge&code_challenge_method=S256")
html=$(curl -s -c "$jar" -b "$jar" "$login_page")
field() { echo "$html" | sed -n "s/.*name=\"$1\" value=\"\([^\"]*\)\".*/\1/p" | head -n 1; }
next=$(hop --data-urlencode "challenge=$(field challenge)" --data-urlencode "csrf_token=$(field csrf_token)" \
  -d email=shopper@example.com -d password=shopper-password -d action=login "http://127.0.0.1:$LOGIN/oauth2/login")
while [[ "$next" != "$redirect"* ]]; do next=$(hop "$next"); done
code=$(echo "$next" | sed 's/.*[?&]code=\([^&]*\).*/\1/')
token=$(curl -s -d grant_type=authorization_code -d client_id=ec-spa -d "redirect_uri=$redirect" \
  -d "code_verifier=$verifier" -d "code=$code" "http://127.0.0.1:$OAUTH/oauth2/token" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
user_id=$(python3 -c "import base64,json,sys; p=sys.argv[1].split('.')[1]; print(json.loads(base64.urlsafe_b64decode(p+'='*(-len(p)%4)))['sub'])" "$token")
body="{\"id\":\"$user_id\"}"

run() { # run LABEL URL HEADERS
  echo
  echo "== $1"
  BODY="$body" HEADERS="$3" wrk -t 1 -c "$CONNECTIONS" -d "${DURATION}s" --latency -s scripts/load/unary.lua "$2"
}
run "through the BFF (Connect JSON, bearer JWT verified, BOLA check, gRPC to the user service)" \
  "http://127.0.0.1:$BFF/user.v1.UserService/GetUser" "Authorization: Bearer $token"
run "directly to the user service (Connect JSON, identity metadata as the BFF sends it)" \
  "http://127.0.0.1:$USER_PORT/user.v1.UserService/GetUser" \
  "x-ec-internal-token: $TOKEN_SECRET|x-ec-caller-id: $user_id|x-ec-caller-roles: customer"
