# Backpressure: with a reader that does not read, sluice stops reading its input instead of buffering it.
# 300 k records (~45 MB) go through a pipe into sluice, whose output pipe nobody drains for a while: the
# writer upstream must stall with most of the input unsent, and sluice's memory must stay small.
source "$(dirname "$0")/lib.bash"

gen_access 300000 8 1000 > "$WORK/in.log"
mkfifo "$WORK/out.fifo"
pv_count="$WORK/sent"
# The writer counts what it managed to hand to sluice.
( cat "$WORK/in.log" | tee >(wc -c > "$pv_count") ) | "$SLUICE" run "$SCRIPTS/url_count.lua" \
  --state-dir "$WORK/st" --quiet > "$WORK/out.fifo" &
pid=$! # the last process of the pipeline: sluice
exec 3<"$WORK/out.fifo" # open the reading end, but do not read yet
sleep 1.5
[ -d "/proc/$pid" ] || fail "sluice is not running"
comm=$(cat "/proc/$pid/comm"); [ "$comm" = sluice ] || fail "found $comm, not sluice"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
echo "sluice RSS while its output is blocked: ${rss_kb} kB"
[ "$rss_kb" -lt 65536 ] || fail "sluice buffered its input: RSS ${rss_kb} kB"
[ ! -s "$pv_count" ] || fail "the whole input was accepted although the output is blocked"
# Now drain: everything arrives, in order, once.
cat <&3 > "$WORK/out"
exec 3<&-
wait
[ "$(wc -l < "$WORK/out")" -eq 300000 ] || fail "$(wc -l < "$WORK/out") records came out"
echo "ok: backpressure"
