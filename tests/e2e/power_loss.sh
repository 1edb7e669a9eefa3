# Power loss, simulated the way Jepsen's LazyFS does it (tests/fault/powerloss.c): the URL count runs under a
# shim that journals every change to the state dir and the output since it was last made durable; it is
# SIGKILLed at a random instant, and `powerloss-apply` then throws away what a power cut would (file data
# not fsynced, directory entries whose directory was not fsynced). Each round checks, on what is left:
#   - the output file holds a prefix of the failure-free output that ends on a line boundary;
#   - no more output than the newest complete checkpoint (one with _metadata) committed;
#   - every checkpoint that was complete before the cut (its _metadata existed) is still there: "a checkpoint
#     is complete exactly when its _metadata exists" must hold across a power loss, not only a crash;
# and the run after the last round, without the shim, must end with the failure-free output byte for byte.
# The working LMDB environment (state.mdb*) is not traced: recovery rebuilds it from a checkpoint before
# opening it (core/recovery.c), so its content after a power cut does not matter.
source "$(dirname "$0")/lib.bash"
source "$SLUICE_SRC/tests/fault/fault_lib.bash"
fault_need_shims io
fault_seed

ROUNDS=${ROUNDS:-8}
RECORDS=${RECORDS:-150000}
DELAY=${DELAY:-0.00003} # seconds per record: a run lasts ~5 s, several checkpoints every 50-100 ms
slow="$SLUICE_SRC/tests/e2e/slow_url_count.lua"
gen_access "$RECORDS" 3 20000 > "$WORK/in.log"
run_sluice run "$slow" --input "$WORK/in.log" --state-dir "$WORK/ref-state" --output "$WORK/ref.out" \
  --checkpoint-interval 0 --quiet -- 0
[ "$(wc -l < "$WORK/ref.out")" -eq "$RECORDS" ] || fail "reference run incomplete"

D=$WORK/d # the traced directory: state dir and output inside
mkdir "$D"
sluice_args() { echo run "$slow" --input "$WORK/in.log" --state-dir "$D/state" --output "$D/out" \
  --checkpoint-interval "$1" --quiet -- "$2"; }

# newest_complete [BEFORE]: the id of the newest checkpoint whose _metadata exists (0 if none); with BEFORE,
# only among those older than the newest checkpoint directory. That one is complete for sure: sluice starts
# the next checkpoint only after the previous one's writing and syncing returned — while a _metadata that
# just appeared may still wait for its directory's fsync, and is rightly lost in a power cut.
# (Only chk-<20 digits>: a checkpoint set aside as corrupt, chk-N.corrupt, is none.)
newest_complete() {
  local d id=0 top=0 n digits='[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
  for d in "$D"/state/checkpoints/chk-$digits$digits; do
    [ -e "$d" ] || continue
    n=$((10#${d##*chk-}))
    [ "$n" -le "$top" ] || top=$n
  done
  for d in "$D"/state/checkpoints/chk-$digits$digits/_metadata; do
    [ -e "$d" ] || continue
    d=${d%/_metadata}
    n=$((10#${d##*chk-}))
    if [ -n "${1:-}" ] && [ "$n" -ge "$top" ]; then continue; fi
    [ "$n" -le "$id" ] || id=$n
  done
  echo "$id"
}
# committed_end ID: the output size checkpoint ID committed (sink_committed + sink_part of its _metadata).
committed_end() {
  awk '$1 == "sink_committed" || $1 == "sink_part" { n += $2 } END { print n + 0 }' \
    "$D/state/checkpoints/chk-$(printf '%020d' "$1")/_metadata"
}

# lost_dirs: the directories whose entry changes the last power cut undid (never fsynced after them).
lost_dirs() {
  local dirs
  dirs=$(sed -n 's/^  \(create\|mkdir\|rename\|unlink\|rmdir\) \([^ :]*\).*/\2/p' "$WORK/apply.out" |
    xargs -r -n1 dirname | sort -u | sed "s|^$WORK/||" | paste -sd ' ')
  echo "entry changes undone in: ${dirs:-none}"
}

undone=0 survivors=0 start=$SECONDS
for round in $(seq "$ROUNDS"); do
  [ $((SECONDS - start)) -lt 150 ] || fail "time bound exceeded after $round rounds"
  rm -rf "$WORK/journal" "$WORK/journal.links"
  interval=$((50 + RANDOM % 51))
  env SLUICE_POWERLOSS_DIR="$D" SLUICE_POWERLOSS_JOURNAL="$WORK/journal" \
    SLUICE_POWERLOSS_EXCLUDE=state.mdb,state.loading.mdb LD_PRELOAD="$(fault_preload "$SLUICE_POWERLOSS_LIB")" \
    "$SLUICE" $(sluice_args "$interval" "$DELAY") 2>> "$WORK/log" &
  pid=$!
  if [ $((round % 2)) -eq 1 ]; then
    # Odd rounds cut only after this run committed output (a checkpoint completed), so that every test run,
    # on a loaded machine too, has cuts that a completed checkpoint must survive; even rounds cut at any
    # instant from the start, recovery included.
    start_size=$(stat -c %s "$D/out" 2>/dev/null || echo 0)
    for _ in $(seq 800); do
      [ "$(stat -c %s "$D/out" 2>/dev/null || echo 0)" -le "$start_size" ] || break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.025
    done
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", (r % 300) / 1000 }')"
  else
    sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + (r % 900) / 1000 }')"
  fi
  before=$(newest_complete older) # complete for sure before the cut: must survive it
  if kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    how="killed"
  else
    rc=0
    wait "$pid" || rc=$?
    [ "$rc" -eq 0 ] || fail "round $round: the run under the power-loss shim exited $rc: $(tail -3 "$WORK/log")"
    how="finished"
    before=$(newest_complete) # it stopped: its last checkpoint returned
  fi
  "$SLUICE_POWERLOSS_APPLY" -v "$WORK/journal" > "$WORK/apply.out" || fail "round $round: powerloss-apply failed"
  n=$(sed -n 's/.*undid \([0-9]*\) writes.* and \([0-9]*\) entry changes.*/\1 \2/p' "$WORK/apply.out")
  undone=$((undone + ${n% *} + ${n#* }))
  after=$(newest_complete)
  size=$(stat -c %s "$D/out" 2>/dev/null || echo 0)
  echo "round $round: $how, interval $interval ms; newest complete checkpoint $before before the cut, $after after; output $size bytes; $(tail -1 "$WORK/apply.out" | cut -d: -f2-)"
  if [ "$size" -gt 0 ]; then
    head -c "$size" "$WORK/ref.out" | cmp -s - "$D/out" ||
      fault_violation "round $round: after the power cut the output is not a prefix of the expected output"
    [ "$(tail -c 1 "$D/out" | od -An -c | tr -d ' ')" = '\n' ] ||
      fault_violation "round $round: after the power cut the output ends inside a line"
  fi
  [ "$before" -eq 0 ] || survivors=$((survivors + 1))
  [ "$after" -ge "$before" ] ||
    fault_violation "round $round: checkpoint $before was complete (its _metadata existed) before the power cut, and after it the newest complete one is $after: the checkpoint was not durable when it became complete ($(lost_dirs))"
  limit=0
  [ "$after" -eq 0 ] || limit=$(committed_end "$after")
  [ "$size" -le "$limit" ] ||
    fault_violation "round $round: after the power cut the output holds $size bytes but the newest complete checkpoint ($after) committed $limit: output of a checkpoint that did not survive is visible"
done
[ "$undone" -gt 0 ] || fault_violation "no power cut threw anything away: this test proved nothing"
[ "$survivors" -gt 0 ] || fault_violation "no cut came after a completed checkpoint: this test proved nothing"
rc=0
run_sluice $(sluice_args 75 0) 2>> "$WORK/log" || rc=$?
[ "$rc" -eq 0 ] || fault_violation "the run after the last power cut exited $rc: $(tail -3 "$WORK/log")"
cmp -s "$WORK/ref.out" "$D/out" || fault_violation "the output after the last power cut and a full run is not exact ($(fault_compare "$WORK/ref.out" "$D/out"))"
fault_finish
echo "ok: power loss ($ROUNDS rounds, $undone unsynced changes thrown away, $((SECONDS - start)) s)"
