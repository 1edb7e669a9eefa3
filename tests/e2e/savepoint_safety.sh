# `sluice savepoint` under misuse and concurrency (issue 11, item 13): a stale lock whose pid now belongs
# to an unrelated process signals nothing; a missing target directory, an existing savepoint (even another
# job's) and a duplicate target are refused at once with one clear line; concurrent commands each get their
# own savepoint; a job that dies while a command waits is seen at once; savepoints are private (0700/0600).
source "$(dirname "$0")/lib.bash"
trap 'kill $(jobs -p) 2>/dev/null || true; kill -9 ${bystander:-} ${holder:-} 2>/dev/null || true
      [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
umask 022

gen_access 2000 11 40 > "$WORK/in.log"
# start_job NAME [OPTIONS...]: a followed input keeps the job running; returns once it counted the input
# (on stdout, which is written at once: a file output shows only what checkpoints committed).
start_job() {
  local name=$1
  shift
  "$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --follow --state-dir "$WORK/$name" "$@" \
    > "$WORK/$name.out" 2> "$WORK/$name.err" &
  job=$!
  for _ in $(seq 400); do [ "$(wc -l < "$WORK/$name.out" 2>/dev/null || echo 0)" -ge 2000 ] && return 0; sleep 0.05; done
  fail "job $name did not start: $(cat "$WORK/$name.err")"
}
# savepoint ARGS...: runs the command with a bound far below the old 60 s wait; sets $status, $took_ms.
savepoint() {
  local t0 t1
  t0=$(date +%s%N)
  set +e
  timeout 30 "$SLUICE" savepoint "$@" > "$WORK/sp.out" 2> "$WORK/sp.err"
  status=$?
  set -e
  t1=$(date +%s%N)
  took_ms=$(((t1 - t0) / 1000000))
}
is_savepoint() { [ -f "$1/state.snap" ] && grep -q "^savepoint 1" "$1/_metadata"; }

# 1. A stale lock file whose pid is now an unrelated process: nothing is signalled, exit 2 at once. Also
#    when some other process holds an flock on the file: only the job's own lock counts, never the text.
mkdir -p "$WORK/stale"
sleep 300 > /dev/null 2>&1 &
bystander=$!
echo "$bystander" > "$WORK/stale/lock"
savepoint "$WORK/stale" "$WORK/stale-sp"
[ "$status" -eq 2 ] || fail "stale lock: exit $status: $(cat "$WORK/sp.err")"
grep -q "no job is running on" "$WORK/sp.err" || fail "stale lock: $(cat "$WORK/sp.err")"
(exec 9>> "$WORK/stale/lock" && flock 9 && exec sleep 300) > /dev/null 2>&1 &
holder=$!
sleep 0.2
savepoint "$WORK/stale" "$WORK/stale-sp"
[ "$status" -eq 2 ] || fail "flock held by another process: exit $status: $(cat "$WORK/sp.err")"
"$SLUICE" reload "$WORK/stale" 2> "$WORK/reload.err" && fail "reload of a stale lock succeeded"
sleep 0.2
kill -0 "$bystander" 2>/dev/null || fail "the process named by a stale lock file was signalled (killed)"
[ ! -e "$WORK/stale-sp" ] || fail "a savepoint directory was made for a job that does not run"

start_job a --checkpoint-interval 200
job_a=$job

# 2. The target's directory does not exist: one clear line, fast, non-zero; the job logs nothing of it.
savepoint "$WORK/a" "$WORK/no/such/dir/sp"
[ "$status" -ne 0 ] || fail "missing directory: exit 0"
[ "$took_ms" -lt 5000 ] || fail "missing directory: took $took_ms ms"
[ "$(wc -l < "$WORK/sp.err")" -eq 1 ] && grep -q "directory '$WORK/no/such/dir' does not exist" "$WORK/sp.err" ||
  fail "missing directory: $(cat "$WORK/sp.err")"
sleep 0.3
! grep -q "savepoint" "$WORK/a.err" || fail "missing directory reached the job: $(cat "$WORK/a.err")"

# 3. A savepoint, then one over it: refused, the first one unchanged. Modes are private whatever the umask.
savepoint "$WORK/a" "$WORK/sp1"
[ "$status" -eq 0 ] || fail "savepoint: exit $status: $(cat "$WORK/sp.err")"
[ "$(cat "$WORK/sp.out")" = "$WORK/sp1" ] || fail "savepoint printed '$(cat "$WORK/sp.out")'"
is_savepoint "$WORK/sp1" || fail "savepoint not written"
[ "$(stat -c %a "$WORK/sp1")" = 700 ] || fail "savepoint dir mode $(stat -c %a "$WORK/sp1")"
for f in "$WORK/sp1"/*; do [ "$(stat -c %a "$f")" = 600 ] || fail "$f mode $(stat -c %a "$f")"; done
cp -a "$WORK/sp1" "$WORK/sp1.copy"
printf '%s\n' '{"url": "/late"}' >> "$WORK/in.log" # the state changes: a second savepoint would differ
sleep 0.5
savepoint "$WORK/a" "$WORK/sp1"
[ "$status" -ne 0 ] || fail "a savepoint over an existing one: exit 0"
[ "$took_ms" -lt 5000 ] || fail "existing target: took $took_ms ms"
grep -q "exists and is not empty" "$WORK/sp.err" || fail "existing target: $(cat "$WORK/sp.err")"
diff -r "$WORK/sp1" "$WORK/sp1.copy" > /dev/null || fail "the existing savepoint was changed"

# ... and over another job's savepoint.
start_job b --checkpoint-interval 0
job_b=$job
savepoint "$WORK/b" "$WORK/sp1"
[ "$status" -ne 0 ] && grep -q "exists and is not empty" "$WORK/sp.err" || fail "another job's: $status $(cat "$WORK/sp.err")"
diff -r "$WORK/sp1" "$WORK/sp1.copy" > /dev/null || fail "another job's savepoint was changed"

# 4. Concurrent commands: to default paths, all succeed into distinct directories (on a job that checkpoints
#    only on request, and on one that checkpoints every 200 ms); to one path, one succeeds, the others are
#    refused clearly.
for name in a b; do
  pids=()
  for i in 1 2 3 4; do
    timeout 30 "$SLUICE" savepoint "$WORK/$name" > "$WORK/c$i.out" 2> "$WORK/c$i.err" &
    pids+=($!)
  done
  for i in 1 2 3 4; do
    wait "${pids[$((i - 1))]}" || fail "concurrent savepoint $i on $name failed: $(cat "$WORK/c$i.err")"
    is_savepoint "$(cat "$WORK/c$i.out")" || fail "concurrent savepoint $i on $name: not written"
  done
  [ "$(cat "$WORK"/c[1-4].out | sort -u | wc -l)" -eq 4 ] || fail "concurrent savepoints share a path: $(cat "$WORK"/c[1-4].out)"
done
pids=()
for i in 1 2 3; do
  timeout 30 "$SLUICE" savepoint "$WORK/a" "$WORK/same" > "$WORK/s$i.out" 2> "$WORK/s$i.err" &
  pids+=($!)
done
ok=0
for i in 1 2 3; do
  if wait "${pids[$((i - 1))]}"; then
    ok=$((ok + 1))
  else
    grep -q "exists and is not empty" "$WORK/s$i.err" || fail "same path, refusal $i: $(cat "$WORK/s$i.err")"
  fi
done
[ "$ok" -eq 1 ] || fail "same path: $ok savepoints succeeded"
is_savepoint "$WORK/same" || fail "same path: no savepoint"

# 5. A savepoint restores: a job started from sp1 continues its counts.
kill -TERM "$job_b"
wait "$job_b" || fail "job b exited non-zero"
printf '%s\n' '{"url": "/late"}' > "$WORK/more.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/more.log" --state-dir "$WORK/r" --from-savepoint "$WORK/sp1" \
  --quiet > "$WORK/r.out"
[ "$(cat "$WORK/r.out")" = '{"url": "/late", "count": 1}' ] || fail "restore from sp1: $(cat "$WORK/r.out")"

# 6. The job dies while a command waits (stopped first, so it cannot answer): seen at once, no 60 s wait.
kill -STOP "$job_a"
timeout 30 "$SLUICE" savepoint "$WORK/a" "$WORK/never" > /dev/null 2> "$WORK/d.err" &
waiter=$!
sleep 1
kill -0 "$waiter" 2>/dev/null || fail "the command did not wait for a stopped job: $(cat "$WORK/d.err")"
kill -9 "$job_a"
t0=$(date +%s%N)
set +e
wait "$waiter"
status=$?
set -e
took_ms=$((($(date +%s%N) - t0) / 1000000))
[ "$status" -eq 1 ] || fail "dead job: exit $status: $(cat "$WORK/d.err")"
[ "$took_ms" -lt 3000 ] || fail "dead job noticed after $took_ms ms"
grep -q "stopped before" "$WORK/d.err" || fail "dead job: $(cat "$WORK/d.err")"
[ ! -e "$WORK/never" ] || fail "the empty savepoint directory was left behind"
ls "$WORK/a/savepoint-requests" | grep -q . && fail "request files left: $(ls "$WORK/a/savepoint-requests")"

# 7. A savepoint asked for while a job stops (its final checkpoint of 200 k keys takes a while): the job is
#    never killed by the request's signal (SIGUSR1's default action is back once the job stops), and the
#    command either gets its savepoint (the job took it before stopping) or says the job stopped.
luajit -e 'for i = 1, 200000 do io.write(string.format("{\"url\": \"/k%d\"}\n", i)) end' > "$WORK/big.log"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/big.log" --follow --state-dir "$WORK/big" \
  --checkpoint-interval 0 > "$WORK/big.out" 2> "$WORK/big.err" &
job=$!
for _ in $(seq 600); do [ "$(wc -l < "$WORK/big.out")" -ge 200000 ] && break; sleep 0.05; done
[ "$(wc -l < "$WORK/big.out")" -ge 200000 ] || fail "the 200 k job did not start: $(cat "$WORK/big.err")"
kill -TERM "$job"
savepoint "$WORK/big" "$WORK/while-stopping"
set +e
wait "$job"
job_status=$?
set -e
[ "$job_status" -eq 0 ] || fail "a savepoint request while stopping killed the job (exit $job_status)"
if [ "$status" -eq 0 ]; then
  is_savepoint "$WORK/while-stopping" || fail "while stopping: exit 0 without a savepoint"
else
  [ "$status" -eq 1 ] && grep -q "stopped before" "$WORK/sp.err" || fail "while stopping: $status $(cat "$WORK/sp.err")"
fi

# 8. A lock holder that catches SIGUSR1 but never answers (not a sluice job): the command gives up once the
#    request has waited SL_SAVEPOINT_TAKE_S (10 s) untaken, and cleans up after itself.
mkdir -p "$WORK/mute"
python3 -c '
import fcntl, signal, sys, time
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
signal.signal(signal.SIGUSR1, lambda *a: None)
print("ready", flush=True)
time.sleep(300)' "$WORK/mute/lock" > "$WORK/mute.out" &
holder=$!
for _ in $(seq 100); do grep -q ready "$WORK/mute.out" && break; sleep 0.05; done
savepoint "$WORK/mute" "$WORK/mute-sp"
[ "$status" -eq 1 ] && grep -q "did not take the savepoint request within 10 s" "$WORK/sp.err" ||
  fail "a holder that never answers: exit $status: $(cat "$WORK/sp.err")"
[ "$took_ms" -lt 25000 ] || fail "a holder that never answers: took $took_ms ms"
kill -0 "$holder" || fail "the lock holder did not survive"
[ ! -e "$WORK/mute-sp" ] && [ -z "$(ls "$WORK/mute/savepoint-requests")" ] || fail "files left behind"
echo "ok: savepoint safety"
