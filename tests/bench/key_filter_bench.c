/* key_filter_bench.c — what the key filter (state/key_filter.c) costs a job that sees only new keys: for
 * each of N distinct hashes, a look-up (which must say "never added") and an add, as the backend does on a
 * cache miss followed by a put. Prints the best of 7 passes, the number of parts the chain grew to, and the
 * false positives met on the way (each of which costs the backend a B-tree descent in LMDB).
 *
 * Not built by CMake. From the repository root:
 *   gcc -O2 -I. tests/bench/key_filter_bench.c state/key_filter.c state/state_bigmem.c -o /tmp/kf_bench
 *   /tmp/kf_bench 1000000; /tmp/kf_bench 8000000 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "state/key_filter.h"

/* A 64-bit finaliser: distinct, well-spread hashes from 1..N, as sl_cache_hash gives distinct keys. */
static uint64_t spread(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  double best = 1e30;
  long fp = 0;
  int parts = 0;
  for (int pass = 0; pass < 7; pass++) {
    sl_key_filter f;
    sl_key_filter_init(&f, 0, (size_t)32 << 20); /* the default cache's share (state_backend.c) */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    long pos = 0;
    for (long i = 0; i < n; i++) {
      uint64_t h = spread((uint64_t)i + 1);
      pos += sl_key_filter_may_exist(&f, h);
      sl_key_filter_add(&f, h);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    if (ms < best)
      best = ms;
    fp = pos;
    parts = f.off ? 0 : f.nparts;
    sl_key_filter_free(&f);
  }
  printf("%ld new keys: best %.1f ms (%.1f ns a key), %d parts%s, %ld false positives (%.2f %%)\n", n, best,
         best * 1e6 / (double)n, parts, parts ? "" : " (the filter turned off)", fp,
         100.0 * (double)fp / (double)n);
  return 0;
}
