# Processing-time timers through the real binary: the runtime's uv_timer fires them while the job waits for
# input (--follow), and a timer still pending at a graceful stop is in the state and fires in the next run.
source "$(dirname "$0")/lib.bash"

job="$SLUICE_SRC/tests/e2e/ptimer_job.lua"
printf '%s\n' '{"url": "/a"}' '{"url": "/b"}' '{"url": "/a"}' > "$WORK/in.log"
"$SLUICE" run "$job" --input "$WORK/in.log" --follow --state-dir "$WORK/st" --quiet > "$WORK/out1" &
pid=$!
for _ in $(seq 40); do [ "$(wc -l < "$WORK/out1")" -ge 2 ] && break; sleep 0.05; done
kill -TERM "$pid"; wait "$pid" || fail "the first run exited non-zero"
printf '%s\n' '{"url": "/a", "n": 2, "kind": "processing"}' '{"url": "/b", "n": 1, "kind": "processing"}' \
  > "$WORK/want1"
expect_same "$WORK/want1" "$WORK/out1"

# A timer pending at the stop: a run to the end of the input (which does not fire processing-time timers)
# registers it 500 ms ahead and stops at once; the next run fires it from the restored state once it is due.
printf '%s\n' '{"url": "/c"}' >> "$WORK/in.log"
run_sluice run "$job" --input "$WORK/in.log" --state-dir "$WORK/st" -- 500 > "$WORK/out2" 2> "$WORK/err2"
[ ! -s "$WORK/out2" ] || fail "the timer fired before it was due: $(cat "$WORK/out2")"
# The summary says so (issue 11, item 18): nothing silently left unfired.
grep -q "done: 1 records in, 0 out, 0 rejected; 1 processing-time timers pending" "$WORK/err2" \
  || fail "the summary does not report the pending timer: $(grep done: "$WORK/err2")"
"$SLUICE" run "$job" --input "$WORK/in.log" --follow --state-dir "$WORK/st" --quiet > "$WORK/out3" &
pid=$!
for _ in $(seq 40); do [ -s "$WORK/out3" ] && break; sleep 0.05; done
kill -TERM "$pid"; wait "$pid" || fail "the third run exited non-zero"
printf '%s\n' '{"url": "/c", "n": 1, "kind": "processing"}' > "$WORK/want3"
expect_same "$WORK/want3" "$WORK/out3"
echo "ok: processing-time timers"
