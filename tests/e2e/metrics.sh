#!/usr/bin/env bash
# metrics.sh — a running --follow job serves /metrics (core/metrics_*.c) with a real HTTP client (curl):
# the records read, rejected and written equal what was fed, checkpoints complete and have a size, the
# input's offset reaches its size with no bytes pending; at --parallelism 1 and 2. Port 0 picks a free port
# (logged, and in STATE-DIR/metrics.addr while the job runs); a port in use stops the start (exit 2).
source "$(dirname "$0")/lib.bash"
command -v curl >/dev/null || { echo "curl is missing"; exit 77; }

# value METRICS-FILE NAME [LABEL-FILTER]: the sum of the samples of NAME (whose labels match the filter).
value() {
  awk -v name="$2" -v filt="${3:-}" '
    $1 ~ "^" name "({|$)" && index($1, filt) { s += $2; n++ }
    END { if (n) printf "%.0f\n", s; else print "none" }' "$1"
}
scrape() { curl -sf --max-time 5 "http://$(cat "$1/metrics.addr")/metrics" > "$2"; }
# metric_is STATE NAME WANT: polls (up to 20 s) until the scraped NAME sums to WANT.
metric_is() { scrape "$1" "$WORK/m" && [ "$(value "$WORK/m" "$2")" = "$3" ]; }
metric_gt0() { scrape "$1" "$WORK/m" && [ "$(value "$WORK/m" "$2")" != none ] && [ "$(value "$WORK/m" "$2")" -gt 0 ]; }

gen_access 3000 > "$WORK/all.log"

for par in 1 2; do
  st="$WORK/st-$par"; log="$WORK/in-$par.log"; out="$WORK/out-$par.jsonl"; err="$WORK/err-$par"
  head -n 2000 "$WORK/all.log" > "$log"
  echo '{"url": broken' >> "$log"   # one rejected record
  "$SLUICE" run "$SCRIPTS/url_count.lua" --input "$log" --follow --state-dir "$st" --output "$out" \
    --checkpoint-interval 100 --parallelism "$par" --metrics 127.0.0.1:0 2> "$err" &
  pid=$!
  wait_for "metrics.addr" test -s "$st/metrics.addr"
  addr=$(cat "$st/metrics.addr")
  grep -q "metrics on http://$addr/metrics" "$err" || fail "bound address not logged: $(cat "$err")"
  wait_for "2001 records in" metric_is "$st" sluice_numRecordsIn 2001
  wait_for "a completed checkpoint" metric_gt0 "$st" sluice_numberOfCompletedCheckpoints
  tail -n 1000 "$WORK/all.log" >> "$log"   # more input while it runs
  wait_for "3001 records in" metric_is "$st" sluice_numRecordsIn 3001
  wait_for "3000 records out" metric_is "$st" sluice_numRecordsOut 3000
  wait_for "the offset at the file's size" metric_is "$st" sluice_source_offset_bytes "$(stat -c %s "$log")"
  scrape "$st" "$WORK/m"
  [ "$(value "$WORK/m" sluice_numRecordsInErrors)" = 1 ] || fail "par $par: not 1 error: $(grep Errors "$WORK/m")"
  [ "$(value "$WORK/m" sluice_pendingBytes)" = 0 ] || fail "par $par: bytes pending at the end of the input"
  [ "$(value "$WORK/m" sluice_numBytesIn)" = "$(stat -c %s "$log")" ] || fail "par $par: bytes read"
  [ "$(value "$WORK/m" sluice_lastCheckpointSize)" -gt 0 ] || fail "par $par: checkpoint size 0"
  [ "$(value "$WORK/m" sluice_lastCompletedCheckpointId)" -gt 0 ] || fail "par $par: no checkpoint id"
  [ "$(value "$WORK/m" sluice_lua_memory_bytes)" -gt 100000 ] || fail "par $par: Lua memory"
  [ "$(value "$WORK/m" sluice_process_resident_memory_bytes)" -gt 1000000 ] || fail "par $par: RSS"
  grep -q '^# TYPE sluice_numRecordsIn counter$' "$WORK/m" || fail "par $par: no TYPE line"
  grep -q "^sluice_lastCheckpointBarrierStall [0-9]" "$WORK/m" || fail "par $par: no barrier stall"
  if [ "$par" = 1 ]; then
    grep -q 'subtask=' "$WORK/m" && fail "a subtask label at parallelism 1"
    grep -q "^sluice_numRecordsIn{source=\"$log\"} 3001$" "$WORK/m" || fail "per-source count: $(grep numRecordsIn "$WORK/m")"
  else
    [ "$(grep -c '^sluice_numRecordsOut{sink=.*,subtask="[01]"}' "$WORK/m")" = 2 ] || fail "not a sample per subtask"
  fi
  curl -sf "http://$addr/metrics.json" | PAR=$par luajit -e 'local j = require("cjson").decode(io.read("*a"))
    assert(j.checkpoints.completed > 0 and #j.subtasks == tonumber(os.getenv("PAR")), "metrics.json")' \
    || fail "par $par: /metrics.json"
  kill -TERM "$pid"; wait "$pid" || fail "par $par: the job failed: $(cat "$err")"
  [ ! -e "$st/metrics.addr" ] || fail "par $par: metrics.addr left after the job ended"
  [ "$(wc -l < "$out")" = 3000 ] || fail "par $par: output"
done

# Per operator: what each was handed and emitted, through a filter before the key_by (at parallelism 2
# the filter runs where records are read and the rest where their key is owned).
cat > "$WORK/ok_count.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "ok-count"
  :filter("ok", function(rec) return rec.status == 200 end)
  :key_by("url")
  :process("count", function(ctx, rec)
    local n = ctx:value("n", 0)
    n:update(n:value() + 1)
    ctx:emit({ url = rec.url, n = n:value() }, { "url", "n" })
  end)
LUA
ok=$(grep -c '"status":200' "$WORK/all.log")
for par in 1 2; do
  st="$WORK/st-ops-$par"
  "$SLUICE" run "$WORK/ok_count.lua" --input "$WORK/all.log" --follow --state-dir "$st" \
    --output "$WORK/out-ops-$par.jsonl" --parallelism "$par" --metrics 0 2> "$WORK/err-ops" &
  pid=$!
  wait_for "metrics.addr" test -s "$st/metrics.addr"
  op() { value "$WORK/m" "sluice_operator_numRecords$1" "operator=\"$2\""; }
  ops_done() { scrape "$st" "$WORK/m" && [ "$(op In ok)" = 3000 ] && [ "$(op Out count)" = "$ok" ]; }
  wait_for "the operators' counts" ops_done
  [ "$(op Out ok)" = "$ok" ] && [ "$(op In key_by-2)" = "$ok" ] && [ "$(op Out key_by-2)" = "$ok" ] &&
    [ "$(op In count)" = "$ok" ] || fail "par $par: per-operator counts: $(grep '^sluice_operator' "$WORK/m")"
  kill -TERM "$pid"; wait "$pid" || fail "par $par: the filter job failed: $(cat "$WORK/err-ops")"
done

# An event-time job: its watermark (epoch ms of the records' time, 2019 in the generated input).
st="$WORK/st-wm"
"$SLUICE" run "$SCRIPTS/window_count.lua" --input "$WORK/all.log" --follow --state-dir "$st" \
  --output "$WORK/out-wm.jsonl" --metrics 0 2> "$WORK/err-wm" &
pid=$!
wait_for "metrics.addr" test -s "$st/metrics.addr"
wait_for "3000 records in" metric_is "$st" sluice_numRecordsIn 3000
has_watermark() { scrape "$st" "$WORK/m" && grep -q '^sluice_currentWatermark ' "$WORK/m"; }
wait_for "a watermark" has_watermark
wm=$(value "$WORK/m" sluice_currentWatermark)
[ "$wm" -gt 1546300800000 ] && [ "$wm" -lt 1577836800000 ] || fail "watermark $wm is not in 2019"
kill -TERM "$pid"; wait "$pid" || fail "the event-time job failed: $(cat "$WORK/err-wm")"

# Hot reloads and their outcome: a changed script reloads (ok), a broken one is refused (failed).
st="$WORK/st-reload"; job="$WORK/job/url_count.lua"
mkdir -p "$WORK/job"; cp "$SCRIPTS/url_count.lua" "$job"
"$SLUICE" run "$job" --input "$WORK/all.log" --follow --state-dir "$st" --output "$WORK/out-reload.jsonl" \
  --metrics 0 2> "$WORK/err-reload" &
pid=$!
wait_for "metrics.addr" test -s "$st/metrics.addr"
wait_for "3000 records in" metric_is "$st" sluice_numRecordsIn 3000
reloads_are() { scrape "$st" "$WORK/m" && [ "$(value "$WORK/m" sluice_reloads 'outcome="ok"')" = "$1" ] &&
  [ "$(value "$WORK/m" sluice_reloads 'outcome="failed"')" = "$2" ]; }
reloads_are 0 0 || fail "reloads before any: $(grep reloads "$WORK/m")"
{ cat "$SCRIPTS/url_count.lua"; echo "-- v2"; } > "$job.new"; mv "$job.new" "$job"
wait_for "one reload ok" reloads_are 1 0
echo "this is not lua (" > "$job.new"; mv "$job.new" "$job"
wait_for "one reload failed" reloads_are 1 1
kill -TERM "$pid"; wait "$pid" || fail "the reloaded job failed: $(cat "$WORK/err-reload")"

# A port in use: the job does not start, and says why.
python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(30)' \
  > "$WORK/port" &
holder=$!
wait_for "a held port" test -s "$WORK/port"
for par in 1 2; do
  rc=0
  run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/all.log" --state-dir "$WORK/st-busy-$par" \
    --parallelism "$par" --metrics "127.0.0.1:$(cat "$WORK/port")" > /dev/null 2> "$WORK/err-busy" || rc=$?
  [ "$rc" = 2 ] || fail "par $par: a port in use: exit $rc, not 2"
  grep -q "cannot listen there: Address already in use" "$WORK/err-busy" || fail "no reason: $(cat "$WORK/err-busy")"
done
kill "$holder"
rc=0
"$SLUICE" run "$SCRIPTS/url_count.lua" --metrics 70000 < /dev/null 2> "$WORK/err-usage" || rc=$?
[ "$rc" = 2 ] && grep -q "port 0..65535" "$WORK/err-usage" || fail "a bad --metrics: exit $rc: $(cat "$WORK/err-usage")"
echo "metrics: ok"
