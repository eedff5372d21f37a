#!/usr/bin/env bash
# Schemathesis (from PyPI) against /api/openapi.json of a live demo server with seeded data.
# `tests/schemathesis.sh [max examples per operation]` (default 30; CI runs it with 5, on SQLite and
# on PostgreSQL).
#
# `schemathesis/seed.py` gives every operation the credential it is meant for (organiser session,
# kiosk token, manage link) and identifiers that exist; `schemathesis/schemathesis.toml` maps them
# to the operations. Fails on any 5xx, any response that breaks the documented schema (status,
# content type, headers, body), and any operation that answers without its credential.
# Excluded: `positive_data_acceptance`, because the server rightly rejects with 422 what JSON
# Schema cannot express (an e-mail's shape, E.164 phones, the notice version shown, age
# confirmation).
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-30}"
venv="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"
# Pinned: a new release may add checks, which should be a change of ours, not a surprise in CI.
version=4.32.5
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi

# The same targets as `cargo test --workspace`, so the binary CI tested is reused, not rebuilt with
# other features.
cargo build --workspace --all-targets --locked
data=$(mktemp -d)
log="$data/server.log"
cleanup() { rm -rf "$data"; }
trap cleanup EXIT
# SCHEMATHESIS_POSTGRES_URL (a server whose user may create databases): run on two fresh
# PostgreSQL databases, dropped afterwards, instead of SQLite in the data directory.
if [ -n "${SCHEMATHESIS_POSTGRES_URL:-}" ]; then
  name="consentry_test_schemathesis_$$_$(date +%s)"
  for db in "$name" "${name}_keys"; do psql -q "$SCHEMATHESIS_POSTGRES_URL" -c "create database \"$db\""; done
  export CONSENTRY_DATABASE_URL="${SCHEMATHESIS_POSTGRES_URL%/*}/$name"
  export CONSENTRY_KEYSTORE_URL="${CONSENTRY_DATABASE_URL}_keys"
  cleanup() {
    for db in "$name" "${name}_keys"; do
      psql -q "$SCHEMATHESIS_POSTGRES_URL" -c "drop database if exists \"$db\" with (force)"
    done
    rm -rf "$data"
  }
fi
target/debug/consentry serve --demo --disable-rate-limits --data-dir "$data" \
  --bind 127.0.0.1:0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; cleanup' EXIT
for _ in $(seq 1 100); do grep -q "login:" "$log" && break; sleep 0.2; done
base=$(sed -n 's/^consentry listening on //p' "$log")
password=$(sed -n 's/^ *login: *[^ ]* \/ //p' "$log")
eval "$(python3 tests/schemathesis/seed.py "$base" "$password")"
python3 -c 'import sys, urllib.request; print("server:", urllib.request.urlopen(sys.argv[1]).read().decode())' "$base/readyz"

# One worker: with two, Hypothesis's lambda-description cache (internal/reflection.py) is shared
# between threads and now and then raises a KeyError of its own mid-run, failing CI with a
# "Runtime Error" that says nothing about the API.
"$venv/bin/schemathesis" --config-file tests/schemathesis/schemathesis.toml \
  run "$base/api/openapi.json" --url "$base" --max-examples "$examples" --workers 1 \
  --checks all --exclude-checks positive_data_acceptance
