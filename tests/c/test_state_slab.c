/* test_state_slab.c — the cache entries' allocator (state/state_slab.c): chunks of a class are distinct and
 * writable, a freed chunk is what the next allocation of its class gets (no new slab), a slab whose chunks
 * are all free is released, large allocations bypass the slabs, the pool's bytes and held counts are exact
 * at every step, and freeing the pool releases everything (run under ASan, a leak or a use after free
 * shows). The cache's own tests cover the allocator in use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "state/state_slab.h"

/* Chunks of one class: 8-byte aligned (64-byte chunks on cache lines), distinct, each keeps what was
 * written into it; a whole slab's worth and more takes a second slab, charged whole. */
static void test_alloc_distinct(void **state) {
  (void)state;
  sl_slab_pool p;
  sl_slab_pool_init(&p);
  enum { N = 1000, SZ = 60 };
  static uint8_t *v[N];
  for (int i = 0; i < N; i++) {
    v[i] = sl_slab_alloc(&p, SZ);
    assert_non_null(v[i]);
    assert_int_equal((uintptr_t)v[i] % 8, 0);
    assert_int_equal((uintptr_t)v[i] % 64, 0); /* a 64-byte class fills whole cache lines */
    memset(v[i], i & 0xff, SZ);
  }
  for (int i = 0; i < N; i++)
    for (int j = 0; j < SZ; j++)
      assert_int_equal(v[i][j], i & 0xff);
  size_t per_slab = (SL_SLAB_BYTES - 64) / sl_slab_charge(SZ); /* at least this many fit (header < 64) */
  assert_true(p.slabs >= 2);
  assert_true(p.slabs <= N / per_slab + 1);
  assert_int_equal(p.held, p.slabs * SL_SLAB_BYTES);
  assert_int_equal(p.bytes, p.held); /* nothing freed: every slab charged whole */
  sl_slab_pool_free(&p);
  assert_int_equal(p.slabs, 0);
  assert_int_equal(p.held, 0);
  assert_int_equal(p.bytes, 0);
}

/* A freed chunk comes back on the next allocation of its class, its bytes are no longer charged while
 * free, and no slab is added; another class gets its own slab. */
static void test_reuse_after_free(void **state) {
  (void)state;
  sl_slab_pool p;
  sl_slab_pool_init(&p);
  void *a = sl_slab_alloc(&p, 40), *b = sl_slab_alloc(&p, 40), *c = sl_slab_alloc(&p, 33);
  assert_true(a != b && b != c && a != c);
  assert_int_equal(sl_slab_charge(33), 40); /* 33 and 40 share a class */
  size_t bytes = p.bytes, held = p.held;
  assert_int_equal(p.slabs, 1);
  sl_slab_free(&p, b, 40);
  assert_int_equal(p.bytes, bytes - 40);
  assert_int_equal(p.held, held);
  void *d = sl_slab_alloc(&p, 35);
  assert_ptr_equal(d, b);
  assert_int_equal(p.bytes, bytes);
  assert_int_equal(p.slabs, 1);
  void *e = sl_slab_alloc(&p, 200); /* another class */
  assert_int_equal(p.slabs, 2);
  assert_int_equal(p.bytes, bytes + SL_SLAB_BYTES);
  sl_slab_free(&p, a, 40);
  sl_slab_free(&p, c, 33);
  sl_slab_free(&p, d, 35);
  sl_slab_free(&p, e, 200);
  assert_int_equal(p.slabs, 0);
  assert_int_equal(p.bytes, 0);
  assert_int_equal(p.held, 0);
  sl_slab_pool_free(&p);
}

/* Filling several slabs and freeing every chunk of all but one slab releases those slabs (bytes and held
 * drop by whole slabs); a full slab that gets a chunk back is allocated from again before a new one is
 * taken. */
static void test_slab_release(void **state) {
  (void)state;
  sl_slab_pool p;
  sl_slab_pool_init(&p);
  enum { N = 2000, SZ = 100 };
  static void *v[N];
  for (int i = 0; i < N; i++)
    assert_non_null(v[i] = sl_slab_alloc(&p, SZ));
  size_t slabs = p.slabs;
  assert_true(slabs >= 3);
  /* The slab of v[0] stays: free everything else that lies in another slab. */
  uintptr_t keep = (uintptr_t)v[0] & ~(uintptr_t)(SL_SLAB_BYTES - 1);
  size_t kept = 0;
  for (int i = 0; i < N; i++) {
    if (((uintptr_t)v[i] & ~(uintptr_t)(SL_SLAB_BYTES - 1)) == keep) {
      kept++;
      continue;
    }
    sl_slab_free(&p, v[i], SZ);
    v[i] = NULL;
  }
  assert_int_equal(p.slabs, 1);
  assert_int_equal(p.held, SL_SLAB_BYTES);
  assert_int_equal(p.bytes, SL_SLAB_BYTES); /* full: no free chunk, no tail */
  /* One chunk back in the full slab: the next allocation takes it, no new slab. */
  size_t i0 = 0;
  while (!v[i0])
    i0++;
  void *back = v[i0];
  sl_slab_free(&p, back, SZ);
  assert_int_equal(p.bytes, SL_SLAB_BYTES - sl_slab_charge(SZ));
  assert_ptr_equal(v[i0] = sl_slab_alloc(&p, SZ), back);
  assert_int_equal(p.slabs, 1);
  assert_true(kept > 1);
  for (int i = 0; i < N; i++)
    sl_slab_free(&p, v[i], SZ);
  assert_int_equal(p.slabs, 0);
  assert_int_equal(p.bytes, 0);
  assert_int_equal(p.held, 0);
  sl_slab_pool_free(&p);
}

/* Allocations past the largest class are separate mallocs, charged their size and header, released by a
 * free or by freeing the pool. */
static void test_large(void **state) {
  (void)state;
  sl_slab_pool p;
  sl_slab_pool_init(&p);
  size_t big = SL_SLAB_MAX_CHUNK + 1;
  uint8_t *a = sl_slab_alloc(&p, big), *b = sl_slab_alloc(&p, 5000), *c = sl_slab_alloc(&p, big);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  memset(a, 1, big);
  memset(b, 2, 5000);
  memset(c, 3, big);
  assert_int_equal(p.slabs, 0);
  assert_int_equal(p.bytes, 2 * sl_slab_charge(big) + sl_slab_charge(5000));
  assert_true(sl_slab_charge(big) > big);
  sl_slab_free(&p, b, 5000); /* the middle of the list */
  assert_int_equal(p.bytes, 2 * sl_slab_charge(big));
  assert_int_equal(a[big - 1], 1);
  assert_int_equal(c[0], 3);
  assert_non_null(sl_slab_alloc(&p, 8)); /* a slab too, released by the pool's free */
  sl_slab_pool_free(&p);                 /* a and c and the slab: ASan reports a leak otherwise */
  assert_int_equal(p.bytes, 0);
  assert_int_equal(p.held, 0);
  assert_non_null(a = sl_slab_alloc(&p, 16)); /* usable again */
  sl_slab_pool_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alloc_distinct),
      cmocka_unit_test(test_reuse_after_free),
      cmocka_unit_test(test_slab_release),
      cmocka_unit_test(test_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
