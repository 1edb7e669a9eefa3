# A checkpoint that cannot be written fails alone: it is logged and counted, the job goes on, its pending
# output is carried into the next checkpoint, and the final output still equals a failure-free run's.
# (The failure is made by putting a file where the checkpoints directory must be, so creating chk-N fails;
# the same path handles a full disk or a failed fsync.)
source "$(dirname "$0")/lib.bash"

gen_access 3000 9 40 > "$WORK/all.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/all.log" --state-dir "$WORK/ref" --output "$WORK/ref.out" --quiet

wait_lines() { for _ in $(seq 200); do [ "$(cat "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0; sleep 0.05; done; fail "waited for $2 lines in $1"; }
head -n 1000 "$WORK/all.log" > "$WORK/in.log"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --follow --state-dir "$WORK/st" \
  --output "$WORK/out" --checkpoint-interval 50 2> "$WORK/err" &
pid=$!
wait_lines "$WORK/out" 1000 # committed: at least one checkpoint is complete
mv "$WORK/st/checkpoints" "$WORK/st/checkpoints.bak"
touch "$WORK/st/checkpoints"
sed -n '1001,2000p' "$WORK/all.log" >> "$WORK/in.log"
for _ in $(seq 200); do grep -q "failed at the barrier" "$WORK/err" && break; sleep 0.05; done
grep -q "checkpoint [0-9]* failed at the barrier: cannot create" "$WORK/err" || fail "no failed-checkpoint line: $(cat "$WORK/err")"
kill -0 $pid || fail "the job stopped after a failed checkpoint"
[ "$(wc -l < "$WORK/out")" -eq 1000 ] || fail "output of an incomplete checkpoint became visible"
rm "$WORK/st/checkpoints"
mv "$WORK/st/checkpoints.bak" "$WORK/st/checkpoints"
wait_lines "$WORK/out" 2000 # the carried output is committed by the next checkpoint that succeeds
sed -n '2001,3000p' "$WORK/all.log" >> "$WORK/in.log"
wait_lines "$WORK/out" 3000
kill -TERM $pid; wait $pid || fail "the job did not stop cleanly"
grep -q "checkpoints: [0-9]* complete, [1-9][0-9]* failed" "$WORK/err" || fail "failures not counted: $(tail -1 "$WORK/err")"
expect_same "$WORK/ref.out" "$WORK/out"
echo "ok: checkpoint failure"
