#!/usr/bin/env bash
# checkpoint_bench.sh [ROUNDS] — what checkpoints cost.
#  1. Size and duration of a full checkpoint with 10 k and with 1 M keys (URL count, one record per key and
#     then one more pass, checkpoints every second; the table is `sluice checkpoints` of the state dir):
#     every key changes between two checkpoints, the worst case for the barrier.
#  1b. A 1 M-key state that then sees 8 M records over 20 k hot keys, checkpoints every 500 ms: the usual
#     case, where each full checkpoint holds 1 M keys but few changed since the one before.
#  2. Throughput of the URL count on 1 M access records (over 10 k Zipf URLs, and the same records with 1 M
#     distinct URLs) with checkpoints every 1 s, every 100 ms, and only at the end, alternating ROUNDS times
#     in one run; each median also as a change against "only at the end".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
ROUNDS=${1:-3}
SLUICE=${SLUICE:-$src/build/sluice}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-ckbench.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ -z "${THROUGHPUT_ONLY:-}" ]; then # THROUGHPUT_ONLY=1 runs part 2 alone
for keys in 10000 1000000; do
  luajit -e "local n = $keys; local t = {}
    for pass = 1, 2 do for i = 1, n do t[#t + 1] = '{\"url\":\"/k/' .. i .. '\"}'
      if #t == 10000 then io.write(table.concat(t, '\n'), '\n'); t = {} end end end
    if #t > 0 then io.write(table.concat(t, '\n'), '\n') end" > "$work/keys.log"
  rm -rf "$work/st"
  t0=$(date +%s.%N)
  "$SLUICE" run "$src/scripts/url_count.lua" --input "$work/keys.log" --state-dir "$work/st" \
    --output "$work/out" --checkpoint-interval 1000 --retain-checkpoints 100 --quiet
  t1=$(date +%s.%N)
  printf '\n== %d keys, %d records, %.2f s\n' "$keys" $((2 * keys)) "$(echo "$t1 - $t0" | bc -l)"
  "$SLUICE" checkpoints "$work/st"
done

luajit -e "local t = {}
  for i = 1, 1000000 do t[#t + 1] = '{\"url\":\"/k/' .. i .. '\"}'
    if #t == 10000 then io.write(table.concat(t, '\n'), '\n'); t = {} end end
  local s = 7
  for i = 1, 8000000 do s = (s * 1103515245 + 12345) % 2147483648; t[#t + 1] = '{\"url\":\"/k/' .. (s % 20000) .. '\"}'
    if #t == 10000 then io.write(table.concat(t, '\n'), '\n'); t = {} end end" > "$work/keys.log"
rm -rf "$work/st"
t0=$(date +%s.%N)
"$SLUICE" run "$src/scripts/url_count.lua" --input "$work/keys.log" --state-dir "$work/st" \
  --output "$work/out" --checkpoint-interval 500 --retain-checkpoints 100 --quiet
t1=$(date +%s.%N)
printf '\n== 1000000 keys, then 8000000 records over 20000 hot keys, %.2f s\n' "$(echo "$t1 - $t0" | bc -l)"
"$SLUICE" checkpoints "$work/st"

fi

gen="$src/../shared/data/gen-records"
if [ -x "$gen" ]; then "$gen" access 1000000 > "$work/zipf.log"
else luajit "$src/tests/data/gen_access.lua" 1000000 1 10000 > "$work/zipf.log"; fi
# The same records with every url made distinct: 1 M keys, past the default cache (issue 13: "throughput
# with checkpoints every second within 10 % of checkpoints off" for a state larger than the cache).
perl -pe 's/"url":"[^"]*"/"url":"\/u\/$."/' "$work/zipf.log" > "$work/distinct.log"
declare -A times
for r in $(seq "$ROUNDS"); do
  for kind in zipf distinct; do
    for interval in 0 1000 100; do
      rm -rf "$work/st"
      t0=$(date +%s.%N)
      "$SLUICE" run "$src/scripts/url_count.lua" --input "$work/$kind.log" --state-dir "$work/st" \
        --output "$work/out" --overwrite-output --checkpoint-interval "$interval" --quiet
      t1=$(date +%s.%N)
      times[$kind.$interval]+="$(echo "$t1 - $t0" | bc -l) "
    done
  done
done
median() { printf '%s\n' $1 | sort -n | awk '{t[NR]=$1} END {print t[int((NR+1)/2)]}'; }
for kind in zipf distinct; do
  echo
  base=$(median "${times[$kind.0]}")
  for interval in 0 1000 100; do
    label=$([ "$interval" = 0 ] && echo "only at the end" || echo "every $interval ms")
    m=$(median "${times[$kind.$interval]}")
    printf '%-8s checkpoints %-16s median %.3f s (%.2f M rec/s, %+.1f %%) over: %s\n' "$kind" "$label" "$m" \
      "$(echo "1 / $m" | bc -l)" "$(echo "100 * ($m - $base) / $base" | bc -l)" "${times[$kind.$interval]}"
  done
done
