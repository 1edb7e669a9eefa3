# Event-time tumbling windows (scripts/window_count.lua): requests per URL per minute of @timestamp, each
# window emitted once when the watermark passes its end (or at the end of the input). Then the windows and
# their timers as state: a run stopped (SIGTERM, then SIGKILL) after part of the input and restarted on the
# rest with the same state dir emits every window exactly once with its complete count.
source "$(dirname "$0")/lib.bash"

script="$SCRIPTS/window_count.lua"
expected="$DATA/window_count.out"

# 1. Fixed input, expected output (verified independently: counts per URL and minute, in time then key order).
run_sluice run "$script" --input "$DATA/window_count.in" --state-dir "$WORK/st0" --output "$WORK/all.out" --quiet
expect_same "$expected" "$WORK/all.out"

# 2. Stop after part of the input, go on with the rest. Part 1 ends at 00:03:27, so with 5 s of allowed
# disorder the windows of minutes 0-2 close during part 1 (18 of them) and the rest stay open, in state.
closed=$(grep -c ':0[012]:00"' "$expected")
stop_and_resume() { # SIGNAL NAME
  local sig=$1 name=$2
  head -n 230 "$DATA/window_count.in" > "$WORK/$name.in"
  "$SLUICE" run "$script" --input "$WORK/$name.in" --follow --state-dir "$WORK/$name.st" \
    --output "$WORK/$name.out" --checkpoint-interval 50 --quiet &
  local pid=$!
  # The file output shows only checkpointed records: wait (bounded) for part 1's windows to be committed.
  for _ in $(seq 100); do
    [ "$(cat "$WORK/$name.out" 2>/dev/null | wc -l)" -ge "$closed" ] && break
    sleep 0.05
  done
  [ "$(wc -l < "$WORK/$name.out")" -eq "$closed" ] || fail "$name: part 1 emitted $(wc -l < "$WORK/$name.out") windows, not $closed"
  kill "-$sig" "$pid"
  wait "$pid" || [ "$sig" = KILL ] || fail "$name: the stopped run exited non-zero"
  tail -n +231 "$DATA/window_count.in" >> "$WORK/$name.in"
  run_sluice run "$script" --input "$WORK/$name.in" --state-dir "$WORK/$name.st" --output "$WORK/$name.out" \
    --quiet 2> "$WORK/$name.log" || fail "$name: the resumed run failed: $(cat "$WORK/$name.log")"
  expect_same "$expected" "$WORK/$name.out"
}
stop_and_resume TERM graceful
stop_and_resume KILL crash
echo "ok: window count"
