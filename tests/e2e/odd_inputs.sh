# Odd inputs and low limits never crash sluice (issue 11, items 9, 11, 12, 19): /dev/null as --input or as
# stdin is an empty run; a tiny `ulimit -n` is raised or refused with one clear line (exit 2), never a
# segfault; an address-space limit well below 16 GiB still runs; the state dir is private (0700, files 0600)
# whatever the umask.
source "$(dirname "$0")/lib.bash"
JOB="$SCRIPTS/url_count.lua"

# 9. /dev/null as an input file and as stdin.
run_sluice run "$JOB" --input /dev/null --state-dir "$WORK/n1" > "$WORK/n1.out" 2> "$WORK/n1.err" \
  || fail "--input /dev/null: exit $? $(cat "$WORK/n1.err")"
[ ! -s "$WORK/n1.out" ] || fail "/dev/null gave output"
grep -q "done: 0 records in" "$WORK/n1.err" || fail "no summary: $(cat "$WORK/n1.err")"
run_sluice run "$JOB" --state-dir "$WORK/n2" < /dev/null > "$WORK/n2.out" 2> "$WORK/n2.err" \
  || fail "< /dev/null: exit $? $(cat "$WORK/n2.err")"
[ ! -s "$WORK/n2.out" ] || fail "stdin /dev/null gave output"
gen_access 300 3 > "$WORK/a.log"

# 11. Very few file descriptors: a clear error (exit 2), or a normal run when the soft limit can be raised.
set +e
prlimit --nofile=7 "$SLUICE" run "$JOB" --input "$WORK/a.log" --state-dir "$WORK/f1" > "$WORK/f1.out" 2> "$WORK/f1.err"
rc=$?
set -e
[ $rc = 2 ] || fail "nofile=7: exit $rc (want 2): $(cat "$WORK/f1.err")"
grep -q "too few open files" "$WORK/f1.err" || fail "nofile=7: unclear message: $(cat "$WORK/f1.err")"
[ "$(wc -l < "$WORK/f1.err")" -eq 1 ] || fail "nofile=7: more than one line: $(cat "$WORK/f1.err")"
prlimit --nofile=7:4096 "$SLUICE" run "$JOB" --input "$WORK/a.log" --state-dir "$WORK/f2" --quiet > "$WORK/f2.out" \
  || fail "soft nofile=7 (hard 4096): exit $?"
[ "$(wc -l < "$WORK/f2.out")" -eq 300 ] || fail "soft nofile=7: wrong output"

# AddressSanitizer reserves terabytes of address space for its shadow memory: a sanitized sluice cannot run
# under any `ulimit -v`, so these checks are the plain build's.
if [ "${SLUICE_SANITIZED:-OFF}" != ON ]; then
# 12. An address-space limit of 4 GiB (the LMDB map used to reserve 16 GiB up front).
prlimit --as=$((4 << 30)) "$SLUICE" run "$JOB" --input "$WORK/a.log" --state-dir "$WORK/v1" --quiet > "$WORK/v1.out" \
  || fail "ulimit -v 4 GiB: exit $?"
expect_same "$WORK/f2.out" "$WORK/v1.out"
prlimit --as=$((4 << 30)) "$SLUICE" run "$JOB" --input "$WORK/a.log" --state-dir "$WORK/v1" --quiet > "$WORK/v2.out" \
  || fail "ulimit -v 4 GiB, restore: exit $?"

# Tighter address-space limits: a clean refusal (exit 2, one clear line) or a normal run, never a crash.
# (At 80-100 MiB libuv's lazily created thread pool used to abort() at the first checkpoint.)
for mb in 40 60 80 100 150; do
  set +e
  prlimit --as=$((mb << 20)) "$SLUICE" run "$JOB" --input "$WORK/a.log" --state-dir "$WORK/as$mb" \
    --checkpoint-interval 1 --quiet > "$WORK/as$mb.out" 2> "$WORK/as$mb.err"
  rc=$?
  set -e
  case $rc in
    0) expect_same "$WORK/f2.out" "$WORK/as$mb.out" ;;
    2) grep -q "Cannot allocate memory\|out of memory" "$WORK/as$mb.err" || fail "ulimit -v ${mb}M: $(cat "$WORK/as$mb.err")" ;;
    *) fail "ulimit -v ${mb}M: exit $rc $(cat "$WORK/as$mb.err")" ;;
  esac
done

fi

# 19. Permissions: state dir 0700, every file and directory in it owner-only, under umask 022 and 000.
for mask in 022 000; do
  (umask $mask && run_sluice run "$JOB" --input "$WORK/a.log" --state-dir "$WORK/perm$mask" \
     --output "$WORK/perm$mask.out" --checkpoint-interval 1 --quiet) || fail "umask $mask run"
  [ "$(stat -c %a "$WORK/perm$mask")" = 700 ] || fail "umask $mask: state dir is $(stat -c %a "$WORK/perm$mask")"
  open=$(find "$WORK/perm$mask" -mindepth 1 \( -type d ! -perm 700 -o -type f -perm /077 \) -printf '%m %p\n')
  [ -z "$open" ] || fail "umask $mask: files open to others: $open"
done
# A state dir made with 0755 (by an older sluice, or by hand) is made private.
mkdir -m 755 "$WORK/old"
run_sluice run "$JOB" --input "$WORK/a.log" --state-dir "$WORK/old" --quiet > /dev/null || fail "old dir run"
[ "$(stat -c %a "$WORK/old")" = 700 ] || fail "an existing state dir was left $(stat -c %a "$WORK/old")"
echo "ok: odd inputs and limits"
