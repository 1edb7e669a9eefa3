#!/usr/bin/env bash
# hot_reload.sh — a running --follow job picks up a changed script (core/reload.c): the output changes
# shape exactly at the switch while counts go on with no gap or repeat; a broken script and a removed
# stateful operator are refused and the old code keeps running; an added operator works; with
# --allow-non-restored-state a removed operator's state is dropped; --no-watch, SIGHUP via `sluice reload`.
source "$(dirname "$0")/lib.bash"

count_of() { grep -c -- "$2" "$1" 2>/dev/null || true; }
has_n() { [ "$(count_of "$1" "$2")" -ge "$3" ]; }
# save FILE < content: how editors save: a temporary file renamed over the old one.
save() { cat > "$1.tmp.$$"; mv "$1.tmp.$$" "$1"; }

gen_access 3500 > "$WORK/all.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/all.log" --state-dir "$WORK/ref-state" --quiet \
  > "$WORK/ref.out"

mkdir "$WORK/job"
job="$WORK/job/url_count.lua"
cp "$SCRIPTS/url_count.lua" "$job"
v2() { sed 's/ctx:emit_fields(fields, sluice.KEY, c)/ctx:emit({ [field] = ctx:key(), count = c, v = 2 }, { field, "count", "v" })/' "$SCRIPTS/url_count.lua"; }
v2 | grep -q '"v" })' || fail "could not make the v2 script"

log="$WORK/in.log"; out="$WORK/out.jsonl"; err="$WORK/err"; st="$WORK/st"
head -n 1000 "$WORK/all.log" > "$log"
"$SLUICE" run "$job" --input "$log" --follow --state-dir "$st" --output "$out" --checkpoint-interval 50 \
  2> "$err" &
pid=$!
wait_for "1000 output lines" lines_ge "$out" 1000
grep -q "running .*url_count.lua (version [0-9a-f]\{7\})" "$err" || fail "no version at start: $(cat "$err")"

# --- 1. A burst of saves (a half-written file, then the whole one) gives one reload of the settled content.
v2 > "$WORK/v2.lua"
cp "$WORK/v2.lua" "$job.new"
head -c 200 "$WORK/v2.lua" > "$job"   # written in place, cut mid-script
t0=$(date +%s%N)
mv "$job.new" "$job"
wait_for "the reload" has_n "$err" "reloaded .*url_count.lua (version" 1
t1=$(date +%s%N)
sleep 0.2   # a second reload or an error line of the burst would show by now
[ "$(count_of "$err" "reloaded")" -eq 1 ] || fail "not one reload for the burst: $(cat "$err")"
! grep -q "error" "$err" || fail "the half-written file was loaded: $(cat "$err")"
echo "save-to-live: $(( (t1 - t0) / 1000000 )) ms measured by the test (polling every 10 ms);" \
  "job: $(grep -o '[0-9]* ms after the first change[^)]*)' "$err")"
sed -n '1001,2000p' "$WORK/all.log" >> "$log"
wait_for "2000 output lines" lines_ge "$out" 2000
head -n 1000 "$out" | grep -q '"v"' && fail "a record before the switch has the new shape"
[ "$(sed -n '1001,2000p' "$out" | grep -c '"v": 2}$')" -eq 1000 ] || fail "records after the switch lack \"v\": 2"

# --- 2. A syntax error: one error line naming file:line; the old code keeps running.
{ v2 | head -n 15; echo 'local broken = = 1'; v2 | tail -n +16; } | save "$job"
wait_for "the reload error" grep -q "reload of .*url_count.lua failed, the old code keeps running: .*url_count.lua:16:" "$err"
[ "$(count_of "$err" "error")" -eq 1 ] || fail "not one error line: $(cat "$err")"
sed -n '2001,2500p' "$WORK/all.log" >> "$log"
wait_for "2500 output lines" lines_ge "$out" 2500
[ "$(sed -n '2001,2500p' "$out" | grep -c '"v": 2}$')" -eq 500 ] || fail "the old code did not keep running"

# --- 3. An added operator (a map after the counter: a new uid) starts and works.
v2 | sed 's/^  end)$/  end)\n  :map("stamp", function(rec) return { url = rec.url, count = rec.count, v = 3 }, { "url", "count", "v" } end)/' \
  > "$WORK/v3.lua"
grep -q '"stamp"' "$WORK/v3.lua" || fail "could not add the operator"
t0=$(date +%s%N)
save "$job" < "$WORK/v3.lua"
wait_for "the second reload" has_n "$err" "reloaded .*url_count.lua" 2
t1=$(date +%s%N)
echo "save-to-live (one save): $(( (t1 - t0) / 1000000 )) ms measured by the test;" \
  "job: $(grep -o '[0-9]* ms after the first change[^)]*)' "$err" | tail -1)"
grep -q "operators added: stamp; removed: none" "$err" || fail "graph change not reported: $(cat "$err")"
sed -n '2501,3000p' "$WORK/all.log" >> "$log"
wait_for "3000 output lines" lines_ge "$out" 3000
[ "$(sed -n '2501,3000p' "$out" | grep -c '"v": 3}$')" -eq 500 ] || fail "the added operator did not run"

# --- 4. A removed stateful operator is refused without --allow-non-restored-state (here asked for with
# `sluice reload`, which reports the outcome).
cat > "$WORK/gone.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "url-count"
  :key_by "url"
  :map("stamp", function(rec) return { url = rec.url, gone = true }, { "url", "gone" } end)
LUA
save "$job" < "$WORK/gone.lua"
wait_for "the refusal" grep -q "no operator for state 'count' of operator 'count'" "$err"
set +e; "$SLUICE" reload "$st" > "$WORK/reload.out" 2> "$WORK/reload.err"; rc=$?; set -e
[ "$rc" -eq 1 ] && grep -q "^failed: .*operator 'count'" "$WORK/reload.err" \
  || fail "sluice reload did not report the refusal (rc $rc): $(cat "$WORK/reload.out" "$WORK/reload.err")"
sed -n '3001,3500p' "$WORK/all.log" >> "$log"
wait_for "3500 output lines" lines_ge "$out" 3500
[ "$(sed -n '3001,3500p' "$out" | grep -c '"v": 3}$')" -eq 500 ] || fail "the old code did not keep running"
kill -TERM $pid; wait $pid || fail "the job exited non-zero: $(tail -3 "$err")"
sed -e 's/, "v": [23]}$/}/' "$out" > "$WORK/stripped"
expect_same "$WORK/ref.out" "$WORK/stripped"
echo "ok: reload keeps counts, refuses broken code and removed state"

# --- 5. --no-watch; `sluice reload` (SIGHUP); with --allow-non-restored-state a removed operator's state is
# dropped, so when a counter comes back it starts from nothing.
cp "$SCRIPTS/url_count.lua" "$job"
head -n 300 "$WORK/all.log" > "$log"; out="$WORK/out2.jsonl"; err="$WORK/err2"; st="$WORK/st2"
"$SLUICE" run "$job" --input "$log" --follow --state-dir "$st" --output "$out" --checkpoint-interval 50 \
  --no-watch --allow-non-restored-state 2> "$err" &
pid=$!
wait_for "300 output lines" lines_ge "$out" 300
save "$job" < "$WORK/gone.lua"
sleep 0.3
grep -q "reloaded\|reload of" "$err" && fail "--no-watch reloaded: $(cat "$err")"
"$SLUICE" reload "$st" | grep -q "^reloaded version [0-9a-f]\{7\}$" || fail "sluice reload failed: $(cat "$err")"
grep -q "dropping state 'count' of operator 'count'" "$err" || fail "no drop message: $(cat "$err")"
sed -n '301,400p' "$WORK/all.log" >> "$log"
wait_for "400 output lines" lines_ge "$out" 400
[ "$(sed -n '301,400p' "$out" | grep -c '"gone": true}$')" -eq 100 ] || fail "the new code does not run"
cp "$SCRIPTS/url_count.lua" "$job"
"$SLUICE" reload "$st" | grep -q "^reloaded" || fail "reload back failed: $(cat "$err")"
sed -n '401,500p' "$WORK/all.log" >> "$log"
wait_for "500 output lines" lines_ge "$out" 500
kill -TERM $pid; wait $pid || fail "the job exited non-zero: $(tail -3 "$err")"
sed -n '401,500p' "$WORK/all.log" > "$WORK/fresh.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/fresh.log" --state-dir "$WORK/fresh-state" --quiet \
  > "$WORK/fresh.out"
sed -n '401,500p' "$out" > "$WORK/tail.out"
expect_same "$WORK/fresh.out" "$WORK/tail.out"
echo "ok: reload on request, state of a removed operator dropped when allowed"
