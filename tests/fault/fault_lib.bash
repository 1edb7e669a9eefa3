# fault_lib.bash — shared by the fault tests (tests/e2e/fault_*.sh, enospc_tmpfs.sh, power_loss.sh), sourced
# after tests/e2e/lib.bash. It finds the shims (tests/fault/, paths from ctest's environment), runs sluice
# under one of them, and checks what every fault test asserts, the rule of issue 11:
#
#   the job either exits non-zero, or its output is exact; a restart after a non-zero exit (without the
#   fault) gives exact output; nothing exits 0 with a record missing; and sluice never dies of a signal
#   (an exit status >= 128 is a crash, 124 a hang).

# fault_need_shims [io]: checks that the tools are built. In the sanitized build (ASan + UBSan) the ASan
# runtime must be the first library loaded, and ASan's allocator owns malloc, which the fault shim then cannot
# fail: there a test is skipped (ctest SKIP_RETURN_CODE 77; it runs in the plain build) unless it says `io`
# (it fails only I/O calls, or preloads the power-loss shim) and preloads with fault_preload, which puts
# the ASan runtime before the shim.
FAULT_PRELOAD_FIRST=""
fault_need_shims() {
  local v
  for v in SLUICE_FAULT_LIB SLUICE_POWERLOSS_LIB SLUICE_POWERLOSS_APPLY SLUICE_FAULT_PROBE; do
    [ -e "${!v:-}" ] || fail "$v is not set to a built file (run through ctest, or export it)"
  done
  [ "${SLUICE_SANITIZED:-OFF}" = ON ] || return 0
  if [ "${1:-}" != io ]; then
    echo "SKIP: under ASan its allocator owns malloc and its runtime must load first; this runs in the plain build"
    exit 77
  fi
  FAULT_PRELOAD_FIRST=$(ldd "$SLUICE" | awk '/libasan/ { print $3 }')
  [ -n "$FAULT_PRELOAD_FIRST" ] || fail "SLUICE_SANITIZED=ON but $SLUICE does not load libasan"
  FAULT_PRELOAD_FIRST=$FAULT_PRELOAD_FIRST:
}
# fault_preload SHIM: the LD_PRELOAD value that puts SHIM into sluice.
fault_preload() { echo "$FAULT_PRELOAD_FIRST$1"; }

# fault_seed: seeds $RANDOM from SEED (or a fresh one) and says how to repeat the run.
fault_seed() {
  SEED=${SEED:-$RANDOM}
  RANDOM=$SEED
  echo "seed $SEED (rerun with SEED=$SEED to repeat the same faults)"
}

# fault_status_ok RC: an exit status is a failure of the job (1, 2) or success (0): not a hang (124, the
# time bound), not a crash (>= 128: a signal), nothing else. fault_status_says RC says which.
fault_status_ok() { [ "$1" -le 2 ]; }
fault_status_says() {
  if [ "$1" -eq 124 ]; then
    echo "sluice hung (killed by the time bound)"
  elif [ "$1" -ge 128 ]; then
    echo "sluice died of signal $(($1 - 128)) (status $1): a crash, not a clean failure"
  elif [ "$1" -gt 2 ]; then
    echo "exit status $1 is none of sluice's (0 done, 1 runtime failure, 2 bad start)"
  else
    echo "exit status $1"
  fi
}

# A broken rule is reported and counted, and the test goes on, so one run shows every fault that breaks it;
# fault_finish fails the test at the end if any did.
FAULT_VIOLATIONS=0
fault_violation() {
  echo "FAIL: $*" >&2
  FAULT_VIOLATIONS=$((FAULT_VIOLATIONS + 1))
}
fault_finish() {
  [ "$FAULT_VIOLATIONS" -eq 0 ] || fail "$FAULT_VIOLATIONS runs broke the rule (seed $SEED; each is listed above)"
}

# fault_rule NAME RC EXPECTED OUTPUT ERR -- RESTART...: checks the rule for one faulty run that exited with
# RC, left OUTPUT and wrote its messages to ERR; RESTART... is the same sluice command without the fault,
# run if RC != 0 (after the command in FAULT_BEFORE_RESTART, if set). A non-zero exit must say why (a
# "sluice: error:" line). A broken rule is counted.
fault_rule() {
  local name=$1 rc=$2 expected=$3 output=$4 err=$5
  shift 6
  if ! fault_status_ok "$rc"; then
    fault_violation "$name: $(fault_status_says "$rc")"
    return 0
  fi
  if fault_sanitizer_report "$err"; then
    fault_violation "$name: a sanitizer report: $(grep -m1 -E 'runtime error|Sanitizer' "$err")"
    return 0
  fi
  if [ "$rc" -eq 0 ]; then
    cmp -s "$expected" "$output" && return 0
    fault_violation "$name: exit 0 but the output is not exact ($(fault_compare "$expected" "$output")); its messages: $(grep -v ' info: ' "$err" | sort | uniq -c | head -5)"
    return 0
  fi
  if ! grep -q "^sluice: error: " "$err"; then
    fault_violation "$name: exit $rc without an error message: $(tail -3 "$err")"
    return 0
  fi
  local rrc=0
  ${FAULT_BEFORE_RESTART:-true} # e.g. free the full disk
  timeout 120 "$@" 2> "$WORK/restart.err" || rrc=$?
  if [ "$rrc" -ne 0 ]; then
    fault_violation "$name: the restart without the fault exited $rrc ($(fault_status_says "$rrc")): $(tail -3 "$WORK/restart.err")"
    return 0
  fi
  cmp -s "$expected" "$output" && return 0
  fault_violation "$name: the restart after exit $rc gave an output that is not exact ($(fault_compare "$expected" "$output"))"
  return 0
}

# fault_sanitizer_report ERR: whether sluice's messages hold an ASan or UBSan report (UBSan exits 1, like
# a clean failure of the job).
fault_sanitizer_report() { grep -q -E 'runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$1"; }

# fault_compare EXPECTED ACTUAL: how an output differs, in a few words.
fault_compare() {
  echo "$(wc -l < "$2" 2>/dev/null || echo no) lines of $(wc -l < "$1"), $(cmp "$1" "$2" 2>&1 | head -1)"
}

# fault_fired LOG: whether the fault shim logged a fired fault.
fault_fired() { grep -q '^fault ' "$1" 2>/dev/null; }

# fault_calls LOG OP: how many OP calls the shim counted in a run (from its exit line; "matched" for all).
fault_calls() { awk -v k="$2" '/^exit /{ for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) n = substr($i, length(k) + 2) } END { print n + 0 }' "$1"; }

# The job every fault run makes: the URL count (tests/e2e/slow_url_count.lua, a tiny busy wait per record)
# over RECORDS records into --output, checkpoints every 20 ms: about 6 batches and 5 checkpoints a run, so
# faults land in processing, at barriers, in snapshots and in commits. fault_job_init makes the input.
fault_job_init() {
  FAULT_RECORDS=${RECORDS:-24000}
  # Under ASan every run is about twice as slow: half the records keep the test within its time.
  [ -n "${RECORDS:-}" ] || [ "${SLUICE_SANITIZED:-OFF}" != ON ] || FAULT_RECORDS=12000
  FAULT_DELAY=${DELAY:-0.00001}
  gen_access "$FAULT_RECORDS" 5 300 > "$WORK/in.log"
}

# fault_job_cmd: the sluice command (state in $FAULT_STATE, output $FAULT_OUT, extra flags $FAULT_FLAGS, e.g.
# --incremental-checkpoints), as words.
FAULT_STATE=$WORK/state FAULT_OUT=$WORK/out FAULT_FLAGS=""
fault_job_cmd() {
  echo "$SLUICE" run "$SLUICE_SRC/tests/e2e/slow_url_count.lua" --input "$WORK/in.log" --state-dir "$FAULT_STATE" \
    --output "$FAULT_OUT" --checkpoint-interval 20 $FAULT_FLAGS --quiet -- "$FAULT_DELAY"
}

# fault_reference [OPS]: the failure-free run into $WORK/ref.out; with OPS, under the shim with no fault
# (nth=0), which counts each op's calls into $WORK/count.log (read them with fault_calls).
fault_reference() {
  rm -rf "$FAULT_STATE" "$FAULT_OUT" "$WORK/count.log"
  local preload=()
  [ -z "${1:-}" ] || preload=(SLUICE_FAULT="op=$1" SLUICE_FAULT_LOG="$WORK/count.log" LD_PRELOAD="$(fault_preload "$SLUICE_FAULT_LIB")")
  timeout 120 env "${preload[@]}" $(fault_job_cmd) || fail "the failure-free run failed"
  mv "$FAULT_OUT" "$WORK/ref.out"
  rm -rf "$FAULT_STATE"
  [ "$(wc -l < "$WORK/ref.out")" -eq "$FAULT_RECORDS" ] || fail "the failure-free run is incomplete"
  [ -z "${1:-}" ] || echo "calls in a failure-free run: $(grep '^exit ' "$WORK/count.log" | cut -d' ' -f5-)"
}

# fault_try FAULT: one run from a fresh state with SLUICE_FAULT=FAULT (the shim preloaded into sluice
# alone, never into timeout or env), then the rule. Sets FAULT_FIRED (1 if the fault fired) and FAULT_RC;
# counts FAULT_RUNS and FAULT_NONZERO.
FAULT_RUNS=0 FAULT_NONZERO=0
fault_try() {
  rm -rf "$FAULT_STATE" "$FAULT_OUT" "$WORK/fault.log"
  FAULT_RC=0
  timeout 120 env SLUICE_FAULT="$1" SLUICE_FAULT_LOG="$WORK/fault.log" LD_PRELOAD="$(fault_preload "$SLUICE_FAULT_LIB")" \
    $(fault_job_cmd) 2> "$WORK/err" || FAULT_RC=$?
  FAULT_FIRED=0
  if fault_fired "$WORK/fault.log"; then FAULT_FIRED=1; fi
  FAULT_RUNS=$((FAULT_RUNS + 1))
  [ "$FAULT_RC" -eq 0 ] || FAULT_NONZERO=$((FAULT_NONZERO + 1))
  echo "  $1${FAULT_FLAGS:+ $FAULT_FLAGS}: exit $FAULT_RC$([ "$FAULT_FIRED" = 1 ] || echo ", did not fire")"
  fault_rule "SLUICE_FAULT=$1${FAULT_FLAGS:+ with $FAULT_FLAGS} (seed $SEED): exit $FAULT_RC" "$FAULT_RC" "$WORK/ref.out" "$FAULT_OUT" "$WORK/err" \
    -- $(fault_job_cmd)
}
