#!/usr/bin/env bash
# state_compat.sh — state restored into code that uses its name as another kind is refused, naming the
# state and both kinds (lua/sluice/state_registry.lua over the backend's registry): a restart from a
# checkpoint and a start from a savepoint exit 2, a hot reload is refused while the old code keeps running;
# the state is intact afterwards (the old code continues the counts). A state only known at its first use
# fails the job (exit 1) without committing past the record, and a restart of the old code loses nothing.
source "$(dirname "$0")/lib.bash"

save() { cat > "$1.tmp.$$"; mv "$1.tmp.$$" "$1"; }
# expect_refusal LOG: the message names the state and both kinds.
expect_refusal() {
  grep -q "state 'x' of operator 'count' is stored as ValueState, the job now uses it as MapState" "$1" \
    || fail "no kind refusal naming the state: $(cat "$1")"
}

# v1: a declared ValueState "x" counting per key. v2: the same name declared as a MapState.
cat > "$WORK/v1.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "compat"
  :key_by "k"
  :process("count", {
    state = { x = sluice.state.value { default = 0 } },
    process = function(ctx, rec)
      local n = ctx.state.x:value() + 1
      ctx.state.x:update(n)
      ctx:emit({ k = ctx:key(), n = n }, { "k", "n" })
    end,
  })
LUA
sed -e 's/sluice.state.value { default = 0 }/sluice.state.map {}/' \
    -e 's/local n = ctx.state.x:value() + 1/local n = 0; ctx.state.x:put(rec.k, true)/' \
    -e 's/ctx.state.x:update(n)//' "$WORK/v1.lua" > "$WORK/v2.lua"
grep -q "sluice.state.map" "$WORK/v2.lua" || fail "could not make v2"
for i in 1 2 3; do echo '{"k": "a"}'; echo '{"k": "b"}'; done > "$WORK/in.jsonl"

# --- 1. Restart from a checkpoint.
cp "$WORK/in.jsonl" "$WORK/grown.jsonl"
run_sluice run "$WORK/v1.lua" --input "$WORK/grown.jsonl" --state-dir "$WORK/st" --output "$WORK/out1" --quiet
set +e
run_sluice run "$WORK/v2.lua" --input "$WORK/grown.jsonl" --state-dir "$WORK/st" --output "$WORK/out1" 2> "$WORK/err1"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "restart with another kind: exit $rc, want 2: $(cat "$WORK/err1")"
expect_refusal "$WORK/err1"
grep -q "v2.lua:[0-9]*: state 'x'" "$WORK/err1" || fail "the refusal does not name the script's line: $(cat "$WORK/err1")"
# The state is intact: the old code goes on counting from 3 (with the input grown by two records).
printf '{"k": "a"}\n{"k": "b"}\n' >> "$WORK/grown.jsonl"
run_sluice run "$WORK/v1.lua" --input "$WORK/grown.jsonl" --state-dir "$WORK/st" --output "$WORK/out1" --quiet
[ "$(tail -n 2 "$WORK/out1" | tr '\n' ' ')" = '{"k": "a", "n": 4} {"k": "b", "n": 4} ' ] \
  || fail "the state changed after the refusal: $(cat "$WORK/out1")"
echo "ok: a restart with another kind is refused"

# --- 2. A TTL added to a stored state is refused too.
sed 's/sluice.state.value { default = 0 }/sluice.state.value { default = 0, ttl = 60000 }/' "$WORK/v1.lua" \
  > "$WORK/v1ttl.lua"
set +e
run_sluice run "$WORK/v1ttl.lua" --input "$WORK/grown.jsonl" --state-dir "$WORK/st" --output "$WORK/out1" \
  2> "$WORK/err2"
rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "stored as ValueState without TTL, the job now uses it as ValueState with TTL" "$WORK/err2" \
  || fail "a TTL change was not refused (exit $rc): $(cat "$WORK/err2")"
echo "ok: a TTL change is refused"

# --- 3. Start from a savepoint, and 4. hot reload, on one running job.
job="$WORK/job/compat.lua"
mkdir "$WORK/job"
cp "$WORK/v1.lua" "$job"
log="$WORK/follow.jsonl"; out="$WORK/out3"; err="$WORK/err3"
cp "$WORK/in.jsonl" "$log"
"$SLUICE" run "$job" --input "$log" --follow --state-dir "$WORK/st3" --output "$out" --checkpoint-interval 50 \
  2> "$err" &
pid=$!
wait_for "6 output lines" lines_ge "$out" 6
# The savepoint is what this test needs, not the client's report of it: wait for its _metadata.
"$SLUICE" savepoint "$WORK/st3" "$WORK/sp" > /dev/null 2>&1 &
sp_pid=$!
wait_for "the savepoint" test -f "$WORK/sp/_metadata"
kill $sp_pid 2>/dev/null || true
set +e
run_sluice run "$WORK/v2.lua" --input "$WORK/in.jsonl" --state-dir "$WORK/from-sp" --from-savepoint "$WORK/sp" \
  --output "$WORK/out-sp" 2> "$WORK/err-sp"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "savepoint into another kind: exit $rc, want 2: $(cat "$WORK/err-sp")"
expect_refusal "$WORK/err-sp"
echo "ok: a start from a savepoint with another kind is refused"

save "$job" < "$WORK/v2.lua"
wait_for "the reload refusal" grep -q "reload of .*compat.lua failed, the old code keeps running: .*state 'x'" "$err"
expect_refusal "$err"
set +e; "$SLUICE" reload "$WORK/st3" > "$WORK/reload.out" 2> "$WORK/reload.err"; rc=$?; set -e
[ "$rc" -eq 1 ] && grep -q "^failed: .*state 'x' of operator 'count' is stored as ValueState" "$WORK/reload.err" \
  || fail "sluice reload did not report the refusal (rc $rc): $(cat "$WORK/reload.out" "$WORK/reload.err")"
# The old code keeps running on the state.
echo '{"k": "a"}' >> "$log"
wait_for "7 output lines" lines_ge "$out" 7
[ "$(tail -n 1 "$out")" = '{"k": "a", "n": 4}' ] || fail "the old code did not keep running: $(tail -n 3 "$out")"
kill -TERM $pid; wait $pid || fail "the job exited non-zero: $(tail -3 "$err")"
echo "ok: a reload with another kind is refused, the old code keeps running"

# --- 5. Known only at its first use: ctx:value("x") stored, ctx:map("x") now. The job fails (exit 1) at the
# first record instead of rejecting every record; nothing is committed past it.
cat > "$WORK/u1.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "compat-use"
  :key_by "k"
  :process("count", function(ctx, rec)
    local x = ctx:value("x", 0)
    local n = x:value() + 1
    x:update(n)
    ctx:emit({ k = ctx:key(), n = n }, { "k", "n" })
  end)
LUA
sed 's/local x = ctx:value("x", 0)/local x = ctx:map("x")/' "$WORK/u1.lua" > "$WORK/u2.lua"
grep -q 'ctx:map("x")' "$WORK/u2.lua" || fail "could not make u2"
run_sluice run "$WORK/u1.lua" --input "$WORK/in.jsonl" --state-dir "$WORK/st5" --output "$WORK/out5" --quiet
for i in 1 2; do echo '{"k": "a"}'; echo '{"k": "b"}'; done > "$WORK/more.jsonl"
set +e
run_sluice run "$WORK/u2.lua" --input "$WORK/more.jsonl" --state-dir "$WORK/st5" --output "$WORK/out5" \
  2> "$WORK/err5"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a first use as another kind: exit $rc, want 1: $(cat "$WORK/err5")"
grep -q "u2.lua:5: state 'x' of operator 'count' is stored as ValueState, the job now uses it as MapState" \
  "$WORK/err5" || fail "no refusal naming the state at the user's line: $(cat "$WORK/err5")"
grep -q "rejected" "$WORK/err5" && grep -q "[1-9][0-9]* rejected" "$WORK/err5" \
  && fail "records were rejected one by one: $(cat "$WORK/err5")"
run_sluice run "$WORK/u1.lua" --input "$WORK/more.jsonl" --state-dir "$WORK/st5" --output "$WORK/out5" --quiet
[ "$(tail -n 4 "$WORK/out5" | tr '\n' ' ')" = '{"k": "a", "n": 4} {"k": "b", "n": 4} {"k": "a", "n": 5} {"k": "b", "n": 5} ' ] \
  || fail "records were lost or counted twice after the failed run: $(cat "$WORK/out5")"
echo "ok: a first use as another kind fails the job, nothing lost"

# --- 6. A hot reload that drops a removed operator's state (--allow-non-restored-state) and changes a
# kept state's kind: refused before the old code is given up (the kinds are checked on the state the new
# code would run on); the job keeps running and exits 0.
# w1: v1 under another job name, with a second stateful operator; w2: v2 without it.
{ sed 's/sluice.job "compat"/sluice.job "compat-drop"/' "$WORK/v1.lua"
  cat <<'LUA'
  :process("extra", {
    state = { seen = sluice.state.value { default = 0 } },
    process = function(ctx, rec)
      ctx.state.seen:update(1)
      ctx:emit(rec)
    end,
  })
LUA
} > "$WORK/w1.lua"
sed 's/sluice.job "compat"/sluice.job "compat-drop"/' "$WORK/v2.lua" > "$WORK/w2.lua"
job6="$WORK/job6/compat.lua"
mkdir "$WORK/job6"
cp "$WORK/w1.lua" "$job6"
log6="$WORK/follow6.jsonl"; out6="$WORK/out6"; err6="$WORK/err6"
cp "$WORK/in.jsonl" "$log6"
"$SLUICE" run "$job6" --input "$log6" --follow --state-dir "$WORK/st6" --output "$out6" --checkpoint-interval 50 \
  --allow-non-restored-state 2> "$err6" &
pid6=$!
wait_for "6 output lines" lines_ge "$out6" 6
save "$job6" < "$WORK/w2.lua"
wait_for "the reload refusal" grep -q "reload of .*compat.lua failed, the old code keeps running: .*state 'x'" "$err6"
kill -0 $pid6 || fail "the job stopped on a refused reload: $(tail -3 "$err6")"
echo '{"k": "a"}' >> "$log6"
wait_for "7 output lines" lines_ge "$out6" 7
[ "$(tail -n 1 "$out6")" = '{"k": "a", "n": 4}' ] || fail "the old code did not keep running: $(tail -n 3 "$out6")"
kill -TERM $pid6; wait $pid6 || fail "the job exited non-zero: $(tail -3 "$err6")"
echo "ok: a reload that drops an operator and changes a kind is refused, the old code keeps running"
