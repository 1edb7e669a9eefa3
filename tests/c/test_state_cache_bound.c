/* test_state_cache_bound.c — memory bounded by the cache (state/state_backend.h, cache_max_bytes): past the
 * cap, clean entries are evicted one by one, coldest first (a clock), so a hot working set stays cached
 * while a stream of new keys passes through; dirty entries are committed in write transactions of bounded
 * size (LMDB holds a transaction's dirty pages in memory until its commit), after which the next barrier
 * falls back to a commit; a commit of many dirty entries is split the same way. Every value written stays
 * readable throughout and after a reopen. The test looks at a few internal fields where the public API
 * cannot tell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state/state_delta.h"
#include "state_flush_fixture.h"

enum { CAP = 1 << 20 };

static void key_of(char *k, size_t cap, int i) {
  snprintf(k, cap, "key-%08d", i);
}

static void val_of(char *v, size_t cap, int i) {
  snprintf(v, cap, "value-%d-%0*d", i, 20, i);
}

static sl_backend_stats stats(const sl_backend *b) {
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  return st;
}

/* Puts n keys ("base"), freezes them and loads the full snapshot of that barrier into <dir>/loaded. */
static void full_base(const char *dir, sl_backend *b, int n) {
  char k[32];
  for (int i = 0; i < n; i++) {
    key_of(k, sizeof k, i);
    put_s(b, k, "base");
  }
  sl_frozen *f = freeze(b);
  sl_snapshot *snap = flush_inline(f);
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  flush_done(f, snap);
}

/* Writes the batch's delta to <dir>/delta.snap and applies it to <dir>/loaded. */
static void apply_delta(const char *dir, sl_frozen *f) {
  char path[4200], loaded[4200], err[256] = "";
  uint64_t bytes = 0, entries = 0;
  snprintf(path, sizeof path, "%s/delta.snap", dir);
  snprintf(loaded, sizeof loaded, "%s/loaded", dir);
  if (sl_frozen_write_delta(f, path, &bytes, &entries, err, sizeof err) != 0)
    fail_msg("delta write: %s", err);
  if (sl_snapshot_apply_delta(loaded, path, NULL, NULL, err, sizeof err) != 0)
    fail_msg("delta apply: %s", err);
}

/* 200 k distinct keys through a 1 MiB cache: the cache's footprint never passes the cap after a put, the
 * entries are committed in several bounded transactions (not one that holds them all), and every value
 * reads back — from the cache or, once evicted, from LMDB — before and after a reopen. The next barrier
 * still gets a frozen batch, and its delta (the delta log of what was committed, then the batch) applied
 * to the previous full snapshot gives exactly the state. */
static void test_stream_of_new_keys(void **state) {
  const char *dir = *state;
  enum { N = 200000 };
  sl_backend *b = open_b(dir, CAP, 0);
  char k[32], v[64];
  size_t max_pages = b->txn_max_pages;
  full_base(dir, b, 100);
  for (int i = 0; i < N; i++) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    put_s(b, k, v);
    if (i % 1000 == 0)
      del_s(b, k); /* deletes are logged too */
    assert_true(stats(b).cache_bytes <= CAP);
    /* The write transaction never holds more than its bound (checked as it grows, every 64 writes). */
    if (b->txn)
      assert_true(sl_bk_dirty_estimate(b->txn, b->kv, b->txn_writes, b->txn_bytes, b->psize) <=
                  max_pages + 64);
  }
  sl_backend_stats st = stats(b);
  assert_true(st.evictions > N / 2);
  assert_true(st.commits > 2);
  assert_int_equal(b->committed_unfrozen, 0);
  assert_true(b->spill.records > N / 2);
  for (int i = 1; i < N; i += 997) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    expect_val(b, k, i % 1000 ? v : NULL);
  }
  sl_frozen *f = freeze(b);
  assert_int_equal(b->spill.records, 0); /* the batch took the log */
  flush_done(f, flush_inline(f));
  sl_backend_close(b);
  b = open_b(dir, CAP, 0);
  for (int i = 1; i < N; i += 101) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    expect_val(b, k, i % 1000 ? v : NULL);
  }
  expect_val(b, "key-00000000", NULL);
  sl_backend_close(b);
}

/* The delta of a barrier after cache pressure, applied to the previous full snapshot, is the state. */
static void test_delta_after_pressure(void **state) {
  const char *dir = *state;
  enum { N = 50000 };
  sl_backend *b = open_b(dir, CAP / 2, 0);
  char k[32], v[64];
  full_base(dir, b, 1000);
  for (int i = 500; i < N; i++) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    put_s(b, k, v);
    if (i % 3 == 0)
      del_s(b, k);
  }
  assert_true(stats(b).commits > 2);
  sl_frozen *f = freeze(b);
  sl_snapshot_end(flush_inline(f));
  apply_delta(dir, f);
  sl_frozen_complete(f);
  sl_backend *l = open_loaded(dir);
  for (int i = 0; i < N; i++) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    expect_val(l, k, i < 500 ? "base" : i % 3 == 0 ? NULL : v);
  }
  sl_backend_close(l);
  sl_backend_close(b);
}

/* A hot set read on every step survives a stream of cold keys that overflows the cache many times: the
 * clock evicts the cold ones (each used once) and keeps the hot ones (used again since the hand passed). */
static void test_hot_set_stays(void **state) {
  const char *dir = *state;
  enum { HOT = 200, N = 60000 };
  sl_backend *b = open_b(dir, CAP / 4, 0);
  char k[32], v[64];
  for (int i = 0; i < HOT; i++) {
    snprintf(k, sizeof k, "hot-%04d", i);
    put_s(b, k, "h");
  }
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK); /* clean: evictable */
  for (int i = 0; i < N; i++) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    put_s(b, k, v);
    snprintf(k, sizeof k, "hot-%04d", i % HOT);
    expect_val(b, k, "h");
  }
  sl_backend_stats before = stats(b);
  assert_true(before.evictions > N / 2);
  /* Now every hot key is still cached: reading them all misses nothing. */
  for (int i = 0; i < HOT; i++) {
    snprintf(k, sizeof k, "hot-%04d", i);
    expect_val(b, k, "h");
  }
  assert_int_equal(stats(b).cache_misses, before.cache_misses);
  sl_backend_close(b);
}

/* A key one record read and wrote (a get that missed, then a put: the per-record update of a counter) enters
 * cold; only a later record's use marks it referenced. So the first eviction round takes keys seen once and
 * leaves keys seen twice: a stream of one-off keys does not push out a key that recurs. (When the first
 * put marked the entry referenced, the round found every key alike, and the second pass of the hand took
 * recurring keys with the rest.) */
static void test_keys_seen_once_go_before_keys_seen_twice(void **state) {
  const char *dir = *state;
  enum { ONCE = 1500, TWICE = 300 };
  sl_backend *b = open_b(dir, CAP / 4, 0);
  char k[32];
  const void *v;
  size_t vl;
  for (int i = 0; i < ONCE + TWICE; i++) {
    snprintf(k, sizeof k, i < ONCE ? "once-%05d" : "twice-%05d", i);
    assert_int_equal(sl_backend_get(b, k, strlen(k), &v, &vl), SL_STATE_NOTFOUND);
    put_s(b, k, "1");
  }
  for (int i = ONCE; i < ONCE + TWICE; i++) { /* a second record's use */
    snprintf(k, sizeof k, "twice-%05d", i);
    expect_val(b, k, "1");
  }
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK); /* clean: evictable */
  assert_int_equal(stats(b).evictions, 0);
  for (int i = 0; stats(b).evictions == 0; i++) { /* new keys until the first round of eviction */
    snprintf(k, sizeof k, "new-%05d", i);
    put_s(b, k, "n");
  }
  uint64_t misses = stats(b).cache_misses;
  for (int i = ONCE; i < ONCE + TWICE; i++) {
    snprintf(k, sizeof k, "twice-%05d", i);
    expect_val(b, k, "1");
  }
  assert_int_equal(stats(b).cache_misses, misses);
  sl_backend_close(b);
}

/* Clean entries are evicted before anything is committed: a cache full of committed entries takes new
 * ones without a commit, and the next barrier still gets a frozen batch. */
static void test_clean_entries_go_first(void **state) {
  const char *dir = *state;
  enum { N = 20000 };
  sl_backend *b = open_b(dir, CAP, 0);
  char k[32], v[64];
  for (int i = 0; i < N; i++) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    put_s(b, k, v);
  }
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  for (int i = 0; i < N; i++) { /* read them all again: a cache full of clean entries */
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    expect_val(b, k, v);
  }
  uint64_t commits = stats(b).commits;
  for (int i = N; i < N + 2000; i++) {
    key_of(k, sizeof k, i);
    put_s(b, k, "new");
  }
  assert_true(stats(b).evictions > 0);
  assert_int_equal(stats(b).commits, commits);
  assert_int_equal(b->committed_unfrozen, 0);
  sl_frozen *f = freeze(b);
  assert_int_equal(sl_frozen_count(f), 2000);
  flush_done(f, flush_inline(f));
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_val(b, "key-00000000", "value-0-00000000000000000000");
  key_of(k, sizeof k, N + 1999);
  expect_val(b, k, "new");
  sl_backend_close(b);
}

/* A commit of more dirty entries than one bounded transaction takes is split into parts, all of which
 * land, with the pending metadata in the last. */
static void test_commit_in_parts(void **state) {
  const char *dir = *state;
  enum { N = 60000 };
  sl_backend *b = open_b(dir, 64 << 20, 0); /* room for them all in the cache */
  b->txn_max_pages = 16;                    /* but small transactions */
  char k[32], v[64];
  for (int i = 0; i < N; i++) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    put_s(b, k, v);
  }
  assert_int_equal(sl_backend_meta_put(b, "offset", "42", 2), SL_STATE_OK);
  uint64_t commits = stats(b).commits;
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_true(stats(b).commits - commits > 2);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_meta(b, "offset", "42");
  for (int i = 0; i < N; i += 37) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    expect_val(b, k, v);
  }
  key_of(k, sizeof k, N - 1);
  val_of(v, sizeof v, N - 1);
  expect_val(b, k, v);
  sl_backend_close(b);
}

/* A job that iterates state on every record writes each new key into the transaction: past its bound the
 * transaction is committed, the walk still sees everything. */
static void test_iterating_stays_bounded(void **state) {
  const char *dir = *state;
  enum { N = 5000 };
  sl_backend *b = open_b(dir, 64 << 20, 0);
  b->txn_max_pages = 16;
  char k[32], v[64];
  for (int i = 0; i < N; i++) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    put_s(b, k, v);
    char want[128];
    snprintf(want, sizeof want, "%s=%s;", k, v);
    char got[128];
    iter_dump(b, k, got, sizeof got);
    assert_string_equal(got, want);
  }
  assert_true(stats(b).commits > 2);
  assert_int_equal(b->committed_unfrozen, 0); /* logged: the next barrier still gets a batch */
  assert_true(b->spill.records > 0);
  sl_backend_close(b);
}

/* The get of a key never written caches its absence with room for a small value, so the put of a number
 * that follows (a counter's first count: 9 bytes) rewrites that entry in place: no second entry, no growth
 * of the cache. A value too big for the room still moves to a new entry, and both read back. */
static void test_first_put_after_a_miss_reuses_the_entry(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, CAP, 0);
  const void *v;
  size_t vlen;
  assert_int_equal(sl_backend_get(b, "new-key", 7, &v, &vlen), SL_STATE_NOTFOUND);
  const sl_cache_entry *absent = b->cache.last;
  size_t bytes = b->cache.pool.bytes;
  const char nine[9] = {7, 1, 2, 3, 4, 5, 6, 7, 8};
  assert_int_equal(sl_backend_put(b, "new-key", 7, nine, 9), SL_STATE_OK);
  assert_ptr_equal(b->cache.last, absent);
  assert_int_equal(b->cache.pool.bytes, bytes);
  assert_int_equal(sl_backend_get(b, "new-key", 7, &v, &vlen), SL_STATE_OK);
  assert_int_equal(vlen, 9);
  assert_memory_equal(v, nine, 9);
  char big[40];
  memset(big, 'b', sizeof big);
  assert_int_equal(sl_backend_get(b, "other", 5, &v, &vlen), SL_STATE_NOTFOUND);
  assert_int_equal(sl_backend_put(b, "other", 5, big, sizeof big), SL_STATE_OK);
  assert_true(b->cache.pool.bytes > bytes);
  assert_int_equal(sl_backend_get(b, "other", 5, &v, &vlen), SL_STATE_OK);
  assert_int_equal(vlen, sizeof big);
  assert_memory_equal(v, big, sizeof big);
  sl_backend_close(b);
}

/* Puts keys [from, to) (key_of, val_of); with cap_checked, the cache never passes its cap after a put. */
static void put_range(sl_backend *b, int from, int to, int cap_checked) {
  char k[32], v[64];
  for (int i = from; i < to; i++) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    put_s(b, k, v);
    if (cap_checked)
      assert_true(stats(b).cache_bytes <= CAP);
  }
}

/* Every 7th key of [0, to) reads back its value. */
static void expect_range(sl_backend *b, int to) {
  char k[32], v[64];
  for (int i = 0; i < to; i += 7) {
    key_of(k, sizeof k, i);
    val_of(v, sizeof v, i);
    expect_val(b, k, v);
  }
}

/* A barrier's batch that is flushed but not yet settled (the runtime settles a few thousand entries per
 * batch) makes most of a full cache dirty in name only: LMDB holds those bytes. Cache pressure settles the
 * batch first and evicts its entries, so a stream of new keys after a barrier commits nothing on the record
 * thread (without it, every entry of the batch was written to LMDB a second time). A batch freed before
 * it settles, and a backend closed before its batch is freed, leave nothing dangling. */
static void test_pressure_settles_the_last_barrier(void **state) {
  const char *dir = *state;
  enum { FROZEN = 8000, NEW = 3000 };
  sl_backend *b = open_b(dir, CAP, 0);
  put_range(b, 0, FROZEN, 0);
  sl_frozen *f = freeze(b);
  sl_snapshot *snap = flush_inline(f);
  sl_snapshot_end(snap);
  sl_frozen_finish(f); /* flushed, none of it settled */
  uint64_t commits = stats(b).commits, before = written(b);
  put_range(b, FROZEN, FROZEN + NEW, 1);
  assert_true(stats(b).evictions > 0);
  assert_int_equal(stats(b).commits, commits);
  assert_int_equal(written(b), before);
  expect_range(b, FROZEN + NEW);
  sl_frozen_free(f);
  /* Freed unsettled, then closed with a flushed batch still alive: both orders are safe. */
  sl_frozen *g = freeze(b);
  snap = flush_inline(g);
  sl_snapshot_end(snap);
  sl_frozen_finish(g);
  sl_backend_close(b);
  sl_frozen_free(g);
}

/* The same while the batch is still being flushed on another thread (here: after a pause): pressure waits
 * for that flush and settles the batch, it does not commit the entries on the record thread. */
static void test_pressure_waits_for_a_flush_in_progress(void **state) {
  const char *dir = *state;
  enum { FROZEN = 8000, NEW = 3000 };
  sl_backend *b = open_b(dir, CAP, 0);
  put_range(b, 0, FROZEN, 0);
  struct worker w;
  sl_frozen *f = freeze(b);
  worker_start(&w, f, 200);
  uint64_t commits = stats(b).commits, before = written(b);
  put_range(b, FROZEN, FROZEN + NEW, 1);
  sl_snapshot *snap = worker_join(&w);
  assert_int_equal(stats(b).commits, commits);
  assert_int_equal(written(b), before);
  expect_range(b, FROZEN + NEW);
  flush_done(f, snap);
  sl_backend_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_stream_of_new_keys),
      T(test_delta_after_pressure),
      T(test_hot_set_stays),
      T(test_clean_entries_go_first),
      T(test_commit_in_parts),
      T(test_iterating_stays_bounded),
      T(test_first_put_after_a_miss_reuses_the_entry),
      T(test_pressure_settles_the_last_barrier),
      T(test_pressure_waits_for_a_flush_in_progress),
      T(test_keys_seen_once_go_before_keys_seen_twice),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
