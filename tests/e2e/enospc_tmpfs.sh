# A really full disk: a small tmpfs (root only: CI runs as root; elsewhere this test is skipped, ctest status
# SKIPPED) holds the output, the state dir, or both, filled to a random level (seeded) before the run, so
# that the pending parts, the snapshots, LMDB or the commit to the output hit ENOSPC wherever the space
# runs out. The rule as in every fault test: exit non-zero with a message and, once space is freed, a
# restart gives exactly the failure-free output; or exit 0 with exactly that output.
source "$(dirname "$0")/lib.bash"
source "$SLUICE_SRC/tests/fault/fault_lib.bash"
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: mounting a tmpfs needs root (CI runs as root)"
  exit 77
fi
MNT=$WORK/mnt
mkdir "$MNT"
if ! mount -t tmpfs -o size=1m tmpfs "$MNT" 2> "$WORK/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here: $(cat "$WORK/mount.err")"
  exit 77
fi
# Unmount before lib.bash's cleanup removes the scratch directory.
trap 'kill $(jobs -p) 2>/dev/null || true; umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true; [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"' EXIT
fault_seed
fault_job_init

fault_reference
out_bytes=$(stat -c %s "$WORK/ref.out")
echo "the output is $out_bytes bytes"

# fresh_tmpfs KB FREE_KB: a new tmpfs of KB KiB on $MNT holding a filler that leaves about FREE_KB KiB free.
fresh_tmpfs() {
  umount "$MNT"
  mount -t tmpfs -o "size=$1k" tmpfs "$MNT"
  local fill=$(($1 - $2))
  [ "$fill" -le 0 ] || head -c "$((fill * 1024))" /dev/zero > "$MNT/filler" 2> /dev/null || true
}
# Frees the disk for the restart: the filler goes, the tmpfs grows.
free_space() {
  rm -f "$MNT/filler"
  mount -o remount,size=64m "$MNT"
}
FAULT_BEFORE_RESTART=free_space

full=0
for round in 1 2 3 4 5 6 7 8; do
  case $((round % 3)) in
    1) where=output FAULT_STATE=$WORK/state FAULT_OUT=$MNT/out ;;
    2) where=state FAULT_STATE=$MNT/state FAULT_OUT=$WORK/out ;;
    0) where=both FAULT_STATE=$MNT/state FAULT_OUT=$MNT/out ;;
  esac
  rm -rf "$WORK/state" "$WORK/out"
  # Free space from 32 KiB to a little more than the output needs: sometimes it fits, mostly it does not.
  free_kb=$((32 + RANDOM % (out_bytes / 1024 + 256)))
  fresh_tmpfs 4096 "$free_kb"
  rc=0
  timeout 120 $(fault_job_cmd) 2> "$WORK/err" || rc=$?
  grep -q "No space left on device" "$WORK/err" && full=$((full + 1))
  echo "  round $round: $where on a tmpfs with ~$free_kb KiB free: exit $rc$(grep -q 'No space left' "$WORK/err" && echo ', ENOSPC')"
  fault_rule "round $round ($where on the tmpfs, ~$free_kb KiB free; seed $SEED): exit $rc" "$rc" "$WORK/ref.out" \
    "$FAULT_OUT" "$WORK/err" -- $(fault_job_cmd)
done
[ "$full" -gt 0 ] || fault_violation "no run hit ENOSPC: this test proved nothing"
fault_finish
echo "ok: full disk ($full of 8 runs hit ENOSPC)"
