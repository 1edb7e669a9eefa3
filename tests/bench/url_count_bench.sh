#!/usr/bin/env bash
# url_count_bench.sh [N] [ROUNDS] — sluice's URL count (state in LMDB, commits every second) against the
# plain LuaJIT + lua-cjson script a user would write instead, on the same N access records, alternating
# the two ROUNDS times in one run. Prints records/s for each (best and median) and the ratio. Both write
# their output to a file, and the outputs are checked to be identical, so neither can cheat.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
N=${1:-1000000}
ROUNDS=${2:-5}
SLUICE=${SLUICE:-$src/build/sluice}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

gen="$src/../shared/data/gen-records"
if [ -x "$gen" ]; then
  "$gen" access "$N" > "$work/access.log"
else
  luajit "$src/tests/data/gen_access.lua" "$N" 1 10000 > "$work/access.log"
fi
echo "input: $N records, $(du -m "$work/access.log" | cut -f1) MB ($([ -x "$gen" ] && echo gen-records || echo gen_access.lua))"

now() { date +%s.%N; }
sluice_times=() plain_times=()
for r in $(seq "$ROUNDS"); do
  rm -rf "$work/state" "$work/sluice.out" # a fresh run: sluice refuses to cut back an output it did not write
  t0=$(now)
  "$SLUICE" run "$src/scripts/url_count.lua" --input "$work/access.log" --state-dir "$work/state" \
    --checkpoint-interval 1000 --output "$work/sluice.out" --quiet
  t1=$(now)
  luajit "$here/plain_url_count.lua" < "$work/access.log" > "$work/plain.out"
  t2=$(now)
  sluice_times+=("$(echo "$t1 - $t0" | bc -l)")
  plain_times+=("$(echo "$t2 - $t1" | bc -l)")
  cmp -s "$work/sluice.out" "$work/plain.out" || { echo "outputs differ!" >&2; exit 1; }
  printf 'round %d: sluice %.3f s, plain %.3f s\n' "$r" "${sluice_times[-1]}" "${plain_times[-1]}"
done

stats() { printf '%s\n' "$@" | sort -n | awk -v n="$N" '{t[NR]=$1} END {printf "best %.3f s (%.2f M rec/s), median %.3f s (%.2f M rec/s)", t[1], n/t[1]/1e6, t[int((NR+1)/2)], n/t[int((NR+1)/2)]/1e6}'; }
echo "sluice (LMDB state, commit every 1 s): $(stats "${sluice_times[@]}")"
echo "plain LuaJIT + lua-cjson:             $(stats "${plain_times[@]}")"
s_med=$(printf '%s\n' "${sluice_times[@]}" | sort -n | awk '{t[NR]=$1} END {print t[int((NR+1)/2)]}')
p_med=$(printf '%s\n' "${plain_times[@]}" | sort -n | awk '{t[NR]=$1} END {print t[int((NR+1)/2)]}')
printf 'ratio (median plain / median sluice): %.2fx\n' "$(echo "$p_med / $s_med" | bc -l)"
echo "state after the last sluice run: $(du -sh "$work/state" | cut -f1)"
