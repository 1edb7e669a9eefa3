# kafka_lib.bash — what the Kafka tests share (sourced after lib.bash).
MOCK="${SLUICE_BUILD_DIR:?}/kafka-mock"
[ -x "$MOCK" ] || fail "no kafka-mock in $SLUICE_BUILD_DIR"

# start_mock BROKERS PARTITIONS: starts kafka-mock (topic "access", control FIFO $WORK/ctl, its log in
# $WORK/mock.log; at most 290 s, and lib.bash's trap stops it) and sets BOOT to its bootstrap address.
start_mock() {
  mkfifo "$WORK/ctl"
  "$MOCK" serve --brokers "$1" --partitions "$2" --topic access --control "$WORK/ctl" --lifetime 290 \
    > "$WORK/boot" 2> "$WORK/mock.log" &
  wait_for "the mock cluster's address" lines_ge "$WORK/boot" 1
  BOOT=$(head -1 "$WORK/boot")
}

# wait_running PID LOG: waits until the job says it runs (its signal handlers are installed by then, so
# nothing stops it before), for up to 60 s: a restore that rescales takes its time under ASan on a loaded
# machine. A job that exits first fails the test with its last words.
wait_running() {
  for _ in $(seq 6000); do
    grep -q "info: running" "$2" && return 0
    kill -0 "$1" 2>/dev/null || break
    sleep 0.01
  done
  grep -q "info: running" "$2" || fail "the job did not start: $(tail -3 "$2")"
}

# run_until STATE OUT LINES SCRIPT [ARGS...]: runs the job on the topic until OUT has LINES lines (the file
# sink commits at checkpoints) or 60 s passed, then stops it with SIGTERM; it must exit 0. (Not under
# timeout(1): that would stand between the signal and sluice.) The input is $URL, after $BEFORE_URL if set.
run_until() {
  local state=$1 out=$2 lines=$3 script=$4
  shift 4
  : > "$WORK/run.log"
  "$SLUICE" run "$script" ${BEFORE_URL:+--input "$BEFORE_URL"} --input "$URL" --state-dir "$state" --output "$out" \
    --checkpoint-interval 100 "$@" 2> "$WORK/run.log" &
  local pid=$!
  wait_running "$pid" "$WORK/run.log"
  for _ in $(seq 1200); do
    lines_ge "$out" "$lines" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || fail "the run on $state exited with $?: $(tail -3 "$WORK/run.log")"
  cat "$WORK/run.log" >> "$WORK/log"
  lines_ge "$out" "$lines" || fail "the run on $state produced $(wc -l < "$out") of $lines records"
}


# expect_refused WHY ARGS...: `sluice run scripts/url_count.lua ARGS... --state-dir $WORK/refused` must stop
# at start with exit status 2 and say WHY (a grep pattern); its log is $WORK/refused.log.
expect_refused() {
  local why=$1
  shift
  set +e
  run_sluice run "$SCRIPTS/url_count.lua" "$@" --state-dir "$WORK/refused" 2> "$WORK/refused.log"
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "$* exited with $rc, not 2: $(tail -3 "$WORK/refused.log")"
  grep -q "$why" "$WORK/refused.log" || fail "$*: no '$why' in: $(tail -3 "$WORK/refused.log")"
}
