#!/usr/bin/env bash
# kafka_sink_bench.sh [N] [ROUNDS] [PARTITIONS] — records/s of scripts/url_count.lua reading N access records
# from a file and writing its N output records to a Kafka topic (librdkafka's mock cluster, 1 broker, a topic
# of PARTITIONS partitions (default 64), keyed by url), with delivery=exactly-once (one transaction per
# checkpoint) and delivery=at-least-once (the idempotent producer), next to the same job writing a file
# (ROUNDS at most 8: a topic per run; the mock keeps at most 100000 messages per partition, so N is bounded
# by PARTITIONS).
# Each time is the whole bounded run, from the start of the process until it exited (0) with its final
# checkpoint complete, so the records are in the topic (committed, for exactly-once) when it is taken. The
# topic is read back (kafka-mock consume) after each run and must hold N records ending with the file run's
# count per URL. Checkpoints every 1000 ms (the default).
set -euo pipefail
source "$(dirname "$0")/kafka_bench_lib.bash" "$@"
echo "input: $N records, $(du -m "$work/access.log" | cut -f1) MB"
topics=""
for i in $(seq $((2 * ROUNDS))); do topics="$topics --topic out$i"; done
# shellcheck disable=SC2086 # one word per --topic and name
"$MOCK" serve --brokers 1 --partitions "$PARTS" $topics --lifetime 3600 > "$work/boot" &
for _ in $(seq 200); do [ -s "$work/boot" ] && break; sleep 0.05; done
boot=$(head -1 "$work/boot")

now() { date +%s.%N; }
# The last (highest) count of every URL.
finals() { awk -F'"' '{ c = $7; gsub(/[^0-9]/, "", c); if (c + 0 > m[$4]) m[$4] = c + 0 } END { for (u in m) print u, m[u] }' "$1" | LC_ALL=C sort; }
rate() { echo "$N / ($2 - $1)" | bc -l; }
run=0
for r in $(seq "$ROUNDS"); do
  rm -rf "$work"/state-* "$work/file.out"
  t0=$(now)
  "$SLUICE" run "$src/scripts/url_count.lua" --input "$work/access.log" --state-dir "$work/state-file" \
    --output "$work/file.out" --quiet 2> /dev/null
  t1=$(now)
  line="round $r: file $(printf '%.3f s (%.0f rec/s)' "$(echo "$t1 - $t0" | bc -l)" "$(rate "$t0" "$t1")")"
  for delivery in exactly-once at-least-once; do
    run=$((run + 1))
    topic="out$run"
    t0=$(now)
    "$SLUICE" run "$src/scripts/url_count.lua" --input "$work/access.log" --state-dir "$work/state-$delivery" \
      --output "kafka://$boot/$topic?key=url&delivery=$delivery" --quiet 2> "$work/err" ||
      { echo "the $delivery run failed: $(tail -2 "$work/err")" >&2; exit 1; }
    t1=$(now)
    "$MOCK" consume "$boot" "$topic" > "$work/topic.out"
    [ "$(wc -l < "$work/topic.out")" -eq "$N" ] || { echo "$delivery: the topic holds $(wc -l < "$work/topic.out") records, not $N" >&2; exit 1; }
    cmp -s <(finals "$work/file.out") <(finals "$work/topic.out") || { echo "$delivery: final counts differ!" >&2; exit 1; }
    line="$line, kafka $delivery $(printf '%.3f s (%.0f rec/s)' "$(echo "$t1 - $t0" | bc -l)" "$(rate "$t0" "$t1")")"
  done
  echo "$line"
done
