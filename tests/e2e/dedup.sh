# scripts/dedup.lua: first record of each request_id (or whole line) kept byte for byte, repeats dropped,
# also across a restart with the same state dir, by another field, and with a TTL argument.
source "$(dirname "$0")/lib.bash"

run_sluice run "$SCRIPTS/dedup.lua" --input "$DATA/dedup.in" --state-dir "$WORK/s1" --quiet > "$WORK/out"
expect_same "$DATA/dedup.out" "$WORK/out"

# A restart remembers what was seen: only the new id comes out.
printf '%s\n' '{"request_id": "r1", "url": "/again"}' '{"request_id": "r9", "url": "/new"}' > "$WORK/more.in"
run_sluice run "$SCRIPTS/dedup.lua" --input "$WORK/more.in" --state-dir "$WORK/s1" --quiet > "$WORK/out2"
echo '{"request_id": "r9", "url": "/new"}' > "$WORK/want2"
expect_same "$WORK/want2" "$WORK/out2"

# By url, with a TTL far longer than the test: the same as without one.
run_sluice run "$SCRIPTS/dedup.lua" --input "$DATA/dedup.in" --state-dir "$WORK/s2" --quiet -- url 3600000 \
  > "$WORK/out3"
printf '%s\n' '{"request_id": "r1", "url": "/a"}' '{"request_id": "r2", "url": "/b"}' '{"url": "/no-id"}' \
  '{"request_id": "r3",  "url": "/c"}' '{"request_id": 7, "url": "/n"}' '{"request_id": "r2", "url": "/b2"}' \
  '{"request_id": "7", "url": "/s"}' > "$WORK/want3"
expect_same "$WORK/want3" "$WORK/out3"
echo "ok: dedup"
