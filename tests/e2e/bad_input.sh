# Bad records are skipped one by one with an error naming file:line and the reason, counted, and written
# to the dead-letter file; every good record around them is still processed.
source "$(dirname "$0")/lib.bash"

in="$WORK/mixed.log"
{
  echo '{"url": "/a"}'                                   # 1 ok
  echo '{"url": "/a"'                                    # 2 truncated JSON
  echo '["not", "an", "object"]'                         # 3 not an object
  printf '{"url": "/\xff"}\n'                            # 4 invalid UTF-8
  echo '{"url": "/b"} trailing'                          # 5 garbage after the value
  printf '{"url": "%s"}\n' "$(head -c 3000 /dev/zero | tr '\0' x)"  # 6 over --max-line-bytes 2048
  echo '{"no_url": 1}'                                   # 7 key_by field missing
  echo ''                                                # 8 blank: ignored silently
  echo '{"url": "/a"}'                                   # 9 ok
  echo '  {"url": "/b"}  '                                 # 10 ok (surrounding spaces are fine)
} > "$in"
run_sluice run "$SCRIPTS/url_count.lua" --input "$in" --state-dir "$WORK/st" --max-line-bytes 2048 \
  --dead-letter "$WORK/dead.jsonl" > "$WORK/out" 2> "$WORK/err" || fail "job failed on bad input"

printf '%s\n' '{"url": "/a", "count": 1}' '{"url": "/a", "count": 2}' '{"url": "/b", "count": 1}' > "$WORK/expected"
expect_same "$WORK/expected" "$WORK/out"
for n in 2 3 4 5 6 7; do
  grep -q "mixed.log:$n: " "$WORK/err" || fail "no error line for line $n: $(cat "$WORK/err")"
done
grep -q "mixed.log:2: invalid JSON at byte" "$WORK/err" || fail "no JSON reason"
grep -q "mixed.log:6: line longer than 2048 bytes" "$WORK/err" || fail "no over-long reason"
grep -q "mixed.log:7: operator 'key_by-1': key_by: record has no field 'url'" "$WORK/err" || fail "no key_by reason"
grep -q "6 rejected" "$WORK/err" || fail "rejected count missing: $(tail -1 "$WORK/err")"
[ "$(wc -l < "$WORK/dead.jsonl")" -eq 6 ] || fail "dead letters: $(wc -l < "$WORK/dead.jsonl")"
cat > "$WORK/check.lua" <<'LUA'
local cjson = require "cjson"
for l in io.lines(arg[1]) do
  local d = cjson.decode(l)
  assert(d.source and d.line and d.error and d.record, l)
end
LUA
luajit "$WORK/check.lua" "$WORK/dead.jsonl" || fail "dead letters are not JSON"

# A Lua error inside an operator names the script's file:line; the job goes on.
cat > "$WORK/throws.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "throws"
  :map("boom", function(rec)
    if rec.n == 2 then error("two is not allowed") end
    return { n = rec.n }
  end)
LUA
printf '{"n": 1}\n{"n": 2}\n{"n": 3}\n' > "$WORK/n.log"
run_sluice run "$WORK/throws.lua" --input "$WORK/n.log" --state-dir "$WORK/st2" > "$WORK/out2" 2> "$WORK/err2"
printf '{"n": 1}\n{"n": 3}\n' > "$WORK/expected2"
expect_same "$WORK/expected2" "$WORK/out2"
grep -q "n.log:2: operator 'boom': .*throws.lua:4: two is not allowed" "$WORK/err2" || fail "no Lua error line: $(cat "$WORK/err2")"

# Deep nesting is an error, not a crash.
luajit -e 'io.write("{\"a\":", string.rep("[", 100000), string.rep("]", 100000), "}\n")' > "$WORK/deep.log"
echo '{"url": "/z"}' >> "$WORK/deep.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/deep.log" --state-dir "$WORK/st3" > "$WORK/out3" 2> "$WORK/err3"
grep -q 'deep.log:1: invalid JSON' "$WORK/err3" || fail "deep nesting not rejected"
grep -q '"/z", "count": 1' "$WORK/out3" || fail "record after deep nesting lost"
echo "ok: bad input"
