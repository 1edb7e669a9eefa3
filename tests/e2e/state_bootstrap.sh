# `sluice state bootstrap`: a savepoint written from `sluice state dump`'s JSON lines is one the job runs on
# from as if it had read the original data (url_count over A, dump, bootstrap, run over B = one run over
# A+B); every keyed kind (map keys, list indexes, tables, TTL expiries) round-trips dump -> bootstrap ->
# dump; a bad line is refused naming its line and reason, exit 2, with nothing written; an existing
# SAVEPOINT is never touched.
source "$(dirname "$0")/lib.bash"

url_count="$SCRIPTS/url_count.lua"
cd "$WORK"
gen_access 3000 7 > all.log
head -1700 all.log > a.log
tail -n +1701 all.log > b.log
dump_sorted() { "$SLUICE" state dump "$@" | LC_ALL=C sort; }
# canonical FILE: its JSON lines with object keys sorted (a table's string keys come in hash order, which
# a rebuilt table need not repeat), then the lines sorted.
canonical() {
  python3 -c 'import json, sys
for l in sys.stdin: print(json.dumps(json.loads(l), sort_keys=True))' < "$1" | LC_ALL=C sort
}

# url_count: A, then its state dumped and bootstrapped, then B from the savepoint.
run_sluice run "$url_count" --input a.log --state-dir st-a --output a.out --quiet
"$SLUICE" state dump st-a --op count > a.jsonl
[ "$(wc -l < a.jsonl)" -gt 10 ] || fail "the dump of A has only $(wc -l < a.jsonl) entries"
run_sluice state bootstrap "$url_count" --from a.jsonl --to sp-a > boot.out
grep -qx "sp-a: $(wc -l < a.jsonl) entries from a.jsonl" boot.out || fail "bootstrap said: $(cat boot.out)"
ls -a . | grep -q '\.bootstrap-' && fail "bootstrap left its work directory behind"
"$SLUICE" state ls sp-a | head -1 | grep -q "(savepoint)" || fail "not a savepoint: $("$SLUICE" state ls sp-a)"
run_sluice run "$url_count" --input b.log --state-dir st-b --from-savepoint sp-a --output b.out --quiet
run_sluice run "$url_count" --input all.log --state-dir st-all --output all.out --quiet
tail -n +1701 all.out > all-b.out
expect_same all-b.out b.out
dump_sorted st-all --op count > all.dump
dump_sorted st-b --op count > b.dump
expect_same all.dump b.dump
# A parallel run starts from it too (its key groups split between the subtasks).
run_sluice run "$url_count" --input b.log --state-dir st-p2 --from-savepoint sp-a --parallelism 2 \
  --output p2.out --quiet
dump_sorted st-p2 --op count > p2.dump
expect_same all.dump p2.dump

# Another --max-parallelism is stored in the savepoint, and a run must then ask for the same.
run_sluice state bootstrap "$url_count" --from a.jsonl --to sp-m16 --max-parallelism 16 > /dev/null
"$SLUICE" state ls sp-m16 | head -1 | grep -q "max parallelism 16" || fail "max parallelism not stored"
run_sluice run "$url_count" --input b.log --state-dir st-m16 --from-savepoint sp-m16 --max-parallelism 16 \
  --output m16.out --quiet
expect_same all-b.out m16.out

# SCRIPT-ARGS reach the job (url_count by another field), and a job that does not load is an error naming it.
run_sluice run "$url_count" --input a.log --state-dir st-ra --output ra.out --quiet -- request
"$SLUICE" state dump st-ra --op count > ra.jsonl
grep -q '"key": "GET"' ra.jsonl || fail "no request keys in $(head -2 ra.jsonl)"
run_sluice state bootstrap "$url_count" --from ra.jsonl --to sp-ra -- request > /dev/null
run_sluice run "$url_count" --input b.log --state-dir st-rb --from-savepoint sp-ra --output rb.out --quiet -- request
run_sluice run "$url_count" --input all.log --state-dir st-rall --output rall.out --quiet -- request
tail -n +1701 rall.out > rall-b.out
expect_same rall-b.out rb.out
printf 'local sluice = require "sluice"\nreturn sluice.job "x" :key_by(\n' > broken.lua
rc=0
"$SLUICE" state bootstrap broken.lua --from a.jsonl --to sp-broken 2> broken.err || rc=$?
[ "$rc" = 2 ] && grep -q "broken.lua:3:" broken.err || fail "broken job: exit $rc, $(cat broken.err)"
[ ! -e sp-broken ] || fail "a broken job's savepoint was written"

# Every keyed kind, with a TTL and a table value: dump -> bootstrap -> dump gives the same lines.
cat > kinds.lua <<'LUA'
local sluice = require "sluice"
return sluice.job "kinds"
  :key_by("user")
  :process("kinds", {
    state = { last = sluice.state.value { ttl = 3600000 } },
    process = function(ctx, rec)
      ctx:map("pages"):put(rec.page, (ctx:map("pages"):get(rec.page) or 0) + 1)
      ctx:list("seen"):add(rec.page)
      ctx:value("info"):update({ rec.n, 2.5, ok = true, name = "x\"y" })
      ctx.state.last:update(rec.page)
      ctx:reducing("total", function(a, b) return a + b end):add(rec.n)
    end,
  })
LUA
printf '%s\n' '{"user": "u1", "page": "p1", "n": 1}' '{"user": "u2", "page": "p2", "n": 2}' \
  '{"user": "u1", "page": "p3", "n": 3}' '{"user": "u1", "page": "p1", "n": 4}' > kinds.log
run_sluice run kinds.lua --input kinds.log --state-dir st-k --output k.out --quiet
"$SLUICE" state dump st-k --op kinds > k.jsonl
grep -q '"expires_at": [0-9]\{13\}' k.jsonl || fail "no TTL expiry in the dump"
grep -q '"index": 2' k.jsonl || fail "no list of three in the dump"
run_sluice state bootstrap kinds.lua --from k.jsonl --to sp-k > /dev/null
"$SLUICE" state dump sp-k --op kinds > k2.jsonl
canonical k.jsonl > k.dump
canonical k2.jsonl > k2.dump
expect_same k.dump k2.dump
# The job runs on from it as from its own state.
echo '{"user": "u1", "page": "p1", "n": 5}' > k2.log
cat kinds.log k2.log > kall.log
run_sluice run kinds.lua --input kall.log --state-dir st-k-all --output kall.out --quiet
run_sluice run kinds.lua --input k2.log --state-dir st-k2 --from-savepoint sp-k --output k2.out --quiet
"$SLUICE" state dump st-k-all --op kinds | sed 's/"expires_at": [0-9]*/"expires_at": 0/' > kall.jsonl
"$SLUICE" state dump st-k2 --op kinds | sed 's/"expires_at": [0-9]*/"expires_at": 0/' > kboot.jsonl
canonical kall.jsonl > kall.dump
canonical kboot.jsonl > kboot.dump
expect_same kall.dump kboot.dump

# Bad lines: exit 2, the message names FILE:LINE and the reason, nothing is written.
good=$(head -1 a.jsonl)
expect_bad() { # WHAT PATTERN JOB LINE [SCRIPT-ARGS...]: LINE as line 2 of the input
  local what=$1 pat=$2 job=$3 line=$4 rc=0; shift 4
  printf '%s\n%s\n' "$good" "$line" > bad.jsonl
  "$SLUICE" state bootstrap "$job" --from bad.jsonl --to sp-bad ${1:+-- "$@"} > bad.out 2> bad.err || rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, not 2 ($(cat bad.err))"
  grep -q "bad.jsonl:2: .*$pat" bad.err || fail "$what: message: $(cat bad.err)"
  [ ! -e sp-bad ] || fail "$what: a savepoint was written"
  ls -a . | grep -q '\.bootstrap-' && fail "$what: the work directory was left behind"
  [ ! -s bad.out ] || fail "$what: printed $(cat bad.out)"
}
expect_bad "invalid JSON" "invalid JSON at byte" "$url_count" '{"op": "count", "state": "count",'
expect_bad "not an object" "invalid JSON" "$url_count" '[1, 2]'
expect_bad "unknown field" 'unknown field "valeu"' "$url_count" \
  '{"op": "count", "state": "count", "kind": "value", "key": "/z", "valeu": 1}'
expect_bad "no key" '"key" must be a string (it is missing)' "$url_count" \
  '{"op": "count", "state": "count", "kind": "value", "value": 1}'
expect_bad "no value" 'no "value"' "$url_count" '{"op": "count", "state": "count", "kind": "value", "key": "/z"}'
expect_bad "null value" '"value" is null' "$url_count" \
  '{"op": "count", "state": "count", "kind": "value", "key": "/z", "value": null}'
expect_bad "unknown operator" "the job has no operator 'cnt' (its operators: " "$url_count" \
  '{"op": "cnt", "state": "count", "kind": "value", "key": "/z", "value": 1}'
expect_bad "unknown kind" 'kind "timers" cannot be bootstrapped' "$url_count" \
  '{"op": "count", "state": "count", "kind": "timers", "key": "/z", "value": 1}'
expect_bad "kind changed" "is a value state in the job, the line says map" "$url_count" \
  '{"op": "count", "state": "count", "kind": "map", "key": "/z", "value": 1, "map_key": "a"}'
expect_bad "repeated key" "key '$(echo "$good" | sed 's/.*"key": "\([^"]*\)".*/\1/')' of state 'count' of operator 'count' is given twice" \
  "$url_count" "$good"
expect_bad "expires_at without TTL" 'has no TTL in the job, but the line gives "expires_at"' "$url_count" \
  '{"op": "count", "state": "count", "kind": "value", "key": "/z", "value": 1, "expires_at": 1}'
good='{"op": "kinds", "state": "seen", "kind": "list", "key": "u1", "value": "p1", "index": 0}'
expect_bad "list out of order" "out of order .*expected 1" kinds.lua \
  '{"op": "kinds", "state": "seen", "kind": "list", "key": "u1", "value": "p1", "index": 2}'
expect_bad "list without index" 'needs its "index"' kinds.lua \
  '{"op": "kinds", "state": "seen", "kind": "list", "key": "u1", "value": "p1"}'
expect_bad "map without map_key" 'no "map_key"' kinds.lua \
  '{"op": "kinds", "state": "pages", "kind": "map", "key": "u1", "value": 1}'
expect_bad "TTL without expires_at" 'has a TTL in the job: the line needs "expires_at"' kinds.lua \
  '{"op": "kinds", "state": "last", "kind": "value", "key": "u1", "value": "p1"}'
expect_bad "declared kind" "is a value state in the job, the line says list" kinds.lua \
  '{"op": "kinds", "state": "last", "kind": "list", "key": "u1", "value": "p1", "index": 0, "expires_at": 4000000000000}'
good=''   # a blank line is skipped
expect_bad "not keyed" "operator 'lag' is not keyed" "$SCRIPTS/lag.lua" \
  '{"op": "lag", "state": "x", "kind": "value", "key": "k", "value": 1}'
expect_bad "bad base64" '"value_b64" is not base64' kinds.lua \
  '{"op": "kinds", "state": "info", "kind": "value", "key": "u9", "value_b64": "%%%"}'

# SAVEPOINT is never written over: not an existing savepoint, not even an empty directory.
mkdir empty-sp
for target in sp-a empty-sp; do
  before=$(ls -la "$target" | md5sum)
  rc=0
  "$SLUICE" state bootstrap "$url_count" --from a.jsonl --to "$target" 2> over.err || rc=$?
  [ "$rc" = 2 ] || fail "bootstrap over $target: exit $rc"
  grep -q "'$target' exists" over.err || fail "over $target: $(cat over.err)"
  [ "$before" = "$(ls -la "$target" | md5sum)" ] || fail "bootstrap changed $target"
done
rc=0
"$SLUICE" state bootstrap "$url_count" --from a.jsonl --to nowhere/sp 2> parent.err || rc=$?
[ "$rc" = 2 ] && grep -q "does not exist" parent.err || fail "missing parent: exit $rc, $(cat parent.err)"
rc=0
"$SLUICE" state bootstrap "$url_count" --from missing.jsonl --to sp-x 2> missing.err || rc=$?
[ "$rc" = 2 ] && grep -q "cannot read 'missing.jsonl'" missing.err || fail "missing input: $(cat missing.err)"
echo "ok: state bootstrap"
