#!/usr/bin/env bash
# log_options.sh — --log-format json writes every message as one JSON object ({"time", "level", "msg"}, the
# message escaped, a record's bytes included); --log-level filters by level (error hides the summary,
# debug shows checkpoints); an unknown level or format is refused (exit 2).
source "$(dirname "$0")/lib.bash"

printf '{"url":"/a"}\n{"url": "/b\\"q"\n{"url":"/b"}\n' > "$WORK/in.log" # line 2: unterminated, with a quote
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --state-dir "$WORK/s1" --log-format json \
  --log-level debug > "$WORK/out" 2> "$WORK/err"
python3 - "$WORK/err" <<'PY' || fail "the json log is not one valid object per line: $(cat "$WORK/err")"
import json, sys
levels = []
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert set(o) == {"time", "level", "msg"}, o
    assert o["time"].endswith("Z") and "T" in o["time"], o
    levels.append(o["level"])
    if o["level"] == "error":
        assert "in.log:2:" in o["msg"], o
assert "error" in levels and "debug" in levels and "info" in levels, levels
PY
[ "$(wc -l < "$WORK/out")" -eq 2 ] || fail "not the 2 good records out"

run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --state-dir "$WORK/s2" --log-level error \
  > /dev/null 2> "$WORK/err2"
grep -q "^sluice: error: .*in.log:2:" "$WORK/err2" || fail "--log-level error lost the error: $(cat "$WORK/err2")"
! grep -q "info\|debug" "$WORK/err2" || fail "--log-level error let other levels through: $(cat "$WORK/err2")"

for bad in "--log-level loud" "--log-format xml"; do
  rc=0
  "$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" $bad > /dev/null 2> "$WORK/err3" || rc=$?
  [ "$rc" -eq 2 ] || fail "$bad exited $rc"
  grep -q "sluice: --log-" "$WORK/err3" || fail "$bad: no reason given: $(cat "$WORK/err3")"
done
echo "log_options: ok"
