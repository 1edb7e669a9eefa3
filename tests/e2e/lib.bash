# lib.sh — shared helpers for the end-to-end tests (sourced by them).
set -euo pipefail
: "${SLUICE:?set SLUICE to the sluice binary}"
: "${SLUICE_SRC:?set SLUICE_SRC to the source tree}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-e2e.XXXXXX")
# On exit, stop any sluice a test left running in the background, then remove the scratch directory.
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
SCRIPTS="$SLUICE_SRC/scripts"
DATA="$SLUICE_SRC/tests/data"

fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_same EXPECTED ACTUAL: files must be byte-identical.
expect_same() {
  if ! cmp -s "$1" "$2"; then
    echo "--- expected ($1) vs actual ($2):" >&2
    diff "$1" "$2" | head -20 >&2 || true
    fail "output differs"
  fi
}

# wait_for DESC CMD...: polls CMD every 10 ms for up to 20 s.
wait_for() {
  local desc=$1; shift
  for _ in $(seq 2000); do "$@" && return 0; sleep 0.01; done
  fail "timed out waiting for $desc"
}
# lines_ge FILE N: FILE has at least N lines (0 when it does not exist yet).
lines_ge() { [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ]; }

# run_sluice ...: runs sluice with a time bound (no test may hang).
run_sluice() { timeout 120 "$SLUICE" "$@"; }

# gen_access N [SEED]: N deterministic nginx-like JSON records (same generator everywhere in the tests).
gen_access() { luajit "$SLUICE_SRC/tests/data/gen_access.lua" "$@"; }

# by_key FILE: the URL-count records sorted by URL, stably (each URL's records keep their order).
by_key() { LC_ALL=C sort -s -t'"' -k4,4 "$1"; }
# expect_keys EXPECTED ACTUAL WHAT: the same records, each URL's in the same order (order across URLs may
# differ: a parallel job's does).
expect_keys() {
  by_key "$1" > "$WORK/exp.sorted"
  by_key "$2" > "$WORK/act.sorted"
  cmp -s "$WORK/exp.sorted" "$WORK/act.sorted" || {
    diff "$WORK/exp.sorted" "$WORK/act.sorted" | head -10 >&2 || true
    fail "$3"
  }
}
