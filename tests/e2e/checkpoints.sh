# Checkpoints beyond the single-input crash test: two inputs read together (the barrier cuts both at once),
# a corrupt newest checkpoint (fallback to the previous one), retention and the listing, savepoints and
# restoring them by operator uid.
source "$(dirname "$0")/lib.bash"
slow="$SLUICE_SRC/tests/e2e/slow_url_count.lua"
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
echo "seed $SEED"

# 1. Two inputs, killed 8 times: every (url, count) pair comes out exactly once. The interleaving of the
#    two files differs from run to run, so compare sorted outputs.
gen_access 30000 5 300 > "$WORK/a.log"
gen_access 30000 6 300 > "$WORK/b.log"
run_sluice run "$slow" --input "$WORK/a.log" --input "$WORK/b.log" --state-dir "$WORK/ref" \
  --output "$WORK/ref.out" --quiet -- 0
for i in $(seq 8); do
  "$SLUICE" run "$slow" --input "$WORK/a.log" --input "$WORK/b.log" --state-dir "$WORK/two" \
    --output "$WORK/two.out" --checkpoint-interval 60 --quiet -- 0.00004 2>> "$WORK/log" &
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + (r % 300) / 1000 }')"
  kill -9 $! 2>/dev/null || true
  wait $! 2>/dev/null || true
done
run_sluice run "$slow" --input "$WORK/a.log" --input "$WORK/b.log" --state-dir "$WORK/two" \
  --output "$WORK/two.out" --quiet -- 0 2>> "$WORK/log"
sort "$WORK/ref.out" > "$WORK/ref.sorted"
sort "$WORK/two.out" > "$WORK/two.sorted"
expect_same "$WORK/ref.sorted" "$WORK/two.sorted"
[ "$(wc -l < "$WORK/two.out")" -eq 60000 ] || fail "two inputs: $(wc -l < "$WORK/two.out") records"

# 2. Retention and listing: a followed input, checkpoints every 20 ms, --retain-checkpoints 2.
gen_access 3000 7 50 > "$WORK/c.all"
head -n 1000 "$WORK/c.all" > "$WORK/c.log"
"$SLUICE" run "$slow" --input "$WORK/c.log" --follow --state-dir "$WORK/ck" --output "$WORK/ck.out" \
  --checkpoint-interval 20 --retain-checkpoints 2 --full-checkpoints --quiet -- 0 &
pid=$!
# The input grows in steps: an idle job skips its checkpoints, so each step makes new ones.
for part in 2 3; do
  sleep 0.4
  sed -n "$((part * 1000 - 999)),$((part * 1000))p" "$WORK/c.all" >> "$WORK/c.log"
done
sleep 0.5
"$SLUICE" checkpoints "$WORK/ck" > "$WORK/list"
grep -q "complete" "$WORK/list" || fail "no complete checkpoint listed: $(cat "$WORK/list")"
[ "$(grep -c complete "$WORK/list")" -le 3 ] || fail "retention: $(cat "$WORK/list")"
# Under the table, the state dir's disk use, as du counts it: the checkpoints' share is what is retained.
chk_kb=$(du -sk "$WORK/ck/checkpoints" | cut -f1)
grep -qE "^disk: [0-9.]+ [KMG]?B in $WORK/ck: [0-9]+ checkpoints [0-9.]+ [KMG]?B, working state [0-9.]+ [KMG]?B, pending output [0-9.]+ [KMG]?B, savepoints 0 B$" "$WORK/list" ||
  fail "no disk-use line: $(cat "$WORK/list")"
listed=$(sed -n 's/.* checkpoints \([0-9.]*\) KB,.*/\1/p' "$WORK/list")
[ -n "$listed" ] && awk -v l="$listed" -v d="$chk_kb" 'BEGIN {exit !(l >= d * 0.8 && l <= d * 1.25)}' ||
  fail "checkpoints' disk use listed as '$listed' KB, du says $chk_kb KB: $(cat "$WORK/list")"
kill -9 $pid; wait $pid 2>/dev/null || true

# 3. A corrupt newest checkpoint: recovery says so and falls back to the one before; nothing is lost.
newest=$(dirname "$(ls "$WORK/ck/checkpoints"/chk-*/_metadata | tail -1)") # the newest complete one
printf 'garbage' | dd of="$newest/state.snap" bs=1 seek=20 conv=notrunc 2>/dev/null
run_sluice run "$slow" --input "$WORK/c.log" --state-dir "$WORK/ck" --output "$WORK/ck.out" -- 0 2> "$WORK/err3"
grep -q "is corrupt (.*checksum.*set aside as" "$WORK/err3" || fail "no fallback message: $(cat "$WORK/err3")"
run_sluice run "$slow" --input "$WORK/c.log" --state-dir "$WORK/ck-ref" --output "$WORK/ck-ref.out" --quiet -- 0
expect_same "$WORK/ck-ref.out" "$WORK/ck.out"

# 4. Savepoint of a running job; a new job (new state dir) starts from it and continues the counts.
head -n 1000 "$WORK/c.log" > "$WORK/d.log"
"$SLUICE" run "$slow" --input "$WORK/d.log" --follow --state-dir "$WORK/sp-job" --output "$WORK/sp1.out" --quiet -- 0 &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/sp-job/lock" ] && break; sleep 0.05; done
sleep 0.3
"$SLUICE" savepoint "$WORK/sp-job" "$WORK/sp" > "$WORK/sp.path" || fail "savepoint command failed"
[ -f "$WORK/sp/state.snap" ] && grep -q "savepoint 1" "$WORK/sp/_metadata" || fail "savepoint not written"
kill -TERM $pid; wait $pid
tail -n +1001 "$WORK/c.log" > "$WORK/e.log"
run_sluice run "$slow" --input "$WORK/e.log" --state-dir "$WORK/from-sp" --from-savepoint "$WORK/sp" \
  --output "$WORK/sp2.out" --quiet -- 0
cat "$WORK/sp1.out" "$WORK/sp2.out" > "$WORK/sp.all"
expect_same "$WORK/ck-ref.out" "$WORK/sp.all"

# 5. State is matched to operators by uid: a job without operator "count" refuses the savepoint, unless
#    --allow-non-restored-state, which drops that state.
sed 's/:process("count"/:process("count2"/' "$slow" > "$WORK/renamed.lua"
set +e
"$SLUICE" run "$WORK/renamed.lua" --input "$WORK/e.log" --state-dir "$WORK/ren" --from-savepoint "$WORK/sp" \
  --output "$WORK/ren.out" 2> "$WORK/err5"
status=$?
set -e
[ "$status" -eq 2 ] || fail "renamed uid: exit $status"
grep -q "operator 'count', which the job no longer has" "$WORK/err5" || fail "no uid message: $(cat "$WORK/err5")"
run_sluice run "$WORK/renamed.lua" --input "$WORK/e.log" --state-dir "$WORK/ren" --from-savepoint "$WORK/sp" \
  --allow-non-restored-state --output "$WORK/ren.out" 2> "$WORK/err5b"
grep -q "dropping state 'count' of operator 'count'" "$WORK/err5b" || fail "no drop message"
head -1 "$WORK/ren.out" | grep -q '"count": 1}' || fail "dropped state still counted: $(head -1 "$WORK/ren.out")"
echo "ok: checkpoints"
