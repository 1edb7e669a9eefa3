/* test_state_value.c — ValueState and the keyed scope (state/value_state.c, state/keyed_scope.c): values
 * are scoped by current key and by state id, keyed access without a key is refused, values persist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state/value_state.h"
#include "state_fixture.h"

static void expect(struct fixture *f, uint32_t id, const char *want) {
  const void *v = NULL;
  size_t vl = 0;
  int rc = sl_value_get(&f->s, id, &v, &vl);
  expect_found(rc, v, vl, want);
}

static void put(struct fixture *f, uint32_t id, const char *val) {
  assert_int_equal(sl_value_put(&f->s, id, val, strlen(val)), SL_STATE_OK);
}

static void test_no_key_is_einval(void **state) {
  struct fixture *f = *state;
  const void *v;
  size_t vl;
  assert_int_equal(sl_value_get(&f->s, 1, &v, &vl), SL_STATE_EINVAL);
  assert_int_equal(sl_value_put(&f->s, 1, "x", 1), SL_STATE_EINVAL);
  assert_int_equal(sl_value_clear(&f->s, 1), SL_STATE_EINVAL);
  set_key(f, "k");
  put(f, 1, "x");
  sl_scope_clear_key(&f->s);
  assert_int_equal(sl_value_get(&f->s, 1, &v, &vl), SL_STATE_EINVAL);
  char big[SL_KEY_MAX_LEN];
  memset(big, 'a', sizeof(big));
  assert_int_equal(sl_scope_set_key(&f->s, big, sizeof(big)), SL_STATE_EINVAL);
  assert_int_equal(sl_scope_set_key(&f->s, big, SL_KEY_MAX_LEN - SL_KEY_HEADER_LEN - 64), SL_STATE_OK);
  put(f, 1, "longest key");
  expect(f, 1, "longest key");
}

static void test_keys_do_not_see_each_other(void **state) {
  struct fixture *f = *state;
  set_key(f, "/api/a");
  put(f, 1, "A");
  set_key(f, "/api/b");
  expect(f, 1, NULL);
  put(f, 1, "B");
  set_key(f, "/api/a");
  expect(f, 1, "A");
  /* A key that extends another is a different key. */
  set_key(f, "/api/ab");
  expect(f, 1, NULL);
  assert_int_equal(sl_scope_set_key(&f->s, "", 0), SL_STATE_OK); /* the empty key is a key too */
  expect(f, 1, NULL);
  put(f, 1, "empty");
  set_key(f, "/api/b");
  expect(f, 1, "B");
}

static void test_states_do_not_collide(void **state) {
  struct fixture *f = *state;
  uint32_t count, last;
  assert_int_equal(sl_backend_state_id(f->b, "op", "count", &count), SL_STATE_OK);
  assert_int_equal(sl_backend_state_id(f->b, "op", "last", &last), SL_STATE_OK);
  assert_int_not_equal(count, last);
  set_key(f, "k");
  put(f, count, "1");
  expect(f, last, NULL);
  put(f, last, "2");
  expect(f, count, "1");
  expect(f, last, "2");
  assert_int_equal(sl_value_clear(&f->s, count), SL_STATE_OK);
  expect(f, count, NULL);
  expect(f, last, "2");
}

static void test_values_persist(void **state) {
  struct fixture *f = *state;
  char key[32], val[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof(key), "user-%d", i);
    snprintf(val, sizeof(val), "%d", i * i);
    set_key(f, key);
    put(f, 7, val);
  }
  set_key(f, "user-3");
  assert_int_equal(sl_value_clear(&f->s, 7), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(f->b, 1), SL_STATE_OK);
  fixture_reopen(f);
  for (int i = 0; i < 1000; i++) {
    snprintf(key, sizeof(key), "user-%d", i);
    snprintf(val, sizeof(val), "%d", i * i);
    set_key(f, key);
    expect(f, 7, i == 3 ? NULL : val);
  }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_no_key_is_einval),
      T(test_keys_do_not_see_each_other),
      T(test_states_do_not_collide),
      T(test_values_persist),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
