# The crash test with incremental checkpoints: recoveries load a full snapshot and apply a chain of deltas.
# Also checks that deltas were written and restored from (not only full checkpoints).
# Shorter batches than the main crash test (so a run takes several checkpoints before it is killed), hence
# fewer kills fit before the input is done.
export CKPT_FLAGS=--incremental-checkpoints DELAY=0.00001 KILLS_WANTED=12 MIN_KILLS=10
source "$(dirname "$0")/lib.bash"
out=$(bash "$SLUICE_SRC/tests/e2e/crash_recovery.sh" 2>&1) || { echo "$out" | tail -20; fail "crash test failed"; }
echo "$out" | tail -2
