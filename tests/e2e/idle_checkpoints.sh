# An idle job writes no checkpoints (issue 13): while a followed file does not grow, a checkpoint finds
# nothing changed since the last complete one and is skipped (counted as "unchanged"); the next record makes
# the next checkpoint real again; and a restart after idling still resumes exactly.
source "$(dirname "$0")/lib.bash"
JOB="$SCRIPTS/url_count.lua"
gen_access 2000 51 > "$WORK/all.log"
head -n 1000 "$WORK/all.log" > "$WORK/in.log"
newest() { ls -d "$WORK"/st/checkpoints/chk-* 2>/dev/null | tail -n 1; }

"$SLUICE" run "$JOB" --input "$WORK/in.log" --follow --state-dir "$WORK/st" --output "$WORK/out" \
  --checkpoint-interval 20 2> "$WORK/err" &
pid=$!
for _ in $(seq 400); do [ "$(wc -l < "$WORK/out" 2>/dev/null || echo 0)" -ge 1000 ] && break; sleep 0.025; done
[ "$(wc -l < "$WORK/out")" -eq 1000 ] || fail "the first 1000 records did not come out"
sleep 0.3
idle_from=$(newest)
sleep 1.5 # about 75 checkpoint intervals with nothing to read
[ "$(newest)" = "$idle_from" ] || fail "an idle job took checkpoints: $idle_from, then $(newest)"
# One more record: a real checkpoint again.
sed -n '1001p' "$WORK/all.log" >> "$WORK/in.log"
for _ in $(seq 200); do [ "$(newest)" != "$idle_from" ] && break; sleep 0.025; done
[ "$(newest)" != "$idle_from" ] || fail "a new record did not make a new checkpoint"
for _ in $(seq 200); do [ "$(wc -l < "$WORK/out")" -ge 1001 ] && break; sleep 0.025; done
kill -TERM $pid
wait $pid || fail "the followed run exited $?"
unchanged=$(sed -n 's/.* \([0-9]*\) unchanged.*/\1/p' "$WORK/err")
[ -n "$unchanged" ] && [ "$unchanged" -ge 20 ] || fail "the summary counts ${unchanged:-no} unchanged checkpoints: $(grep done: "$WORK/err")"
# The rest of the input after the idle run: exactly a failure-free run's output.
sed -n '1002,2000p' "$WORK/all.log" >> "$WORK/in.log"
run_sluice run "$JOB" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" --quiet
run_sluice run "$JOB" --input "$WORK/all.log" --state-dir "$WORK/ref" --quiet > "$WORK/ref.out"
expect_same "$WORK/ref.out" "$WORK/out"
echo "ok: idle checkpoints ($unchanged unchanged)"
