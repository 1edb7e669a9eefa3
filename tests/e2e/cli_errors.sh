# Setup errors: a clear message and exit status 2; --help and --version work.
source "$(dirname "$0")/lib.bash"

expect_status() { # STATUS PATTERN CMD...
  local want=$1 pattern=$2; shift 2
  set +e; "$@" > "$WORK/o" 2> "$WORK/e"; local got=$?; set -e
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, want $want: $(cat "$WORK/e")"
  grep -q -- "$pattern" "$WORK/e" "$WORK/o" || fail "'$*' did not say '$pattern': $(cat "$WORK/e")"
}

expect_status 0 "usage: sluice run SCRIPT" "$SLUICE" --help
expect_status 0 "^sluice [0-9]" "$SLUICE" --version
expect_status 2 "unknown command" "$SLUICE" frobnicate
expect_status 2 "needs a SCRIPT" "$SLUICE" run
expect_status 2 "unknown option '--bogus'" "$SLUICE" run "$SCRIPTS/lag.lua" --bogus
expect_status 2 "checkpoint-interval needs an integer" "$SLUICE" run "$SCRIPTS/lag.lua" --checkpoint-interval x
expect_status 2 "cannot read script" "$SLUICE" run "$WORK/nope.lua"
expect_status 2 "cannot open input '$WORK/missing.log'" "$SLUICE" run "$SCRIPTS/lag.lua" \
  --input "$WORK/missing.log" --state-dir "$WORK/st"

printf 'local = 1\n' > "$WORK/syntax.lua"
expect_status 2 "syntax.lua:1:" "$SLUICE" run "$WORK/syntax.lua" --state-dir "$WORK/st"
printf 'local sluice = require "sluice"\nreturn 42\n' > "$WORK/nojob.lua"
expect_status 2 "must return a job" "$SLUICE" run "$WORK/nojob.lua" --state-dir "$WORK/st"
printf 'local sluice = require "sluice"\nlocal t = nil\nreturn t.x\n' > "$WORK/runerr.lua"
expect_status 2 "runerr.lua:3:" "$SLUICE" run "$WORK/runerr.lua" --state-dir "$WORK/st"

touch "$WORK/file-not-dir"
expect_status 2 "cannot create state dir" "$SLUICE" run "$SCRIPTS/lag.lua" --input "$DATA/seed_lag.in" \
  --state-dir "$WORK/file-not-dir/sub"
# One job per state dir: a second one is refused while the first runs.
"$SLUICE" run "$SCRIPTS/lag.lua" --input "$DATA/seed_lag.in" --follow --state-dir "$WORK/busy" --quiet > /dev/null &
for _ in $(seq 100); do [ -s "$WORK/busy/lock" ] && break; sleep 0.05; done
expect_status 2 "in use by another sluice job" "$SLUICE" run "$SCRIPTS/lag.lua" --input "$DATA/seed_lag.in" \
  --state-dir "$WORK/busy"
kill %1; wait %1 || true

# Script args reach the script: count by another field.
run_sluice run "$SCRIPTS/url_count.lua" --input "$DATA/seed_url_count.in" --state-dir "$WORK/st4" --quiet \
  -- request > "$WORK/by-method"
printf '%s\n' '{"request": "GET", "count": 1}' '{"request": "POST", "count": 1}' '{"request": "GET", "count": 2}' > "$WORK/exp"
expect_same "$WORK/exp" "$WORK/by-method"
echo "ok: cli errors"
