#!/usr/bin/env bash
# Realtime voice under load: builds the release server and the load generator
# (examples/realtime_load.rs), starts a throwaway PostgreSQL (the server's private
# development cluster in a temporary folder) and the server, adds one business in realtime
# mode, then runs N simulated calls at once for each N, every call streaming 20 ms frames in
# real time through the server to the generator's stand-in model. Prints one table row per N
# for bench/RESULTS.md. Nothing leaves this machine.
#
#   bash bench/realtime.sh                  # N = 50 200 500 1000, 10 s calls
#   COUNTS="50 200" SECONDS_PER_CALL=20 bash bench/realtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."

COUNTS=${COUNTS:-"50 200 500 1000"}
SECONDS_PER_CALL=${SECONDS_PER_CALL:-10}
PORT=${PORT:-5090}
MODEL_PORT=$((PORT + 2))
BASE="http://127.0.0.1:$PORT"
TOKEN_SECRET=bench-twilio-token
WORK=$(mktemp -d /tmp/deskringer-realtime.XXXXXX)
chmod 755 "$WORK"  # as root, PostgreSQL runs as the postgres user and must reach it

cargo build --release --quiet --bin deskringer --example realtime_load
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

DESKRINGER_DEV_DB_DIR="$WORK/pg" PORT=$PORT API_BASE_URL=$BASE RUST_LOG=error \
    TWILIO_AUTH_TOKEN=$TOKEN_SECRET OPENAI_API_KEY=sk-bench OPENAI_BASE_URL=http://127.0.0.1:9/v1 \
    OPENAI_REALTIME_URL="ws://127.0.0.1:$MODEL_PORT/v1/realtime" REALTIME_IDLE_SECONDS=60 \
    target/release/deskringer serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/ready" >/dev/null || { cat "$WORK/server.log"; exit 1; }

PG_BIN=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")")
"$PG_BIN/psql" -h "$WORK/pg" -U postgres -d deskringer -q -v ON_ERROR_STOP=1 -c \
    "INSERT INTO customers (business_name, email, deskringer_number, subscription_status, voice_mode, greeting_message)
     VALUES ('Realtime Bench', 'realtime@bench.test', '+14155550999', 'active', 'realtime', 'Hello, Realtime Bench.')"

if command -v wrk >/dev/null; then
    echo "Reference: /health, 5 s, 16 connections, idle server:"
    wrk -t2 -c16 -d5s "$BASE/health" | grep -E 'Requests/sec|Latency'
fi
echo "Idle server RSS: $(awk '$1 == "VmRSS:" {print $2}' "/proc/$SERVER/status") KB"
echo
echo "| calls | Twilio -> model ms p50 / p99 / max | model -> Twilio ms p50 / p99 / max | first delta of a reply -> Twilio ms p50 / p99 / max | start -> first greeting frame ms p50 / p99 / max | frames lost up / down | reordered | failed calls | server CPU | server RSS per call |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $COUNTS; do
    target/release/examples/realtime_load --base-url "$BASE" --auth-token "$TOKEN_SECRET" \
        --model-port "$MODEL_PORT" --calls "$n" --seconds "$SECONDS_PER_CALL" --ramp $(( n / 100 + 2 )) \
        --server-pid "$SERVER"
    sleep 3  # the calls' sessions close and the server settles
done
echo
grep -c -i 'error' "$WORK/server.log" | xargs -I{} echo "server log lines with errors: {}"
