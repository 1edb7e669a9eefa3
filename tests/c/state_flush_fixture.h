/* state_flush_fixture.h — what the flush tests (test_state_flush*.c) share: the flush run on a worker
 * thread, inline flushes and freezes that must succeed, the committed base state the scenarios start from,
 * and a snapshot written and loaded into <dir>/loaded. Header-only so that each test stays one executable
 * that links only the state library; include after <cmocka.h>. */
#ifndef SLUICE_TEST_STATE_FLUSH_FIXTURE_H
#define SLUICE_TEST_STATE_FLUSH_FIXTURE_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/state_backend.h"
#include "state/state_backend_internal.h"
#include "state/state_flush.h"
#include "state/state_snapshot.h"
#include "state_expect.h"
#define TEST_TMPDIR_PREFIX "sl_flush"
#include "test_tmpdir.h"

/* Committed before the scenario and never touched: a reopened backend must read them through LMDB. */
#define OLD 20

/* The id of state (op, name), found or assigned; ids start at 1. */
static inline uint32_t sid(sl_backend *b, const char *op, const char *name) {
  uint32_t id = 0;
  assert_int_equal(sl_backend_state_id(b, op, name, &id), SL_STATE_OK);
  assert_true(id > 0);
  return id;
}

static inline void del_s(sl_backend *b, const char *key) {
  assert_int_equal(sl_backend_delete(b, key, strlen(key)), SL_STATE_OK);
}

static inline uint64_t written(const sl_backend *b) {
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  return st.entries_written;
}

/* Commits b and returns how many entries the commit wrote. */
static inline uint64_t commit_written(sl_backend *b) {
  uint64_t before = written(b);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  return written(b) - before;
}

/* A freeze that must hand the batch to a flush (not fall back to a commit on the loop thread). */
static inline sl_frozen *freeze(sl_backend *b) {
  sl_frozen *f = NULL;
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  assert_non_null(f);
  return f;
}

/* The flush run inline on this thread; it must succeed. */
static inline sl_snapshot *flush_inline(sl_frozen *f) {
  sl_snapshot *snap = NULL;
  char err[256] = "";
  if (sl_frozen_flush(f, &snap, err, sizeof err) != 0)
    fail_msg("flush failed: %s", err);
  assert_non_null(snap);
  return snap;
}

/* Ends the snapshot and completes the batch (finish + settle + free). */
static inline void flush_done(sl_frozen *f, sl_snapshot *snap) {
  sl_snapshot_end(snap);
  sl_frozen_complete(f);
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

static inline void *worker_main(void *arg) {
  struct worker *w = arg;
  if (w->delay_ms)
    usleep(w->delay_ms * 1000u);
  w->rc = sl_frozen_flush(w->f, &w->snap, w->err, sizeof w->err);
  return NULL;
}

static inline void worker_start(struct worker *w, sl_frozen *f, unsigned delay_ms) {
  memset(w, 0, sizeof *w);
  w->f = f;
  w->delay_ms = delay_ms;
  w->rc = -2;
  assert_int_equal(pthread_create(&w->th, NULL, worker_main, w), 0);
}

static inline sl_snapshot *worker_join(struct worker *w) {
  assert_int_equal(pthread_join(w->th, NULL), 0);
  if (w->rc != 0)
    fail_msg("flush failed: %s", w->err);
  assert_non_null(w->snap);
  return w->snap;
}

/* The committed state the scenarios start from: OLD old keys, B, C, and state "op"/"s". */
static inline void commit_base(const char *dir) {
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

/* Writes snap to <dir>/state.snap and loads it into the new directory <dir>/loaded; entries: how many the
 * snapshot holds. */
static inline void write_and_load(const char *dir, sl_snapshot *snap, uint64_t *entries) {
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

/* The backend loaded by write_and_load. */
static inline sl_backend *open_loaded(const char *dir) {
  char loaded[4200];
  snprintf(loaded, sizeof loaded, "%s/loaded", dir);
  return open_b(loaded, 0, 0);
}

/* Every entry of the backend loaded by write_and_load, as iter_dump writes them. */
static inline void dump_loaded(const char *dir, char *out, size_t cap) {
  sl_backend *l = open_loaded(dir);
  iter_dump(l, NULL, out, cap);
  sl_backend_close(l);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

#endif
