# Operator state (:process(uid, { operator_state, initialize, snapshot })) survives a restart through the
# real binary: a running total kept in an operator list goes on after a graceful stop and after SIGKILL, and
# the output equals one run over all the input.
source "$(dirname "$0")/lib.bash"

job="$SLUICE_SRC/tests/e2e/op_state_job.lua"
gen_access 3000 5 > "$WORK/all.log"

run_sluice run "$job" --input "$WORK/all.log" --state-dir "$WORK/ref" --output "$WORK/ref.out" --quiet
[ "$(tail -n 1 "$WORK/ref.out")" = "$(printf '{"n": 3000, "url": "%s"}' \
  "$(tail -n 1 "$WORK/all.log" | sed 's/.*"url":"\([^"]*\)".*/\1/')")" ] || fail "reference total is wrong"

# Graceful: run 1 to the end of a part of the file, run 2 on the grown file.
head -n 1000 "$WORK/all.log" > "$WORK/grow.log"
run_sluice run "$job" --input "$WORK/grow.log" --state-dir "$WORK/st" --output "$WORK/st.out" --quiet
tail -n +1001 "$WORK/all.log" >> "$WORK/grow.log"
run_sluice run "$job" --input "$WORK/grow.log" --state-dir "$WORK/st" --output "$WORK/st.out" --quiet
expect_same "$WORK/ref.out" "$WORK/st.out"

# Crash: SIGKILL once some checkpoints are committed, then run to the end.
head -n 1500 "$WORK/all.log" > "$WORK/kill.log"
"$SLUICE" run "$job" --input "$WORK/kill.log" --follow --state-dir "$WORK/kst" --output "$WORK/k.out" \
  --checkpoint-interval 50 --quiet &
pid=$!
for _ in $(seq 100); do [ "$(cat "$WORK/k.out" 2>/dev/null | wc -l)" -ge 1500 ] && break; sleep 0.05; done
kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
[ "$(wc -l < "$WORK/k.out")" -eq 1500 ] || fail "the killed run committed $(wc -l < "$WORK/k.out") records"
tail -n +1501 "$WORK/all.log" >> "$WORK/kill.log"
run_sluice run "$job" --input "$WORK/kill.log" --state-dir "$WORK/kst" --output "$WORK/k.out" --quiet
expect_same "$WORK/ref.out" "$WORK/k.out"
echo "ok: operator state survives restarts"
