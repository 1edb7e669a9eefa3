# Fault tolerance, for real: the URL count over 200 k records is killed with SIGKILL at random instants
# (checkpoints every 50-100 ms, so some kills land during snapshots and some during recovery), restarted
# each time on the same state dir, then run to the end. The output file must equal a failure-free run's
# byte for byte, and the final state must be the same (probed with one more record per URL).
source "$(dirname "$0")/lib.bash"

KILLS_WANTED=${KILLS_WANTED:-22}
MIN_KILLS=${MIN_KILLS:-20}
# Full checkpoints here; crash_recovery_incremental.sh runs the same with deltas (the default).
CKPT_FLAGS=${CKPT_FLAGS:---full-checkpoints}
SEED=${SEED:-$RANDOM}
RANDOM=$SEED
echo "seed $SEED (rerun with SEED=$SEED to repeat the same kill schedule)"
gen_access 200000 3 20000 > "$WORK/in.log"
slow="$SLUICE_SRC/tests/e2e/slow_url_count.lua"
DELAY=${DELAY:-0.00003} # seconds per record: a run lasts long enough to take a few checkpoints

run_sluice run "$slow" --input "$WORK/in.log" --state-dir "$WORK/ref-state" --output "$WORK/ref.out" \
  --checkpoint-interval 0 --quiet -- 0
[ "$(wc -l < "$WORK/ref.out")" -eq 200000 ] || fail "reference run incomplete"

# The id of the newest complete checkpoint in the state dir ("" if none).
newest_complete() { ls "$WORK"/state/checkpoints/chk-*/_metadata 2>/dev/null | tail -n 1 || true; }

kills=0 restarts=0 start=$SECONDS
while [ "$kills" -lt "$KILLS_WANTED" ]; do
  [ $((SECONDS - start)) -lt 100 ] || fail "time bound exceeded after $kills kills"
  interval=$((50 + RANDOM % 51))
  "$SLUICE" run "$slow" --input "$WORK/in.log" --state-dir "$WORK/state" --output "$WORK/out" \
    --checkpoint-interval "$interval" $CKPT_FLAGS --quiet -- "$DELAY" 2>> "$WORK/log" &
  pid=$!
  # Kill anywhere from during recovery (a few ms in) to well past a few checkpoints.
  pause=$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.005 + (r % 400) / 1000 }')
  if [ $((restarts % 3)) = 2 ]; then
    # Every third run is killed only after it completed a checkpoint of its own: however loaded the
    # machine, the job makes progress and later runs restore what earlier ones committed.
    before=$(newest_complete)
    for _ in $(seq 600); do
      [ "$(newest_complete)" != "$before" ] && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    pause=0.005 # then at once: waiting for the checkpoint used up input enough
  fi
  sleep "$pause"
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    kills=$((kills + 1))
  else
    wait "$pid" || fail "a run exited with an error: $(tail -3 "$WORK/log")"
    break # it finished before the kill: nothing left to kill
  fi
  restarts=$((restarts + 1))
done
# The last run, to the end of the input.
run_sluice run "$slow" --input "$WORK/in.log" --state-dir "$WORK/state" --output "$WORK/out" \
  --checkpoint-interval 75 $CKPT_FLAGS --quiet -- 0 2>> "$WORK/log" || fail "final run failed: $(tail -3 "$WORK/log")"
restarts=$((restarts + 1))
echo "kills: $kills, restarts: $restarts, time: $((SECONDS - start)) s"
[ "$kills" -ge "$MIN_KILLS" ] || fail "only $kills kills landed before the input was done (the test needs >= $MIN_KILLS)"
grep -q "restored checkpoint" "$WORK/log" || fail "no run restored a checkpoint"
case "$CKPT_FLAGS" in *incremental*)
  echo "restores through a chain of deltas: $(grep -c "deltas)" "$WORK/log" || true)" ;;
esac
expect_same "$WORK/ref.out" "$WORK/out"

# Same final state: one more record for every URL gives the same counts in both state dirs.
awk -F'"url":"' '{ split($2, a, "\""); print "{\"url\": \"" a[1] "\"}" }' "$WORK/in.log" | sort -u > "$WORK/probe.log"
run_sluice run "$slow" --input "$WORK/probe.log" --state-dir "$WORK/ref-state" --output "$WORK/ref.probe" --quiet
run_sluice run "$slow" --input "$WORK/probe.log" --state-dir "$WORK/state" --output "$WORK/probe" --quiet
expect_same "$WORK/ref.probe" "$WORK/probe"
echo "ok: crash recovery ($kills kills, $restarts restarts)"
