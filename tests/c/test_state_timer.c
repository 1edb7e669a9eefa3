/* test_state_timer.c — timers as state (state/timer_state.c): time order across keys and negative times,
 * dedup per (key, time), delete, timers added or deleted between polls, runs longer than one poll batch,
 * the stored watermark, and timers surviving a commit + reopen (and vanishing when not committed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "state/timer_state.h"
#include "state_fixture.h"

#define QID 7u

static void add(sl_timer_queue *q, int64_t ts, const char *key) {
  assert_int_equal(sl_timer_queue_add(q, ts, key, strlen(key), 0), SL_STATE_OK);
}

/* Polls every timer due by upto into "ts:key " pairs. */
static void drain(sl_timer_queue *q, int64_t upto, char *out, size_t cap) {
  int64_t ts;
  const void *k;
  size_t kl, n = 0;
  out[0] = '\0';
  int rc;
  while ((rc = sl_timer_queue_poll(q, upto, &ts, &k, &kl)) == SL_STATE_OK)
    n += (size_t)snprintf(out + n, cap - n, "%lld:%.*s ", (long long)ts, (int)kl, (const char *)k);
  assert_int_equal(rc, SL_STATE_NOTFOUND);
}

static void expect_drain(sl_timer_queue *q, int64_t upto, const char *want) {
  char buf[4096];
  drain(q, upto, buf, sizeof buf);
  assert_string_equal(buf, want);
}

/* Opens queue QID on the fixture's backend into q; returns the fixture. */
static struct fixture *open_queue(void **state, sl_timer_queue *q) {
  struct fixture *f = *state;
  sl_timer_queue_init(q, f->b, QID);
  return f;
}

static void test_order_and_dedup(void **state) {
  sl_timer_queue q;
  open_queue(state, &q);
  int64_t next;
  assert_int_equal(sl_timer_queue_next(&q, &next), SL_STATE_NOTFOUND);
  add(&q, 300, "b");
  add(&q, 100, "z");
  add(&q, -5, "a");
  add(&q, 300, "a");
  add(&q, 300, "b"); /* the same (key, time) again: one timer */
  add(&q, 100, "z");
  assert_int_equal(sl_timer_queue_next(&q, &next), SL_STATE_OK);
  assert_int_equal(next, -5);
  expect_drain(&q, 99, "-5:a ");
  expect_drain(&q, 299, "100:z ");
  expect_drain(&q, 1000, "300:a 300:b ");
  expect_drain(&q, INT64_MAX, "");
  assert_int_equal(sl_timer_queue_next(&q, &next), SL_STATE_NOTFOUND);
  sl_timer_queue_close(&q);
}

static void test_delete_and_changes_between_polls(void **state) {
  sl_timer_queue q;
  open_queue(state, &q);
  add(&q, 10, "a");
  add(&q, 20, "b");
  add(&q, 30, "c");
  assert_int_equal(sl_timer_queue_delete(&q, 20, "b", 1), SL_STATE_OK);
  assert_int_equal(sl_timer_queue_delete(&q, 20, "nope", 4), SL_STATE_OK);
  int64_t ts;
  const void *k;
  size_t kl;
  assert_int_equal(sl_timer_queue_poll(&q, 100, &ts, &k, &kl), SL_STATE_OK);
  assert_int_equal(ts, 10);
  /* Between polls: the copied 30:c is deleted, an earlier timer is added; order and deletes are kept. */
  assert_int_equal(sl_timer_queue_delete(&q, 30, "c", 1), SL_STATE_OK);
  add(&q, 15, "d");
  add(&q, 40, "e");
  expect_drain(&q, 100, "15:d 40:e ");
  /* A key too long for the layout is refused. */
  char big[SL_TIMER_MAX_KEY + 2];
  memset(big, 'x', sizeof big);
  assert_int_equal(sl_timer_queue_add(&q, 1, big, sizeof big, 0), SL_STATE_EINVAL);
  sl_timer_queue_close(&q);
}

static void test_more_than_one_poll_batch(void **state) {
  sl_timer_queue q;
  open_queue(state, &q);
  char key[16];
  int n = (int)SL_TIMER_POLL_BATCH * 3 + 5;
  for (int i = n - 1; i >= 0; i--) {
    snprintf(key, sizeof key, "k%05d", i);
    add(&q, 1000 + i / 2, key);
  }
  int64_t ts, last = INT64_MIN;
  const void *k;
  size_t kl;
  int got = 0;
  while (sl_timer_queue_poll(&q, INT64_MAX, &ts, &k, &kl) == SL_STATE_OK) {
    snprintf(key, sizeof key, "k%05d", got);
    assert_true(ts >= last);
    assert_memory_equal(k, key, kl);
    last = ts;
    got++;
  }
  assert_int_equal(got, n);
  sl_timer_queue_close(&q);
}

static void test_survives_restart(void **state) {
  sl_timer_queue q;
  struct fixture *f = open_queue(state, &q);
  int64_t wm;
  assert_int_equal(sl_timer_queue_watermark(&q, &wm), SL_STATE_NOTFOUND);
  add(&q, 50, "a");
  add(&q, 60, "b");
  assert_int_equal(sl_timer_queue_set_watermark(&q, 42), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  /* Fired but not committed: back after the reopen. Added but not committed: gone. */
  expect_drain(&q, 55, "50:a ");
  add(&q, 70, "c");
  sl_timer_queue_close(&q);
  fixture_reopen(f);
  sl_timer_queue_init(&q, f->b, QID);
  assert_int_equal(sl_timer_queue_watermark(&q, &wm), SL_STATE_OK);
  assert_int_equal(wm, 42);
  /* Another queue (state id) is separate. */
  sl_timer_queue other;
  sl_timer_queue_init(&other, f->b, QID + 1);
  expect_drain(&other, INT64_MAX, "");
  expect_drain(&q, INT64_MAX, "50:a 60:b ");
  assert_int_equal(sl_timer_queue_set_watermark(&q, -7), SL_STATE_OK);
  assert_int_equal(sl_timer_queue_watermark(&q, &wm), SL_STATE_OK);
  assert_int_equal(wm, -7);
  sl_timer_queue_close(&q);
  sl_timer_queue_close(&other);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {T(test_order_and_dedup), T(test_delete_and_changes_between_polls),
                                     T(test_more_than_one_poll_batch), T(test_survives_restart)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
