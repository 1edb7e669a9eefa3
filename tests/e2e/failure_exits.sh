# A failure under the records fails the job, loudly and once (issue 11, items 1, 2 and 8): a commit of
# pending output that hits a full disk, and an output buffer that cannot grow (a 20 MB record under a failed
# allocation), each end the run with exit 1 and one error line; the summary does not count output that was
# never written; a restart without the fault gives exactly the failure-free output.
source "$(dirname "$0")/lib.bash"
source "$SLUICE_SRC/tests/fault/fault_lib.bash"
fault_need_shims
JOB="$SLUICE_SRC/tests/e2e/big_field_job.lua"
gen_access 30000 31 > "$WORK/in.log"
run_sluice run "$JOB" --input "$WORK/in.log" --state-dir "$WORK/ref" --quiet --max-line-bytes 40000000 > "$WORK/ref.out"

# run_fault STATE FAULT [flags]: one run under the shim; exit status in $rc, stderr in $WORK/err.
run_fault() {
  local st=$1 spec=$2; shift 2
  set +e
  SLUICE_FAULT="$spec" LD_PRELOAD="$SLUICE_FAULT_LIB" timeout 120 "$SLUICE" run "$JOB" --input "$WORK/in.log" \
    --state-dir "$WORK/$st" --output "$WORK/$st.out" --max-line-bytes 40000000 "$@" 2> "$WORK/err"
  rc=$?
  set -e
  fault_status_ok $rc || fail "$(fault_status_says $rc)"
}
restart_exact() {
  run_sluice run "$JOB" --input "$WORK/in.log" --state-dir "$WORK/$1" --output "$WORK/$1.out" --quiet \
    --max-line-bytes 40000000 || fail "restart after the fault: exit $?"
  expect_same "$WORK/ref.out" "$WORK/$1.out"
}

# 1 + 8. Appending committed parts to the output fails with ENOSPC (copy_file_range and the write fallback,
# on the output file only): exit 1, one error line, the summary counts no more out than in.
run_fault c1 "op=copy_file_range|write|pwrite,path=c1.out,errno=ENOSPC,nth=2,sticky=1" --checkpoint-interval 20
[ $rc = 1 ] || fail "a failed commit of the output ended with exit $rc: $(grep -v info "$WORK/err")"
[ "$(grep -c 'error:' "$WORK/err")" = 1 ] || fail "not exactly one error line: $(grep error: "$WORK/err")"
grep -q "committing pending output.*No space left" "$WORK/err" || fail "the error does not say why: $(cat "$WORK/err")"
summary=$(grep "done:" "$WORK/err") || fail "no summary line"
in=$(sed 's/.*done: \([0-9]*\) records in.*/\1/' <<< "$summary")
out=$(sed 's/.* in, \([0-9]*\) out.*/\1/' <<< "$summary")
[ "$out" -le "$in" ] || fail "the summary counts $out out for $in in: $summary"
grep -q "(failed)" <<< "$summary" || fail "the summary does not say the run failed: $summary"
restart_exact c1

# 2. A 20 MB record whose output cannot be buffered (the output buffer's growth past 16 MiB fails): not a
# silently shorter output, but exit 1; the records after it are not skipped either.
{ head -n 100 "$WORK/in.log"
  printf '{"url": "/big", "body": "%s"}\n' "$(head -c 15000000 /dev/zero | tr '\0' x)"
  tail -n +101 "$WORK/in.log"; } > "$WORK/big.log"
mv "$WORK/big.log" "$WORK/in.log"
run_sluice run "$JOB" --input "$WORK/in.log" --state-dir "$WORK/ref2" --quiet --max-line-bytes 40000000 > "$WORK/ref.out"
[ "$(wc -l < "$WORK/ref.out")" = 30001 ] || fail "reference with the big record: $(wc -l < "$WORK/ref.out") lines"
run_fault m1 "op=realloc,min=16777216,nth=1" --checkpoint-interval 20
[ $rc = 1 ] || fail "an output buffer out of memory ended with exit $rc: $(grep -v info "$WORK/err")"
grep -q "out of memory" "$WORK/err" || fail "the error does not say out of memory: $(cat "$WORK/err")"
restart_exact m1
echo "ok: failures under the records fail the job"
