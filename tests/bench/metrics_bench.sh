#!/usr/bin/env bash
# metrics_bench.sh [RUNS] [RECORDS] — what metrics cost on the hot path: the URL count over RECORDS
# (default 1 M) access records, run alternately without --metrics ("off") and with --metrics 127.0.0.1:0
# while curl scrapes /metrics every second ("on"), RUNS times each (default 7); prints each run and the
# median CPU time (user + sys) and wall time of each variant, and the difference in percent.
# SLUICE_BASELINE=/path/to/an/older/sluice adds a third variant ("base"): a binary without the metrics
# code at all (the registry's publisher and STATE-DIR/status.sock are always on, so "off" is not that).
# PARALLELISM=N runs the jobs at --parallelism N (default 1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
RUNS=${1:-7}
RECORDS=${2:-1000000}
SLUICE=${SLUICE:-$src/build/sluice}
PAR=${PARALLELISM:-1}
GEN=${GEN_RECORDS:-/work/shared/data/gen-records}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-metricsbench.XXXXXX")
scraper=
trap '[ -n "$scraper" ] && kill "$scraper" 2>/dev/null; rm -rf "$work"' EXIT

if [ -x "$GEN" ]; then "$GEN" access "$RECORDS" > "$work/in.log"
else luajit "$src/tests/data/gen_access.lua" "$RECORDS" > "$work/in.log"; fi
variants="off on"
[ -n "${SLUICE_BASELINE:-}" ] && variants="base off on"

# one VARIANT: runs the job once, appends "VARIANT wall user sys" to $work/times
one() {
  local v=$1 bin=$SLUICE extra=()
  [ "$v" = base ] && bin=$SLUICE_BASELINE
  [ "$v" = on ] && extra=(--metrics 127.0.0.1:0)
  rm -rf "$work/st" "$work/out"
  if [ "$v" = on ]; then
    ( while sleep 1; do [ -s "$work/st/metrics.addr" ] &&
        curl -sf --max-time 2 "http://$(cat "$work/st/metrics.addr")/metrics" > /dev/null || true; done ) &
    scraper=$!
  fi
  local t
  t=$( { TIMEFORMAT='%R %U %S'; time "$bin" run "$src/scripts/url_count.lua" --input "$work/in.log" \
         --state-dir "$work/st" --output "$work/out" --parallelism "$PAR" --quiet "${extra[@]}" 2>/dev/null; } 2>&1 )
  if [ -n "$scraper" ]; then kill "$scraper" 2>/dev/null || true; wait "$scraper" 2>/dev/null || true; scraper=; fi
  [ "$(wc -l < "$work/out")" = "$RECORDS" ] || { echo "run $v: wrong output" >&2; exit 1; }
  echo "$v $t" | tee -a "$work/times"
}

echo "url_count, $RECORDS records, --parallelism $PAR, $RUNS runs per variant (alternating); wall user sys in s:"
for _ in $(seq "$RUNS"); do
  for v in $variants; do one "$v"; done
done
echo
awk -v variants="$variants" '
  { cpu[$1] = cpu[$1] " " ($3 + $4); wall[$1] = wall[$1] " " $2 }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    n = split(variants, v, " ")
    for (i = 1; i <= n; i++) { c[v[i]] = median(cpu[v[i]]); w[v[i]] = median(wall[v[i]])
      printf "%-4s median cpu %.3f s, wall %.3f s\n", v[i], c[v[i]], w[v[i]] }
    printf "on vs off: cpu %+.1f %%, wall %+.1f %%\n", 100 * (c["on"] / c["off"] - 1), 100 * (w["on"] / w["off"] - 1)
    if (c["base"]) printf "on vs base: cpu %+.1f %%, wall %+.1f %%\n", 100 * (c["on"] / c["base"] - 1), 100 * (w["on"] / w["base"] - 1)
  }' "$work/times"
