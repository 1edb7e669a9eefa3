/* test_state_flush_wait.c — the loop thread while a flush is under way or cannot be (state/state_flush.c):
 * cache misses while flushing read the committed state without waiting, spills and iterator opens wait for
 * the worker, the synchronous fallbacks whenever the write transaction holds changes, and a failed flush (a
 * full map) loses nothing. Each test gets its own directory. The test looks at a few internal fields
 * (state_backend_internal.h) where the public API cannot tell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "state_flush_fixture.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The loop thread waited (at least about) the worker's 50 ms pause since t0, and the flush is over. */
static void expect_waited(const sl_backend *b, double t0) {
  double waited = now_ms() - t0;
  assert_true(waited >= 45.0);
  assert_int_equal(b->flushing, 0);
}

/* A barrier that must fall back to a commit on the loop thread: no batch for a worker. */
static void expect_fallback(sl_backend *b) {
  sl_frozen *f = NULL;
  assert_int_equal(sl_backend_freeze(b, &f), 1);
  assert_null(f);
}

/* A miss while flushing reads the committed state through a read-only transaction, without waiting for
 * the worker (which has not even started here: waiting would hang). */
static void test_miss_while_flushing(void **state) {
  const char *dir = *state;
  commit_base(dir);
  sl_backend *b = open_b(dir, 0, 0); /* empty cache */
  put_s(b, "A", "1");
  del_s(b, "old001");
  sl_frozen *f = freeze(b);
  sl_backend_stats st0, st1;
  sl_backend_get_stats(b, &st0);
  expect_val(b, "old005", "o");
  expect_val(b, "C", "c0");
  expect_val(b, "nope", NULL);
  expect_val(b, "old001", NULL); /* frozen delete, answered by the cache */
  expect_val(b, "A", "1");
  expect_meta(b, "absent", NULL);
  assert_int_equal(sid(b, "op", "s"), 1);
  sl_backend_get_stats(b, &st1);
  assert_int_equal(st1.cache_misses - st0.cache_misses, 3);
  assert_int_equal(b->flushing, 1);
  assert_int_equal(b->flushed, 0);
  assert_null(b->txn);
  /* The misses were cached clean (committed state): the next commit writes the one new change only. */
  put_s(b, "old006", "new6");
  flush_done(f, flush_inline(f));
  assert_int_equal(commit_written(b), 1);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_val(b, "A", "1");
  expect_val(b, "old001", NULL);
  expect_val(b, "old005", "o");
  expect_val(b, "old006", "new6");
  sl_backend_close(b);
}

/* An iterator open while flushing needs the write transaction: it waits for the worker's commit, then sees
 * the barrier's state plus the changes made since. */
static void test_iterator_waits_for_flush(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  put_s(b, "B", "b0");
  put_s(b, "C", "c0");
  put_s(b, "E", "e0");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  put_s(b, "A", "1");
  put_s(b, "B", "2");
  del_s(b, "C");
  sl_frozen *f = freeze(b);
  put_s(b, "A", "10");
  put_s(b, "D", "d");
  del_s(b, "B");
  struct worker w;
  double t0 = now_ms();
  worker_start(&w, f, 50);
  char got[256];
  iter_dump(b, NULL, got, sizeof got);
  expect_waited(b, t0);
  assert_string_equal(got, "A=10;D=d;E=e0;");
  sl_snapshot *snap = worker_join(&w);
  /* The worker's view is the barrier's state. */
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  assert_int_equal(entries, 3);
  flush_done(f, snap);
  dump_loaded(dir, got, sizeof got);
  assert_string_equal(got, "A=1;B=2;E=e0;");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  iter_dump(b, NULL, got, sizeof got);
  assert_string_equal(got, "A=10;D=d;E=e0;");
  sl_backend_close(b);
}

/* A put past the cache cap while flushing spills: it waits for the worker, then writes the spill. */
static void test_spill_waits_for_flush(void **state) {
  const char *dir = *state;
  enum { CAP = 64 << 10, BIG = 96 << 10 };
  sl_backend *b = open_b(dir, CAP, 0);
  char k[32];
  for (int i = 0; i < 20; i++) {
    snprintf(k, sizeof k, "k%02d", i);
    put_s(b, k, "1");
  }
  sl_frozen *f = freeze(b);
  put_s(b, "k00", "2");
  static char big[BIG + 1];
  memset(big, 'z', BIG);
  struct worker w;
  double t0 = now_ms();
  worker_start(&w, f, 50);
  put_s(b, "big", big); /* past the cap: a spill */
  expect_waited(b, t0);
  assert_true(b->spill.records > 0); /* the spill committed the dirty entries, and logged them */
  flush_done(f, worker_join(&w));
  expect_val(b, "k00", "2");
  expect_val(b, "k01", "1");
  expect_val(b, "big", big);
  /* The spill committed changes the next batch does not hold; the delta log does, and the next barrier
   * still gets a batch (which takes the log). */
  sl_frozen *f2 = freeze(b);
  assert_int_equal(b->spill.records, 0);
  flush_done(f2, flush_inline(f2));
  sl_backend_close(b);
  b = open_b(dir, CAP, 0);
  expect_val(b, "k00", "2");
  expect_val(b, "k19", "1");
  expect_val(b, "big", big);
  sl_backend_close(b);
}

/* Whenever the write transaction holds changes, the barrier falls back to a commit on the loop thread. */
static void test_fallbacks(void **state) {
  const char *dir = *state;
  char k[32], v[64];
  /* Spills under a tiny cache. */
  sl_backend *b = open_b(dir, 4096, 0);
  for (int i = 0; i < 500; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    snprintf(v, sizeof v, "value-%d", i);
    put_s(b, k, v);
  }
  /* Spills committed entries between barriers and logged them: no reason to fall back either, unless the
   * log could not take them. */
  assert_true(b->spill.records > 0);
  b->committed_unfrozen = 1; /* as after a failed append */
  expect_fallback(b);
  assert_int_equal(b->flushing, 0);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(b->committed_unfrozen, 0);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  for (int i = 0; i < 500; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    snprintf(v, sizeof v, "value-%d", i);
    expect_val(b, k, v);
  }
  /* Entries an iterator flushed into the transaction are no reason to fall back: they are still dirty in
   * the cache, so the freeze drops that transaction and the batch takes them. */
  put_s(b, "it", "1");
  sl_backend_iter *it;
  assert_int_equal(sl_backend_iter_open(b, "it", 2, &it), SL_STATE_OK);
  sl_backend_iter_close(it);
  assert_int_equal(b->txn_written, 1);
  sl_frozen *fi = freeze(b);
  assert_int_equal(sl_frozen_count(fi), 1);
  flush_done(fi, flush_inline(fi));
  /* Nor is a prefix delete: it deletes each key under the prefix through the cache, and the batch holds
   * those deletes. */
  assert_int_equal(sl_backend_delete_prefix(b, "k00", 3), SL_STATE_OK);
  fi = freeze(b);
  assert_int_equal(sl_frozen_count(fi), 100);
  flush_done(fi, flush_inline(fi));
  /* With nothing written since, the freeze goes ahead (an empty batch is fine). */
  sl_frozen *f = freeze(b);
  assert_int_equal(sl_frozen_count(f), 0);
  flush_done(f, flush_inline(f));
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_val(b, "it", "1");
  expect_val(b, "k0099", NULL);
  expect_val(b, "k0100", "value-100");
  expect_val(b, "k0499", "value-499");
  sl_backend_close(b);
}

/* A flush that fails (the map is full; the worker may not grow it) commits nothing and leaves every entry
 * dirty: the next barrier commits on the loop thread, growing the map, and loses nothing. */
static void test_failed_flush_keeps_entries_dirty(void **state) {
  const char *dir = *state;
  enum { N = 200, VLEN = 2000 };
  sl_backend *b = open_b(dir, 0, 256 << 10);
  char k[32], v[VLEN + 1];
  put_s(b, "pre", "p");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  memset(v, 'x', VLEN);
  v[VLEN] = '\0';
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    put_s(b, k, v);
  }
  assert_int_equal(sl_backend_meta_put(b, "m", "x", 1), SL_STATE_OK);
  uint32_t id = sid(b, "op", "s");
  sl_frozen *f = freeze(b);
  struct worker w;
  worker_start(&w, f, 0);
  assert_int_equal(pthread_join(w.th, NULL), 0);
  assert_int_equal(w.rc, -1);
  assert_non_null(strstr(w.err, "flushing"));
  assert_null(w.snap);
  sl_frozen_complete(f);
  assert_int_equal(b->snapshots_open, 0);
  /* Nothing was settled: the pending meta and id are still pending, the entries still dirty. */
  assert_int_equal(b->meta_pend.count, 1);
  assert_int_equal(b->ids_pend.count, 1);
  expect_val(b, "k0000", v);
  assert_int_equal(sl_backend_freeze(b, &f), 1);
  sl_backend_stats st0, st1;
  sl_backend_get_stats(b, &st0);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_get_stats(b, &st1);
  /* Every entry written (again after each growth of the map, which aborts and retries the commit). */
  assert_true(st1.map_resizes > st0.map_resizes);
  assert_true(st1.entries_written - st0.entries_written >= N);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    expect_val(b, k, v);
  }
  expect_val(b, "pre", "p");
  expect_meta(b, "m", "x");
  assert_int_equal(sid(b, "op", "s"), id);
  assert_int_equal(b->ids_pend.count, 0);
  sl_backend_close(b);
}

int main(void) {
  /* A wait that never ends (a miss that waits for a flush nobody runs) fails the test rather than hanging. */
  alarm(60);
  const struct CMUnitTest tests[] = {
      T(test_miss_while_flushing), T(test_iterator_waits_for_flush),         T(test_spill_waits_for_flush),
      T(test_fallbacks),           T(test_failed_flush_keeps_entries_dirty),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
