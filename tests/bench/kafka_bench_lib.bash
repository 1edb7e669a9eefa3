# kafka_bench_lib.bash — what the Kafka benchmarks share (sourced by kafka_bench.sh and kafka_sink_bench.sh
# after `set -euo pipefail`): their arguments N, ROUNDS and PARTS (defaults 500000, 3, 64), the binaries
# (BUILD, SLUICE, MOCK), a scratch directory $work removed on exit with every background job stopped, and N
# access records in $work/access.log.
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
N=${1:-500000}
ROUNDS=${2:-3}
PARTS=${3:-64}
BUILD=${BUILD:-$src/build}
SLUICE=${SLUICE:-$BUILD/sluice}
MOCK=${MOCK:-$BUILD/kafka-mock}
work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

gen="$src/../shared/data/gen-records"
if [ -x "$gen" ]; then
  "$gen" access "$N" > "$work/access.log"
else
  luajit "$src/tests/data/gen_access.lua" "$N" 1 10000 > "$work/access.log"
fi
