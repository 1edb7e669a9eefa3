#!/usr/bin/env bash
# kafka_bench.sh [N] [ROUNDS] [PARTITIONS] — records/s of scripts/url_count.lua reading N access records
# from a Kafka topic (librdkafka's mock cluster, 1 broker, PARTITIONS partitions (default 64), produced
# without keys so that they spread evenly: tests/kafka/mock_cluster.c) next
# to the same job over the same records in a file. The Kafka time runs from the start of the process until
# the output holds all N records (the file sink commits at checkpoints, every 100 ms here), so it includes
# the start-up and up to one checkpoint interval; the file run's is the whole bounded run. The outputs are
# checked to end with the same count per URL, so neither can cheat (records of a URL are in several
# partitions here, so only the final counts, not their order, are comparable). The mock keeps at most 5 MiB or 100000
# messages per partition (older ones are deleted, as by retention), so N is bounded by PARTITIONS: a run
# that cannot see all N records says so instead of waiting.
set -euo pipefail
source "$(dirname "$0")/kafka_bench_lib.bash" "$@"
"$MOCK" serve --brokers 1 --partitions "$PARTS" --topic access --lifetime 3600 > "$work/boot" &
for _ in $(seq 200); do [ -s "$work/boot" ] && break; sleep 0.05; done
boot=$(head -1 "$work/boot")
t0=$(date +%s.%N)
"$MOCK" produce "$boot" access < "$work/access.log"
echo "input: $N records, $(du -m "$work/access.log" | cut -f1) MB, produced in $(echo "$(date +%s.%N) - $t0" | bc -l | cut -c1-5) s"

now() { date +%s.%N; }
# The last (highest) count of every URL.
finals() { awk -F'"' '{ c = $7; gsub(/[^0-9]/, "", c); if (c + 0 > m[$4]) m[$4] = c + 0 } END { for (u in m) print u, m[u] }' "$1" | LC_ALL=C sort; }
for r in $(seq "$ROUNDS"); do
  rm -rf "$work/fstate" "$work/kstate" "$work/kafka.out" "$work/file.out"
  t0=$(now)
  "$SLUICE" run "$src/scripts/url_count.lua" --input "$work/access.log" --state-dir "$work/fstate" \
    --output "$work/file.out" --quiet 2> /dev/null
  t1=$(now)
  "$SLUICE" run "$src/scripts/url_count.lua" --input "kafka://$boot/access" --state-dir "$work/kstate" \
    --output "$work/kafka.out" --checkpoint-interval 100 --quiet 2> /dev/null &
  pid=$!
  for i in $(seq 3000); do
    [ "$(wc -l 2> /dev/null < "$work/kafka.out" || echo 0)" -ge "$N" ] && break
    sleep 0.02
  done
  [ "$i" -lt 3000 ] || { echo "the job saw $(wc -l < "$work/kafka.out") of $N records in 60 s: more than the mock keeps per partition? (use more partitions)" >&2; exit 1; }
  t2=$(now)
  kill -TERM "$pid"
  wait "$pid"
  cmp -s <(finals "$work/file.out") <(finals "$work/kafka.out") || { echo "final counts differ!" >&2; exit 1; }
  printf 'round %d: file %.3f s (%.0f rec/s), kafka %.3f s (%.0f rec/s)\n' "$r" "$(echo "$t1 - $t0" | bc -l)" \
    "$(echo "$N / ($t1 - $t0)" | bc -l)" "$(echo "$t2 - $t1" | bc -l)" "$(echo "$N / ($t2 - $t1)" | bc -l)"
done
