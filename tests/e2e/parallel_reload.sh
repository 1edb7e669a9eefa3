#!/usr/bin/env bash
# parallel_reload.sh — hot reload at --parallelism 2 (core/parallel/job.c): both subtasks switch to the new
# code at the barrier of one checkpoint, so every key's counts go on with no gap or repeat across the switch
# (each record runs either the old code or the new, never both, never neither); a reload that changes the
# routing key_by is refused while the job runs, and the old code keeps going.
source "$(dirname "$0")/lib.bash"

save() { cat > "$1.tmp.$$"; mv "$1.tmp.$$" "$1"; }
# per_key FILE: each url's count sequence, one line per record "url count", grouped by url in order.
per_key() { sed 's/, "v": 2//' "$1" | sort -s -t'"' -k4,4 | sed 's/^{"url": "\([^"]*\)", "count": \([0-9]*\)}$/\1 \2/'; }

gen_access 6000 > "$WORK/all.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/all.log" --state-dir "$WORK/ref-state" --quiet \
  > "$WORK/ref.out"

job="$WORK/url_count.lua"
cp "$SCRIPTS/url_count.lua" "$job"
log="$WORK/in.log"; out="$WORK/out.jsonl"; err="$WORK/err"; st="$WORK/st"
head -n 2000 "$WORK/all.log" > "$log"
"$SLUICE" run "$job" --input "$log" --follow --state-dir "$st" --output "$out" --checkpoint-interval 50 \
  --parallelism 2 2> "$err" &
pid=$!
wait_for "2000 output lines" lines_ge "$out" 2000

# --- 1. The new code: every record after the switch carries "v": 2.
sed 's/ctx:emit_fields(fields, sluice.KEY, c)/ctx:emit_fields({ field, "count", "v" }, sluice.KEY, c, 2)/' \
  "$SCRIPTS/url_count.lua" | save "$job"
grep -q '"v" }' "$job" || fail "could not make the v2 script"
wait_for "the reload" grep -q "reloaded .*url_count.lua (version [0-9a-f]*) in every subtask" "$err"
sed -n 2001,4000p "$WORK/all.log" >> "$log"
wait_for "4000 output lines" lines_ge "$out" 4000

# --- 2. A reload that routes by another field is refused; the running code goes on.
sed 's/local field = sluice.args\[1\] or "url"/local field = "remote_addr"/' "$job" | save "$job"
wait_for "the refusal" grep -q "reload of .* failed.*routes records to subtasks differently" "$err"
grep -q "failed" "$st/reload.result" || fail "sluice reload's result does not say failed: $(cat "$st/reload.result")"
sed -n 4001,6000p "$WORK/all.log" >> "$log"
wait_for "6000 output lines" lines_ge "$out" 6000
kill -TERM $pid
wait $pid || fail "the job failed: $(cat "$err")"

[ "$(wc -l < "$out")" -eq 6000 ] || fail "not 6000 records: $(wc -l < "$out")"
v2=$(grep -c '"v": 2' "$out" || true)
[ "$v2" -ge 4000 ] && [ "$v2" -lt 6000 ] || fail "$v2 records of the new code (want at least the last 4000, not all)"
per_key "$WORK/ref.out" > "$WORK/ref.keys"
per_key "$out" > "$WORK/out.keys"
expect_same "$WORK/ref.keys" "$WORK/out.keys"
echo "parallel_reload: ok"
