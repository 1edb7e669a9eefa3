#!/usr/bin/env bash
# user_errors.sh — the errors a user can fix name the user's script file:line, not a line of sluice's own
# Lua files (lua/sluice/caller.lua): keyed state in an operator without key_by, a window option that does
# not exist, an unstorable value in a snapshot hook, an event-time window in a job with no watermark
# strategy (refused at start, exit 2, instead of failing every record), a misspelt state descriptor option.
source "$(dirname "$0")/lib.bash"

for i in 1 2 3; do echo '{"k": "a"}'; echo '{"k": "b"}'; done > "$WORK/in.jsonl"

# run_job NAME: runs $WORK/NAME.lua on the input; its exit status in $rc, its stderr in $WORK/NAME.err.
run_job() {
  set +e
  run_sluice run "$WORK/$1.lua" --input "$WORK/in.jsonl" --state-dir "$WORK/st-$1" > /dev/null 2> "$WORK/$1.err"
  rc=$?
  set -e
}
# expect_error NAME WANT_RC PATTERN: the run exits WANT_RC and stderr matches PATTERN, and no error line
# points into lua/sluice/.
expect_error() {
  [ "$rc" -eq "$2" ] || fail "$1: exit $rc, want $2: $(cat "$WORK/$1.err")"
  grep -q -- "$3" "$WORK/$1.err" || fail "$1: no '$3' in: $(cat "$WORK/$1.err")"
  ! grep -q "sluice/[a-z_]*\.lua:[0-9]" "$WORK/$1.err" || fail "$1: an error points into sluice: $(cat "$WORK/$1.err")"
}

cat > "$WORK/nokey.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "nokey"
  :process("p", function(ctx, rec)
    local n = ctx:value("n", 0)
    n:update(n:value() + 1)
  end)
LUA
run_job nokey
expect_error nokey 0 "nokey.lua:4: operator 'p' is not keyed: add key_by before it to use keyed state"

cat > "$WORK/tumble.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "tumble"
  :key_by "k"
  :window("w", sluice.window.tumbling { size = 60000 }, {})
LUA
run_job tumble
expect_error tumble 2 "tumble.lua:4: sluice.window.tumbling: unknown option 'size' (did you mean 'size_ms'?)"

cat > "$WORK/snap.lua" <<'LUA'
local sluice = require "sluice"
local held = {}
return sluice.job "snap"
  :process("p", {
    operator_state = { pending = sluice.state.operator_list {} },
    snapshot = function(ctx)
      ctx.operator_state.pending:update({ { f = print } })
    end,
    process = function(ctx, rec) held[#held + 1] = rec.k end,
  })
LUA
run_job snap
[ "$rc" -ne 0 ] || fail "snap: a failing snapshot hook exited 0"
expect_error snap "$rc" "snap.lua:7: OperatorListState<pending>: cannot store this table value"

# The window is the script's last call (a tail call leaves no frame of the script): the error names the
# line of the window's own function instead.
cat > "$WORK/nowm.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "nowm"
  :key_by "k"
  :window("w", sluice.window.tumbling { size_ms = 60000 }, {
    emit = function(ctx, w, n) ctx:emit({ k = ctx:key(), n = n }) end,
  })
LUA
run_job nowm
expect_error nowm 2 "nowm.lua:5: window 'w' uses event time, but no source of job 'nowm' declares a watermark strategy"
! grep -q "in.jsonl:1" "$WORK/nowm.err" || fail "nowm: failed per record rather than at start: $(cat "$WORK/nowm.err")"

# Not the last call: the line of the :window call itself.
cat > "$WORK/nowm2.lua" <<'LUA'
local sluice = require "sluice"
local job = sluice.job "nowm2"
  :key_by "k"
  :window("w", sluice.window.tumbling { size_ms = 60000 }, {})
return job
LUA
run_job nowm2
expect_error nowm2 2 "nowm2.lua:4: window 'w' uses event time"

cat > "$WORK/typo.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "typo"
  :key_by "k"
  :process("p", {
    state = { n = sluice.state.value { defualt = 0 }, m = sluice.state.map { tll = 1000 } },
    process = function(ctx, rec) end,
  })
LUA
run_job typo
expect_error typo 2 "typo.lua:5: sluice.state.value: unknown option 'defualt' (did you mean 'default'?)"
echo "ok: each error names the user's script line"
