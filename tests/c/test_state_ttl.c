/* test_state_ttl.c — state TTL (state/state_ttl.c, state_ttl_cleanup.c) with a fake clock: expiry, update
 * on create/write vs read/write, both visibilities, cleanup on read, values written before TTL was enabled,
 * MapState entries, and the incremental background cleaner (bounded steps, never removing a live update). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "state/map_state.h"
#include "state/state_ttl_cleanup.h"
#include "state/value_state.h"
#include "state_fixture.h"

static void vput(struct fixture *f, const sl_ttl *t, const char *v) {
  assert_int_equal(sl_value_put_ttl(&f->s, 1, t, v, strlen(v)), SL_STATE_OK);
}

static void vexpect(struct fixture *f, const sl_ttl *t, const char *want) {
  const void *v = NULL;
  size_t vl = 0;
  int rc = sl_value_get_ttl(&f->s, 1, t, &v, &vl);
  expect_found(rc, v, vl, want);
}

static void test_expiry_on_write(void **state) {
  struct fixture *f = *state;
  sl_ttl t = {100, SL_TTL_ON_CREATE_AND_WRITE, SL_TTL_NEVER_RETURN_EXPIRED};
  set_key(f, "k");
  vput(f, &t, "v1");
  f->now += 99;
  vexpect(f, &t, "v1"); /* a read does not extend it */
  f->now += 1;
  vexpect(f, &t, NULL);
  /* Cleanup on read removed the entry itself, not just hid it. */
  const void *raw;
  size_t rl;
  assert_int_equal(sl_value_get(&f->s, 1, &raw, &rl), SL_STATE_NOTFOUND);
  vput(f, &t, "v2");
  f->now += 50;
  vput(f, &t, "v3"); /* a write restarts the ttl */
  f->now += 80;
  vexpect(f, &t, "v3");
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  vexpect(f, &t, "v3");
}

static void test_update_on_read(void **state) {
  struct fixture *f = *state;
  sl_ttl t = {100, SL_TTL_ON_READ_AND_WRITE, SL_TTL_NEVER_RETURN_EXPIRED};
  set_key(f, "k");
  vput(f, &t, "v");
  for (int i = 0; i < 5; i++) {
    f->now += 90;
    vexpect(f, &t, "v");
  }
  f->now += 101;
  vexpect(f, &t, NULL);
}

static void test_return_expired_once(void **state) {
  struct fixture *f = *state;
  sl_ttl t = {10, SL_TTL_ON_CREATE_AND_WRITE, SL_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP};
  set_key(f, "k");
  vput(f, &t, "stale");
  f->now += 20;
  vexpect(f, &t, "stale");
  vexpect(f, &t, NULL);
}

static void test_plain_value_then_ttl(void **state) {
  struct fixture *f = *state;
  sl_ttl t = {10, SL_TTL_ON_CREATE_AND_WRITE, SL_TTL_NEVER_RETURN_EXPIRED};
  set_key(f, "k");
  assert_int_equal(sl_value_put(&f->s, 1, "old", 3), SL_STATE_OK);
  f->now += 1000;
  vexpect(f, &t, "old"); /* no header: written before TTL, treated as live */
  vexpect(f, NULL, "old");
}

static void test_map_entries(void **state) {
  struct fixture *f = *state;
  sl_ttl t = {100, SL_TTL_ON_CREATE_AND_WRITE, SL_TTL_NEVER_RETURN_EXPIRED};
  const void *v;
  size_t vl;
  set_key(f, "k");
  assert_int_equal(sl_map_put_ttl(&f->s, 1, &t, "a", 1, "1", 1), SL_STATE_OK);
  f->now += 60;
  assert_int_equal(sl_map_put_ttl(&f->s, 1, &t, "b", 1, "2", 1), SL_STATE_OK);
  f->now += 60;
  assert_int_equal(sl_map_get_ttl(&f->s, 1, &t, "a", 1, &v, &vl), SL_STATE_NOTFOUND);
  assert_int_equal(sl_map_get_ttl(&f->s, 1, &t, "b", 1, &v, &vl), SL_STATE_OK);
  assert_memory_equal(v, "2", 1);
  /* Iteration returns raw entries; sl_ttl_unwrap hides expired ones. */
  f->now += 100;
  sl_map_iter *it;
  const void *k, *raw;
  size_t kl, rl;
  assert_int_equal(sl_map_iter_open(&f->s, 1, &it), SL_STATE_OK);
  assert_int_equal(sl_map_iter_next(it, &k, &kl, &raw, &rl), SL_STATE_OK);
  assert_int_equal(sl_ttl_unwrap(&f->s, &t, raw, rl, &v, &vl), SL_STATE_NOTFOUND);
  assert_int_equal(sl_map_iter_next(it, &k, &kl, &raw, &rl), SL_STATE_NOTFOUND);
  sl_map_iter_close(it);
}

static size_t count_entries(struct fixture *f) {
  sl_backend_iter *it;
  const void *k, *v;
  size_t kl, vl, n = 0;
  assert_int_equal(sl_backend_iter_open(f->b, NULL, 0, &it), SL_STATE_OK);
  while (sl_backend_iter_next(it, &k, &kl, &v, &vl) == SL_STATE_OK)
    n++;
  sl_backend_iter_close(it);
  return n;
}

static void test_incremental_cleanup(void **state) {
  struct fixture *f = *state;
  sl_ttl t = {100, SL_TTL_ON_CREATE_AND_WRITE, SL_TTL_NEVER_RETURN_EXPIRED};
  char key[32];
  for (int i = 0; i < 50; i++) {
    snprintf(key, sizeof(key), "key%d", i);
    set_key(f, key);
    vput(f, &t, "x");                                                 /* state 1: TTL */
    assert_int_equal(sl_value_put(&f->s, 2, "keep", 4), SL_STATE_OK); /* state 2: no TTL */
  }
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  sl_ttl_cleaner *c = sl_ttl_cleaner_new(f->b);
  assert_non_null(c);
  assert_int_equal(sl_ttl_cleaner_add(c, 1, &t), SL_STATE_OK);
  size_t removed = 99;
  assert_int_equal(sl_ttl_cleaner_step(c, f->now + 50, 1000, &removed), SL_STATE_OK);
  assert_int_equal(removed, 0); /* nothing expired yet */
  f->now += 200;
  set_key(f, "key7");
  vput(f, &t, "fresh"); /* a live update in the cache only: the cleaner must keep it */
  size_t total = 0;
  for (int step = 0; step < 100; step++) {
    assert_int_equal(sl_ttl_cleaner_step(c, f->now, 7, &removed), SL_STATE_OK);
    assert_true(removed <= 7);
    total += removed;
    if (step % 3 == 0)
      assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK); /* the walk survives commits */
  }
  assert_int_equal(total, 49);
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  assert_int_equal(count_entries(f), 51);
  vexpect(f, &t, "fresh");
  sl_ttl_cleaner_free(c);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {T(test_expiry_on_write),     T(test_update_on_read),
                                     T(test_return_expired_once), T(test_plain_value_then_ttl),
                                     T(test_map_entries),         T(test_incremental_cleanup)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
