/* test_state_key_filter.c — the key filter (state/key_filter.c) and its use by the backend: a miss the
 * filter rules out skips LMDB, so a key the filter lacks but LMDB holds would read as absent. Every test
 * here fails on such a false negative: keys written and then read back after eviction, a spill, a frozen
 * batch's flush, a commit, a reopen (the filter rebuilt from LMDB), a snapshot loaded into a new
 * environment, a delete and a put again, the get-then-put of a new key, and map entries (sub-keys).
 * A few internal fields are looked at to check that the filter is on where it should be. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state/key_filter.h"
#include "state/keyed_scope.h"
#include "state/map_state.h"
#include "state/state_cache.h"
#include "state_flush_fixture.h"

enum { SMALL_CACHE = 256 << 10 }; /* a cache that evicts after a few thousand keys */

static void key_of(char *k, size_t cap, int i) {
  snprintf(k, cap, "k%07d", i);
}

static void val_of(char *v, size_t cap, int i) {
  snprintf(v, cap, "v%d", i);
}

static void put_i(sl_backend *b, int i) {
  char k[32], v[32];
  key_of(k, sizeof k, i);
  val_of(v, sizeof v, i);
  put_s(b, k, v);
}

static void expect_i(sl_backend *b, int i) {
  char k[32], v[32];
  key_of(k, sizeof k, i);
  val_of(v, sizeof v, i);
  expect_val(b, k, v);
}

static sl_backend_stats stats(const sl_backend *b) {
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  return st;
}

/* The filter alone: never a false negative through two growths; few false positives; the cap turns it
 * off (everything may exist) rather than dropping keys, and a cap too small for the usual first part gets a
 * smaller one. */
static void test_filter_no_false_negative(void **state) {
  (void)state;
  sl_key_filter f;
  sl_key_filter_init(&f, 0, (size_t)64 << 20);
  assert_int_equal(f.off, 0);
  enum { N = 6 << 20 }; /* parts of 1 M, 4 M and 16 M keys */
  for (uint32_t i = 0; i < N; i++)
    sl_key_filter_add(&f, sl_cache_hash(&i, sizeof i));
  assert_int_equal(f.nparts, 3);
  for (uint32_t i = 0; i < N; i++)
    assert_true(sl_key_filter_may_exist(&f, sl_cache_hash(&i, sizeof i)));
  size_t fp = 0;
  for (uint32_t i = N; i < 2 * N; i++)
    fp += (size_t)sl_key_filter_may_exist(&f, sl_cache_hash(&i, sizeof i));
  /* One false positive chance per part; about 2 % each at capacity, much less below. */
  assert_true(fp < N / 10);
  sl_key_filter_free(&f);
  assert_int_equal(sl_key_filter_may_exist(&f, 42), 1);

  sl_key_filter_init(&f, 0, 100 << 10); /* room for a first part of 64 k keys only */
  assert_int_equal(f.off, 0);
  assert_int_equal(f.part[0].capacity, 1u << 16);
  for (uint32_t i = 0; i < N; i++)
    sl_key_filter_add(&f, sl_cache_hash(&i, sizeof i));
  assert_int_equal(f.off, 1);
  for (uint32_t i = 0; i < 2 * N; i += 997)
    assert_true(sl_key_filter_may_exist(&f, sl_cache_hash(&i, sizeof i)));
  sl_key_filter_free(&f);

  /* Many keys known at the start: room for twice as many, or just for them when the cap is tight. */
  sl_key_filter_init(&f, 1 << 20, (size_t)64 << 20);
  assert_int_equal(f.off, 0);
  assert_true(f.part[0].capacity >= 2u << 20);
  sl_key_filter_free(&f);
  sl_key_filter_init(&f, 1 << 20, (size_t)1 << 20);
  assert_int_equal(f.off, 0);
  assert_true(f.part[0].capacity >= 1u << 20 && f.part[0].capacity < 2u << 20);
  sl_key_filter_free(&f);
  sl_key_filter_init(&f, 1 << 20, (size_t)512 << 10); /* not even room for the keys */
  assert_int_equal(f.off, 1);
  sl_key_filter_free(&f);

  sl_key_filter_init(&f, 0, 1024); /* not even one part */
  assert_int_equal(f.off, 1);
  assert_int_equal(sl_key_filter_may_exist(&f, 7), 1);
  sl_key_filter_free(&f);
}

/* New keys with a small cache: misses are ruled out by the filter (few LMDB reads), the cache spills and
 * evicts, and every key still reads back — before the commit, after it, and after a reopen, which
 * rebuilds the filter from what LMDB holds. */
static void test_evicted_committed_reopened(void **state) {
  const char *dir = *state;
  enum { N = 20000 };
  sl_backend *b = open_b(dir, SMALL_CACHE, 0);
  assert_int_equal(b->keys.off, 0);
  for (int i = 0; i < N; i++) {
    char k[32];
    const void *v;
    size_t vl;
    key_of(k, sizeof k, i);
    assert_int_equal(sl_backend_get(b, k, strlen(k), &v, &vl), SL_STATE_NOTFOUND);
    put_i(b, i);
  }
  assert_true(stats(b).evictions > 0);
  assert_true(stats(b).commits > 0); /* cache pressure committed dirty entries */
  for (int i = 0; i < N; i++)
    expect_i(b, i);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  for (int i = N - 1; i >= 0; i--)
    expect_i(b, i);
  sl_backend_close(b);

  b = open_b(dir, SMALL_CACHE, 0);
  assert_int_equal(b->keys.off, 0);
  for (int i = 0; i < N; i++)
    expect_i(b, i);
  expect_val(b, "never-written", NULL);
  sl_backend_close(b);

  /* With the default cache the filter is built from LMDB too, and the reads all go there (nothing cached). */
  b = open_b(dir, 0, 0);
  for (int i = 0; i < N; i += 7)
    expect_i(b, i);
  assert_int_equal(stats(b).cache_hits, 0);
  sl_backend_close(b);
}

/* The get-then-put of a new key (the put rewrites the cached miss in place, the fast path) adds the key:
 * after the entry is committed and evicted, the next get must go to LMDB and find it. */
static void test_get_then_put_then_evict(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, SMALL_CACHE, 0);
  const void *v;
  size_t vl;
  assert_int_equal(sl_backend_get(b, "fresh", 5, &v, &vl), SL_STATE_NOTFOUND);
  put_s(b, "fresh", "1");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  /* Other keys until "fresh" has left the cache. */
  for (int i = 0; i < 20000; i++)
    put_i(b, i);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  for (int i = 0; i < 20000; i++)
    put_i(b, i + 20000);
  assert_null(sl_cache_find(&b->cache, sl_cache_hash("fresh", 5), "fresh", 5));
  expect_val(b, "fresh", "1");
  sl_backend_close(b);
}

/* Deleted and put again, across commits, evictions and a reopen. */
static void test_delete_and_put_again(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, SMALL_CACHE, 0);
  for (int i = 0; i < 5000; i++)
    put_i(b, i);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  for (int i = 0; i < 5000; i += 2) {
    char k[32];
    key_of(k, sizeof k, i);
    del_s(b, k);
  }
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);

  b = open_b(dir, SMALL_CACHE, 0);
  for (int i = 0; i < 5000; i++) {
    char k[32];
    key_of(k, sizeof k, i);
    if (i % 2)
      expect_i(b, i);
    else
      expect_val(b, k, NULL);
  }
  for (int i = 0; i < 5000; i += 2)
    put_i(b, i);
  for (int i = 5000; i < 25000; i++) /* push them out of the cache */
    put_i(b, i);
  for (int i = 0; i < 25000; i++)
    expect_i(b, i);
  sl_backend_close(b);
}

/* Keys reaching LMDB through a frozen batch's flush (the checkpoint worker's path), then evicted. */
static void test_frozen_flush_then_evict(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, SMALL_CACHE, 0);
  for (int i = 0; i < 2000; i++)
    put_i(b, i);
  sl_frozen *f = freeze(b);
  sl_snapshot *snap = flush_inline(f);
  flush_done(f, snap);
  for (int i = 2000; i < 30000; i++)
    put_i(b, i);
  for (int i = 0; i < 30000; i++)
    expect_i(b, i);
  sl_backend_close(b);
}

/* A snapshot loaded into a new environment (what recovery does): the backend opened on it has every key. */
static void test_loaded_snapshot(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  for (int i = 0; i < 3000; i++)
    put_i(b, i);
  sl_frozen *f = freeze(b);
  sl_snapshot *snap = flush_inline(f);
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  flush_done(f, snap);
  sl_backend_close(b);
  assert_int_equal(entries, 3000);
  b = open_loaded(dir);
  assert_int_equal(b->keys.off, 0);
  for (int i = 0; i < 3000; i++)
    expect_i(b, i);
  sl_backend_close(b);
}

/* Map entries are composite keys with a sub-key: each one is in the filter, across eviction and reopen. */
static void test_map_sub_keys(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, SMALL_CACHE, 0);
  sl_keyed_scope s;
  sl_scope_init(&s, b, 0);
  uint32_t id = sid(b, "op", "m");
  char k[32], mk[32], v[32];
  for (int i = 0; i < 200; i++) {
    snprintf(k, sizeof k, "user%d", i);
    assert_int_equal(sl_scope_set_key(&s, k, strlen(k)), SL_STATE_OK);
    for (int j = 0; j < 100; j++) {
      snprintf(mk, sizeof mk, "item%d", j);
      snprintf(v, sizeof v, "%d.%d", i, j);
      assert_int_equal(sl_map_put(&s, id, mk, strlen(mk), v, strlen(v)), SL_STATE_OK);
    }
  }
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_scope_close(&s);
  sl_backend_close(b);

  b = open_b(dir, SMALL_CACHE, 0);
  sl_scope_init(&s, b, 0);
  for (int i = 199; i >= 0; i--) {
    snprintf(k, sizeof k, "user%d", i);
    assert_int_equal(sl_scope_set_key(&s, k, strlen(k)), SL_STATE_OK);
    for (int j = 0; j < 100; j++) {
      const void *got;
      size_t gl;
      snprintf(mk, sizeof mk, "item%d", j);
      snprintf(v, sizeof v, "%d.%d", i, j);
      int rc = sl_map_get(&s, id, mk, strlen(mk), &got, &gl);
      expect_found(rc, got, gl, v);
    }
    snprintf(mk, sizeof mk, "item%d", 100);
    const void *got;
    size_t gl;
    assert_int_equal(sl_map_get(&s, id, mk, strlen(mk), &got, &gl), SL_STATE_NOTFOUND);
  }
  sl_scope_close(&s);
  sl_backend_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_filter_no_false_negative),
      T(test_evicted_committed_reopened),
      T(test_get_then_put_then_evict),
      T(test_delete_and_put_again),
      T(test_frozen_flush_then_evict),
      T(test_loaded_snapshot),
      T(test_map_sub_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
