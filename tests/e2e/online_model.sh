# scripts/online_model.lua: per-URL Welford mean/stddev and z-score over the sample access log, and the
# model state carried across a restart (the second half continues the first half's model).
source "$(dirname "$0")/lib.bash"

run_sluice run "$SCRIPTS/online_model.lua" --input "$DATA/access.log" --state-dir "$WORK/s1" --quiet > "$WORK/out"
expect_same "$DATA/online_model.out" "$WORK/out"

head -20 "$DATA/access.log" > "$WORK/a.in"
tail -n +21 "$DATA/access.log" > "$WORK/b.in"
run_sluice run "$SCRIPTS/online_model.lua" --input "$WORK/a.in" --state-dir "$WORK/s2" --quiet > "$WORK/split"
run_sluice run "$SCRIPTS/online_model.lua" --input "$WORK/b.in" --state-dir "$WORK/s2" --quiet >> "$WORK/split"
expect_same "$DATA/online_model.out" "$WORK/split"
echo "ok: online_model"
