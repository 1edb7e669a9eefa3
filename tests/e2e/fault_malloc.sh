# Allocation failures at random points of a run (tests/fault/faultinject.c): the N-th malloc, calloc or
# realloc returns NULL, once or from then on (memory that stays short), and, with min=, only big ones (the
# output buffer, the batch, snapshot buffers). LuaJIT's GC heap does not go through malloc, so these land in
# sluice's C code, LMDB and libc (strdup, opendir, fopen on sluice's behalf). The rule as everywhere: exit
# non-zero with a message and a restart gives the exact output, or exit 0 with the exact output; sluice
# never crashes (SIGSEGV, SIGABRT) or hangs.
#
# Allocations made by libraries that cannot survive a failed one are not failed (skip_caller): libuv aborts
# (uv_default_loop's signal setup, uv_fs_event_start, the thread pool's first uv_queue_work), lua-cjson
# calls exit(-1) when it loads, libgcc's unwinder crashes registering a LuaJIT trace, ld.so's TLS setup for
# a new thread. No caller can recover from those; they would make this test fail at random, not on sluice.
source "$(dirname "$0")/lib.bash"
source "$SLUICE_SRC/tests/fault/fault_lib.bash"
fault_need_shims
fault_seed
fault_job_init

skip="skip_caller=libuv|libgcc_s|cjson|libluajit|ld-linux"
alloc="malloc|calloc|realloc,$skip"
fault_reference "$alloc"
all=$(fault_calls "$WORK/count.log" matched)
big_min=65536
rm -f "$WORK/count.log"
timeout 120 env SLUICE_FAULT="op=$alloc,min=$big_min" SLUICE_FAULT_LOG="$WORK/count.log" LD_PRELOAD="$(fault_preload "$SLUICE_FAULT_LIB")" \
  $(fault_job_cmd) > /dev/null || fail "the failure-free run (counting big allocations) failed"
big=$(fault_calls "$WORK/count.log" matched)
echo "allocations in a failure-free run: $all, of which $big of >= $big_min bytes"
[ "$all" -gt 0 ] && [ "$big" -gt 0 ] || fail "no allocations counted: this test would prove nothing"

fired=0
for _ in 1 2 3 4 5 6; do
  fault_try "op=$alloc,nth=$((1 + RANDOM % all))"
  fired=$((fired + FAULT_FIRED))
done
for _ in 1 2 3; do
  fault_try "op=$alloc,nth=$((1 + RANDOM % all)),sticky=1"
  fired=$((fired + FAULT_FIRED))
done
# Each of the first reallocs once: they grow sluice's buffers (the output encoder's among them), where one
# failure must not leave a buffer that silently drops or mangles what is written to it later.
for n in 1 2 3 4 5 6 7 8; do
  fault_try "op=realloc,$skip,nth=$n"
  fired=$((fired + FAULT_FIRED))
done
for sticky in 0 0 0 1; do
  fault_try "op=$alloc,min=$big_min,nth=$((1 + RANDOM % big)),sticky=$sticky"
  fired=$((fired + FAULT_FIRED))
done
[ "$fired" -gt 0 ] || fault_violation "no allocation failure fired in any run: this test proved nothing"
fault_finish
echo "ok: allocation failures ($FAULT_RUNS runs, $fired faults fired, $FAULT_NONZERO exited non-zero and were restarted)"
