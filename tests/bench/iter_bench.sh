#!/usr/bin/env bash
# iter_bench.sh [SIZES...] — a job that puts into a MapState and iterates it on every record
# (map_iter_job.lua), run by the real sluice binary on N access records with N/2 distinct URLs, for each N
# (default 10000 40000 160000). Prints the time of each run and the ratio to the previous one: opening an
# iterator must cost what it must, so the time grows linearly with N (a 4x larger input takes about 4x as
# long; it took 9x and more when every iterator open scanned the whole cache).
# SLUICE=path/to/sluice overrides the binary (default build/sluice).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
SLUICE=${SLUICE:-$src/build/sluice}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 40000 160000)
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-iter-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
gen="$src/../shared/data/gen-records"

now() { date +%s.%N; }
prev=
for n in "${sizes[@]}"; do
  if [ -x "$gen" ]; then
    "$gen" access "$n" --urls $((n / 2)) > "$work/in.log"
  else
    luajit "$src/tests/data/gen_access.lua" "$n" 1 $((n / 2)) > "$work/in.log"
  fi
  rm -rf "$work/state" "$work/out.jsonl"
  t0=$(now)
  "$SLUICE" run "$here/map_iter_job.lua" --input "$work/in.log" --state-dir "$work/state" \
    --checkpoint-interval 1000 --output "$work/out.jsonl" --quiet
  t1=$(now)
  lines=$(wc -l < "$work/out.jsonl")
  [ "$lines" -eq "$n" ] || { echo "expected $n output records, got $lines" >&2; exit 1; }
  keys=$(grep -o '"url":"[^"]*"' "$work/in.log" | sort -u | wc -l)
  t=$(echo "$t1 - $t0" | bc -l)
  if [ -n "$prev" ]; then
    printf '%7d records (%d distinct urls): %6.2f s  (%.1fx the previous)\n' "$n" "$keys" "$t" "$(echo "$t / $prev" | bc -l)"
  else
    printf '%7d records (%d distinct urls): %6.2f s\n' "$n" "$keys" "$t"
  fi
  prev=$t
done
