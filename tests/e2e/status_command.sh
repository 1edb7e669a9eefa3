#!/usr/bin/env bash
# status_command.sh — `sluice status STATE-DIR` (core/status_command.c) asks the running job over
# STATE-DIR/status.sock: the records it read, wrote and rejected, its checkpoints and each input's % read
# and offset, at --parallelism 1 and 2 (with --json too); "no job runs" (exit 1) when none does, also
# over the socket a killed job left behind, which the next start replaces; exit 2 without a state dir.
source "$(dirname "$0")/lib.bash"

gen_access 2000 > "$WORK/in.log"
echo 'not json' >> "$WORK/in.log"
status_has() { "$SLUICE" status "$1" > "$WORK/status.out" 2>&1 && grep -q -- "$2" "$WORK/status.out"; }

st="$WORK/st"
rc=0; "$SLUICE" status "$st" 2> "$WORK/none.err" || rc=$?
[ "$rc" = 2 ] && grep -q "no state dir" "$WORK/none.err" || fail "no state dir: exit $rc: $(cat "$WORK/none.err")"

for par in 1 2; do
  rm -rf "$st"
  "$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --follow --state-dir "$st" \
    --output "$WORK/out-$par" --checkpoint-interval 100 --parallelism "$par" 2> "$WORK/err-$par" &
  pid=$!
  wait_for "2001 records in (par $par)" status_has "$st" "^records: 2001 in .*, 2000 out .*, 1 rejected$"
  wait_for "a checkpoint (par $par)" status_has "$st" "^checkpoints: [1-9][0-9]* complete, 0 failed.*; last [0-9]*: "
  grep -q "^job url-count: running for .* parallelism $par" "$WORK/status.out" || fail "par $par: $(cat "$WORK/status.out")"
  grep -q "^input $WORK/in.log: 2001 records, 1 rejected, 100.0% read ($(stat -c %s "$WORK/in.log") of" \
    "$WORK/status.out" || fail "par $par: the input: $(cat "$WORK/status.out")"
  [ "$par" = 1 ] || grep -q "^subtask 1: " "$WORK/status.out" || fail "no subtask lines: $(cat "$WORK/status.out")"
  "$SLUICE" status "$st" --json | PAR=$par luajit -e 'local j = require("cjson").decode(io.read("*a"))
    assert(j.job == "url-count" and j.parallelism == tonumber(os.getenv("PAR")))
    local n = 0; for _, t in ipairs(j.subtasks) do n = n + t.records_in end; assert(n == 2001, n)' \
    || fail "par $par: status --json"
  kill -TERM "$pid"; wait "$pid" || fail "par $par: the job failed: $(cat "$WORK/err-$par")"
  rc=0; "$SLUICE" status "$st" 2> "$WORK/after.err" || rc=$?
  [ "$rc" = 1 ] && grep -q "no job runs in $st" "$WORK/after.err" || fail "after the job: exit $rc"
  [ ! -e "$st/status.sock" ] || fail "status.sock left after a clean stop"
done

# A killed job leaves its socket; nobody answers on it, and the next start replaces it.
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --follow --state-dir "$st" \
  --output "$WORK/out-k" --overwrite-output 2> "$WORK/err-k" &
pid=$!
wait_for "the job" status_has "$st" "^job url-count: running"
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
[ -S "$st/status.sock" ] || fail "no socket left by the killed job (the test needs one)"
rc=0; "$SLUICE" status "$st" 2> "$WORK/stale.err" || rc=$?
[ "$rc" = 1 ] && grep -q "no job runs" "$WORK/stale.err" || fail "stale socket: exit $rc: $(cat "$WORK/stale.err")"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --follow --state-dir "$st" \
  --output "$WORK/out-k" 2> "$WORK/err-k2" &
pid=$!
wait_for "the restarted job" status_has "$st" "^job url-count: running"
kill -TERM "$pid"; wait "$pid" || fail "the restarted job failed: $(cat "$WORK/err-k2")"
# A state dir whose path is too long for a unix socket address (108 bytes) still serves its status.
long="$WORK/$(printf 'd%.0s' $(seq 60))/$(printf 'e%.0s' $(seq 60))/st"
mkdir -p "$long"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --follow --state-dir "$long" \
  --output "$WORK/out-long" 2> "$WORK/err-long" &
pid=$!
wait_for "the job with a long state dir" status_has "$long" "^records: 2001 in"
grep -q "status.sock" "$WORK/err-long" && fail "a warning about the socket: $(cat "$WORK/err-long")"
kill -TERM "$pid"; wait "$pid" || fail "the long-path job failed: $(cat "$WORK/err-long")"
[ ! -e "$long/status.sock" ] || fail "status.sock left in the long state dir"
echo "status_command: ok"
