#!/usr/bin/env bash
# parallel_bench.sh [ROUNDS] [SIZES...] — the URL count at --parallelism 1 and 2, alternated ROUNDS times
# (default 3) in one run, on N access records for each N of SIZES (default 1000000 2400000), once with one
# input file (at parallelism 2 it is read in two line-aligned splits, one per subtask, and the exchange
# sends each record to its key's subtask) and once with the input in two files (each subtask reads one). Prints the median wall time and CPU time (user + sys)
# of each and the speedup p1/p2 of the medians. Every run's output is checked against the first at
# parallelism 1, per URL (records in the same order for each URL; order across URLs may differ).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
ROUNDS=${1:-3}
shift || true
SIZES=("$@")
[ "${#SIZES[@]}" -gt 0 ] || SIZES=(1000000 2400000)
SLUICE=${SLUICE:-$src/build/sluice}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
gen="$src/../shared/data/gen-records"
by_key() { LC_ALL=C sort -s -t'"' -k4,4 "$1"; }
median() { printf '%s\n' "$@" | sort -n | awk '{t[NR]=$1} END {print t[int((NR+1)/2)]}'; }
echo "machine: $(nproc) cores; sluice $("$SLUICE" --version 2>&1 | head -n 1)"

# run P NAME INPUTS...: one timed run; appends wall and CPU seconds to the arrays named wall_P_NAME, cpu_P_NAME.
run() {
  local p=$1 name=$2; shift 2
  local ins=() f
  for f in "$@"; do ins+=(--input "$f"); done
  rm -rf "$work/state" "$work/out"
  /usr/bin/time -f "%e %U %S" -o "$work/time" "$SLUICE" run "$src/scripts/url_count.lua" "${ins[@]}" \
    --state-dir "$work/state" --output "$work/out" --parallelism "$p" --checkpoint-interval 1000 --quiet
  read -r wall user sys < "$work/time"
  eval "wall_${p}_$name+=($wall); cpu_${p}_$name+=($(echo "$user + $sys" | bc -l))"
  by_key "$work/out" > "$work/out.sorted"
  if [ ! -f "$work/ref.sorted" ]; then
    mv "$work/out.sorted" "$work/ref.sorted"
  elif ! cmp -s "$work/ref.sorted" "$work/out.sorted"; then
    echo "output at parallelism $p ($name) differs from the first run's per URL!" >&2
    exit 1
  fi
}

for n in "${SIZES[@]}"; do
  if [ -x "$gen" ]; then "$gen" access "$n" > "$work/in.log"; else luajit "$src/tests/data/gen_access.lua" "$n" 1 10000 > "$work/in.log"; fi
  head -n $((n / 2)) "$work/in.log" > "$work/a.log"
  tail -n +$((n / 2 + 1)) "$work/in.log" > "$work/b.log"
  rm -f "$work/ref.sorted"
  for name in one two; do
    eval "wall_1_$name=(); cpu_1_$name=(); wall_2_$name=(); cpu_2_$name=()"
  done
  for r in $(seq "$ROUNDS"); do
    run 1 one "$work/in.log"
    run 2 one "$work/in.log"
    run 1 two "$work/a.log" "$work/b.log"
    run 2 two "$work/a.log" "$work/b.log"
  done
  echo "== $n records ($(du -m "$work/in.log" | cut -f1) MB), $ROUNDS rounds, medians:"
  for name in one two; do
    eval "w1=\$(median \"\${wall_1_$name[@]}\"); c1=\$(median \"\${cpu_1_$name[@]}\")"
    eval "w2=\$(median \"\${wall_2_$name[@]}\"); c2=\$(median \"\${cpu_2_$name[@]}\")"
    label=$([ "$name" = one ] && echo "1 input file " || echo "2 input files")
    printf '%s: p1 %.3f s (cpu %.2f s, %.2f M rec/s)  p2 %.3f s (cpu %.2f s, %.2f M rec/s)  speedup p1/p2 %.2fx\n' \
      "$label" "$w1" "$c1" "$(echo "$n / $w1 / 1000000" | bc -l)" "$w2" "$c2" \
      "$(echo "$n / $w2 / 1000000" | bc -l)" "$(echo "$w1 / $w2" | bc -l)"
  done
done
