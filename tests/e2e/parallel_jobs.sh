#!/usr/bin/env bash
# parallel_jobs.sh — the bundled jobs at --parallelism 2 (core/parallel/): each gives what it gives at
# parallelism 1 (the same records; order across keys may differ), whatever routes it: C by field
# (url_count), Lua through a filter (online_model, which needs file order per key: --no-split-inputs) or a
# key function (dedup), no key_by (lag), event time (window_count, one input), a TCP source. A savepoint
# taken at 2 restores at 3. Shapes that cannot run in parallel yet are refused with the reason (exit 2).
source "$(dirname "$0")/lib.bash"

gen_access 20000 > "$WORK/in.log"
sorted_same() { sort "$1" > "$1.sorted"; sort "$2" > "$2.sorted"; expect_same "$1.sorted" "$2.sorted"; }
run_both() { # NAME SCRIPT [P2 OPTIONS...] [-- ARGS]
  local name=$1 script=$2; shift 2
  local p2=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do p2+=("$1"); shift; done
  [ $# -gt 0 ] && shift && args=("$@")
  run_sluice run "$script" --input "$WORK/in.log" --state-dir "$WORK/$name-1" --output "$WORK/$name-1.out" \
    --quiet ${args[@]+-- "${args[@]}"}
  run_sluice run "$script" --input "$WORK/in.log" --state-dir "$WORK/$name-2" --output "$WORK/$name-2.out" \
    --quiet --parallelism 2 "${p2[@]}" ${args[@]+-- "${args[@]}"}
  [ -s "$WORK/$name-1.out" ] || fail "$name: no output"
  sorted_same "$WORK/$name-1.out" "$WORK/$name-2.out"
}

run_both url_count "$SCRIPTS/url_count.lua"
run_both online_model "$SCRIPTS/online_model.lua" --no-split-inputs
run_both dedup "$SCRIPTS/dedup.lua" -- request_id 3600000
run_both window "$SCRIPTS/window_count.lua"
for _ in $(seq 200); do cat "$DATA/seed_lag.in"; done > "$WORK/in.log" # offsets records, no key_by
run_both lag "$SCRIPTS/lag.lua"

# --- A savepoint at parallelism 2 restores at 3: every key's counts go on.
gen_access 20000 > "$WORK/all.log"
head -n 10000 "$WORK/all.log" > "$WORK/sp.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/all.log" --state-dir "$WORK/ref" --output "$WORK/ref.out" --quiet
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/sp.log" --follow --state-dir "$WORK/sp" \
  --output "$WORK/sp.out" --parallelism 2 --checkpoint-interval 100 --quiet 2> "$WORK/sp.err" &
pid=$!
wait_for "10000 output lines" lines_ge "$WORK/sp.out" 10000
timeout 60 "$SLUICE" savepoint "$WORK/sp" "$WORK/savepoint" || fail "savepoint failed: $(cat "$WORK/sp.err")"
[ -f "$WORK/savepoint/task-0.snap" ] && [ -f "$WORK/savepoint/task-1.snap" ] || fail "no subtask snapshots"
kill -TERM $pid
wait $pid || fail "the job failed: $(cat "$WORK/sp.err")"
tail -n +10001 "$WORK/all.log" >> "$WORK/sp.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/sp.log" --state-dir "$WORK/sp3" --output "$WORK/sp3.out" \
  --parallelism 3 --from-savepoint "$WORK/savepoint" --quiet
[ "$(wc -l < "$WORK/sp3.out")" -eq 10000 ] || fail "the restore at 3 wrote $(wc -l < "$WORK/sp3.out") records"
cat "$WORK/sp.out" "$WORK/sp3.out" > "$WORK/both.out"
sorted_same "$WORK/ref.out" "$WORK/both.out"

# --- 1 -> 2 -> 2 on a growing file: the second run at 2 restores each subtask's own chain (no merge), and
# the subtask that does not read the file (read whole since the run at 1) must not cut it into splits.
head -n 6000 "$WORK/all.log" > "$WORK/grow.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/grow.log" --state-dir "$WORK/grow" --output "$WORK/grow.out" --quiet
sed -n 6001,13000p "$WORK/all.log" >> "$WORK/grow.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/grow.log" --state-dir "$WORK/grow" --output "$WORK/grow.out" \
  --parallelism 2 --quiet
tail -n +13001 "$WORK/all.log" >> "$WORK/grow.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/grow.log" --state-dir "$WORK/grow" --output "$WORK/grow.out" \
  --parallelism 2 --quiet
expect_keys "$WORK/ref.out" "$WORK/grow.out" "1 -> 2 -> 2 on a growing file: per-URL counts differ from one run at 1"

# --- A TCP source at parallelism 2: read by one subtask, routed to both; every record counted once.
port=$((20000 + RANDOM % 20000))
"$SLUICE" run "$SLUICE_SRC/tests/e2e/tcp_count_job.lua" --state-dir "$WORK/tcp" --output "$WORK/tcp.out" \
  --parallelism 2 --checkpoint-interval 50 -- "$port" 2> "$WORK/tcp.err" &
pid=$!
wait_for "the TCP source" grep -q "listening on tcp:127.0.0.1:$port" "$WORK/tcp.err"
head -n 10000 "$WORK/all.log" > "$WORK/tcp.in"
for part in 1 2; do # two connections, one after the other (each one's records in order)
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  sed -n "$(( (part - 1) * 5000 + 1 )),$(( part * 5000 ))p" "$WORK/tcp.in" >&3
  exec 3>&-
  wait_for "$(( part * 5000 )) records out" lines_ge "$WORK/tcp.out" $(( part * 5000 ))
done
kill -TERM $pid
wait $pid || fail "the TCP job failed: $(cat "$WORK/tcp.err")"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/tcp.in" --state-dir "$WORK/tcp-ref" --output "$WORK/tcp-ref.out" --quiet
expect_keys "$WORK/tcp-ref.out" "$WORK/tcp.out" "TCP at parallelism 2: per-URL counts differ from the file run at 1"

# --- Refused shapes: the reason, exit 2, nothing run.
cat > "$WORK/map_first.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "map-first"
  :map("m", function(rec) return { url = rec.url } end)
  :key_by "url"
  :process("count", function(ctx, rec) ctx:emit(rec) end)
LUA
set +e
"$SLUICE" run "$WORK/map_first.lua" --input "$WORK/all.log" --state-dir "$WORK/mf" --parallelism 2 \
  > /dev/null 2> "$WORK/mf.err"
rc=$?
set -e
[ $rc -eq 2 ] || fail "a map before key_by at parallelism 2 exited $rc"
grep -q "map 'm' comes before its key_by" "$WORK/mf.err" || fail "no reason: $(cat "$WORK/mf.err")"
set +e
"$SLUICE" run "$SCRIPTS/window_count.lua" --input "$WORK/all.log" --input "$WORK/sp.log" --state-dir "$WORK/w2" \
  --parallelism 2 > /dev/null 2> "$WORK/w2.err"
rc=$?
set -e
[ $rc -eq 2 ] || fail "event time over two inputs at parallelism 2 exited $rc"
grep -q "uses event time and reads 2 inputs" "$WORK/w2.err" || fail "no reason: $(cat "$WORK/w2.err")"
echo "parallel_jobs: ok"
