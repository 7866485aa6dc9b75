#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI) generates requests from /api/openapi.json for every
# operation, once with an admin token and once with a customer token, and checks that no
# answer is a 5xx or breaks the documented schema. Runs against a server on loopback with
# its own throwaway database; nothing leaves this machine.
#
#   bash fuzz/run.sh            # prints the summaries and writes fuzz/RESULTS.md
#   EXAMPLES=200 bash fuzz/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-5077}
EXAMPLES=${EXAMPLES:-60}
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d /tmp/deskringer-fuzz.XXXXXX)
chmod 755 "$WORK"  # as root, PostgreSQL runs as the postgres user and must reach it
command -v schemathesis >/dev/null || pip install -q schemathesis

cargo build --quiet --bin deskringer
cleanup() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    [ -n "${MOCKS:-}" ] && kill "$MOCKS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

MOCK_PORT=$((PORT + 1))
python3 fuzz/mock_services.py "$MOCK_PORT" &
MOCKS=$!
MOCK="http://127.0.0.1:$MOCK_PORT"

DESKRINGER_DEV_DB_DIR="$WORK/pg" PORT=$PORT API_BASE_URL=$BASE RUST_LOG=warn \
    STRIPE_SECRET_KEY=sk_fuzz STRIPE_PRICE_ID=price_fuzz STRIPE_WEBHOOK_SECRET=whsec_fuzz STRIPE_API_BASE_URL=$MOCK \
    SENDGRID_API_KEY=SG.fuzz SENDGRID_API_BASE_URL=$MOCK \
    TWILIO_ACCOUNT_SID=ACfuzz TWILIO_API_BASE_URL=$MOCK \
    ADMIN_EMAIL=fuzz-admin@deskringer.test ADMIN_PASSWORD=fuzz-password \
    target/debug/deskringer serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 60); do curl -sf "$BASE/ready" >/dev/null && break; sleep 0.5; done

json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }
ADMIN=$(curl -sf -X POST "$BASE/api/admin/login" -H 'Content-Type: application/json' \
    -d '{"email":"fuzz-admin@deskringer.test","password":"fuzz-password"}' | json '["access_token"]')
CUSTOMER_ID=$(curl -sf -X POST "$BASE/api/customers/" -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    -d '{"business_name":"Fuzz Salon","email":"fuzz@salon.test","deskringer_number":"+14155550100","send_welcome_email":false}' \
    | json '["customer"]["id"]')
curl -sf -X POST "$BASE/api/customers/$CUSTOMER_ID/set-password" -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' -d '{"password":"fuzz-portal-pass"}' >/dev/null
CUSTOMER=$(curl -sf -X POST "$BASE/api/portal/login" -H 'Content-Type: application/json' \
    -d '{"email":"fuzz@salon.test","password":"fuzz-portal-pass"}' | json '["access_token"]')

run() {
    local name=$1 token=$2
    echo "== schemathesis with the $name token"
    # Password changes would lock the fuzzer out of its own account midway. The server
    # validates more than JSON Schema can say (E.164 numbers, IANA zones, no NUL in text),
    # so valid-looking data it refuses with 4xx is expected: positive_data_acceptance is off.
    # DELETE /api/customers/{id} cancels a business and keeps its record (API.md), so a
    # read afterwards succeeding is by design: use_after_free is off.
    schemathesis run "$BASE/api/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks all \
        --exclude-checks positive_data_acceptance,use_after_free \
        --exclude-path-regex 'change-password' \
        --max-examples "$EXAMPLES" \
        --workers 2 \
        --suppress-health-check all \
        --no-color 2>&1 | tee "$WORK/$name.txt" || true
}
# The business first: the admin pass cancels it and sets its password (DELETE and
# set-password on its id), which end its tokens, as they should.
run customer "$CUSTOMER"
run admin "$ADMIN"

{
    echo "# Fuzzing results"
    echo
    echo "Command: \`bash fuzz/run.sh\` (schemathesis $(schemathesis --version | awk '{print $3}'), $EXAMPLES examples per operation, all checks)."
    for name in admin customer; do
        echo
        echo "## With the $name token"
        echo
        echo '```'
        sed -n '/SUMMARY/,$p' "$WORK/$name.txt" | tail -40
        echo '```'
    done
    echo
    echo "Server errors logged during the run: $(grep -c 'request failed\|panicked' "$WORK/server.log" || true)"
} > fuzz/RESULTS.md
echo "Wrote fuzz/RESULTS.md"
