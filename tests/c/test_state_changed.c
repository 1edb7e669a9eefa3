/* test_state_changed.c — sl_backend_changed (state/state_backend.h): what makes a backend changed since its
 * last commit or completed freeze, what does not (the same bytes written again, so that an idle job's
 * barrier can tell there is nothing to checkpoint), and that a failed background flush leaves it changed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state_failed_flush.h"
#include "state_flush_fixture.h"

static void commit_ok(sl_backend *b) {
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(sl_backend_changed(b), 0);
}

/* Each kind of change sets it; a commit clears it. */
static void test_each_change_counts(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  assert_int_equal(sl_backend_changed(NULL), 0);
  assert_int_equal(sl_backend_changed(b), 0);
  put_s(b, "a", "1");
  assert_int_equal(sl_backend_changed(b), 1);
  commit_ok(b);
  put_s(b, "a", "2");
  assert_int_equal(sl_backend_changed(b), 1);
  commit_ok(b);
  del_s(b, "a");
  assert_int_equal(sl_backend_changed(b), 1);
  commit_ok(b);
  assert_int_equal(sl_backend_meta_put(b, "offset", "10", 2), SL_STATE_OK);
  assert_int_equal(sl_backend_changed(b), 1);
  commit_ok(b);
  sid(b, "op", "s");
  assert_int_equal(sl_backend_changed(b), 1);
  commit_ok(b);
  /* A kind recorded for an id that had none is a change as well. */
  uint32_t id;
  sl_state_info want = {SL_STATE_KIND_MAP, 0}, stored;
  assert_int_equal(sl_backend_state_register(b, "op", "s", &want, &id, &stored), SL_STATE_OK);
  assert_int_equal(sl_backend_changed(b), 1);
  commit_ok(b);
  put_s(b, "p1", "x");
  commit_ok(b);
  assert_int_equal(sl_backend_delete_prefix(b, "p", 1), SL_STATE_OK);
  assert_int_equal(sl_backend_changed(b), 1);
  commit_ok(b);
  sl_backend_close(b);
}

/* The same bytes again change nothing: a value put again (cached, or read from LMDB first), a delete of a
 * deleted or known-absent entry, metadata set to what is pending or committed, a state registered again. */
static void test_same_bytes_change_nothing(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  put_s(b, "a", "1");
  put_s(b, "gone", "x");
  del_s(b, "gone");
  assert_int_equal(sl_backend_meta_put(b, "offset", "10", 2), SL_STATE_OK);
  sid(b, "op", "s");
  commit_ok(b);
  put_s(b, "a", "1");
  del_s(b, "gone");
  expect_val(b, "never", NULL); /* a cached miss */
  del_s(b, "never");
  assert_int_equal(sl_backend_meta_put(b, "offset", "10", 2), SL_STATE_OK);
  sid(b, "op", "s");
  assert_int_equal(sl_backend_changed(b), 0);
  assert_int_equal(commit_written(b), 0);
  /* After a reopen the cache is empty: the value is read, then found equal. */
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_val(b, "a", "1");
  put_s(b, "a", "1");
  assert_int_equal(sl_backend_meta_put(b, "offset", "10", 2), SL_STATE_OK);
  assert_int_equal(sl_backend_changed(b), 0);
  /* Changed and changed back is still a change (the backend keeps no history). */
  put_s(b, "a", "2");
  put_s(b, "a", "1");
  assert_int_equal(sl_backend_changed(b), 1);
  commit_ok(b);
  /* A delete of a key the cache does not hold counts (LMDB is not looked up for it). */
  del_s(b, "unknown");
  assert_int_equal(sl_backend_changed(b), 1);
  sl_backend_close(b);
}

/* A completed freeze clears it; a change after the freeze (while the batch flushes) does not get lost. */
static void test_freeze(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  put_s(b, "a", "1");
  assert_int_equal(sl_backend_meta_put(b, "offset", "1", 1), SL_STATE_OK);
  sl_frozen *f = freeze(b);
  sl_snapshot *snap = flush_inline(f);
  assert_int_equal(sl_backend_changed(b), 1); /* not finished yet */
  flush_done(f, snap);
  assert_int_equal(sl_backend_changed(b), 0);
  put_s(b, "a", "2");
  f = freeze(b);
  put_s(b, "b", "1"); /* after the freeze */
  flush_done(f, flush_inline(f));
  assert_int_equal(sl_backend_changed(b), 1);
  f = freeze(b);
  flush_done(f, flush_inline(f));
  assert_int_equal(sl_backend_changed(b), 0);
  /* An idle barrier: the same offset saved again, nothing else. */
  assert_int_equal(sl_backend_meta_put(b, "offset", "1", 1), SL_STATE_OK);
  assert_int_equal(sl_backend_changed(b), 0);
  sl_backend_close(b);
}

/* A batch whose flush failed (a full map the worker may not grow) leaves the backend changed. */
static void test_failed_flush_stays_changed(void **state) {
  sl_backend *b = open_after_failed_flush(*state, "k");
  sl_frozen *f = NULL;
  assert_int_equal(sl_backend_changed(b), 1);
  assert_int_equal(sl_backend_freeze(b, &f), 1); /* the fallback: a commit on the loop thread */
  commit_ok(b);
  sl_backend_close(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_each_change_counts),
      T(test_same_bytes_change_nothing),
      T(test_freeze),
      T(test_failed_flush_stays_changed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
