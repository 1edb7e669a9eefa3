# The binary is valgrind-clean: no invalid read/write, no use of uninitialised memory, no definite leak,
# on a fresh run, a restore from a checkpoint, and a job with timers and windows. Skipped in the
# ASan/UBSan build (the two tools cannot run together); that build checks the same runs its own way.
source "$(dirname "$0")/lib.bash"
# The build says whether it is sanitized (SLUICE_SANITIZED, from CMake): no `ldd | grep -q` under pipefail,
# where grep's early exit gave ldd a SIGPIPE and the check read false about one run in seven.
if [ "${SLUICE_SANITIZED:-OFF}" = ON ]; then echo "skipped: sanitizer build"; exit 77; fi
command -v valgrind >/dev/null || fail "valgrind is not installed"

vg() { timeout 300 valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
  "$SLUICE" "$@" > /dev/null 2> "$WORK/vg.log" || fail "valgrind: $(grep -A12 'ERROR SUMMARY\|Invalid\|uninitialised\|definitely' "$WORK/vg.log" | head -30)"; }

head -n 20 "$DATA/access.log" > "$WORK/a.log"
vg run "$SCRIPTS/url_count.lua" --input "$WORK/a.log" --state-dir "$WORK/st" --quiet
tail -n +21 "$DATA/access.log" >> "$WORK/a.log"
vg run "$SCRIPTS/url_count.lua" --input "$WORK/a.log" --state-dir "$WORK/st" --quiet   # restores a checkpoint
vg run "$SCRIPTS/window_count.lua" --input "$DATA/window_count.in" --state-dir "$WORK/w" --output "$WORK/w.out" --quiet
echo "ok: valgrind-clean"
