# A job that reads part of a topic's partitions (as a `sluice group` child does) keeps each partition's
# state apart: right only when it keys records by their message key. Keyed by another field (request), one key's
# state would be split over the processes of its partitions, so the job fails (exit 1, saying why) before
# any output of it is committed, at parallelism 1 and 2, and with a key function; keyed by the field that is
# the message key it runs (the url-keyed topic, by url).
source "$(dirname "$0")/lib.bash"
source "$(dirname "$0")/kafka_lib.bash"

start_mock 1 4
gen_access 2000 5 50 | "$MOCK" produce "$BOOT" access --key-field url || fail "producing failed"
URL="kafka://$BOOT/access?partitions=1,2&fetch.wait.max.ms=20"

# By url, the message key: it runs, and counts the two partitions' records.
run_until "$WORK/ok" "$WORK/ok.out" 1 "$SCRIPTS/url_count.lua"
[ -s "$WORK/ok.out" ] || fail "the url-keyed job wrote nothing"

refused() { # WHAT STATE SCRIPT [OPTIONS] [-- ARGS]: the run must fail with exit 1, naming the reason, and
  local what=$1 state=$2 script=$3 # commit no output
  shift 3
  set +e
  timeout 60 "$SLUICE" run "$script" --input "$URL" --state-dir "$WORK/$state" --output "$WORK/$state.out" \
    --checkpoint-interval 100 "$@" 2> "$WORK/$state.log"
  local rc=$?
  set -e
  [ "$rc" -eq 1 ] || fail "$what: exited with $rc, not 1: $(tail -3 "$WORK/$state.log")"
  grep -q "is not the Kafka record's message key" "$WORK/$state.log" || fail "$what: no reason: $(tail -3 "$WORK/$state.log")"
  [ ! -s "$WORK/$state.out" ] || fail "$what: output was committed"
}
refused "keyed by request" bym "$SCRIPTS/url_count.lua" -- request
refused "keyed by request at parallelism 2" bym2 "$SCRIPTS/url_count.lua" --parallelism 2 -- request
cat > "$WORK/by_fn.lua" <<'LUA'
local sluice = require "sluice"
return sluice.job "by-fn"
  :key_by(function(rec) return rec.url .. "!" end)
  :process("count", function(ctx, rec)
    local n = ctx:value("count", 0)
    n:update(n:value() + 1)
    ctx:emit_fields({ "url", "count" }, rec.url, n:value())
  end)
LUA
refused "keyed by a function" byfn "$WORK/by_fn.lua"
echo "kafka rekey: by the message key runs; by another field or function: refused"
