# scripts/history_alert.lua: alerts when a consumer's lag grows more than N % over its previous record, from
# lag records and raw offsets records alike; the threshold comes from the script args.
source "$(dirname "$0")/lib.bash"

run_sluice run "$SCRIPTS/history_alert.lua" --input "$DATA/history_alert.in" --state-dir "$WORK/s1" --quiet \
  > "$WORK/out"
expect_same "$DATA/history_alert.out" "$WORK/out"

# A threshold of 100 % keeps only the growths above it.
run_sluice run "$SCRIPTS/history_alert.lua" --input "$DATA/history_alert.in" --state-dir "$WORK/s2" --quiet -- 100 \
  > "$WORK/out2"
grep -v '"growth_pct": 60}' "$DATA/history_alert.out" | grep -v '"growth_pct": 100}' > "$WORK/want2"
expect_same "$WORK/want2" "$WORK/out2"

# Fed by the lag job's output.
run_sluice run "$SCRIPTS/lag.lua" --input "$DATA/seed_lag.in" --state-dir "$WORK/s3" --quiet \
  | run_sluice run "$SCRIPTS/history_alert.lua" --state-dir "$WORK/s4" --quiet > "$WORK/out3"
[ ! -s "$WORK/out3" ] || fail "one lag record cannot alert"
echo "ok: history_alert"
