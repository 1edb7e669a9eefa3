# The Kafka source in a parallel job (tests/kafka/mock_cluster.c: 1 broker, 8 partitions, keyed by url):
# one subtask reads the topic and the records go to the subtasks that own their keys. Runs at
# --parallelism 2 killed with SIGKILL mid-stream, then to the end at --parallelism 3, then more records at
# --parallelism 1 (rescaling each time, from the same checkpoints): every URL's output records equal the
# file run's. Each restart resumes at the checkpoint's offsets whichever subtask read them before (the
# others mark their copies, as for a file read whole: core/source.h).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/kafka_lib.bash"

SEED=${SEED:-$RANDOM}
RANDOM=$SEED
echo "seed $SEED"
N=30000 M=3000 K=2000
start_mock 1 8
URL="kafka://$BOOT/access?group=url-count&fetch.wait.max.ms=20"
gen_access "$N" 11 400 > "$WORK/in1.log"
gen_access "$M" 12 400 > "$WORK/in2.log"
gen_access "$K" 13 400 > "$WORK/in3.log"
cat "$WORK/in1.log" "$WORK/in2.log" > "$WORK/in12.log"
cat "$WORK/in12.log" "$WORK/in3.log" > "$WORK/in123.log"
"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in1.log" || fail "producing failed"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in12.log" --state-dir "$WORK/ref12" \
  --output "$WORK/ref12.out" --quiet
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in123.log" --state-dir "$WORK/ref123" \
  --output "$WORK/ref123.out" --quiet

slow="$SLUICE_SRC/tests/e2e/slow_url_count.lua"
kills=0
for _ in 1 2 3 4; do
  "$SLUICE" run "$slow" --input "$URL" --parallelism 2 --state-dir "$WORK/state" --output "$WORK/out" \
    --checkpoint-interval $((50 + RANDOM % 100)) --quiet -- 0.0001 2>> "$WORK/log" &
  pid=$!
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.4 + (r % 60) / 100 }')"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  lines_ge "$WORK/out" "$N" || kills=$((kills + 1))
done
[ "$kills" -ge 2 ] || fail "only $kills kills landed mid-stream"
# New records for each rescaled run, so that each moves the offsets its restore gave every subtask: a
# subtask that kept its copy would hold an older resume point than the reader's, and the next restore that
# merges them must not find two.
"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in2.log" || fail "producing failed"
run_until "$WORK/state" "$WORK/out" $((N + M)) "$slow" --parallelism 3 -- 0
[ "$(wc -l < "$WORK/out")" -eq $((N + M)) ] || fail "after $kills kills: $(wc -l < "$WORK/out") records, not $((N + M))"
expect_keys "$WORK/ref12.out" "$WORK/out" "after $kills kills at parallelism 2, then 3: per-URL counts differ"

"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in3.log" || fail "producing failed"
run_until "$WORK/state" "$WORK/out" $((N + M + K)) "$SCRIPTS/url_count.lua" --parallelism 1
[ "$(wc -l < "$WORK/out")" -eq $((N + M + K)) ] || fail "at parallelism 1: $(wc -l < "$WORK/out") records in all"
expect_keys "$WORK/ref123.out" "$WORK/out" "rescaled to 1: per-URL counts differ"
# With a file before it, the topic is source 1, read by subtask 1 (i % n) instead of subtask 0: it too
# resumes at the offsets of the checkpoint that parallelism 1 wrote.
gen_access 1000 14 400 > "$WORK/in4.log"
"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in4.log" || fail "producing failed"
cat "$WORK/in123.log" "$WORK/in4.log" > "$WORK/in1234.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in1234.log" --state-dir "$WORK/ref1234" \
  --output "$WORK/ref1234.out" --quiet
: > "$WORK/empty.log"
BEFORE_URL="$WORK/empty.log" run_until "$WORK/state" "$WORK/out" $((N + M + K + 1000)) "$SCRIPTS/url_count.lua" \
  --parallelism 2
expect_keys "$WORK/ref1234.out" "$WORK/out" "read by subtask 1: per-URL counts differ"
[ "$(wc -l < "$WORK/out")" -eq $((N + M + K + 1000)) ] || fail "read by subtask 1: $(wc -l < "$WORK/out") records"
K=$((K + 1000))

committed=$("$MOCK" committed "$BOOT" access url-count | awk '$2 >= 0 { s += $2 } END { print s }')
[ "$committed" -eq $((N + M + K)) ] || fail "the group's committed offsets add up to $committed, not $((N + M + K))"
echo "kafka parallel: $kills kills at parallelism 2, then 3, then 1: exact"
