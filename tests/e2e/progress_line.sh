#!/usr/bin/env bash
# progress_line.sh — the live status line (core/progress.c): on a terminal (a pty from util-linux
# `script`) a job rewrites one line with "\r" about once a second, naming records/s, the input's % read,
# errors and the last checkpoint; the line is cleared before the end-of-run summary. In a pipe, and with
# --quiet, nothing of it is written.
source "$(dirname "$0")/lib.bash"
command -v script >/dev/null || { echo "util-linux script is missing"; exit 77; }

gen_access 2000 > "$WORK/in.log"
# job NAME [OPTIONS...]: the URL count on --follow in the background, its state dir $WORK/st-NAME
job_cmd() {
  local name=$1; shift
  printf '%q ' "$SLUICE" run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --follow \
    --state-dir "$WORK/st-$name" --output "$WORK/out-$name" --checkpoint-interval 200 "$@"
}
# stop NAME: SIGTERM to the job (its pid is in the state dir's lock file), then waits for the process.
stop() {
  local pid; pid=$(cat "$WORK/st-$1/lock")
  kill -TERM "$pid"
  wait_for "job $1 to end" sh -c "! kill -0 $pid 2>/dev/null"
}
has() { grep -q -- "$2" "$1" 2>/dev/null; }

# --- on a terminal
timeout 60 script -qfc "$(job_cmd tty)" "$WORK/tty.log" < /dev/null > /dev/null &
wait_for "the job on a pty" test -s "$WORK/st-tty/lock"
wait_for "two status lines" sh -c "[ \$(grep -o 'rec/s' '$WORK/tty.log' | wc -l) -ge 2 ]"
wait_for "a checkpoint in the status line" has "$WORK/tty.log" "| checkpoint [0-9]* [0-9]*s ago"
stop tty
wait_for "the summary" has "$WORK/tty.log" "done: 2000 records in"
tr -d '\r' < "$WORK/tty.log" | grep -q "in.log 100% | 0 errors" || fail "no % read and errors: $(cat -v "$WORK/tty.log")"
grep -q $'\rsluice: [0-9]* rec/s, 2000 in, 2000 out' "$WORK/tty.log" || fail "not rewritten with \\r: $(cat -v "$WORK/tty.log")"
# the summary starts on a cleared line, not after the status text
grep -q $'\r\033\[Ksluice: info: done:' "$WORK/tty.log" || fail "summary not on a cleared line: $(cat -v "$WORK/tty.log")"

# --- in a pipe: nothing of it
eval "$(job_cmd pipe)" 2> >(cat > "$WORK/pipe.err") &
wait_for "the job in a pipe" test -s "$WORK/st-pipe/lock"
sleep 2.5
stop pipe
sleep 0.2
has "$WORK/pipe.err" "done: 2000 records in" || fail "no summary in the pipe: $(cat "$WORK/pipe.err")"
has "$WORK/pipe.err" "rec/s" && fail "a status line in a pipe: $(cat -v "$WORK/pipe.err")"
grep -q $'\r' "$WORK/pipe.err" && fail "a carriage return in a pipe"

# --- --quiet on a terminal: nothing of it either
timeout 60 script -qfc "$(job_cmd quiet --quiet)" "$WORK/quiet.log" < /dev/null > /dev/null &
wait_for "the quiet job" test -s "$WORK/st-quiet/lock"
sleep 2.5
stop quiet
has "$WORK/quiet.log" "rec/s" && fail "a status line with --quiet: $(cat -v "$WORK/quiet.log")"
echo "progress_line: ok"
