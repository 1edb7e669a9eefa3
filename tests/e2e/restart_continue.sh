# State survives a graceful stop: a second run on more input continues counting, a file already read is
# not read again, and the result equals one run over all the input.
source "$(dirname "$0")/lib.bash"

gen_access 3000 11 > "$WORK/all.log"
head -n 1200 "$WORK/all.log" > "$WORK/grow.log"

# Reference: one run over everything.
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/all.log" --state-dir "$WORK/ref" --quiet > "$WORK/ref.out"
[ "$(wc -l < "$WORK/ref.out")" -eq 3000 ] || fail "reference run did not emit 3000 records"

# Run 1 over the first 1200 lines; run 2 over the same file after it grew: only the new lines are read.
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/grow.log" --state-dir "$WORK/st" --quiet > "$WORK/part1.out"
tail -n +1201 "$WORK/all.log" >> "$WORK/grow.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/grow.log" --state-dir "$WORK/st" --quiet > "$WORK/part2.out"
[ "$(wc -l < "$WORK/part1.out")" -eq 1200 ] || fail "run 1 emitted $(wc -l < "$WORK/part1.out") records"
[ "$(wc -l < "$WORK/part2.out")" -eq 1800 ] || fail "run 2 re-read old lines: $(wc -l < "$WORK/part2.out") records"
cat "$WORK/part1.out" "$WORK/part2.out" > "$WORK/both.out"
expect_same "$WORK/ref.out" "$WORK/both.out"

# A third run with nothing new emits nothing.
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/grow.log" --state-dir "$WORK/st" --quiet > "$WORK/part3.out"
[ ! -s "$WORK/part3.out" ] || fail "run 3 emitted records from an already-read file"

# A different file keeps the counts going (state is per URL, not per file).
printf '%s\n' '{"url": "/api/item/0"}' > "$WORK/more.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/more.log" --state-dir "$WORK/st" --quiet > "$WORK/part4.out"
expected=$(( $(grep -c '"/api/item/0"' "$WORK/all.log") + 1 ))
grep -q "\"count\": $expected}" "$WORK/part4.out" || fail "count did not continue: $(cat "$WORK/part4.out")"

# SIGTERM is a graceful stop too: follow a file, stop the job, restart, nothing lost or doubled.
head -n 500 "$WORK/all.log" > "$WORK/follow.log"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/follow.log" --follow --state-dir "$WORK/fst" \
  --output "$WORK/f1.out" --quiet &
pid=$!
for _ in $(seq 100); do [ "$(cat "$WORK/f1.out" 2>/dev/null | wc -l)" -ge 500 ] && break; sleep 0.05; done
sed -n '501,1200p' "$WORK/all.log" >> "$WORK/follow.log"
for _ in $(seq 100); do [ "$(wc -l < "$WORK/f1.out")" -ge 1200 ] && break; sleep 0.05; done
kill -TERM $pid; wait $pid || fail "SIGTERM stop exited non-zero"
tail -n +1201 "$WORK/all.log" >> "$WORK/follow.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/follow.log" --state-dir "$WORK/fst" \
  --output "$WORK/f1.out" --quiet
expect_same "$WORK/ref.out" "$WORK/f1.out"
echo "ok: restart continues"
