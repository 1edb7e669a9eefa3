#!/usr/bin/env bash
# distinct_keys.sh [N] [ROUNDS] [CACHE_MB] — what many keys cost (issue 13: "1 M distinct keys take at most
# 2x as long as 1 M records over 10 k Zipf keys, same run, alternated"). Runs sluice's URL count
# (scripts/url_count.lua, ValueState in LMDB, a checkpoint every second) on two inputs of N access records
# each, alternating them ROUNDS times in one run so that a noisy machine slows both alike:
#   zipf      N records over 10 k Zipf-distributed URLs (gen-records access N --urls 10000)
#   distinct  N records with N distinct URLs (gen-records' records, each url made unique: /u/<line>)
# Prints each run's wall time and CPU time (user + sys of the process and its threads), then the medians and
# the best of each, the ratio distinct / zipf of both, and the median of each round's own wall ratio. The best
# matters: today a run of either input sometimes takes about 4x its usual CPU time, nearly all of it in
# LuaJIT's interpreter rather than in compiled traces (seen on both inputs, with and without ASLR), which
# makes medians of a few rounds noise. (Another evening the spread was the machine's own: jit.p showed 58-71 %
# compiled code in runs of 0.58-0.99 s, and a plain LuaJIT loop varied 1.26-1.77 s.) Every run's output is
# checked: one record out per record in, and for the distinct input one count of 1 per record. CACHE_MB
# (default: sluice's default) is --state-cache-mb; SLUICE=path picks the binary (default build/sluice);
# JOB=path the job (default scripts/url_count.lua; tests/bench/url_count_rec_field.lua emits the URL it
# reads in Lua, as the URL count did before sluice.KEY).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
N=${1:-1000000}
ROUNDS=${2:-5}
CACHE=${3:-}
SLUICE=${SLUICE:-$src/build/sluice}
JOB=${JOB:-$src/scripts/url_count.lua}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-keys-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

gen="$src/../shared/data/gen-records"
records() { # records N URLS
  if [ -x "$gen" ]; then "$gen" access "$1" --urls "$2"; else luajit "$src/tests/data/gen_access.lua" "$1" 1 "$2"; fi
}
records "$N" 10000 > "$work/zipf.log"
records "$N" "$N" | perl -pe 's/"url":"[^"]*"/"url":"\/u\/$."/' > "$work/distinct.log"
echo "inputs: $N records each; zipf $(du -m "$work/zipf.log" | cut -f1) MB, distinct $(du -m "$work/distinct.log" | cut -f1) MB"
opt=()
[ -z "$CACHE" ] || opt=(--state-cache-mb "$CACHE")

# run INPUT: prints "wall cpu" in seconds (GNU time's %e and %U + %S cover every thread of the process).
run() {
  rm -rf "$work/state" "$work/out.jsonl"
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$SLUICE" run "$JOB" \
    --input "$work/$1.log" --state-dir "$work/state" --checkpoint-interval 1000 --output "$work/out.jsonl" \
    --quiet "${opt[@]}"
  local lines
  lines=$(wc -l < "$work/out.jsonl")
  [ "$lines" -eq "$N" ] || { echo "$1: expected $N output records, got $lines" >&2; exit 1; }
  if [ "$1" = distinct ]; then
    local ones
    ones=$(grep -c '"count": 1}' "$work/out.jsonl" || true)
    [ "$ones" -eq "$N" ] || { echo "distinct: expected $N counts of 1, got $ones" >&2; exit 1; }
  fi
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$work/time"
}

declare -A wall cpu
rounds="" # each round's own ratio: the two runs of a round are seconds apart, so a slow spell of a shared
          # machine slows both alike more often than it slows two medians taken over the whole run
for r in $(seq "$ROUNDS"); do
  declare -A this
  for kind in zipf distinct; do
    read -r w c < <(run "$kind")
    wall[$kind]+="$w " cpu[$kind]+="$c "
    this[$kind]=$w
    printf 'round %d %-8s wall %.3f s, cpu %.3f s\n' "$r" "$kind" "$w" "$c"
  done
  rounds+="$(echo "${this[distinct]} / ${this[zipf]}" | bc -l) "
done

median() { printf '%s\n' $1 | sort -n | awk '{t[NR]=$1} END {print t[int((NR+1)/2)]}'; }
best() { printf '%s\n' $1 | sort -n | head -1; }
for kind in zipf distinct; do
  printf '%-8s median wall %.3f s, cpu %.3f s; best wall %.3f s, cpu %.3f s\n' "$kind" \
    "$(median "${wall[$kind]}")" "$(median "${cpu[$kind]}")" "$(best "${wall[$kind]}")" "$(best "${cpu[$kind]}")"
done
for f in median best; do
  printf 'ratio distinct / zipf (%s): wall %.2fx, cpu %.2fx (target: at most 2x)\n' "$f" \
    "$(echo "$($f "${wall[distinct]}") / $($f "${wall[zipf]}")" | bc -l)" \
    "$(echo "$($f "${cpu[distinct]}") / $($f "${cpu[zipf]}")" | bc -l)"
done
printf 'ratio distinct / zipf (median of the rounds'"'"' own): wall %.2fx (target: at most 2x)\n' "$(median "$rounds")"
