#!/usr/bin/env bash
# Benchmarks: builds the release binary, starts a throwaway PostgreSQL (through the
# server's private development cluster in a temporary folder), seeds 200 businesses and
# 20,000 calls with 5 lines each, starts local stand-ins for OpenAI, SendGrid and Twilio,
# starts the server, and drives it with wrk from a second process on loopback at 1, 16 and
# 64 connections. Writes bench/RESULTS.md. Nothing leaves this machine.
#
#   bash bench/run.sh                 # 10 s per point
#   DURATION=20 bash bench/run.sh
#   ONLY='customers|calls/\?' bash bench/run.sh   # only the endpoints whose name matches
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
PORT=${PORT:-5090}
MOCK_PORT=$((PORT + 1))
BASE="http://127.0.0.1:$PORT"
MOCK="http://127.0.0.1:$MOCK_PORT"
TOKEN_SECRET=bench-twilio-token
WORK=$(mktemp -d /tmp/deskringer-bench.XXXXXX)
chmod 755 "$WORK"  # as root, PostgreSQL runs as the postgres user and must reach it
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

# BIN=path/to/deskringer measures another build (an A/B comparison runs this script once per
# build, alternating); by default the current tree's release build.
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet --bin deskringer
    BIN=target/release/deskringer
fi
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    [ -n "${MOCKS:-}" ] && kill "$MOCKS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

python3 bench/mock_services.py "$MOCK_PORT" &
MOCKS=$!

DESKRINGER_DEV_DB_DIR="$WORK/pg" PORT=$PORT API_BASE_URL=$BASE RUST_LOG=error TRUST_FORWARDED_FOR=true \
    TWILIO_AUTH_TOKEN=$TOKEN_SECRET TWILIO_ACCOUNT_SID=ACbench TWILIO_API_BASE_URL=$MOCK \
    OPENAI_API_KEY=sk-bench OPENAI_BASE_URL=$MOCK/v1 SENDGRID_API_KEY=SG.bench SENDGRID_API_BASE_URL=$MOCK \
    ADMIN_EMAIL=bench@deskringer.test ADMIN_PASSWORD=bench-password \
    "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/ready" >/dev/null || { cat "$WORK/server.log"; exit 1; }

PG_BIN=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")")
echo "Seeding..."
"$PG_BIN/psql" -h "$WORK/pg" -U postgres -d deskringer -q -v ON_ERROR_STOP=1 -f bench/seed.sql

ADMIN=$(curl -sf -X POST "$BASE/api/admin/login" -H 'Content-Type: application/json' \
    -d '{"email":"bench@deskringer.test","password":"bench-password"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
python3 bench/signed_bodies.py gather "$BASE" "$TOKEN_SECRET" 20000 "$WORK/gather.lua"
cat > "$WORK/login.lua" <<'LUA'
-- A different account and client address each time, as a distributed guessing attack
-- would: every request reaches Argon2 instead of the per-account and per-address limits.
local counter = 0
function setup(thread) thread:set("id", math.random(1, 1000000)) end
function request()
  counter = counter + 1
  local body = string.format('{"email":"guess%d-%d@bench.test","password":"not-the-password"}', id, counter)
  local ip = string.format("10.%d.%d.%d", id % 250, math.floor(counter / 250) % 250, counter % 250)
  return wrk.format("POST", "/api/admin/login", {["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip}, body)
end
LUA

rss_kb() { awk -v key="$1:" '$1 == key {print $2}' "/proc/$SERVER/status"; }
# CPU time (clock ticks) of the server, and of every PostgreSQL process.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Live PostgreSQL processes, plus the time of exited ones (the postmaster's children).
pg_ticks() {
    local t=0 p
    for p in $(pgrep -x postgres); do t=$((t + $(cpu_ticks "$p"))); done
    p=$(pgrep -o -x postgres) && t=$((t + $(awk '{print $16 + $17}' "/proc/$p/stat")))
    echo "$t"
}
TICKS=$(getconf CLK_TCK)
IDLE_RSS=$(rss_kb VmRSS)
ROWS=""
PEAK_SO_FAR=0

# measure NAME CONNECTIONS PATH [wrk args...]
measure() {
    local name=$1 conns=$2 path=$3; shift 3
    if [ -n "${ONLY:-}" ] && ! grep -qE "$ONLY" <<<"$name"; then return; fi
    local threads=$(( conns < 2 ? 1 : 2 ))
    local out server_before pg_before
    server_before=$(cpu_ticks "$SERVER"); pg_before=$(pg_ticks)
    out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 20s --latency "$@" "$BASE$path" 2>&1)
    if ! grep -q "Requests/sec" <<<"$out" || grep -qiE "lua|script error" <<<"$out"; then
        echo "wrk failed for $name:" >&2; echo "$out" >&2; exit 1
    fi
    local rps p50 p99 non2xx sockerr
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
    sockerr=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out"); sockerr=${sockerr:-0}
    local peak; peak=$(rss_kb VmHWM)
    # Share of one core over the run: 100 % = one core busy all the time.
    local server_cpu=$(( ($(cpu_ticks "$SERVER") - server_before) * 100 / (TICKS * DURATION) ))
    local pg_cpu=$(( ($(pg_ticks) - pg_before) * 100 / (TICKS * DURATION) ))
    printf '%-34s c=%-3s %10s req/s  p50 %-9s p99 %-9s errors %s  peak RSS %s MB  cpu server %s%% pg %s%%\n' \
        "$name" "$conns" "$rps" "$p50" "$p99" "$((non2xx + sockerr))" "$((peak / 1024))" "$server_cpu" "$pg_cpu"
    ROWS+="| $name | $conns | $rps | $p50 | $p99 | $((non2xx + sockerr)) | $((peak / 1024)) | $server_cpu % | $pg_cpu % |"$'\n'
}

AUTH=(-H "Authorization: Bearer $ADMIN")
for c in 1 16 64; do measure "GET /health" $c /health; done
# The web app's files come from the binary (release builds embed them): a module, and the page
# revalidated by its ETag as a browser does on every load.
for c in 1 16 64; do measure "GET /app/js/main.js (web app file)" $c /app/js/main.js; done
APP_ETAG=$(curl -sI "$BASE/app/" | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
for c in 16 64; do measure "GET /app/ revalidated (304)" $c /app/ -H "If-None-Match: $APP_ETAG"; done
for c in 1 16 64; do measure "GET /api/customers/ (50 per page)" $c "/api/customers/?per_page=50" "${AUTH[@]}"; done
for c in 1 16 64; do measure "GET /api/calls/?per_page=50" $c "/api/calls/?per_page=50" "${AUTH[@]}"; done
for c in 1 16 64; do measure "GET /api/calls/stats" $c /api/calls/stats "${AUTH[@]}"; done
for c in 1 16 64; do measure "GET /api/admin/stats" $c /api/admin/stats "${AUTH[@]}"; done
# A fresh file per run, with room for 10,000 req/s: every request a CallSid never sent before.
for c in 1 16 64; do
    python3 bench/signed_bodies.py voice "$BASE" "$TOKEN_SECRET" $((10000 * DURATION)) "$WORK/voice.lua" "c$c"
    measure "POST voice (signed, unique CallSid)" $c /api/webhooks/twilio/voice -s "$WORK/voice.lua"
done
curl -sf "$MOCK/__delay?ms=0" >/dev/null
for c in 1 16 64; do measure "POST gather (model 0 ms)" $c /api/webhooks/twilio/gather -s "$WORK/gather.lua"; done
curl -sf "$MOCK/__delay?ms=300" >/dev/null
for c in 1 16 64; do measure "POST gather (model 300 ms)" $c /api/webhooks/twilio/gather -s "$WORK/gather.lua"; done
for c in 1 16 64; do measure "POST admin login (Argon2id)" $c /api/admin/login -s "$WORK/login.lua"; done

# /health while 64 connections hammer login.
wrk -t1 -c64 -d"${DURATION}s" --timeout 20s -s "$WORK/login.lua" "$BASE/api/admin/login" >/dev/null 2>&1 &
HAMMER=$!
sleep 1
measure "GET /health during 64-connection login load" 1 /health
wait "$HAMMER" || true

# Any method token, unauthenticated: metrics labels come from closed sets, so memory and the
# /metrics page stay flat however many distinct methods arrive. (wrk sends only the methods
# it knows, so a small Python client sends these.)
RSS_BEFORE_METHODS=$(rss_kb VmRSS)
METRICS_BEFORE=$(curl -s "$BASE/metrics" | wc -c)
METHODS_RATE=$(python3 bench/method_flood.py "$BASE" 20000)
RSS_AFTER_METHODS=$(rss_kb VmRSS)
METRICS_AFTER=$(curl -s "$BASE/metrics" | wc -c)
METHODS_LINE="20,000 requests with 20,000 different method tokens ($METHODS_RATE): RSS $((RSS_BEFORE_METHODS / 1024)) MB before, $((RSS_AFTER_METHODS / 1024)) MB after; /metrics $METRICS_BEFORE bytes before, $METRICS_AFTER after."
echo "$METHODS_LINE"

PEAK_RSS=$(rss_kb VmHWM)
{
    echo "# Benchmark results"
    echo
    echo "\`bash bench/run.sh\` on $(nproc) cores ($(uname -m)), $(date -u +%Y-%m-%d), ${DURATION} s per point, wrk on the"
    echo "same machine. Data: 200 businesses with realistic settings, 20,000 calls, 100,000 call lines."
    echo "Stand-in model: fixed delay (0 ms or 300 ms). Latencies as wrk reports them."
    echo
    echo "| endpoint | connections | req/s | p50 | p99 | errors | server peak RSS (MB) | server CPU | PostgreSQL CPU |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s' "$ROWS"
    echo
    echo "Server RSS: $((IDLE_RSS / 1024)) MB idle after start-up, $((PEAK_RSS / 1024)) MB at peak."
    echo "$METHODS_LINE"
} > "${OUT:-bench/RESULTS.md.new}"
echo "Wrote ${OUT:-bench/RESULTS.md.new}"
