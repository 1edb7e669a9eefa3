# I/O faults at random points of a run (tests/fault/faultinject.c): for each call the checkpoint and output
# paths make — write, pwrite, writev, fsync, fdatasync, rename, copy_file_range, ftruncate, open(O_CREAT) —
# the N-th call on a regular file fails with EIO or ENOSPC, once or from then on (a full disk), or writes
# half (a short write). Each run must keep the rule: exit non-zero (with a message) and then a restart without
# the fault gives the failure-free output byte for byte, or exit 0 with exactly that output. N is drawn from
# the number of such calls a failure-free run makes; the seed is printed, and a failure names the fault.
# Every other run takes incremental checkpoints.
source "$(dirname "$0")/lib.bash"
source "$SLUICE_SRC/tests/fault/fault_lib.bash"
fault_need_shims io
fault_seed
fault_job_init

OPS=${OPS:-write pwrite writev fsync fdatasync rename copy_file_range ftruncate open}
all_ops=${OPS// /|}
fault_reference "$all_ops"
for op in $OPS; do
  calls=$(fault_calls "$WORK/count.log" "$op")
  [ "$calls" -gt 0 ] || fail "a run makes no $op call on a regular file: this test would prove nothing"
  variants="errno=EIO errno=ENOSPC,sticky=1 errno=ENOSPC errno=EIO,sticky=1"
  case $op in
    write | pwrite | writev) variants="$variants errno=ENOSPC,short=1,sticky=1" ;;
    copy_file_range) variants="$variants errno=ENOSPC,short=1,sticky=1 errno=EXDEV" ;; # EXDEV: the read/pwrite fallback
  esac
  fired=0 i=0
  for v in $variants; do
    # Every other run takes incremental checkpoints (delta.snap and its chain are written and synced).
    FAULT_FLAGS=--full-checkpoints
    [ $((i % 2)) -eq 0 ] || FAULT_FLAGS=--incremental-checkpoints
    i=$((i + 1))
    fault_try "op=$op,nth=$((1 + RANDOM % calls)),$v"
    fired=$((fired + FAULT_FIRED))
  done
  FAULT_FLAGS=""
  [ "$fired" -gt 0 ] || fault_violation "no $op fault fired in any run: this test proved nothing"
  echo "$op: $fired of $(echo $variants | wc -w) faults fired"
done
fault_finish
echo "ok: I/O faults ($FAULT_RUNS runs, $FAULT_NONZERO exited non-zero and were restarted)"
