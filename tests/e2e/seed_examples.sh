# The bundled jobs reproduce the seed examples byte for byte (shared/spec/seed-examples.md, sections 1-2).
source "$(dirname "$0")/lib.bash"

run_sluice run "$SCRIPTS/url_count.lua" --input "$DATA/seed_url_count.in" --state-dir "$WORK/s1" \
  --quiet > "$WORK/url.out"
expect_same "$DATA/seed_url_count.out" "$WORK/url.out"

run_sluice run "$SCRIPTS/lag.lua" --input "$DATA/seed_lag.in" --state-dir "$WORK/s2" --quiet > "$WORK/lag.out"
expect_same "$DATA/seed_lag.out" "$WORK/lag.out"

# stdin works as the default input, and --output writes a file.
run_sluice run "$SCRIPTS/url_count.lua" --state-dir "$WORK/s3" --output "$WORK/url2.out" --quiet \
  < "$DATA/seed_url_count.in"
expect_same "$DATA/seed_url_count.out" "$WORK/url2.out"

# Through a pipe (not a regular file) as well.
cat "$DATA/seed_lag.in" | run_sluice run "$SCRIPTS/lag.lua" --input - --state-dir "$WORK/s4" --quiet > "$WORK/lag2.out"
expect_same "$DATA/seed_lag.out" "$WORK/lag2.out"

# Many consumers come out in natural order (consumer2 before consumer10).
echo '{"timestamp": 7, "offset": {"consumer10": 1, "producer": 20, "consumer2": 5}}' > "$WORK/lag3.in"
run_sluice run "$SCRIPTS/lag.lua" --input "$WORK/lag3.in" --state-dir "$WORK/s5" --quiet > "$WORK/lag3.out"
echo '{"timestamp": 7, "lag": {"consumer2": 15, "consumer10": 19}}' > "$WORK/lag3.expected"
expect_same "$WORK/lag3.expected" "$WORK/lag3.out"
echo "ok: seed examples"
