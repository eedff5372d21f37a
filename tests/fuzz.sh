#!/usr/bin/env bash
# Fuzz each target for longer than the test suite does (it runs 256 cases of each), each bounded
# in time: `tests/fuzz.sh [seconds per target]` (default 60). A target that runs out its time
# without a failure passes; a failure prints the minimal input proptest shrank it to and is
# saved for replay (backend/tests/fuzz.proptest-regressions,
# scanner-cli/proptest-regressions/queue.txt: commit those files).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
export PROPTEST_CASES="${PROPTEST_CASES:-100000000}"

cargo test --workspace --no-run --test fuzz --bin consentry-scan

run() { # <cargo target selection> <test name>
  local selection=$1 name=$2 status=0
  printf '%-70s ' "$name"
  timeout "$seconds" cargo test --workspace -q $selection -- --exact "$name" >/tmp/fuzz-$$.log 2>&1 \
    || status=$?
  case $status in
    0) echo "ok (all $PROPTEST_CASES cases)" ;;
    124) echo "ok (${seconds}s without a failure)" ;;
    *) echo "FAILED"; cat /tmp/fuzz-$$.log; rm -f /tmp/fuzz-$$.log; exit 1 ;;
  esac
  rm -f /tmp/fuzz-$$.log
}

for name in \
  arbitrary_text_is_never_a_valid_badge \
  a_tampered_badge_never_verifies_as_another \
  scan_bodies_never_panic \
  registration_bodies_never_panic_and_what_passes_is_normalised \
  csv_rows_read_back_and_never_start_a_formula; do
  run "--test fuzz" "$name"
done
run "--bin consentry-scan" queue::tests::pending_survives_any_garbage
