# The Kafka source against librdkafka's mock cluster (tests/kafka/mock_cluster.c: 3 brokers, a topic of 8
# partitions, records keyed by url so that one URL's records are in one partition, in order):
#   1. one run reads the topic to its end and is stopped with SIGTERM: every URL's output records (its
#      running counts, in order) equal those of the same job over the same records in a file; a bad record
#      is rejected naming topic, partition and offset; the final checkpoint's offsets are committed to the
#      consumer group (what lag tools read);
#   2. a restart on that state dir resumes at the checkpoint's offsets: it reads only records produced since;
#   3. runs killed with SIGKILL mid-stream and restarted on one state dir end with the same output: nothing
#      lost, nothing counted twice;
#   4. request errors and a broker down for a while during a run: the job waits, resumes, and is exact
#      (this job declares its source in Lua: sluice.source.kafka);
#   5. a group coordinator that does not answer delays stopping by a bounded time only;
#   6. a restart whose checkpointed offsets retention has deleted fails, instead of skipping records.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/kafka_lib.bash"

SEED=${SEED:-$RANDOM}
RANDOM=$SEED
echo "seed $SEED"
N=30000

start_mock 3 8
URL="kafka://$BOOT/access?group=url-count&fetch.wait.max.ms=20"

gen_access "$N" 7 400 > "$WORK/in1.log"
# One bad record in the stream (no url: no key, any partition); the file run rejects it too.
sed -i '1234s/.*/{"url": not json}/' "$WORK/in1.log"
"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in1.log" || fail "producing failed"

run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in1.log" --state-dir "$WORK/ref-state" \
  --output "$WORK/ref1.out" --quiet 2> /dev/null || true
[ "$(wc -l < "$WORK/ref1.out")" -eq $((N - 1)) ] || fail "reference run incomplete"

# 1. One run over the whole topic.
run_until "$WORK/state" "$WORK/out1" $((N - 1)) "$SCRIPTS/url_count.lua"
[ "$(wc -l < "$WORK/out1")" -eq $((N - 1)) ] || fail "run 1 wrote $(wc -l < "$WORK/out1") records, not $((N - 1))"
expect_keys "$WORK/ref1.out" "$WORK/out1" "run 1: per-URL counts differ from the file run's"
grep -Eq 'kafka:access:[0-7]:[0-9]+: invalid JSON' "$WORK/log" || fail "the bad record's error names no partition:offset"
committed=$("$MOCK" committed "$BOOT" access url-count | awk '$2 >= 0 { s += $2 } END { print s }')
[ "$committed" -eq "$N" ] || fail "the group's committed offsets add up to $committed, not $N"
# The partition and offset the error names hold the bad line.
IFS=: read -r _ _ part off _ < <(grep -Eo 'kafka:access:[0-7]:[0-9]+: invalid JSON' "$WORK/log" | head -1)
[ "$("$MOCK" fetch "$BOOT" access "$part" "$off")" = '{"url": not json}' ] ||
  fail "partition $part offset $off does not hold the rejected record"

# Refused at start, with exit status 2 and a reason: an unknown librdkafka property, a malformed URL. (A
# topic the brokers lack cannot be tried here: the mock cluster creates any topic a client asks about.)
expect_refused "librdkafka property 'no.such.property'" --input "kafka://$BOOT/access?no.such.property=1" \
  --output "$WORK/refused.out"
expect_refused "a Kafka input is kafka://" --input "kafka://$BOOT" --output "$WORK/refused.out"

# 2. More records; a restart reads only those, from the checkpoint's offsets, not from the group's: another
# consumer moves those back to 0 here, and the counts must not care.
"$MOCK" commit "$BOOT" access url-count 0 || fail "committing offsets 0 failed"
M=5000
gen_access "$M" 8 400 > "$WORK/in2.log"
"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in2.log" || fail "producing failed"
cat "$WORK/in1.log" "$WORK/in2.log" > "$WORK/in12.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in12.log" --state-dir "$WORK/ref-state2" \
  --output "$WORK/ref12.out" --quiet 2> /dev/null || true
run_until "$WORK/state" "$WORK/out1" $((N - 1 + M)) "$SCRIPTS/url_count.lua"
[ "$(wc -l < "$WORK/out1")" -eq $((N - 1 + M)) ] || fail "the restart wrote $(wc -l < "$WORK/out1") records in all"
expect_keys "$WORK/ref12.out" "$WORK/out1" "restart: per-URL counts differ from the file run's"

# 3. Killed with SIGKILL mid-stream, again and again, on one state dir; then run to the end.
slow="$SLUICE_SRC/tests/e2e/slow_url_count.lua"
kills=0
for _ in 1 2 3 4 5 6; do
  "$SLUICE" run "$slow" --input "$URL" --state-dir "$WORK/state3" --output "$WORK/out3" \
    --checkpoint-interval $((50 + RANDOM % 100)) --quiet -- 0.0001 2>> "$WORK/log" &
  pid=$!
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.2f", 0.2 + (r % 60) / 100 }')"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  # A kill counts when it landed mid-stream: records were left to read.
  lines_ge "$WORK/out3" $((N - 1 + M)) || kills=$((kills + 1))
done
[ "$kills" -ge 3 ] || fail "only $kills kills landed mid-stream"
run_until "$WORK/state3" "$WORK/out3" $((N - 1 + M)) "$slow" -- 0
[ "$(wc -l < "$WORK/out3")" -eq $((N - 1 + M)) ] || fail "after $kills kills: $(wc -l < "$WORK/out3") records"
expect_keys "$WORK/ref12.out" "$WORK/out3" "after $kills kills: per-URL counts differ (lost or doubled)"

# 4. Broker trouble: the run starts with broker 2 (the leader of some partitions) down and fetches failing;
# it reads the other partitions meanwhile, waits, and once the broker is back reads the rest.
echo "down 2" > "$WORK/ctl"
echo "errors Fetch 10 NOT_LEADER_FOR_PARTITION" > "$WORK/ctl"
wait_for "broker 2 down" grep -q "ok: errors Fetch" "$WORK/mock.log"
# This run's job declares its source in Lua (sluice.source.kafka) instead of --input kafka://.
"$SLUICE" run "$SLUICE_SRC/tests/e2e/kafka_count_job.lua" --state-dir "$WORK/state4" --output "$WORK/out4" \
  --checkpoint-interval 100 -- "$BOOT" access 2>> "$WORK/log4" &
pid=$!
wait_for "records of the partitions still led" lines_ge "$WORK/out4" 1000
sleep 3
lines_ge "$WORK/out4" $((N - 1 + M)) && fail "every partition was read although a leader was down"
echo "up 2" > "$WORK/ctl"
for _ in $(seq 1200); do lines_ge "$WORK/out4" $((N - 1 + M)) && break; sleep 0.05; done
kill -TERM "$pid"
wait "$pid" || fail "the run with broker errors exited with $?: $(tail -3 "$WORK/log4")"
expect_keys "$WORK/ref12.out" "$WORK/out4" "with broker errors: per-URL counts differ"
committed=$("$MOCK" committed "$BOOT" access url-count-job | awk '$2 >= 0 { s += $2 } END { print s }')
[ "$committed" -eq $((N + M)) ] || fail "the job's group has committed offsets adding up to $committed"

# Values of several lines (another topic, which the mock creates on first use): each message is one record
# whatever its newlines: one whose newlines sit between JSON tokens is valid, one with a raw newline inside
# a string is rejected whole, as that one record.
# (One key, so one partition, in this order: once the second /multi is counted, the bad one was seen.)
printf '%s\n' '{"k":"1","url":|"/multi",|"n":1}' '{"k":"1","url":"/a|b"}' '{"k":"1","url":"/multi"}' |
  "$MOCK" produce "$BOOT" lines --key-field k --newline '|' || fail "producing failed"
run_until "$WORK/state6" "$WORK/out6" 2 "$SLUICE_SRC/tests/e2e/kafka_count_job.lua" -- "$BOOT" lines
printf '%s\n' '{"url": "/multi", "count": 1}' '{"url": "/multi", "count": 2}' > "$WORK/exp6"
expect_same "$WORK/exp6" "$WORK/out6"
grep -Eq 'kafka:lines:[0-9]+:[0-9]+: invalid JSON' "$WORK/run.log" || fail "the value with a raw newline was not rejected"
grep -q '1 rejected' "$WORK/run.log" || fail "not exactly one record rejected: $(tail -1 "$WORK/run.log")"

# start=latest: a job with no checkpoint reads only what is produced once it runs.
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "kafka://$BOOT/lines?start=latest" --state-dir "$WORK/state7" \
  --output "$WORK/out7" --checkpoint-interval 100 2> "$WORK/log7" &
pid=$!
wait_running $pid "$WORK/log7"
sleep 2 # its partitions' end offsets are resolved by then (the mock answers in ms)
printf '%s\n' '{"url":"/late"}' | "$MOCK" produce "$BOOT" lines || fail "producing failed"
wait_for "the late record" lines_ge "$WORK/out7" 1
kill -TERM "$pid"
wait "$pid" || fail "the start=latest run exited with $?"
printf '%s\n' '{"url": "/late", "count": 1}' > "$WORK/exp7"
expect_same "$WORK/exp7" "$WORK/out7"

# 5. A group coordinator that does not answer: stopping takes the final checkpoint and exits 0 with the
# output exact, after a bounded wait for the commit to the group (whose offsets only lag tools read), not
# librdkafka's session timeout or forever. Every broker answers 60 s late once the job has read everything.
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "kafka://$BOOT/access?group=slow-coordinator" \
  --state-dir "$WORK/state8" --output "$WORK/out8" --checkpoint-interval 100 2> "$WORK/log8" &
pid=$!
for _ in $(seq 1200); do lines_ge "$WORK/out8" $((N - 1 + M)) && break; sleep 0.05; done
lines_ge "$WORK/out8" $((N - 1 + M)) || fail "the slow-coordinator run read $(wc -l < "$WORK/out8") records"
for b in 1 2 3; do echo "rtt $b 60000" > "$WORK/ctl"; done
wait_for "the brokers to slow down" grep -q "ok: rtt 3 60000" "$WORK/mock.log"
t0=$SECONDS
kill -TERM "$pid"
wait "$pid" || fail "the run with a silent coordinator exited with $?: $(tail -3 "$WORK/log8")"
[ $((SECONDS - t0)) -le 40 ] || fail "stopping with a silent coordinator took $((SECONDS - t0)) s"
grep -q "did not finish within 10 s" "$WORK/log8" || fail "no word of the unfinished commit: $(tail -3 "$WORK/log8")"
expect_keys "$WORK/ref12.out" "$WORK/out8" "with a silent coordinator: per-URL counts differ"
for b in 1 2 3; do echo "rtt $b 0" > "$WORK/ctl"; done
wait_for "the brokers to answer again" grep -q "ok: rtt 3 0" "$WORK/mock.log"

# 6. Retention deleted records the job had not read: the mock keeps at most 5 MiB per partition, so 300 k
# more records push every partition's first kept offset past run 1's checkpoint. A restart from it must
# fail (exit 1, saying why), not jump to the first record still there.
gen_access 300000 9 400 | "$MOCK" produce "$BOOT" access || fail "producing failed"
set +e
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$URL" --state-dir "$WORK/state" --output "$WORK/out1" \
  2> "$WORK/log5" &
pid=$!
for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -TERM "$pid" 2>/dev/null
wait "$pid"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a restart past retention exited with $rc, not 1: $(tail -3 "$WORK/log5")"
grep -q "the offset to resume from is not in the partition" "$WORK/log5" || fail "no reason given: $(tail -3 "$WORK/log5")"
[ "$(wc -l < "$WORK/out1")" -eq $((N - 1 + M)) ] || fail "the failed run changed the output"
echo "kafka source: $N + $M records over 8 partitions; $kills kills; broker down for 3 s: exact; past retention: refused"

