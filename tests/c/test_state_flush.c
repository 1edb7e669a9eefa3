/* test_state_flush.c — barriers that hand the LMDB flush to a worker (state/state_flush.c): the snapshot is
 * exactly the state at the freeze whether the flush runs on another thread or inline, changes made while
 * flushing survive the settling (also two barriers in a row with no settling between, taking the written
 * list or scanning the cache), cache misses while flushing read the committed state without waiting,
 * spills and iterator opens wait for the worker, the synchronous fallbacks, a failed flush (a full map)
 * loses nothing, and state ids assigned around a flush stay unique. Each test gets its own directory. The
 * test looks at a few internal fields (state_backend_internal.h) where the public API cannot tell. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/state_backend.h"
#include "state/state_backend_internal.h"
#include "state/state_flush.h"
#include "state/state_snapshot.h"
#include "state_expect.h"
#define TEST_TMPDIR_PREFIX "sl_flush"
#include "test_tmpdir.h"

/* Frozen but unchanged afterwards: settling must mark them clean, so the next commit skips them. */
#define UNCHANGED 50
/* Committed before the scenario and never touched: a reopened backend must read them through LMDB. */
#define OLD 20

static sl_backend *open_b(const char *dir, size_t cache_max, size_t map_size) {
  sl_backend_options o = {cache_max, map_size};
  return open_backend(dir, &o);
}

static void put_s(sl_backend *b, const char *key, const char *val) {
  assert_int_equal(sl_backend_put(b, key, strlen(key), val, strlen(val)), SL_STATE_OK);
}

static void del_s(sl_backend *b, const char *key) {
  assert_int_equal(sl_backend_delete(b, key, strlen(key)), SL_STATE_OK);
}

/* want NULL: the key must be absent. */
static void expect_val(sl_backend *b, const char *key, const char *want) {
  const void *v = NULL;
  size_t vl = 0;
  int rc = sl_backend_get(b, key, strlen(key), &v, &vl);
  expect_found(rc, v, vl, want);
}

static uint32_t sid(sl_backend *b, const char *op, const char *name) {
  uint32_t id = 0;
  assert_int_equal(sl_backend_state_id(b, op, name, &id), SL_STATE_OK);
  assert_true(id > 0);
  return id;
}

static uint64_t written(const sl_backend *b) {
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  return st.entries_written;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Every key of the backend as "k=v;" in key order. */
static void dump(sl_backend *b, char *out, size_t cap) {
  sl_backend_iter *it;
  const void *k, *v;
  size_t kl, vl, at = 0;
  out[0] = '\0';
  assert_int_equal(sl_backend_iter_open(b, NULL, 0, &it), SL_STATE_OK);
  while (sl_backend_iter_next(it, &k, &kl, &v, &vl) == SL_STATE_OK) {
    int n = snprintf(out + at, cap - at, "%.*s=%.*s;", (int)kl, (const char *)k, (int)vl, (const char *)v);
    assert_true(n > 0 && (size_t)n < cap - at);
    at += (size_t)n;
  }
  sl_backend_iter_close(it);
}

/* The flush on a worker thread, optionally after a pause (so that the loop thread has to wait for it). */
struct worker {
  pthread_t th;
  sl_frozen *f;
  unsigned delay_ms;
  int rc;
  sl_snapshot *snap;
  char err[256];
};

static void *worker_main(void *arg) {
  struct worker *w = arg;
  if (w->delay_ms)
    usleep(w->delay_ms * 1000u);
  w->rc = sl_frozen_flush(w->f, &w->snap, w->err, sizeof w->err);
  return NULL;
}

static void worker_start(struct worker *w, sl_frozen *f, unsigned delay_ms) {
  memset(w, 0, sizeof *w);
  w->f = f;
  w->delay_ms = delay_ms;
  w->rc = -2;
  assert_int_equal(pthread_create(&w->th, NULL, worker_main, w), 0);
}

static sl_snapshot *worker_join(struct worker *w) {
  assert_int_equal(pthread_join(w->th, NULL), 0);
  if (w->rc != 0)
    fail_msg("flush failed: %s", w->err);
  assert_non_null(w->snap);
  return w->snap;
}

/* The committed state the scenario starts from: OLD old keys, C, and state "op"/"s". */
static void commit_base(const char *dir) {
  sl_backend *b = open_b(dir, 0, 0);
  char k[32];
  sid(b, "op", "s");
  for (int i = 0; i < OLD; i++) {
    snprintf(k, sizeof k, "old%03d", i);
    put_s(b, k, "o");
  }
  put_s(b, "C", "c0");
  put_s(b, "B", "b0");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
}

/* Changes up to the barrier: A=1, B=2, C deleted, UNCHANGED frozen keys, meta m=x, state "op"/"new". */
static uint32_t changes_before(sl_backend *b) {
  char k[32];
  put_s(b, "A", "1");
  put_s(b, "B", "2");
  del_s(b, "C");
  for (int i = 0; i < UNCHANGED; i++) {
    snprintf(k, sizeof k, "u%03d", i);
    put_s(b, k, "u");
  }
  assert_int_equal(sl_backend_meta_put(b, "m", "x", 1), SL_STATE_OK);
  return sid(b, "op", "new");
}

/* Changes after the barrier, before the flush: none of them may reach the snapshot. */
static void changes_after(sl_backend *b) {
  put_s(b, "A", "10");
  put_s(b, "D", "d");
  del_s(b, "B");
  assert_int_equal(sl_backend_meta_put(b, "m", "y", 1), SL_STATE_OK);
}

/* Base, changes, freeze, more changes, flush (threaded or inline): returns the open backend and snapshot. */
static sl_backend *scenario(const char *dir, int threaded, uint32_t *new_id, sl_frozen **f,
                            sl_snapshot **snap) {
  commit_base(dir);
  sl_backend *b = open_b(dir, 0, 0);
  *new_id = changes_before(b);
  assert_int_equal(sl_backend_freeze(b, f), SL_STATE_OK);
  assert_non_null(*f);
  /* A, B, C, the unchanged keys, m, "op"/"new". */
  assert_int_equal(sl_frozen_count(*f), 3 + UNCHANGED + 2);
  changes_after(b);
  char err[256] = "";
  *snap = NULL;
  if (threaded) {
    struct worker w;
    worker_start(&w, *f, 0);
    *snap = worker_join(&w);
  } else if (sl_frozen_flush(*f, snap, err, sizeof err) != 0) {
    fail_msg("flush failed: %s", err);
  }
  assert_non_null(*snap);
  return b;
}

/* The loaded copy of the snapshot holds the barrier's state and nothing of what came after. */
static void check_barrier_state(const char *dir, uint32_t new_id) {
  char loaded[4200], k[32];
  snprintf(loaded, sizeof loaded, "%s/loaded", dir);
  sl_backend *l = open_b(loaded, 0, 0);
  expect_val(l, "A", "1");
  expect_val(l, "B", "2");
  expect_val(l, "C", NULL);
  expect_val(l, "D", NULL);
  for (int i = 0; i < UNCHANGED; i++) {
    snprintf(k, sizeof k, "u%03d", i);
    expect_val(l, k, "u");
  }
  for (int i = 0; i < OLD; i++) {
    snprintf(k, sizeof k, "old%03d", i);
    expect_val(l, k, "o");
  }
  expect_meta(l, "m", "x");
  /* Found in LMDB, not assigned afresh (a fresh assignment would also be count + 1). */
  assert_int_equal(sid(l, "op", "new"), new_id);
  assert_int_equal(sid(l, "op", "s"), 1);
  assert_int_equal(l->ids_pend.count, 0);
  sl_backend_close(l);
}

static void write_and_load(const char *dir, sl_snapshot *snap, uint64_t *entries) {
  char path[4200], loaded[4200], err[256] = "";
  uint64_t bytes = 0;
  snprintf(path, sizeof path, "%s/state.snap", dir);
  snprintf(loaded, sizeof loaded, "%s/loaded", dir);
  if (sl_snapshot_write(snap, path, &bytes, entries, err, sizeof err) != 0)
    fail_msg("snapshot write: %s", err);
  assert_int_equal(mkdir(loaded, 0755), 0);
  if (sl_snapshot_load(loaded, path, NULL, NULL, err, sizeof err) != 0)
    fail_msg("snapshot load: %s", err);
}

static void barrier_exactness(const char *dir, int threaded) {
  uint32_t new_id;
  sl_frozen *f;
  sl_snapshot *snap;
  sl_backend *b = scenario(dir, threaded, &new_id, &f, &snap);
  assert_int_equal(new_id, 2);
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  /* kv: A, B, the unchanged and old keys; meta m; states s and new. */
  assert_int_equal(entries, 2 + UNCHANGED + OLD + 1 + 2);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  check_barrier_state(dir, new_id);
  sl_backend_close(b);
}

static void test_barrier_exact_threaded(void **state) {
  barrier_exactness(*state, 1);
}

static void test_barrier_exact_inline(void **state) {
  barrier_exactness(*state, 0);
}

/* Settling marks clean only the entries that still hold the frozen bytes: what changed during the flush is
 * committed by the next commit, and nothing else is written again. */
static void test_changes_during_flush_survive(void **state) {
  const char *dir = *state;
  uint32_t new_id;
  sl_frozen *f;
  sl_snapshot *snap;
  sl_backend *b = scenario(dir, 1, &new_id, &f, &snap);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  assert_int_equal(b->flushing, 0);
  assert_int_equal(b->snapshots_open, 0);
  /* The working state is the newest one. */
  expect_val(b, "A", "10");
  expect_val(b, "D", "d");
  expect_val(b, "B", NULL);
  expect_val(b, "C", NULL);
  expect_meta(b, "m", "y");
  /* Still pending: m changed after the freeze. "op"/"new" is committed and no longer pending. */
  assert_int_equal(b->meta_pend.count, 1);
  assert_int_equal(b->ids_pend.count, 0);
  uint64_t before = written(b);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  /* A, D and B's delete; the unchanged keys and C were settled clean. */
  assert_int_equal(written(b) - before, 3);
  sl_backend_close(b);

  b = open_b(dir, 0, 0);
  expect_val(b, "A", "10");
  expect_val(b, "D", "d");
  expect_val(b, "B", NULL);
  expect_val(b, "C", NULL);
  expect_val(b, "u007", "u");
  expect_meta(b, "m", "y");
  assert_int_equal(sid(b, "op", "new"), new_id);
  assert_int_equal(b->ids_pend.count, 0);
  sl_backend_close(b);
}

/* An entry changed after the freeze and changed back to the frozen bytes is clean after settling (LMDB holds
 * those bytes), also when it moved in memory meanwhile (a value that outgrew its entry: settling then looks
 * it up instead of following the pointer taken at the freeze). Settling in steps covers every entry. */
static void test_settle_in_steps(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  char k[32], big[600];
  memset(big, 'b', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  for (int i = 0; i < 10; i++) {
    snprintf(k, sizeof k, "s%d", i);
    put_s(b, k, "v");
  }
  sl_frozen *f;
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  put_s(b, "s0", "other");
  put_s(b, "s0", "v"); /* back to the frozen bytes */
  put_s(b, "s1", "w");
  put_s(b, "s2", big); /* moves the entry */
  put_s(b, "s3", big);
  put_s(b, "s3", "v"); /* moved, and back to the frozen bytes */
  sl_snapshot *snap = NULL;
  char err[256];
  assert_int_equal(sl_frozen_flush(f, &snap, err, sizeof err), 0);
  sl_snapshot_end(snap);
  sl_frozen_finish(f);
  assert_int_equal(sl_frozen_settle(f, 3), 0);
  assert_int_equal(sl_frozen_settle(f, 3), 0);
  assert_int_equal(sl_frozen_settle(f, 100), 1);
  assert_int_equal(sl_frozen_settle(f, 100), 1);
  sl_frozen_free(f);
  uint64_t before = written(b);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(written(b) - before, 2); /* s1 and s2 */
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_val(b, "s0", "v");
  expect_val(b, "s1", "w");
  expect_val(b, "s2", big);
  expect_val(b, "s3", "v");
  expect_val(b, "s9", "v");
  sl_backend_close(b);
}

/* The runtime frees a batch that is not settled yet at the next barrier: its entries stay dirty but are in
 * LMDB, and the next barrier takes only what was written since (from the written list) — or, when an entry
 * was freed meanwhile and the list cannot be trusted, every dirty entry. Either way each snapshot is exact.
 */
static void barrier_then_barrier(const char *dir, int move_an_entry) {
  sl_backend *b = open_b(dir, 0, 0);
  char k[32], got[2048], want[2048], big[600];
  memset(big, 'b', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  for (int i = 0; i < 5; i++) {
    snprintf(k, sizeof k, "x%d", i);
    put_s(b, k, "1");
  }
  put_s(b, "y", "1");
  put_s(b, "z", "1");
  sl_frozen *f;
  sl_snapshot *snap = NULL;
  char err[256];
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  assert_int_equal(sl_frozen_count(f), 7);
  assert_int_equal(sl_frozen_flush(f, &snap, err, sizeof err), 0);
  sl_snapshot_end(snap);
  sl_frozen_finish(f);
  sl_frozen_free(f); /* not settled */
  put_s(b, "y", "2");
  del_s(b, "x0");
  if (move_an_entry)
    put_s(b, "z", big);
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  /* From the list: y, x0 (and z); from a scan: also the unsettled x1..x4. */
  assert_int_equal(sl_frozen_count(f), move_an_entry ? 7 : 2);
  put_s(b, "y", "3");
  struct worker w;
  worker_start(&w, f, 0);
  snap = worker_join(&w);
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  char loaded[4200];
  snprintf(loaded, sizeof loaded, "%s/loaded", dir);
  sl_backend *l = open_b(loaded, 0, 0);
  dump(l, got, sizeof got);
  snprintf(want, sizeof want, "x1=1;x2=1;x3=1;x4=1;y=2;z=%s;", move_an_entry ? big : "1");
  assert_string_equal(got, want);
  sl_backend_close(l);
  uint64_t before = written(b);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  /* y=3; without the scan also x1..x4 and z, left dirty by the unsettled first barrier (the same bytes). */
  assert_int_equal(written(b) - before, move_an_entry ? 1 : 6);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_val(b, "y", "3");
  expect_val(b, "x0", NULL);
  expect_val(b, "x4", "1");
  expect_val(b, "z", move_an_entry ? big : "1");
  sl_backend_close(b);
}

static void test_barrier_then_barrier_listed(void **state) {
  barrier_then_barrier(*state, 0);
}

static void test_barrier_then_barrier_scanned(void **state) {
  barrier_then_barrier(*state, 1);
}

/* A miss while flushing reads the committed state through a read-only transaction, without waiting for
 * the worker (which has not even started here: waiting would hang). */
static void test_miss_while_flushing(void **state) {
  const char *dir = *state;
  commit_base(dir);
  sl_backend *b = open_b(dir, 0, 0); /* empty cache */
  put_s(b, "A", "1");
  del_s(b, "old001");
  sl_frozen *f;
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
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
  sl_snapshot *snap = NULL;
  char err[256];
  assert_int_equal(sl_frozen_flush(f, &snap, err, sizeof err), 0);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  uint64_t before = written(b);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(written(b) - before, 1);
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
  sl_frozen *f;
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  put_s(b, "A", "10");
  put_s(b, "D", "d");
  del_s(b, "B");
  struct worker w;
  double t0 = now_ms();
  worker_start(&w, f, 50);
  char got[256];
  dump(b, got, sizeof got);
  double waited = now_ms() - t0;
  assert_true(waited >= 45.0);
  assert_int_equal(b->flushing, 0);
  assert_string_equal(got, "A=10;D=d;E=e0;");
  sl_snapshot *snap = worker_join(&w);
  /* The worker's view is the barrier's state. */
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  assert_int_equal(entries, 3);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  char loaded[4200];
  snprintf(loaded, sizeof loaded, "%s/loaded", dir);
  sl_backend *l = open_b(loaded, 0, 0);
  dump(l, got, sizeof got);
  assert_string_equal(got, "A=1;B=2;E=e0;");
  sl_backend_close(l);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  dump(b, got, sizeof got);
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
  sl_frozen *f;
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  put_s(b, "k00", "2");
  static char big[BIG + 1];
  memset(big, 'z', BIG);
  struct worker w;
  double t0 = now_ms();
  worker_start(&w, f, 50);
  put_s(b, "big", big); /* past the cap: a spill */
  double waited = now_ms() - t0;
  assert_true(waited >= 45.0);
  assert_int_equal(b->flushing, 0);
  assert_true(b->spill.records > 0);
  sl_snapshot *snap = worker_join(&w);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  expect_val(b, "k00", "2");
  expect_val(b, "k01", "1");
  expect_val(b, "big", big);
  /* The transaction holds the spill: the next barrier must commit on the loop thread. */
  sl_frozen *f2 = NULL;
  assert_int_equal(sl_backend_freeze(b, &f2), 1);
  assert_null(f2);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
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
  sl_frozen *f = NULL;
  /* Spills under a tiny cache. */
  sl_backend *b = open_b(dir, 4096, 0);
  for (int i = 0; i < 500; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    snprintf(v, sizeof v, "value-%d", i);
    put_s(b, k, v);
  }
  assert_true(b->spill.records > 0);
  assert_int_equal(sl_backend_freeze(b, &f), 1);
  assert_null(f);
  assert_int_equal(b->flushing, 0);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  for (int i = 0; i < 500; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    snprintf(v, sizeof v, "value-%d", i);
    expect_val(b, k, v);
  }
  /* Entries an iterator flushed into the transaction. */
  put_s(b, "it", "1");
  sl_backend_iter *it;
  assert_int_equal(sl_backend_iter_open(b, "it", 2, &it), SL_STATE_OK);
  sl_backend_iter_close(it);
  assert_int_equal(sl_backend_freeze(b, &f), 1);
  assert_null(f);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  /* A pending prefix delete. */
  assert_int_equal(sl_backend_delete_prefix(b, "k00", 3), SL_STATE_OK);
  assert_int_equal(sl_backend_freeze(b, &f), 1);
  assert_null(f);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  /* With nothing in the transaction the freeze goes ahead (an empty batch is fine). */
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  assert_int_equal(sl_frozen_count(f), 0);
  sl_snapshot *snap = NULL;
  char err[256];
  assert_int_equal(sl_frozen_flush(f, &snap, err, sizeof err), 0);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
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
  sl_frozen *f;
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
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

/* State ids are assigned as "ids known + 1". Ids assigned before the freeze are both committed by the worker
 * and still pending until sl_frozen_finish: an id assigned in between must not count them twice, or a later
 * state gets an id already taken. */
static void test_state_ids_around_flush(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  sl_frozen *f;
  sl_snapshot *snap = NULL;
  char err[256];
  assert_int_equal(sid(b, "op", "a"), 1);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  /* Assigned while flushing, before the worker's commit (the read view predates it), and after it. */
  assert_int_equal(sid(b, "op", "b"), 2);
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  assert_int_equal(sid(b, "op", "c"), 3);
  assert_int_equal(sl_frozen_flush(f, &snap, err, sizeof err), 0);
  assert_int_equal(sid(b, "op", "d"), 4);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  /* Assigned only after the worker's commit: the first read view already holds the frozen ids. */
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  assert_int_equal(sl_frozen_flush(f, &snap, err, sizeof err), 0);
  assert_int_equal(sid(b, "op", "e"), 5);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  /* Assigned after a wait for the worker ended the flushing state, before finish. */
  assert_int_equal(sid(b, "op", "f"), 6);
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  assert_int_equal(sl_frozen_flush(f, &snap, err, sizeof err), 0);
  sl_backend_iter *it;
  assert_int_equal(sl_backend_iter_open(b, NULL, 0, &it), SL_STATE_OK);
  sl_backend_iter_close(it);
  assert_int_equal(sid(b, "op", "g"), 7);
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(sid(b, "op", "h"), 8);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  const char *names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
  for (uint32_t i = 0; i < 8; i++)
    assert_int_equal(sid(b, "op", names[i]), i + 1);
  assert_int_equal(b->ids_pend.count, 0);
  sl_backend_close(b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void) {
  /* A wait that never ends (a miss that waits for a flush nobody runs) fails the test rather than hanging. */
  alarm(60);
  const struct CMUnitTest tests[] = {
      T(test_barrier_exact_threaded),
      T(test_barrier_exact_inline),
      T(test_changes_during_flush_survive),
      T(test_settle_in_steps),
      T(test_barrier_then_barrier_listed),
      T(test_barrier_then_barrier_scanned),
      T(test_miss_while_flushing),
      T(test_iterator_waits_for_flush),
      T(test_spill_waits_for_flush),
      T(test_fallbacks),
      T(test_failed_flush_keeps_entries_dirty),
      T(test_state_ids_around_flush),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
