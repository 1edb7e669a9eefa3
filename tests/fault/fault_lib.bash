# fault_lib.bash — shared by the fault tests (tests/e2e/fault_*.sh, enospc_tmpfs.sh, power_loss.sh), sourced
# after tests/e2e/lib.bash. It finds the shims (tests/fault/, paths from ctest's environment), runs sluice
# under one of them, and checks what every fault test asserts, the rule of issue 11:
#
#   the job either exits non-zero, or its output is exact; a restart after a non-zero exit (without the
#   fault) gives exact output; nothing exits 0 with a record missing; and sluice never dies of a signal
#   (an exit status >= 128 is a crash, 124 a hang).

# The shims interpose malloc and write, which AddressSanitizer's runtime must own: under ASan they cannot be
# preloaded, so the fault tests skip (ctest SKIP_RETURN_CODE 77) and run in the plain build.
fault_need_shims() {
  if [ "${SLUICE_SANITIZED:-OFF}" = ON ]; then
    echo "SKIP: the fault shims cannot be preloaded into a sanitized (ASan) sluice; they run in the plain build"
    exit 77
  fi
  local v
  for v in SLUICE_FAULT_LIB SLUICE_POWERLOSS_LIB SLUICE_POWERLOSS_APPLY SLUICE_FAULT_PROBE; do
    [ -e "${!v:-}" ] || fail "$v is not set to a built file (run through ctest, or export it)"
  done
}

# fault_seed: seeds $RANDOM from SEED (or a fresh one) and says how to repeat the run.
fault_seed() {
  SEED=${SEED:-$RANDOM}
  RANDOM=$SEED
  echo "seed $SEED (rerun with SEED=$SEED to repeat the same faults)"
}

# fault_status_ok NAME RC: an exit status is a failure of the job (1, 2), or success (0), never a crash.
fault_status_ok() {
  local name=$1 rc=$2
  if [ "$rc" -eq 124 ]; then
    fail "$name: sluice hung (killed by the time bound)"
  elif [ "$rc" -ge 128 ]; then
    fail "$name: sluice died of signal $((rc - 128)) (status $rc): a crash, not a clean failure"
  elif [ "$rc" -gt 2 ]; then
    fail "$name: exit status $rc is none of sluice's (0 done, 1 runtime failure, 2 bad start)"
  fi
}

# fault_rule NAME RC EXPECTED OUTPUT RESTART...: asserts the rule for one faulty run that exited with RC
# and left OUTPUT; RESTART... is the same sluice command without the fault, run if RC != 0.
fault_rule() {
  local name=$1 rc=$2 expected=$3 output=$4
  shift 4
  fault_status_ok "$name" "$rc"
  if [ "$rc" -eq 0 ]; then
    cmp -s "$expected" "$output" ||
      fail "$name: exit 0 but the output is not exact ($(wc -l < "$output" 2>/dev/null || echo no) lines of $(wc -l < "$expected"); $(cmp "$expected" "$output" 2>&1 | head -1))"
    return 0
  fi
  local rrc=0
  timeout 120 "$@" 2>> "$WORK/restart.log" || rrc=$?
  fault_status_ok "$name (restart without the fault)" "$rrc"
  [ "$rrc" -eq 0 ] || fail "$name: the restart without the fault exited $rrc: $(tail -2 "$WORK/restart.log")"
  cmp -s "$expected" "$output" ||
    fail "$name: the restart after exit $rc gave an output that is not exact ($(wc -l < "$output") lines of $(wc -l < "$expected"); $(cmp "$expected" "$output" 2>&1 | head -1))"
}

# fault_fired LOG: whether the fault shim logged a fired fault.
fault_fired() { grep -q '^fault ' "$1" 2>/dev/null; }

# fault_matched LOG: the number of matching calls the shim counted in a run (its exit line).
fault_matched() { awk -F'matched=' '/^exit /{ split($2, a, " "); n = a[1] } END { print n + 0 }' "$1"; }
