#!/usr/bin/env bash
# A Kafka source's per-partition offsets and lag (tests/kafka/mock_cluster.c: 1 broker, 4 partitions), in
# /metrics (curl), /metrics.json, `sluice status` and `sluice checkpoints`:
# - while a slow job reads more records than the source takes in one loop turn (32768: the metrics are
#   published between turns), some partition's sluice_source_kafka_records_lag is above 0;
# - once it has read everything, every partition's offset and end equal the mock's high watermark, every lag
#   and records_lag_max are 0, and more records produced while it runs are read the same way;
# - after a stop, `sluice checkpoints` shows every complete checkpoint's offsets, the last one's equal to
#   the mock's high watermarks; at --parallelism 2 (a rescaled restart, one subtask reads the topic) the
#   samples carry the subtask and each checkpoint lists the topic's offsets once;
# - a checkpoint taken before the first message lists none.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/kafka_lib.bash"
command -v curl >/dev/null || { echo "curl is missing"; exit 77; }

N1=40000 N2=500 N3=700
start_mock 1 4
URL="kafka://$BOOT/access?fetch.wait.max.ms=20"
gen_access $((N1 + N2 + N3)) 21 300 > "$WORK/all.log"
head -n $N1 "$WORK/all.log" > "$WORK/in1.log"
sed -n "$((N1 + 1)),$((N1 + N2))p" "$WORK/all.log" > "$WORK/in2.log"
tail -n $N3 "$WORK/all.log" > "$WORK/in3.log"
"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in1.log" || fail "producing failed"

# value METRICS-FILE NAME [LABEL-FILTER]: the sum of NAME's samples (whose labels contain the filter).
value() {
  awk -v name="$2" -v filt="${3:-}" '
    $1 ~ "^" name "({|$)" && index($1, filt) { s += $2; n++ }
    END { if (n) printf "%.0f\n", s; else print "none" }' "$1"
}
scrape() { curl -sf --max-time 5 "http://$(cat "$1/metrics.addr")/metrics" > "$WORK/m"; }
# The mock's high watermark of each partition, "P HIGH" lines.
highs() { "$MOCK" watermarks "$BOOT" access | awk '{ print $1, $3 }'; }
# caught_up STATE TOTAL: offsets sum to TOTAL and every partition's offset and end equal the mock's end.
caught_up() {
  scrape "$1" || return 1
  [ "$(value "$WORK/m" sluice_source_kafka_offset)" = "$2" ] || return 1
  while read -r p h; do
    [ "$(value "$WORK/m" sluice_source_kafka_offset "partition=\"$p\"")" = "$h" ] || return 1
    [ "$(value "$WORK/m" sluice_source_kafka_high_watermark "partition=\"$p\"")" = "$h" ] || return 1
  done < "$WORK/highs"
}
lagging() { scrape "$1" && [ "$(value "$WORK/m" sluice_source_kafka_records_lag_max)" != none ] &&
  [ "$(value "$WORK/m" sluice_source_kafka_records_lag_max)" -gt 0 ]; }

st="$WORK/st"
"$SLUICE" run "$SLUICE_SRC/tests/e2e/slow_url_count.lua" --input "$URL" --state-dir "$st" --output "$WORK/out" \
  --checkpoint-interval 100 --metrics 127.0.0.1:0 -- 0.0002 2> "$WORK/run.log" &
pid=$!
wait_for "metrics.addr" test -s "$st/metrics.addr"
# The lag shows between loop turns only, while the last turns' records are processed (0.2 ms CPU each):
# about 1.5 s of CPU on a quiet machine, longer on a loaded one; the wait is longer than lib.bash's too.
for _ in $(seq 6000); do lagging "$st" && break; sleep 0.01; done
lagging "$st" || fail "no partition was seen behind its end: $(grep records_lag "$WORK/m" | head -5)"
grep -q '^# TYPE sluice_source_kafka_records_lag gauge$' "$WORK/m" || fail "no TYPE line for the lag"
grep -Eq '^sluice_source_kafka_records_lag\{source="kafka:access",topic="access",partition="[0-3]"\} [1-9][0-9]*$' \
  "$WORK/m" || fail "no lag sample above 0: $(grep records_lag "$WORK/m")"
highs > "$WORK/highs"
[ "$(awk '{ s += $2 } END { print s }' "$WORK/highs")" = $N1 ] || fail "the mock's ends: $(cat "$WORK/highs")"
wait_for "all $N1 records read" caught_up "$st" $N1
[ "$(value "$WORK/m" sluice_source_kafka_records_lag)" = 0 ] || fail "lag left after reading everything"
[ "$(value "$WORK/m" sluice_source_kafka_records_lag_max)" = 0 ] || fail "records_lag_max not 0"
"$SLUICE" status "$st" > "$WORK/status" || fail "sluice status failed"
while read -r p h; do
  grep -q "^  partition $p: offset $h, end $h, lag 0$" "$WORK/status" || fail "status, partition $p: $(cat "$WORK/status")"
done < "$WORK/highs"
"$SLUICE" status "$st" --json | WANT=$N1 luajit -e '
  local j = require("cjson").decode(io.read("*a"))
  local s = j.sources[1]
  assert(s.name == "kafka:access" and #s.partitions == 4, "sources")
  local sum = 0
  for _, p in ipairs(s.partitions) do
    assert(p.lag == 0 and p.offset == p.high_watermark, "partition " .. p.partition)
    sum = sum + p.offset
  end
  assert(sum == tonumber(os.getenv("WANT")), "offsets sum to " .. sum)' || fail "status --json"
# More records while it runs: read, and the metrics follow.
"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in2.log" || fail "producing failed"
highs > "$WORK/highs"
wait_for "all $((N1 + N2)) records read" caught_up "$st" $((N1 + N2))
lines_ge "$WORK/out" $((N1 + N2)) || wait_for "the output" lines_ge "$WORK/out" $((N1 + N2))
kill -TERM $pid
wait $pid || fail "the job exited with $?: $(tail -3 "$WORK/run.log")"

# The checkpoints' offsets, read from the stopped state dir.
"$SLUICE" checkpoints "$st" > "$WORK/chk" || fail "sluice checkpoints failed"
want="    kafka:access next offsets: $(awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 }' "$WORK/highs")"
[ "$(grep -c complete "$WORK/chk")" -ge 2 ] || fail "too few checkpoints: $(cat "$WORK/chk")"
[ "$(grep -c 'kafka:access next offsets:' "$WORK/chk")" = "$(grep -c complete "$WORK/chk")" ] ||
  fail "not one offsets line per complete checkpoint: $(cat "$WORK/chk")"
[ "$(grep 'kafka:access next offsets:' "$WORK/chk" | tail -1)" = "$want" ] ||
  fail "the last checkpoint's offsets, not '$want': $(cat "$WORK/chk")"

# Rescaled to 2: one subtask reads the topic, the other holds the mark of a source read elsewhere.
"$MOCK" produce "$BOOT" access --key-field url < "$WORK/in3.log" || fail "producing failed"
highs > "$WORK/highs"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$URL" --state-dir "$st" --output "$WORK/out" --parallelism 2 \
  --checkpoint-interval 100 --metrics 127.0.0.1:0 2> "$WORK/run2.log" &
pid=$!
wait_for "metrics.addr" test -s "$st/metrics.addr"
wait_for "all $((N1 + N2 + N3)) records read" caught_up "$st" $((N1 + N2 + N3))
grep -q '^sluice_source_kafka_offset{source="kafka:access",topic="access",partition="0",subtask="0"} ' "$WORK/m" ||
  fail "no subtask label at parallelism 2: $(grep kafka_offset "$WORK/m")"
wait_for "the output" lines_ge "$WORK/out" $((N1 + N2 + N3))
kill -TERM $pid
wait $pid || fail "the parallel job exited with $?: $(tail -3 "$WORK/run2.log")"
"$SLUICE" checkpoints "$st" > "$WORK/chk2" || fail "sluice checkpoints failed"
want="    kafka:access next offsets: $(awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $1, $2 }' "$WORK/highs")"
grep -q "complete (2 subtasks)" "$WORK/chk2" || fail "no parallel checkpoint listed: $(cat "$WORK/chk2")"
! grep -q "cannot be read" "$WORK/chk2" || fail "parallel: offsets unreadable: $(cat "$WORK/chk2")"
[ "$(grep -c 'kafka:access next offsets:' "$WORK/chk2")" = "$(grep -c complete "$WORK/chk2")" ] ||
  fail "parallel: not one offsets line per complete checkpoint: $(cat "$WORK/chk2")"
[ "$(grep 'kafka:access next offsets:' "$WORK/chk2" | tail -1)" = "$want" ] ||
  fail "parallel: the last checkpoint's offsets, not '$want': $(cat "$WORK/chk2")"
# A checkpoint taken before the first message says so (a restore of it reads as a first run does): a job
# with start=latest that nothing is produced for.
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "kafka://$BOOT/access?start=latest" --state-dir "$WORK/st0" \
  --output "$WORK/out0" --checkpoint-interval 100 --log-level debug 2> "$WORK/run0.log" &
pid=$!
wait_running $pid "$WORK/run0.log"
wait_for "a checkpoint" grep -q "checkpoint 1 complete" "$WORK/run0.log"
kill -TERM $pid
wait $pid || fail "the start=latest job exited with $?: $(tail -3 "$WORK/run0.log")"
"$SLUICE" checkpoints "$WORK/st0" > "$WORK/chk0" || fail "sluice checkpoints failed"
[ "$(grep -c 'kafka:access next offsets: none, no message read yet$' "$WORK/chk0")" = \
  "$(grep -c complete "$WORK/chk0")" ] || fail "a checkpoint before the first message: $(cat "$WORK/chk0")"
echo "kafka lag: per-partition offsets, ends and lag exact in /metrics, status and checkpoints ($((N1 + N2 + N3)) records, parallelism 1 then 2)"
