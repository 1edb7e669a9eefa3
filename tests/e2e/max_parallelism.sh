# --max-parallelism M: the number of key groups keyed state is stored under (hash(key) % M). It is stored
# in every checkpoint and fixed for the life of the state: a restore with another M is refused (exit 2,
# naming both), and nothing changes; the counts themselves do not depend on M.
source "$(dirname "$0")/lib.bash"
JOB="$SCRIPTS/url_count.lua"
gen_access 3000 41 > "$WORK/all.log"
run_sluice run "$JOB" --input "$WORK/all.log" --state-dir "$WORK/ref" --quiet > "$WORK/ref.out"
head -n 1000 "$WORK/all.log" > "$WORK/in.log"

run() { # run STATE OUT [flags]: exit status in $rc
  local st=$1 out=$2; shift 2
  set +e
  run_sluice run "$JOB" --input "$WORK/in.log" --state-dir "$WORK/$st" --output "$WORK/$out" --quiet "$@" 2> "$WORK/err"
  rc=$?
  set -e
}

# A job at the default (128); a restart asking for 64 is refused and changes nothing.
run s1 o1; [ $rc = 0 ] || fail "first run: $rc"
grep -qx "max_parallelism 128" "$(ls -d "$WORK"/s1/checkpoints/chk-* | tail -1)/_metadata" || fail "M not in the checkpoint"
sed -n '1001,2000p' "$WORK/all.log" >> "$WORK/in.log"
cp "$WORK/o1" "$WORK/o1.before"
run s1 o1 --max-parallelism 64
[ $rc = 2 ] || fail "a restore with another max parallelism: exit $rc"
grep -q "taken with --max-parallelism 128, and this run asks for 64" "$WORK/err" || fail "unclear: $(cat "$WORK/err")"
expect_same "$WORK/o1.before" "$WORK/o1"
run s1 o1; [ $rc = 0 ] || fail "restart at 128: $rc $(cat "$WORK/err")"
sed -n '2001,3000p' "$WORK/all.log" >> "$WORK/in.log"
run s1 o1 --max-parallelism 128; [ $rc = 0 ] || fail "restart with 128 said: $rc"
expect_same "$WORK/ref.out" "$WORK/o1"

# Another M from the start: the same counts; it is kept, and a savepoint of it carries it too.
cp "$WORK/all.log" "$WORK/in.log"
run s7 o7 --max-parallelism 7; [ $rc = 0 ] || fail "M=7: $rc $(cat "$WORK/err")"
expect_same "$WORK/ref.out" "$WORK/o7"
chk=$(ls -d "$WORK"/s7/checkpoints/chk-* | tail -1)
grep -qx "max_parallelism 7" "$chk/_metadata" || fail "M=7 not in the checkpoint"
run s7b o7b --from-savepoint "$chk"
[ $rc = 2 ] || fail "a savepoint taken at M=7 restored at 128: exit $rc"
run s7c o7c --from-savepoint "$chk" --max-parallelism 7; [ $rc = 0 ] || fail "restore at 7: $rc $(cat "$WORK/err")"

# Out of range.
for m in 0 32769 x; do
  run bad obad --max-parallelism $m
  [ $rc = 2 ] || fail "--max-parallelism $m accepted (exit $rc)"
done
echo "ok: max parallelism"
