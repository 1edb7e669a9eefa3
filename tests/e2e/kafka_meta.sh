#!/usr/bin/env bash
# A Kafka record's metadata (sluice.meta) and its timestamp as event time, against the mock cluster
# (tests/kafka/mock_cluster.c: 1 broker, 4 partitions). Records keyed by url, each with its create time set
# from its own ts field (kafka-mock produce --timestamp-field):
# - every record's meta names topic "access", its key (= its url), its timestamp (= its ts, type create),
#   and a (partition, offset) that holds exactly that record (kafka-mock fetch); every partition's offsets
#   run 0..n-1 (but for the rejected ones); the same at --parallelism 2, where records reach the key's owner
#   through the exchange; a record the operator rejects is named kafka:access:PARTITION:OFFSET in its error
#   line, the very record there, also when another subtask than the reader ran it;
# - a tumbling window with event time from the Kafka timestamp (watermark timestamp = "kafka") gives the
#   windows of the same job over the file with event time from the ts field.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/kafka_lib.bash"

N=4000
start_mock 1 4
URL="kafka://$BOOT/access?fetch.wait.max.ms=20"
JOB="$SLUICE_SRC/tests/e2e/kafka_meta_job.lua"
BASE=1555545600000 # 2019-04-18T00:00:00Z
# n-th record: one of 37 urls, ts rising by 3 ms (12 s in all, so 13 one-second windows per url); every
# 100th has the empty url, so its message has an empty key (which is a key, not none).
awk -v n=$N -v base=$BASE 'BEGIN { for (i = 1; i <= n; i++)
  printf "{\"url\":\"%s\",\"ts\":%.0f,\"n\":%d}\n", i % 100 == 0 ? "" : "/u/" (i * 7) % 37, base + i * 3, i }' \
  > "$WORK/in.log"
"$MOCK" produce "$BOOT" access --key-field url --timestamp-field ts < "$WORK/in.log" || fail "producing failed"

check_meta() { # OUT WHAT LOG
  luajit - "$1" "$WORK/in.log" "$3" <<'LUA' || { echo "FAIL: $2: the metadata is wrong" >&2; exit 1; }
local cjson = require "cjson"
local out, input = arg[1], arg[2]
local want = {}
for line in io.lines(input) do
  local r = cjson.decode(line)
  want[r.n] = r
end
local seen, parts, n = {}, {}, 0
for line in io.lines(out) do
  local r = cjson.decode(line)
  local w = want[r.n]
  assert(w and not seen[r.n] and r.n % 500 ~= 0, "record n=" .. tostring(r.n) .. " unknown, twice or not rejected")
  seen[r.n] = true
  n = n + 1
  assert(r.url == w.url and r.ts == w.ts, "record n=" .. r.n .. ": fields changed")
  assert(r.topic == "access", "topic " .. tostring(r.topic))
  assert(r.key == w.url, ("n=%d: key %s, not its url %s"):format(r.n, tostring(r.key), w.url))
  assert(r.timestamp == w.ts, ("n=%d: timestamp %s, not its ts %d"):format(r.n, tostring(r.timestamp), w.ts))
  assert(r.timestamp_type == "create", "timestamp_type " .. tostring(r.timestamp_type))
  assert(r.partition >= 0 and r.partition < 4, "partition " .. tostring(r.partition))
  parts[r.partition] = parts[r.partition] or {}
  assert(not parts[r.partition][r.offset], ("partition %d offset %d twice"):format(r.partition, r.offset))
  parts[r.partition][r.offset] = r.n
end
local rejected = math.floor(#want / 500)
assert(n == #want - rejected, ("%d records, not %d"):format(n, #want - rejected))
-- The rejected records' places, from their error lines: the offsets of each partition are then 0..n-1.
for line in io.lines(arg[3]) do
  local p, o, rn = line:match("kafka:access:(%d+):(%d+): .*rejected n=(%d+)")
  if p then
    p, o = tonumber(p), tonumber(o)
    parts[p] = parts[p] or {}
    assert(not parts[p][o], ("partition %d offset %d twice"):format(p, o))
    parts[p][o] = tonumber(rn)
    rejected = rejected - 1
    io.write("rejected ", rn, " ", p, " ", o, "\n")
  end
end
assert(rejected == 0, rejected .. " rejected records not named kafka:access:PARTITION:OFFSET")
for p = 0, 3 do
  local offs = parts[p] or {}
  local c = 0
  for _ in pairs(offs) do c = c + 1 end
  for o = 0, c - 1 do
    assert(offs[o], ("partition %d: offsets are not 0..%d (no %d)"):format(p, c - 1, o))
  end
  io.write(p, " ", c, "\n")
end
LUA
}

R=$((N / 500))
run_until "$WORK/s1" "$WORK/meta1.out" $((N - R)) "$JOB" -- meta
check_meta "$WORK/meta1.out" "parallelism 1" "$WORK/run.log" | sort > "$WORK/counts1"
# A few (partition, offset) pairs hold the very record the meta names.
for n in 1 777 2501 $((N - 1)); do
  read -r p o < <(grep "\"n\": $n," "$WORK/meta1.out" | luajit -e 'local r = require("cjson").decode(io.read("*l")) print(r.partition, r.offset)')
  got=$("$MOCK" fetch "$BOOT" access "$p" "$o")
  [ "$got" = "$(sed -n "${n}p" "$WORK/in.log")" ] || fail "partition $p offset $o holds '$got', not record $n"
done
# The rejected records are where their error lines say.
grep '^rejected' "$WORK/counts1" | while read -r _ n p o; do
  got=$("$MOCK" fetch "$BOOT" access "$p" "$o")
  [ "$got" = "$(sed -n "${n}p" "$WORK/in.log")" ] || fail "a reject names partition $p offset $o, not record $n's"
done
run_until "$WORK/s2" "$WORK/meta2.out" $((N - R)) "$JOB" --parallelism 2 -- meta
check_meta "$WORK/meta2.out" "parallelism 2" "$WORK/run.log" | sort > "$WORK/counts2"
expect_same "$WORK/counts1" "$WORK/counts2"

# Windows by the Kafka timestamp. The watermark is 60 s behind the newest time, so nothing fires (and no
# record is late, whatever the order the partitions are read in) until a last record 200 s later, produced
# once the job has read the others, moves it past every window.
printf '{"url":"/flush","ts":%d,"n":0}\n' $((BASE + 200000)) > "$WORK/flush.log"
"$SLUICE" run "$JOB" --input "$URL" --state-dir "$WORK/sw" --output "$WORK/win.out" \
  --checkpoint-interval 100 -- window 2> "$WORK/run.log" &
pid=$!
read_all() { "$SLUICE" status "$WORK/sw" --json 2>/dev/null | grep -q "\"records_in\": $N,"; }
wait_for "the window job to read $N records" read_all
"$MOCK" produce "$BOOT" access --key-field url --timestamp-field ts < "$WORK/flush.log" || fail "producing failed"
cat "$WORK/in.log" "$WORK/flush.log" > "$WORK/all.log"
run_sluice run "$JOB" --input "$WORK/all.log" --state-dir "$WORK/sref" --output "$WORK/ref.out" --quiet \
  -- window-field
grep -v '"/flush"' "$WORK/ref.out" > "$WORK/ref.windows"
wait_for "the windows" lines_ge "$WORK/win.out" "$(wc -l < "$WORK/ref.windows")"
kill -TERM $pid
wait $pid || fail "the window job exited with $?: $(tail -3 "$WORK/run.log")"
[ "$(wc -l < "$WORK/ref.windows")" -gt 400 ] || fail "too few windows in the reference"
expect_keys "$WORK/ref.windows" "$WORK/win.out" "windows by Kafka timestamp differ from those by the ts field"
grep -q "late" "$WORK/run.log" && ! grep -q " 0 late" "$WORK/run.log" && fail "late records: $(grep late "$WORK/run.log")"
echo "kafka meta: $N records' metadata exact at parallelism 1 and 2; $(wc -l < "$WORK/win.out") windows by Kafka time exact"
