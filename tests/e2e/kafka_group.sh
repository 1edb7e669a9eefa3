# Scale-out through a Kafka consumer group (`sluice group`, core/kafka_group.c) against librdkafka's mock
# cluster (tests/kafka/mock_cluster.c: a topic of 8 partitions, records keyed by url, so one URL's records
# are in one partition, in order). Each supervisor runs one `sluice run` per partition the group assigns it,
# with that partition's state dir under the shared checkpoint dir and its output file under the output dir;
# the union of the output files, compared per URL in order, must equal one run over the same records in a
# file:
#   a. one supervisor reads all 8 partitions; partition 3's state dir is still locked at first by a plain
#      run on it (a previous owner finishing), which the supervisor waits for; a child SIGKILLed on its own
#      is restarted; the group's committed offsets (committed by the supervisor, the group's member) add
#      up to the records read; a job that cannot start fails its supervisor after 5 tries (exit 1);
#   b. (on a live stream: records produced a chunk at a time) two supervisors split the partitions; one
#      is killed with SIGKILL mid-stream (its children die with it); the other takes its partitions over after the session timeout, from their checkpoints: every
#      URL's counts exact, nothing lost or doubled;
#   c. (on a live stream) a second and a third supervisor join a running one: the partitions rebalance,
#      counts still exact.
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/kafka_lib.bash"
# Every supervisor is SIGKILLed on the way out (their children die with them: PR_SET_PDEATHSIG), and any
# child that outlived its supervisor all the same (the test failed then) too.
kill_orphans() {
  for c in $(cat "$WORK"/*.log 2>/dev/null | grep -o 'started its job (pid [0-9]*' | grep -o '[0-9]*$'); do
    grep -qF "$WORK" "/proc/$c/cmdline" 2>/dev/null && kill -9 "$c" 2>/dev/null
  done
  return 0
}
trap 'kill -9 $(jobs -p) 2>/dev/null || true; kill_orphans; wait 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT

# Short group timeouts: a killed member's partitions move after 6 s. (The mock ends a rebalance after the
# session timeout, not max.poll.interval.ms as a broker does: a member still stopping its children then is
# dropped, and rejoins; its children's state dirs stay locked meanwhile.)
PROPS="session.timeout.ms=6000&heartbeat.interval.ms=300&fetch.wait.max.ms=20"
N=12000
H=$((N / 2))

start_mock 1 8
gen_access "$N" 11 300 > "$WORK/in.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --state-dir "$WORK/ref-state" \
  --output "$WORK/ref.out" --quiet 2> /dev/null
[ "$(wc -l < "$WORK/ref.out")" -eq "$N" ] || fail "reference run incomplete"
head -$H "$WORK/in.log" | "$MOCK" produce "$BOOT" access --key-field url || fail "producing failed"

# Refused at start (exit 2, saying why): what is per partition or shared by the group.
refused() {
  local why=$1
  shift
  set +e
  run_sluice group "$SCRIPTS/url_count.lua" --checkpoint-dir "$WORK/r-chk" --output-dir "$WORK/r-out" "$@" \
    2> "$WORK/refused.log"
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "group $* exited with $rc, not 2: $(cat "$WORK/refused.log")"
  grep -q -- "$why" "$WORK/refused.log" || fail "group $*: no '$why' in: $(cat "$WORK/refused.log")"
}
refused "names no group" --input "kafka://$BOOT/access"
refused "partitions= is not for a group" --input "kafka://$BOOT/access?group=g&partitions=1"
refused "is per partition here: use --output-dir" --input "kafka://$BOOT/access?group=g" --output x
refused "is per partition here: use --checkpoint-dir" --input "kafka://$BOOT/access?group=g" --state-dir x
refused "use port 0" --input "kafka://$BOOT/access?group=g" --metrics 9100
refused "from-savepoint" --input "kafka://$BOOT/access?group=g" --from-savepoint x
refused "unknown option '--no-such'" --input "kafka://$BOOT/access?group=g" --no-such
refused "librdkafka property 'no.such.property'" --input "kafka://$BOOT/access?group=g&no.such.property=1"

# start_group NAME GROUP SCRIPT [ARGS...]: a supervisor in GROUP (dirs $WORK/GROUP-chk, $WORK/GROUP-out),
# its log $WORK/NAME.log, its pid in $PID_NAME.
start_group() {
  local name=$1 group=$2 script=$3
  shift 3
  "$SLUICE" group "$script" --input "kafka://$BOOT/access?group=$group&$PROPS" --checkpoint-dir "$WORK/$group-chk" \
    --output-dir "$WORK/$group-out" --checkpoint-interval 100 --quiet "$@" > /dev/null 2> "$WORK/$name.log" &
  eval "PID_$name=$!"
}
# union GROUP: every output record of the group's partition files.
union() { cat "$WORK/$1-out"/partition-*.jsonl 2>/dev/null; }
union_ge() { [ "$(union "$1" | wc -l)" -ge "$2" ]; }
# owned NAME: the partitions NAME was last assigned ("" before its first assignment, or after a revoke).
owned() {
  awk '/assigned partitions/ { p = $NF } /partitions .* (revoked|lost);/ { p = "" } END { print p }' "$WORK/$1.log"
}
owns_all() { [ "$(owned "$1")" = "0,1,2,3,4,5,6,7" ]; }
owns_some() { [ -n "$(owned "$1")" ] && [ "$(owned "$1")" != "(none)" ]; }
# owned_count NAME...: how many partitions they own together (each once, or the sum says otherwise).
owned_count() {
  local n=0
  for s in "$@"; do
    local o
    o=$(owned "$s")
    [ -z "$o" ] || [ "$o" = "(none)" ] || n=$((n + $(tr ',' '\n' <<< "$o" | wc -l)))
  done
  echo "$n"
}
# split_among NAME...: together they own all 8 partitions, each a share.
split_among() {
  for s in "$@"; do owns_some "$s" || return 1; done
  [ "$(owned_count "$@")" -eq 8 ] && [ "$(for s in "$@"; do owned "$s" | tr ',' '\n'; done | sort -u | wc -l)" -eq 8 ]
}
# wait_long SECS DESC CMD...: polls CMD every 100 ms for up to SECS s.
wait_long() {
  local secs=$1 desc=$2
  shift 2
  for _ in $(seq $((secs * 10))); do "$@" && return 0; sleep 0.1; done
  fail "timed out after $secs s waiting for $desc"
}
# stop NAME: SIGTERM; it must exit 0 (every child stopped after its final checkpoint).
stop() {
  local pid
  pid=$(eval echo "\$PID_$1")
  kill -TERM "$pid"
  wait "$pid" || fail "supervisor $1 exited with $?: $(grep -v 'info:' "$WORK/$1.log" | tail -5)"
}
# children NAME: the pids of the jobs NAME started.
children() { grep -o 'started its job (pid [0-9]*' "$WORK/$1.log" | grep -o '[0-9]*$'; }
expect_exact() {
  [ "$(union "$1" | wc -l)" -eq "$N" ] || fail "$2: $(union "$1" | wc -l) records, not $N"
  union "$1" > "$WORK/$1.union"
  expect_keys "$WORK/ref.out" "$WORK/$1.union" "$2: per-URL counts differ from the file run's"
}

# a. One supervisor, all 8 partitions. A plain run holds partition 3's state dir at first.
mkdir -p "$WORK/ga-chk" "$WORK/ga-out"
"$SLUICE" run "$SCRIPTS/url_count.lua" --input "kafka://$BOOT/access?partitions=3&fetch.wait.max.ms=20" \
  --state-dir "$WORK/ga-chk/partition-3" --output "$WORK/ga-out/partition-3.jsonl" --checkpoint-interval 100 \
  2> "$WORK/prev3.log" &
prev=$!
wait_running $prev "$WORK/prev3.log"
start_group A ga "$SCRIPTS/url_count.lua"
wait_long 60 "the wait for partition 3's lock" grep -q "partition 3: its state dir is still locked by pid $prev" "$WORK/A.log"
sleep 1
grep -q "partition 3: started its job" "$WORK/A.log" && fail "partition 3's job started while its state dir was locked"
kill -TERM "$prev"
wait "$prev" || fail "the run on partition 3 exited with $?"
# A job that dies on its own (SIGKILL here) is restarted, and goes on from its checkpoint.
wait_long 30 "partition 3's job" grep -q "partition 3: started its job" "$WORK/A.log"
victim=$(grep -o 'partition 0: started its job (pid [0-9]*' "$WORK/A.log" | grep -o '[0-9]*$')
kill -9 "$victim"
tail -n +$((H + 1)) "$WORK/in.log" | "$MOCK" produce "$BOOT" access --key-field url || fail "producing failed"
wait_long 30 "partition 0's job to be restarted" grep -q "partition 0: its job exited with signal 9; restarting it in 1 s" "$WORK/A.log"
wait_long 90 "all $N records from group ga" union_ge ga "$N"
[ "$(owned A)" = "0,1,2,3,4,5,6,7" ] || fail "A owns '$(owned A)', not every partition"
grep -q "partition 3: started its job" "$WORK/A.log" || fail "partition 3's job never started"
stop A
expect_exact ga "one supervisor"
committed=$("$MOCK" committed "$BOOT" access ga | awk '$2 >= 0 { s += $2 } END { print s }')
[ "$committed" -eq "$N" ] || fail "group ga's committed offsets add up to $committed, not $N"
[ "$(grep -c "restarting it" "$WORK/A.log")" -eq 1 ] || fail "A restarted jobs other than partition 0's: $(grep "restarting it" "$WORK/A.log")"

# A job that cannot run fails the supervisor after 5 exits in a row (restarted after 1, 2, 4, 8 s), exit 1.
echo 'error("this job cannot start")' > "$WORK/broken.lua"
set +e
timeout 150 "$SLUICE" group "$WORK/broken.lua" --input "kafka://$BOOT/access?group=gbroken&$PROPS" \
  --checkpoint-dir "$WORK/gbroken-chk" --output-dir "$WORK/gbroken-out" > /dev/null 2> "$WORK/broken.log"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "a supervisor of a job that cannot start exited with $rc, not 1: $(tail -3 "$WORK/broken.log")"
grep -q "exited with status 2, 5 times in a row; the group stops" "$WORK/broken.log" ||
  fail "no word of the failing job: $(grep -v info "$WORK/broken.log" | tail -3)"

# b. and c. run on a live stream: each on a mock cluster of its own, the records produced a chunk at a
# time while supervisors are killed and join, so that every move happens mid-stream.
# fresh_mock NAME: another mock cluster (8 partitions), its address in BOOT.
fresh_mock() {
  "$MOCK" serve --brokers 1 --partitions 8 --topic access --lifetime 280 > "$WORK/$1.boot" 2> "$WORK/$1.mock.log" &
  wait_for "mock cluster $1" lines_ge "$WORK/$1.boot" 1
  BOOT=$(head -1 "$WORK/$1.boot")
}
# produce_live: produces in.log in 60 chunks, 0.5 s apart (about 35 s), in the background; PRODUCER is its pid.
produce_live() {
  (
    for i in $(seq 0 59); do
      sed -n "$((i * N / 60 + 1)),$(((i + 1) * N / 60))p" "$WORK/in.log" |
        "$MOCK" produce "$BOOT" access --key-field url || exit 1
      sleep 0.5
    done
  ) &
  PRODUCER=$!
}
producing() { kill -0 "$PRODUCER" 2>/dev/null; }
producer_done() {
  wait "$PRODUCER" || fail "producing failed"
}

# b. Two supervisors split the partitions; one is SIGKILLed mid-stream; the other takes over.
fresh_mock gb
start_group B1 gb "$SCRIPTS/url_count.lua"
wait_long 60 "B1's first assignment" owns_some B1
produce_live
start_group B2 gb "$SCRIPTS/url_count.lua"
wait_long 60 "B1 and B2 to split the partitions" split_among B1 B2
wait_long 60 "some output of group gb" union_ge gb $((N / 4))
producing || fail "every record was produced before the kill: the stream was too short for the group's joins"
b1_children=$(children B1)
kill -9 "$PID_B1"
wait "$PID_B1" 2>/dev/null || true
sleep 0.5
for c in $b1_children; do
  if kill -0 "$c" 2>/dev/null && grep -q "sluice" "/proc/$c/cmdline" 2>/dev/null; then
    fail "child $c of the killed supervisor still runs"
  fi
done
wait_long 60 "B2 to take over every partition" owns_all B2
producer_done
wait_long 90 "all $N records from group gb" union_ge gb "$N"
stop B2
expect_exact gb "after a SIGKILL and a takeover"

# c. A second and a third supervisor join a running one: the partitions move twice, counts stay exact.
fresh_mock gc
start_group C1 gc "$SCRIPTS/url_count.lua"
wait_long 60 "C1's first assignment" owns_some C1
produce_live
wait_long 60 "some output of group gc" union_ge gc $((N / 20))
start_group C2 gc "$SCRIPTS/url_count.lua"
wait_long 60 "C1 and C2 to split the partitions" split_among C1 C2
start_group C3 gc "$SCRIPTS/url_count.lua"
wait_long 60 "C1, C2 and C3 to split the partitions" split_among C1 C2 C3
producing || fail "every record was produced before the third supervisor joined: the stream was too short"
producer_done
wait_long 90 "all $N records from group gc" union_ge gc "$N"
stop C1
stop C2
stop C3
expect_exact gc "after two supervisors joined"
# A revoked partition's job stopped before the rebalance completed, so its next owner never found its
# state dir locked (on one machine, with every job stopping well within the session timeout).
# And no job exited but when its supervisor stopped it (an exit seen later is restarted, and said so).
for s in B1 B2 C1 C2 C3; do
  grep -q "still locked" "$WORK/$s.log" &&
    fail "$s found a state dir still locked after a rebalance: $(grep "still locked" "$WORK/$s.log" | head -1)"
  grep -q "restarting it\|when stopped" "$WORK/$s.log" && fail "$s: $(grep "restarting it\|when stopped" "$WORK/$s.log" | head -1)"
done
echo "kafka group: $N records over 8 partitions; one supervisor (with a locked state dir waited for), a" \
  "SIGKILLed one taken over, two joining: exact"
