#!/usr/bin/env bash
# Load test: a signed-in unary read (GetUser, own account) through the BFF, and the same read made directly
# to the user service, in gRPC and in Connect JSON (both over h2c), each for DURATION seconds with CONNECTIONS
# connections of one stream at a time, with h2load on loopback. Prints a Markdown table.
#
#   scripts/load-test.sh                # DURATION=15 CONNECTIONS=32 by default; shared state in process
#   WITH_REDIS=1 scripts/load-test.sh   # shared state in Redis (REDIS_URL, default the local server), as in
#                                       # production: one script per request reads the revocation record and
#                                       # takes the rate-limit token
#
# It builds the release binary, starts `ec dev` on private ports with its own embedded PostgreSQL and the
# embedded OAuth2 server, signs in through the real login flow to get an access token, runs both loads, and
# stops everything. Rate limits are raised out of the way (they are measured by the tests, not here).
# Results: docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-15}"
CONNECTIONS="${CONNECTIONS:-32}"
command -v h2load >/dev/null || { echo "h2load is needed: apt-get install nghttp2-client" >&2; exit 1; }

. scripts/lib.sh

BFF=$(port); USER_PORT=$(port); LOGIN=$(port); OAUTH=$(port); OAUTH_ADMIN=$(port)
TOKEN_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
redis=()
if [ "${WITH_REDIS:-}" = 1 ]; then
  redis=(REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}" REDIS_KEY_PREFIX="ec-load:$(python3 -c 'import uuid; print(uuid.uuid4().hex)'):")
fi
start_ec_dev "${redis[@]}" INTERNAL_AUTH_TOKEN="$TOKEN_SECRET" \
  RATE_USER_PER_MINUTE=1000000000 RATE_USER_BURST=1000000000 -- \
  --bff-addr "127.0.0.1:$BFF" --user-addr "127.0.0.1:$USER_PORT" --login-addr "127.0.0.1:$LOGIN" \
  --product-addr 127.0.0.1:0 --order-addr 127.0.0.1:0 \
  --oauth-public-addr "127.0.0.1:$OAUTH" --oauth-admin-addr "127.0.0.1:$OAUTH_ADMIN"

# Sign in as the storefront would: authorization code with PKCE through the login page.
verifier=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
challenge=$(python3 -c "import base64,hashlib,sys; print(base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest()).rstrip(b'=').decode())" "$verifier")
redirect=http://127.0.0.1:5173/callback
jar="$work/cookies"
hop() { curl -s -c "$jar" -b "$jar" -o /dev/null -w '%{redirect_url}' "$@"; }
login_page=$(hop "http://127.0.0.1:$OAUTH/oauth2/auth?response_type=code&client_id=ec-spa&redirect_uri=$redirect&scope=openid+shop&audience=ec-api&state=load-test-state&code_challenge=$challenge&code_challenge_method=S256")
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
# The request, GetUserRequest{id}, as Connect JSON and as a gRPC frame (flag byte, 4-byte length, protobuf).
printf '{"id":"%s"}' "$user_id" >"$work/body.json"
python3 - "$user_id" "$work/body.grpc" <<'PY'
import struct, sys
user_id = sys.argv[1].encode()
message = b"\x0a" + bytes([len(user_id)]) + user_id  # field 1 (id), length-delimited
open(sys.argv[2], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
PY

identity=("x-ec-internal-token: $TOKEN_SECRET" "x-ec-caller-id: $user_id" "x-ec-caller-roles: customer")
bearer=("authorization: Bearer $token")

# h2load counts HTTP statuses only, and a gRPC error is HTTP 200: check one call of each kind answers OK first.
check() { # check URL BODY CONTENT-TYPE HEADER...
  local url=$1 data=$2 type=$3; shift 3
  local args=(-s --http2-prior-knowledge -o /dev/null -D - -H "content-type: $type" --data-binary "@$data")
  for h in "$@"; do args+=(-H "$h"); done
  [ "$type" = application/grpc ] && args+=(-H "te: trailers")
  local answer; answer=$(curl "${args[@]}" "$url")
  if [ "$type" = application/grpc ]; then
    grep -qi '^grpc-status: 0' <<<"$answer" || { echo "gRPC check failed at $url:"; echo "$answer"; exit 1; } >&2
  else
    grep -q '^HTTP/2 200' <<<"$answer" || { echo "Connect check failed at $url:"; echo "$answer"; exit 1; } >&2
  fi
}

echo "| path | protocol | requests/s | p50 | p75 | p90 | p99 | errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
run() { # run PATH-LABEL URL BODY CONTENT-TYPE HEADER...
  local label=$1 url=$2 data=$3 type=$4; shift 4
  check "$url" "$data" "$type" "$@"
  local args=(-c "$CONNECTIONS" -m 1 -t 1 --warm-up-time=2 -D "$DURATION" -d "$data" -H "content-type: $type")
  for h in "$@"; do args+=(-H "$h"); done
  [ "$type" = application/grpc ] && args+=(-H "te: trailers")
  rm -f "$work/latency.tsv"
  h2load "${args[@]}" --log-file="$work/latency.tsv" "$url" >"$work/h2load.out"
  local protocol=gRPC; [ "$type" = application/json ] && protocol="Connect JSON"
  python3 scripts/load/summarize.py "$label" "$protocol" "$DURATION" "$work/latency.tsv"
}

url() { echo "http://127.0.0.1:$1/user.v1.UserService/GetUser"; }

# Warm up first (connection pools filled, the database's caches warm), unmeasured: the first seconds after
# start-up are slower, and whichever run came first would pay for them.
h2load -c "$CONNECTIONS" -m 1 -t 1 -D 5 -d "$work/body.json" -H "content-type: application/json" \
  -H "${bearer[0]}" "$(url "$BFF")" >/dev/null
run "through the BFF" "$(url "$BFF")" "$work/body.grpc" application/grpc "${bearer[@]}"
run "directly to the user service" "$(url "$USER_PORT")" "$work/body.grpc" application/grpc "${identity[@]}"
run "through the BFF" "$(url "$BFF")" "$work/body.json" application/json "${bearer[@]}"
run "directly to the user service" "$(url "$USER_PORT")" "$work/body.json" application/json "${identity[@]}"

# Every call the BFF and the user service answered during the runs, by result (one process, one /metrics):
# anything but "ok" means the figures are not valid.
echo
answered() { curl -s "http://127.0.0.1:$OPS/metrics" | grep -E '^ec_rpc_requests_total\{server="(bff|user)"'; }
answered | sed 's/^/# /'
if answered | grep -v 'code="ok"' | grep -q .; then
  echo "the BFF or the user service answered some calls with an error: the figures above are not valid" >&2
  exit 1
fi
