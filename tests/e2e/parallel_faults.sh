#!/usr/bin/env bash
# parallel_faults.sh — I/O faults under a parallel job (tests/fault/faultinject.c preloaded): at
# --parallelism 2 a failed write, fsync, rename or copy (EIO, ENOSPC, once or from then on — a full disk) in
# a subtask's output or snapshot, the job's gathered output, its metadata or its commit either fails the job
# (exit 1 or 2, with an error line) or costs one checkpoint; then a restart without the fault gives every
# record exactly once (compared per URL with the failure-free run: order across URLs may differ).
source "$(dirname "$0")/lib.bash"
source "$SLUICE_SRC/tests/fault/fault_lib.bash"
fault_need_shims io

gen_access 40000 > "$WORK/in.log"
run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --state-dir "$WORK/ref" --output "$WORK/ref.out" --quiet
nonzero=0 runs=0
for op in write pwrite fsync fdatasync rename copy_file_range open; do
  for v in "errno=EIO" "errno=ENOSPC,sticky=1"; do
    nth=$((1 + RANDOM % 12))
    rm -rf "$WORK/st" "$WORK/out"
    rc=0
    SLUICE_FAULT="op=$op,nth=$nth,$v" LD_PRELOAD=$(fault_preload "$SLUICE_FAULT_LIB") timeout 120 "$SLUICE" run \
      "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" \
      --parallelism 2 --checkpoint-interval 20 --quiet 2> "$WORK/err" || rc=$?
    runs=$((runs + 1))
    what="op=$op,nth=$nth,$v: exit $rc"
    [ "$rc" -le 2 ] || fail "$what (a crash or a signal): $(tail -3 "$WORK/err")"
    if [ "$rc" -ne 0 ]; then
      nonzero=$((nonzero + 1))
      grep -q "^sluice: error: " "$WORK/err" || fail "$what without an error line: $(tail -3 "$WORK/err")"
      run_sluice run "$SCRIPTS/url_count.lua" --input "$WORK/in.log" --state-dir "$WORK/st" --output "$WORK/out" \
        --parallelism 2 --quiet 2> "$WORK/err2" || fail "$what: the restart failed: $(tail -3 "$WORK/err2")"
    fi
    expect_keys "$WORK/ref.out" "$WORK/out" "$what: the output is not every record exactly once"
  done
done
[ "$nonzero" -gt 0 ] || fail "no fault made a run fail: this test proved nothing"
echo "ok: parallel I/O faults ($runs runs, $nonzero failed and were restarted)"
