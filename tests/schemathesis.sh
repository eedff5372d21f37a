#!/usr/bin/env bash
# Schemathesis (from PyPI) against /api/openapi.json of a live demo server, as its organiser.
# Not part of CI yet. `tests/schemathesis.sh [max examples per operation]` (default 30).
#
# Fails on any 5xx and any response that breaks the documented schema. Excluded:
# `positive_data_acceptance`, because the server rightly rejects with 422 what JSON Schema cannot
# express (an e-mail's shape, E.164 phones, the notice version shown, age confirmation).
# Kiosk and manage-link operations answer 401/404 with the organiser's token only; seeding
# their credentials and identifiers is still to do (see docs/SECURITY.md).
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-30}"
venv="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"
[ -x "$venv/bin/schemathesis" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q schemathesis; }

cargo build --workspace
data=$(mktemp -d)
log="$data/server.log"
target/debug/consentry serve --demo --disable-rate-limits --data-dir "$data" \
  --bind 127.0.0.1:0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do grep -q "login:" "$log" && break; sleep 0.2; done
base=$(sed -n 's/^consentry listening on //p' "$log")
password=$(sed -n 's/^ *login: *[^ ]* \/ //p' "$log")
token=$(curl -sf -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"demo@consentry.example\",\"password\":\"$password\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

"$venv/bin/schemathesis" run "$base/api/openapi.json" --url "$base" \
  -H "Authorization: Bearer $token" --max-examples "$examples" --workers 2 \
  --checks all --exclude-checks positive_data_acceptance
