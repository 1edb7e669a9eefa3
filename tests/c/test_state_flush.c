/* test_state_flush.c — barriers that hand the LMDB flush to a worker (state/state_flush.c): the snapshot is
 * exactly the state at the freeze whether the flush runs on another thread or inline, changes made while
 * flushing survive the settling (also two barriers in a row with no settling between, taking the written
 * list or scanning the cache), settling in steps, state ids assigned around a flush stay unique, and the
 * final checkpoint's batch that writes only its delta and seals the backend. The waits, fallbacks and failed flushes are in test_state_flush_wait.c. Each test gets its own directory. The
 * test looks at a few internal fields (state_backend_internal.h) where the public API cannot tell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/state_delta.h"
#include "state_flush_fixture.h"

/* Frozen but unchanged afterwards: settling must mark them clean, so the next commit skips them. */
#define UNCHANGED 50

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
  *f = freeze(b);
  /* A, B, C, the unchanged keys, m, "op"/"new". */
  assert_int_equal(sl_frozen_count(*f), 3 + UNCHANGED + 2);
  changes_after(b);
  if (threaded) {
    struct worker w;
    worker_start(&w, *f, 0);
    *snap = worker_join(&w);
  } else {
    *snap = flush_inline(*f);
  }
  return b;
}

/* The loaded copy of the snapshot holds the barrier's state and nothing of what came after. */
static void check_barrier_state(const char *dir, uint32_t new_id) {
  char k[32];
  sl_backend *l = open_loaded(dir);
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
  flush_done(f, snap);
  check_barrier_state(dir, new_id);
  sl_backend_close(b);
}

static void test_barrier_exact_threaded(void **state) {
  barrier_exactness(*state, 1);
}

static void test_barrier_exact_inline(void **state) {
  barrier_exactness(*state, 0);
}

/* The newest state, after the scenario's changes after the barrier. */
static void expect_after_state(sl_backend *b) {
  expect_val(b, "A", "10");
  expect_val(b, "D", "d");
  expect_val(b, "B", NULL);
  expect_val(b, "C", NULL);
  expect_meta(b, "m", "y");
}

/* Settling marks clean only the entries that still hold the frozen bytes: what changed during the flush is
 * committed by the next commit, and nothing else is written again. */
static void test_changes_during_flush_survive(void **state) {
  const char *dir = *state;
  uint32_t new_id;
  sl_frozen *f;
  sl_snapshot *snap;
  sl_backend *b = scenario(dir, 1, &new_id, &f, &snap);
  flush_done(f, snap);
  assert_int_equal(b->flushing, 0);
  assert_int_equal(b->snapshots_open, 0);
  /* The working state is the newest one. */
  expect_after_state(b);
  /* Still pending: m changed after the freeze. "op"/"new" is committed and no longer pending. */
  assert_int_equal(b->meta_pend.count, 1);
  assert_int_equal(b->ids_pend.count, 0);
  /* A, D and B's delete; the unchanged keys and C were settled clean. */
  assert_int_equal(commit_written(b), 3);
  sl_backend_close(b);

  b = open_b(dir, 0, 0);
  expect_after_state(b);
  expect_val(b, "u007", "u");
  assert_int_equal(sid(b, "op", "new"), new_id);
  assert_int_equal(b->ids_pend.count, 0);
  sl_backend_close(b);
}

/* A string of 599 'b's: a value that outgrows a small entry, so that the entry moves in memory. */
static void fill_big(char big[600]) {
  memset(big, 'b', 599);
  big[599] = '\0';
}

/* An entry changed after the freeze and changed back to the frozen bytes is clean after settling (LMDB holds
 * those bytes), also when it moved in memory meanwhile (a value that outgrew its entry: settling then looks
 * it up instead of following the pointer taken at the freeze). Settling in steps covers every entry. */
static void test_settle_in_steps(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  char k[32], big[600];
  fill_big(big);
  for (int i = 0; i < 10; i++) {
    snprintf(k, sizeof k, "s%d", i);
    put_s(b, k, "v");
  }
  sl_frozen *f = freeze(b);
  put_s(b, "s0", "other");
  put_s(b, "s0", "v"); /* back to the frozen bytes */
  put_s(b, "s1", "w");
  put_s(b, "s2", big); /* moves the entry */
  put_s(b, "s3", big);
  put_s(b, "s3", "v"); /* moved, and back to the frozen bytes */
  sl_snapshot_end(flush_inline(f));
  sl_frozen_finish(f);
  assert_int_equal(sl_frozen_settle(f, 3), 0);
  assert_int_equal(sl_frozen_settle(f, 3), 0);
  assert_int_equal(sl_frozen_settle(f, 100), 1);
  assert_int_equal(sl_frozen_settle(f, 100), 1);
  sl_frozen_free(f);
  assert_int_equal(commit_written(b), 2); /* s1 and s2 */
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
 * LMDB, and the next barrier takes only what was written since (from the cache's WRITTEN queue, which
 * follows an entry that moved in memory). Either way each snapshot is exact. */
static void barrier_then_barrier(const char *dir, int move_an_entry) {
  sl_backend *b = open_b(dir, 0, 0);
  char k[32], got[2048], want[2048], big[600];
  fill_big(big);
  for (int i = 0; i < 5; i++) {
    snprintf(k, sizeof k, "x%d", i);
    put_s(b, k, "1");
  }
  put_s(b, "y", "1");
  put_s(b, "z", "1");
  sl_frozen *f = freeze(b);
  assert_int_equal(sl_frozen_count(f), 7);
  sl_snapshot_end(flush_inline(f));
  sl_frozen_finish(f);
  sl_frozen_free(f); /* not settled */
  put_s(b, "y", "2");
  del_s(b, "x0");
  if (move_an_entry)
    put_s(b, "z", big);
  f = freeze(b);
  /* From the queue: y, x0 (and z, moved); not the unsettled x1..x4. */
  assert_int_equal(sl_frozen_count(f), move_an_entry ? 3 : 2);
  put_s(b, "y", "3");
  struct worker w;
  worker_start(&w, f, 0);
  sl_snapshot *snap = worker_join(&w);
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  flush_done(f, snap);
  dump_loaded(dir, got, sizeof got);
  snprintf(want, sizeof want, "x1=1;x2=1;x3=1;x4=1;y=2;z=%s;", move_an_entry ? big : "1");
  assert_string_equal(got, want);
  /* y=3 only: x1..x4 (and z), left dirty by the unsettled first barrier, are known to be in LMDB (on no
   * queue, and no flush failed), so the commit marks them clean without writing them again. */
  assert_int_equal(commit_written(b), 1);
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

/* State ids are assigned as "ids known + 1". Ids assigned before the freeze are both committed by the worker
 * and still pending until sl_frozen_finish: an id assigned in between must not count them twice, or a later
 * state gets an id already taken. */
static void test_state_ids_around_flush(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  sl_frozen *f;
  sl_snapshot *snap;
  assert_int_equal(sid(b, "op", "a"), 1);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  /* Assigned while flushing, before the worker's commit (the read view predates it), and after it. */
  assert_int_equal(sid(b, "op", "b"), 2);
  f = freeze(b);
  assert_int_equal(sid(b, "op", "c"), 3);
  snap = flush_inline(f);
  assert_int_equal(sid(b, "op", "d"), 4);
  flush_done(f, snap);
  /* Assigned only after the worker's commit: the first read view already holds the frozen ids. */
  f = freeze(b);
  snap = flush_inline(f);
  assert_int_equal(sid(b, "op", "e"), 5);
  flush_done(f, snap);
  /* Assigned after a wait for the worker ended the flushing state, before finish. */
  assert_int_equal(sid(b, "op", "f"), 6);
  f = freeze(b);
  snap = flush_inline(f);
  sl_backend_iter *it;
  assert_int_equal(sl_backend_iter_open(b, NULL, 0, &it), SL_STATE_OK);
  sl_backend_iter_close(it);
  assert_int_equal(sid(b, "op", "g"), 7);
  flush_done(f, snap);
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

/* The final checkpoint's batch (sl_frozen_for_delta_only): its delta holds the barrier's state exactly, LMDB
 * is left as it was, and the backend is sealed — a read or a write after it fails instead of answering from
 * a cache that LMDB no longer backs. */
static void test_delta_only_seals(void **state) {
  const char *dir = *state;
  char path[4200], loaded[4200], err[256] = "";
  commit_base(dir);
  sl_backend *b = open_b(dir, 0, 0);
  sl_snapshot *base = NULL;
  assert_int_equal(sl_snapshot_begin(b, &base), SL_STATE_OK);
  uint64_t entries = 0, bytes = 0;
  write_and_load(dir, base, &entries);
  sl_snapshot_end(base);
  uint32_t new_id = changes_before(b);
  sl_frozen *f = freeze(b);
  sl_frozen_for_delta_only(f);
  sl_snapshot *snap = (sl_snapshot *)&snap; /* must come back NULL: no view is opened */
  assert_int_equal(sl_frozen_flush(f, &snap, err, sizeof err), 0);
  assert_null(snap);
  snprintf(path, sizeof path, "%s/delta.snap", dir);
  if (sl_frozen_write_delta(f, path, &bytes, &entries, err, sizeof err) != 0)
    fail_msg("delta write: %s", err);
  assert_int_equal(entries, 3 + UNCHANGED + 2);
  sl_frozen_complete(f);
  const void *v = NULL;
  size_t vl = 0;
  assert_int_not_equal(sl_backend_get(b, "A", 1, &v, &vl), SL_STATE_OK);
  assert_int_not_equal(sl_backend_put(b, "E", 1, "e", 1), SL_STATE_OK);
  sl_backend_close(b);
  /* LMDB still holds the base: nothing of the batch was written to it. */
  b = open_b(dir, 0, 0);
  expect_val(b, "A", NULL);
  expect_val(b, "B", "b0");
  expect_val(b, "C", "c0");
  sl_backend_close(b);
  /* The base plus the delta is the barrier's state. */
  snprintf(loaded, sizeof loaded, "%s/loaded", dir);
  if (sl_snapshot_apply_delta(loaded, path, NULL, NULL, err, sizeof err) != 0)
    fail_msg("delta apply: %s", err);
  check_barrier_state(dir, new_id);
}

int main(void) {
  /* A wait that never ends (a flush nobody completes) fails the test rather than hanging. */
  alarm(60);
  const struct CMUnitTest tests[] = {
      T(test_barrier_exact_threaded),       T(test_barrier_exact_inline),
      T(test_changes_during_flush_survive), T(test_settle_in_steps),
      T(test_barrier_then_barrier_listed),  T(test_barrier_then_barrier_scanned),
      T(test_state_ids_around_flush),       T(test_delta_only_seals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
