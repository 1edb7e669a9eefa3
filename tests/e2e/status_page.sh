#!/usr/bin/env bash
# status_page.sh — the page at / of --metrics (core/status_page.html), loaded in a real browser (Debian's
# chromium, headless) while a job runs: the numbers it renders from /metrics.json equal what was fed (records
# in, out, rejected), its graph names the job's operators, the checkpoint chart has a bar per completed
# checkpoint, an event-time job's watermark shows; a screenshot is kept in $TMPDIR. Skipped (77) without
# chromium.
source "$(dirname "$0")/lib.bash"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "chromium is missing"; exit 77; }
command -v curl >/dev/null || { echo "curl is missing"; exit 77; }

# dom URL OUT: the page's DOM after its scripts ran (virtual time lets its polls and timers run).
dom() {
  HOME="$WORK" timeout 120 "$CHROMIUM" --headless --disable-gpu --no-sandbox --user-data-dir="$WORK/chrome" \
    --virtual-time-budget=3000 --dump-dom "$1" > "$2" 2> "$WORK/chromium.err" \
    || fail "chromium: $(tail -5 "$WORK/chromium.err")"
}
text_of() { grep -o "id=\"$2\">[^<]*" "$1" | head -1 | sed 's/.*">//'; }
json_in() { curl -sf "http://$(cat "$1/metrics.addr")/metrics.json" |
  luajit -e 'local j = require("cjson").decode(io.read("*a")); local n = 0
    for _, t in ipairs(j.subtasks) do n = n + t.records_in end
    os.exit(n == tonumber(os.getenv("WANT")) and j.checkpoints.completed > 0 and 0 or 1)'; }

gen_access 3000 > "$WORK/in.log"
echo '{"url": broken' >> "$WORK/in.log"
st="$WORK/st"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --follow --state-dir "$st" \
  --output "$WORK/out.jsonl" --checkpoint-interval 200 --parallelism 2 --metrics 127.0.0.1:0 2> "$WORK/err" &
pid=$!
wait_for "metrics.addr" test -s "$st/metrics.addr"
WANT=3001 wait_for "3001 records and a checkpoint" json_in "$st"
url="http://$(cat "$st/metrics.addr")/"
dom "$url" "$WORK/page.html"
[ "$(text_of "$WORK/page.html" job-name)" = url-count ] || fail "job name: $(text_of "$WORK/page.html" job-name)"
[ "$(text_of "$WORK/page.html" records-in)" = 3001 ] || fail "records in: $(text_of "$WORK/page.html" records-in)"
[ "$(text_of "$WORK/page.html" records-out)" = 3000 ] || fail "records out"
[ "$(text_of "$WORK/page.html" rejected)" = 1 ] || fail "rejected"
[ "$(text_of "$WORK/page.html" ckpt-completed)" -ge 1 ] || fail "no completed checkpoint shown"
bars=$(grep -o '<rect class="bar" data-id="[0-9]*" data-ms="[0-9]*" data-bytes="[0-9]*"' "$WORK/page.html" | wc -l)
[ "$bars" -ge 1 ] || fail "no bar in the checkpoint chart"
grep -q '<div class="node"><b>count</b><span class="op-in" data-op="count">3000</span> in' "$WORK/page.html" ||
  fail "the graph lacks operator 'count' with its 3000 records: $(grep -o '<div class="graph".*' "$WORK/page.html" | head -c 600)"
[ "$(grep -o '<td class="busy">[0-9]' "$WORK/page.html" | wc -l)" = 2 ] || fail "not one row per subtask"
grep -q 'class="err">the job does not answer' "$WORK/page.html" && fail "the page could not poll"
shot="${TMPDIR:-/tmp}/sluice-status-page.png"
HOME="$WORK" timeout 120 "$CHROMIUM" --headless --disable-gpu --no-sandbox --user-data-dir="$WORK/chrome" \
  --hide-scrollbars --window-size=1100,1000 --virtual-time-budget=3000 --screenshot="$shot" "$url" \
  2> "$WORK/chromium.err" || fail "screenshot: $(tail -5 "$WORK/chromium.err")"
[ "$(head -c 4 "$shot" | od -An -c | tr -d ' ')" = "211PNG" ] || fail "no PNG screenshot"
kill -TERM "$pid"; wait "$pid" || fail "the job failed: $(cat "$WORK/err")"

# An event-time job: the watermark (the records are from 2019).
st="$WORK/st-wm"
"$SLUICE" run "$SCRIPTS/window_count.lua" --input "$WORK/in.log" --follow --state-dir "$st" \
  --output "$WORK/out-wm.jsonl" --checkpoint-interval 200 --metrics 0 2> "$WORK/err-wm" &
pid=$!
wait_for "metrics.addr" test -s "$st/metrics.addr"
WANT=3001 wait_for "3001 records" json_in "$st"
dom "http://$(cat "$st/metrics.addr")/" "$WORK/page-wm.html"
case "$(text_of "$WORK/page-wm.html" watermark)" in 2019-*) ;; *) fail "watermark: $(text_of "$WORK/page-wm.html" watermark)" ;; esac
kill -TERM "$pid"; wait "$pid" || fail "the event-time job failed: $(cat "$WORK/err-wm")"
echo "status_page: ok (screenshot: $shot)"
