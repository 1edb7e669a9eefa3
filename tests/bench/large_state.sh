#!/usr/bin/env bash
# large_state.sh [N] — issue 13's figures for a state of N distinct keys (default 8 M), each printed with
# what it is checked against:
#   A. URL count over N records with N distinct URLs: time and peak RssAnon (tests/bench/memory_bench.sh,
#      which also checks every record was counted once), against
#   B. the plain LuaJIT + lua-cjson script (tests/bench/plain_url_count.lua) on the same input: "at least 3x
#      faster".
#   C. Then N/100 records over existing keys (1 % of the keys change), once with the default (incremental)
#      checkpoints and once, on a copy of the state, with --full-checkpoints: the bytes of the last
#      checkpoint of each (`sluice checkpoints`): "a checkpoint where 1 % changed writes < 10 % of a full".
#   D. Recovery after kill -9: a job following a file on the N-key state is killed with SIGKILL after a
#      checkpoint of it completed; one line is appended and the job started again: the time from the start to
#      its first output record ("< 3 s"), a record read again or the new one.
# SLUICE=path picks the binary (default build/sluice). Needs about 3 GB of disk per 8 M keys under TMPDIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
N=${1:-8000000}
SLUICE=${SLUICE:-$src/build/sluice}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-large.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
job=("$SLUICE" run "$src/scripts/url_count.lua")

gen="$src/../shared/data/gen-records"
if [ -x "$gen" ]; then "$gen" access "$N" --urls "$N"; else luajit "$src/tests/data/gen_access.lua" "$N" 1 "$N"; fi |
  perl -pe 's/"url":"[^"]*"/"url":"\/u\/$."/' > "$work/in.log"
echo "input: $N records, $N distinct URLs, $(du -m "$work/in.log" | cut -f1) MB"

echo "== A. sluice, default cache"
INPUT="$work/in.log" KEEP_STATE="$work/state" SLUICE="$SLUICE" bash "$here/memory_bench.sh" "$N" 64 | tee "$work/a.txt"
sluice_s=$(sed -n 's/.*MB: \([0-9.]*\) s,.*/\1/p' "$work/a.txt")

echo "== B. plain LuaJIT + lua-cjson"
/usr/bin/time -f '%e' -o "$work/b.time" luajit "$here/plain_url_count.lua" < "$work/in.log" > "$work/plain.out"
plain_s=$(cat "$work/b.time")
rm -f "$work/plain.out"
printf 'plain %.2f s, sluice %.2f s: sluice %.2fx faster (target: at least 3x)\n' "$plain_s" "$sluice_s" \
  "$(echo "$plain_s / $sluice_s" | bc -l)"

last_bytes() { "$SLUICE" checkpoints "$1" | awk '$NF == "complete" {b = $4; k = $3} END {print b, k}'; }
echo "== C. 1 % of the keys change"
head -n $((N / 100)) "$work/in.log" > "$work/hot.log"
cp -a "$work/state" "$work/state-full"
"${job[@]}" --input "$work/hot.log" --state-dir "$work/state" --output "$work/c1.out" --quiet
"${job[@]}" --input "$work/hot.log" --state-dir "$work/state-full" --output "$work/c2.out" --quiet \
  --full-checkpoints
read -r delta_bytes delta_kind < <(last_bytes "$work/state")
read -r full_bytes full_kind < <(last_bytes "$work/state-full")
rm -rf "$work/state-full"
twos=$(grep -c '"count": 2}' "$work/c1.out" || true)
[ "$twos" -eq $((N / 100)) ] || { echo "expected $((N / 100)) counts of 2, got $twos" >&2; exit 1; }
printf 'last checkpoint: %s %d bytes; with --full-checkpoints: %s %d bytes; %.2f %% (target: < 10 %%)\n' \
  "$delta_kind" "$delta_bytes" "$full_kind" "$full_bytes" "$(echo "100 * $delta_bytes / $full_bytes" | bc -l)"

echo "== D. recovery after kill -9"
newest() { "$SLUICE" checkpoints "$work/state" | awk '$NF == "complete" {id = $1} END {print id + 0}'; }
tail -n 1000 "$work/in.log" > "$work/extra.log"
before=$(newest)
: > "$work/d1.out" # there before the loop below reads it (the background job's redirect may come later)
"${job[@]}" --input "$work/extra.log" --follow --state-dir "$work/state" --checkpoint-interval 500 \
  --quiet > "$work/d1.out" &
pids+=($!)
deadline=$((SECONDS + 120))
until [ "$(wc -l < "$work/d1.out")" -ge 1000 ]; do
  [ $SECONDS -lt $deadline ] || { echo "the followed run did not output 1000 records in 120 s" >&2; exit 1; }
  sleep 0.1
done
# A checkpoint of this run completed (an idle job takes none after the last change, so there is no waiting
# for "the next one"); records it did not cover are read again after the restart, and count as output.
until [ "$(newest)" -gt "$before" ]; do
  [ $SECONDS -lt $deadline ] || { echo "no checkpoint completed in 120 s" >&2; exit 1; }
  sleep 0.1
done
sleep 1
kill -9 "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
head -n 1 "$work/in.log" >> "$work/extra.log"
mkfifo "$work/d2.fifo"
t0=$(date +%s.%N)
"${job[@]}" --input "$work/extra.log" --follow --state-dir "$work/state" --quiet > "$work/d2.fifo" &
pids+=($!)
first=$(head -n 1 < "$work/d2.fifo")
t1=$(date +%s.%N)
kill "${pids[1]}" 2>/dev/null || true
wait "${pids[1]}" 2>/dev/null || true
printf 'first record after restart: %s\nstart to first output record: %.2f s (target: < 3 s)\n' "$first" \
  "$(echo "$t1 - $t0" | bc -l)"
