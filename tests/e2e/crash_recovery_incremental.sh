# The crash test with incremental checkpoints: recoveries load a full snapshot and apply a chain of deltas.
# Then, deterministically: a run is killed exactly when its newest complete checkpoint is a delta, and the
# restart must restore through the chain and still end with the failure-free output.
source "$(dirname "$0")/lib.bash"

# Shorter batches than the main crash test (so a run takes several checkpoints before it is killed), hence
# fewer kills fit before the input is done.
out=$(CKPT_FLAGS=--incremental-checkpoints DELAY=0.00002 KILLS_WANTED=12 MIN_KILLS=10 \
  bash "$SLUICE_SRC/tests/e2e/crash_recovery.sh" 2>&1) || { echo "$out" | tail -20; fail "crash test failed"; }
echo "$out" | grep -E "^kills|deltas:|^ok" || true

slow="$SLUICE_SRC/tests/e2e/slow_url_count.lua"
gen_access 60000 4 5000 > "$WORK/in.log"
run_sluice run "$slow" --input "$WORK/in.log" --state-dir "$WORK/ref" --output "$WORK/ref.out" --quiet -- 0
"$SLUICE" run "$slow" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" \
  --checkpoint-interval 30 --incremental-checkpoints --quiet -- 0.00005 2> "$WORK/log1" &
pid=$!
for _ in $(seq 400); do
  "$SLUICE" checkpoints "$WORK/st" 2>/dev/null | grep -E "^[0-9]" | tail -1 | grep -qE " delta .* complete$" && break
  sleep 0.01
done
kill -9 $pid; wait $pid 2>/dev/null || true
run_sluice run "$slow" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" \
  --checkpoint-interval 30 --incremental-checkpoints -- 0 2> "$WORK/log2"
grep -q "deltas)" "$WORK/log2" || fail "the restart did not restore through a chain of deltas: $(grep restored "$WORK/log2")"
grep "restored checkpoint" "$WORK/log2"
expect_same "$WORK/ref.out" "$WORK/out"
echo "ok: crash recovery through delta chains"
