/* test_state_map.c — MapState (state/map_state.c): put/get/remove/contains/is_empty/clear, iteration in
 * map-key order over committed and uncommitted entries, scoping by key and state, and 100k entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state/map_state.h"
#include "state_fixture.h"

static void mput(struct fixture *f, uint32_t id, const char *k, const char *v) {
  assert_int_equal(sl_map_put(&f->s, id, k, strlen(k), v, strlen(v)), SL_STATE_OK);
}

static void mexpect(struct fixture *f, uint32_t id, const char *k, const char *want) {
  const void *v = NULL;
  size_t vl = 0;
  int rc = sl_map_get(&f->s, id, k, strlen(k), &v, &vl);
  assert_int_equal(sl_map_contains(&f->s, id, k, strlen(k)), want ? SL_STATE_OK : SL_STATE_NOTFOUND);
  expect_found(rc, v, vl, want);
}

/* "k=v;" for every entry of the current key's map. */
static void dump(struct fixture *f, uint32_t id, char *out, size_t cap) {
  sl_map_iter *it;
  const void *k, *v;
  size_t kl, vl, n = 0;
  int rc;
  out[0] = '\0';
  assert_int_equal(sl_map_iter_open(&f->s, id, &it), SL_STATE_OK);
  while ((rc = sl_map_iter_next(it, &k, &kl, &v, &vl)) == SL_STATE_OK)
    n += (size_t)snprintf(out + n, cap - n, "%.*s=%.*s;", (int)kl, (const char *)k, (int)vl, (const char *)v);
  assert_int_equal(rc, SL_STATE_NOTFOUND);
  sl_map_iter_close(it);
}

static void test_basic_ops(void **state) {
  struct fixture *f = *state;
  char buf[1024];
  set_key(f, "user1");
  assert_int_equal(sl_map_is_empty(&f->s, 1), SL_STATE_OK);
  mput(f, 1, "b", "2");
  mput(f, 1, "a", "1");
  mput(f, 1, "c", "3");
  assert_int_equal(sl_map_is_empty(&f->s, 1), SL_STATE_NOTFOUND);
  mexpect(f, 1, "a", "1");
  mexpect(f, 1, "z", NULL);
  dump(f, 1, buf, sizeof(buf));
  assert_string_equal(buf, "a=1;b=2;c=3;");
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  mput(f, 1, "bb", "22"); /* dirty, between committed b and c */
  assert_int_equal(sl_map_remove(&f->s, 1, "a", 1), SL_STATE_OK);
  assert_int_equal(sl_map_remove(&f->s, 1, "nothing", 7), SL_STATE_OK);
  mexpect(f, 1, "a", NULL);
  dump(f, 1, buf, sizeof(buf));
  assert_string_equal(buf, "b=2;bb=22;c=3;");
  assert_int_equal(sl_map_clear(&f->s, 1), SL_STATE_OK);
  assert_int_equal(sl_map_is_empty(&f->s, 1), SL_STATE_OK);
  mexpect(f, 1, "b", NULL);
  dump(f, 1, buf, sizeof(buf));
  assert_string_equal(buf, "");
  mput(f, 1, "after", "clear");
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  dump(f, 1, buf, sizeof(buf));
  assert_string_equal(buf, "after=clear;");
}

static void test_scoping(void **state) {
  struct fixture *f = *state;
  char buf[1024];
  set_key(f, "k1");
  mput(f, 1, "x", "k1s1");
  mput(f, 2, "x", "k1s2");
  set_key(f, "k10"); /* shares a textual prefix with k1 */
  mput(f, 1, "x", "k10s1");
  set_key(f, "k1");
  dump(f, 1, buf, sizeof(buf));
  assert_string_equal(buf, "x=k1s1;");
  dump(f, 2, buf, sizeof(buf));
  assert_string_equal(buf, "x=k1s2;");
  assert_int_equal(sl_map_clear(&f->s, 1), SL_STATE_OK);
  mexpect(f, 2, "x", "k1s2");
  set_key(f, "k10");
  mexpect(f, 1, "x", "k10s1");
  set_key(f, "k2");
  assert_int_equal(sl_map_is_empty(&f->s, 1), SL_STATE_OK);
  sl_scope_clear_key(&f->s);
  const void *v;
  size_t vl;
  sl_map_iter *it;
  assert_int_equal(sl_map_get(&f->s, 1, "x", 1, &v, &vl), SL_STATE_EINVAL);
  assert_int_equal(sl_map_put(&f->s, 1, "x", 1, "v", 1), SL_STATE_EINVAL);
  assert_int_equal(sl_map_remove(&f->s, 1, "x", 1), SL_STATE_EINVAL);
  assert_int_equal(sl_map_contains(&f->s, 1, "x", 1), SL_STATE_EINVAL);
  assert_int_equal(sl_map_is_empty(&f->s, 1), SL_STATE_EINVAL);
  assert_int_equal(sl_map_clear(&f->s, 1), SL_STATE_EINVAL);
  assert_int_equal(sl_map_iter_open(&f->s, 1, &it), SL_STATE_EINVAL);
}

static void test_iter_bound_to_key_at_open(void **state) {
  struct fixture *f = *state;
  set_key(f, "a");
  mput(f, 1, "1", "a1");
  mput(f, 1, "2", "a2");
  set_key(f, "b");
  mput(f, 1, "1", "b1");
  set_key(f, "a");
  sl_map_iter *it;
  const void *k, *v;
  size_t kl, vl;
  assert_int_equal(sl_map_iter_open(&f->s, 1, &it), SL_STATE_OK);
  set_key(f, "b");
  int n = 0;
  while (sl_map_iter_next(it, &k, &kl, &v, &vl) == SL_STATE_OK) {
    assert_int_equal(vl, 2);
    assert_memory_equal(v, "a", 1);
    n++;
  }
  sl_map_iter_close(it);
  assert_int_equal(n, 2);
}

static void test_iterate_100k(void **state) {
  struct fixture *f = *state;
  const int n = 100000;
  char mk[32], mv[32];
  set_key(f, "big");
  /* Insert in a scrambled order; iteration must still be in map-key order. */
  for (int j = 0; j < n; j++) {
    int i = (int)(((int64_t)j * 7919) % n);
    snprintf(mk, sizeof(mk), "%08d", i);
    snprintf(mv, sizeof(mv), "v%d", i);
    mput(f, 3, mk, mv);
  }
  for (int pass = 0; pass < 2; pass++) {
    sl_map_iter *it;
    const void *k, *v;
    size_t kl, vl;
    int i = 0, rc;
    assert_int_equal(sl_map_iter_open(&f->s, 3, &it), SL_STATE_OK);
    while ((rc = sl_map_iter_next(it, &k, &kl, &v, &vl)) == SL_STATE_OK) {
      snprintf(mk, sizeof(mk), "%08d", i);
      snprintf(mv, sizeof(mv), "v%d", i);
      assert_int_equal(kl, 8);
      assert_memory_equal(k, mk, 8);
      assert_int_equal(vl, strlen(mv));
      assert_memory_equal(v, mv, vl);
      i++;
    }
    assert_int_equal(rc, SL_STATE_NOTFOUND);
    assert_int_equal(i, n);
    sl_map_iter_close(it);
    assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  }
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_basic_ops),
      T(test_scoping),
      T(test_iter_bound_to_key_at_open),
      T(test_iterate_100k),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
