# `sluice state ls|dump`: what a known job's checkpoints hold, read back exactly — a full checkpoint, a
# parallel one, a delta chain read while the job runs, a savepoint, every state kind — and clean refusals
# (exit 2) of a missing path, a corrupt snapshot and an unknown operator.
source "$(dirname "$0")/lib.bash"

url_count="$SCRIPTS/url_count.lua"
printf '%s\n' '{"url": "/a"}' '{"url": "/b"}' '{"url": "/a"}' '{"url": "/c"}' '{"url": "/a"}' > "$WORK/in.log"
line() { printf '{"op": "count", "state": "count", "kind": "value", "key": "%s", "value": %s}\n' "$1" "$2"; }
{ line /a 3; line /b 1; line /c 1; } > "$WORK/expect_5"
# dump_sorted PATH ARGS...: the dump, sorted (a parallel checkpoint's subtasks come one after the other).
dump_sorted() { "$SLUICE" state dump "$@" | LC_ALL=C sort; }

# A full checkpoint of a one-thread run, given as the state dir and as the checkpoint directory.
run_sluice run "$url_count" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" --quiet
dump_sorted "$WORK/st" --op count > "$WORK/dump"
expect_same "$WORK/expect_5" "$WORK/dump"
chk=$(ls -d "$WORK"/st/checkpoints/chk-* | tail -1)
dump_sorted "$chk" --op count --state count > "$WORK/dump"
expect_same "$WORK/expect_5" "$WORK/dump"
line /b 1 > "$WORK/expect_b"
"$SLUICE" state dump "$chk" --op count --key /b > "$WORK/dump"
expect_same "$WORK/expect_b" "$WORK/dump"
"$SLUICE" state ls "$WORK/st" --json > "$WORK/ls"
grep -qx '{"op": "count", "state": "count", "kind": "value", "entries": 3, "bytes": [0-9]*, "ttl": false, "keys": 3, "key_groups": [1-3]}' \
  "$WORK/ls" || fail "state ls --json: $(cat "$WORK/ls")"
"$SLUICE" state ls "$WORK/st" | grep -Eq '^count +count +value +3 +[0-9]+ +no +3 +[1-3]$' ||
  fail "state ls table: $("$SLUICE" state ls "$WORK/st")"

# A parallel run's checkpoint: one snapshot per subtask, merged.
run_sluice run "$url_count" --input "$WORK/in.log" --state-dir "$WORK/p2" --output "$WORK/p2.out" --quiet \
  --parallelism 2
ls "$WORK"/p2/checkpoints/chk-*/task-1.snap > /dev/null || fail "no parallel checkpoint"
dump_sorted "$WORK/p2" --op count > "$WORK/dump"
expect_same "$WORK/expect_5" "$WORK/dump"

# A delta chain, read while the job runs (exactly-once: output lines appear once the checkpoint holding their
# records is complete, and nothing comes in between stages, so the newest checkpoint then is that state).
for par in 1 2; do
  st="$WORK/inc$par" f="$WORK/follow$par.log" o="$WORK/inc$par.out"
  : > "$f"
  "$SLUICE" run "$url_count" --input "$f" --follow --state-dir "$st" --output "$o" --checkpoint-interval 30 \
    --retain-checkpoints 1000 --parallelism $par --quiet 2> "$WORK/inc$par.log" &
  pid=$!
  head -2 "$WORK/in.log" >> "$f"; wait_for "2 lines" lines_ge "$o" 2
  sed -n 3,4p "$WORK/in.log" >> "$f"; wait_for "4 lines" lines_ge "$o" 4
  mid=$(ls -d "$st"/checkpoints/chk-* | tail -1)
  ls "$mid" | grep -q delta || fail "checkpoint $mid is not a delta: $(ls "$mid")"
  { line /a 2; line /b 1; line /c 1; } > "$WORK/expect_4"
  dump_sorted "$mid" --op count > "$WORK/dump"
  expect_same "$WORK/expect_4" "$WORK/dump"
  # A savepoint taken now holds the same state, whole, outside the checkpoints directory.
  "$SLUICE" savepoint "$st" "$WORK/sp$par" > /dev/null || fail "savepoint at parallelism $par"
  dump_sorted "$WORK/sp$par" --op count > "$WORK/dump"
  expect_same "$WORK/expect_4" "$WORK/dump"
  "$SLUICE" state ls "$WORK/sp$par" | head -1 | grep -q "(savepoint)" || fail "ls does not say savepoint"
  tail -1 "$WORK/in.log" >> "$f"; wait_for "5 lines" lines_ge "$o" 5
  dump_sorted "$st" --op count > "$WORK/dump"
  expect_same "$WORK/expect_5" "$WORK/dump"
  kill $pid; wait $pid 2>/dev/null || true
  dump_sorted "$mid" --op count > "$WORK/dump"
  expect_same "$WORK/expect_4" "$WORK/dump"
done

# Every keyed kind: map keys, list indexes, a table value and a TTL expiry.
cat > "$WORK/kinds.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "kinds"
  :key_by("user")
  :process("kinds", {
    state = { last = sluice.state.value { ttl = 3600000 } },
    process = function(ctx, rec)
      ctx:map("pages"):put(rec.page, (ctx:map("pages"):get(rec.page) or 0) + 1)
      ctx:list("seen"):add(rec.page)
      ctx:value("info"):update({ rec.n, 2.5, ok = true })
      ctx.state.last:update(rec.page)
    end,
  })
LUA
printf '%s\n' '{"user": "u1", "page": "p1", "n": 1}' '{"user": "u2", "page": "p2", "n": 2}' \
  '{"user": "u1", "page": "p1", "n": 3}' > "$WORK/kinds.log"
run_sluice run "$WORK/kinds.lua" --input "$WORK/kinds.log" --state-dir "$WORK/ks" --output "$WORK/ks.out" --quiet
"$SLUICE" state dump "$WORK/ks" --op kinds | sed 's/"expires_at": [0-9]\{13\}}/"expires_at": T}/' |
  LC_ALL=C sort > "$WORK/dump"
cat > "$WORK/expect_kinds" <<'JSON'
{"op": "kinds", "state": "info", "kind": "value", "key": "u1", "value": {"1": 3, "2": 2.5, "ok": true}}
{"op": "kinds", "state": "info", "kind": "value", "key": "u2", "value": {"1": 2, "2": 2.5, "ok": true}}
{"op": "kinds", "state": "last", "kind": "value", "key": "u1", "value": "p1", "expires_at": T}
{"op": "kinds", "state": "last", "kind": "value", "key": "u2", "value": "p2", "expires_at": T}
{"op": "kinds", "state": "pages", "kind": "map", "key": "u1", "value": 2, "map_key": "p1"}
{"op": "kinds", "state": "pages", "kind": "map", "key": "u2", "value": 1, "map_key": "p2"}
{"op": "kinds", "state": "seen", "kind": "list", "key": "u1", "value": "p1", "index": 0}
{"op": "kinds", "state": "seen", "kind": "list", "key": "u1", "value": "p1", "index": 1}
{"op": "kinds", "state": "seen", "kind": "list", "key": "u2", "value": "p2", "index": 0}
JSON
expect_same "$WORK/expect_kinds" "$WORK/dump"
"$SLUICE" state ls "$WORK/ks" | grep -Eq '^kinds +last +value +2 +[0-9]+ +yes +2 ' || fail "ls: TTL flag not shown"

# Refusals: exit 2 with a message, never a crash, nothing written.
expect_refusal() { # WHAT PATTERN CMD...
  local what=$1 pat=$2 rc=0; shift 2
  "$SLUICE" state "$@" > "$WORK/r.out" 2> "$WORK/r.err" || rc=$?
  [ "$rc" = 2 ] || fail "$what: exit $rc, not 2 ($(cat "$WORK/r.err"))"
  grep -q "$pat" "$WORK/r.err" || fail "$what: message: $(cat "$WORK/r.err")"
  [ ! -s "$WORK/r.out" ] || fail "$what: printed $(cat "$WORK/r.out")"
}
expect_refusal "missing path" "No such file" ls "$WORK/nowhere"
expect_refusal "not a state dir" "neither a checkpoint" ls "$WORK"
expect_refusal "unknown op" "no operator 'nope'" dump "$WORK/st" --op nope
expect_refusal "unknown state" "no state 'nope'" dump "$WORK/st" --op count --state nope
expect_refusal "no --op" "needs --op" dump "$WORK/st"
cp -r "$chk" "$WORK/bad"
before=$(md5sum "$WORK"/st/checkpoints/*/* | md5sum)
size=$(stat -c %s "$WORK/bad/state.snap")
printf '\x5a' | dd of="$WORK/bad/state.snap" bs=1 seek=$((size / 2)) conv=notrunc status=none
cmp -s "$chk/state.snap" "$WORK/bad/state.snap" && fail "the byte flip changed nothing"
expect_refusal "corrupt snapshot" "state.snap" ls "$WORK/bad"
expect_refusal "corrupt snapshot (dump)" "state.snap" dump "$WORK/bad" --op count
[ "$before" = "$(md5sum "$WORK"/st/checkpoints/*/* | md5sum)" ] || fail "inspection changed the checkpoint"
echo "ok: state inspection"
