#!/usr/bin/env bash
# Slow and idle clients (issue 17): builds the release server (or takes BIN), starts a
# throwaway PostgreSQL (the server's private development cluster in a temporary folder) and
# the server with its default connection limits, then runs bench/slow_clients.py against
# it on loopback: 500 connections holding unfinished headers, then 6,000 silent connections.
# Prints the script's JSON report (RSS before, during and after; /health latency on an
# already-accepted connection during each attack; when the attackers' connections closed).
#
#   bash bench/slow_clients.sh
#   BIN=/tmp/old/deskringer bash bench/slow_clients.sh   # another build, for an A/B
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-5095}
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d /tmp/deskringer-slow.XXXXXX)
chmod 755 "$WORK"  # as root, PostgreSQL runs as the postgres user and must reach it
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet --bin deskringer
    BIN=target/release/deskringer
fi
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# The attacker needs more file handles than the server's cap; the server raises its own.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
DESKRINGER_DEV_DB_DIR="$WORK/pg" PORT=$PORT API_BASE_URL=$BASE RUST_LOG=warn \
    "$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 120); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/ready" >/dev/null || { cat "$WORK/server.log"; exit 1; }
sleep 1
python3 bench/slow_clients.py "$BASE" "$SERVER"
echo "server log lines mentioning the cap: $(grep -c 'connection cap reached' "$WORK/server.log" || true)"
