/* test_state_list.c — ListState (state/list_state.c): add, iteration in insertion order across commits,
 * clear, is_empty, scoping by key and state, appends that never rewrite the list, and 100k elements. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "state/list_state.h"
#include "state_fixture.h"

static void add(struct fixture *f, uint32_t id, const char *v) {
  assert_int_equal(sl_list_add(&f->s, id, NULL, v, strlen(v)), SL_STATE_OK);
}

/* "a,b,c," for the current key's list. */
static void dump(struct fixture *f, uint32_t id, const sl_ttl *ttl, char *out, size_t cap) {
  sl_list_iter *it;
  const void *v;
  size_t vl, n = 0;
  int rc;
  out[0] = '\0';
  assert_int_equal(sl_list_iter_open(&f->s, id, ttl, &it), SL_STATE_OK);
  while ((rc = sl_list_iter_next(it, &v, &vl)) == SL_STATE_OK)
    n += (size_t)snprintf(out + n, cap - n, "%.*s,", (int)vl, (const char *)v);
  assert_int_equal(rc, SL_STATE_NOTFOUND);
  sl_list_iter_close(it);
}

static void test_add_iterate_clear(void **state) {
  struct fixture *f = *state;
  char buf[256];
  set_key(f, "k");
  assert_int_equal(sl_list_is_empty(&f->s, 1, NULL), SL_STATE_OK);
  dump(f, 1, NULL, buf, sizeof(buf));
  assert_string_equal(buf, "");
  add(f, 1, "a");
  add(f, 1, "");
  add(f, 1, "c");
  assert_int_equal(sl_list_is_empty(&f->s, 1, NULL), SL_STATE_NOTFOUND);
  dump(f, 1, NULL, buf, sizeof(buf));
  assert_string_equal(buf, "a,,c,");
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  add(f, 1, "d"); /* dirty after committed ones */
  dump(f, 1, NULL, buf, sizeof(buf));
  assert_string_equal(buf, "a,,c,d,");
  assert_int_equal(sl_list_clear(&f->s, 1), SL_STATE_OK);
  assert_int_equal(sl_list_is_empty(&f->s, 1, NULL), SL_STATE_OK);
  add(f, 1, "x");
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  dump(f, 1, NULL, buf, sizeof(buf));
  assert_string_equal(buf, "x,");
}

static void test_scoping(void **state) {
  struct fixture *f = *state;
  char buf[256];
  set_key(f, "k1");
  add(f, 1, "k1s1");
  add(f, 2, "k1s2");
  set_key(f, "k10");
  add(f, 1, "k10s1");
  set_key(f, "k1");
  dump(f, 1, NULL, buf, sizeof(buf));
  assert_string_equal(buf, "k1s1,");
  dump(f, 2, NULL, buf, sizeof(buf));
  assert_string_equal(buf, "k1s2,");
  sl_scope_clear_key(&f->s);
  sl_list_iter *it;
  assert_int_equal(sl_list_add(&f->s, 1, NULL, "v", 1), SL_STATE_EINVAL);
  assert_int_equal(sl_list_iter_open(&f->s, 1, NULL, &it), SL_STATE_EINVAL);
  assert_int_equal(sl_list_clear(&f->s, 1), SL_STATE_EINVAL);
}

/* An append writes two entries (the element and the header) whatever the length: no rewrite. */
static void test_append_cost_is_constant(void **state) {
  struct fixture *f = *state;
  set_key(f, "k");
  for (int i = 0; i < 1000; i++)
    add(f, 1, "0123456789");
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  sl_backend_stats before, after;
  sl_backend_get_stats(f->b, &before);
  add(f, 1, "last");
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  sl_backend_get_stats(f->b, &after);
  assert_int_equal(after.entries_written - before.entries_written, 2);
}

static void test_100k_elements(void **state) {
  struct fixture *f = *state;
  char v[32];
  set_key(f, "big");
  for (int i = 0; i < 100000; i++) {
    int n = snprintf(v, sizeof(v), "%d", i);
    assert_int_equal(sl_list_add(&f->s, 3, NULL, v, (size_t)n), SL_STATE_OK);
  }
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  sl_list_iter *it;
  const void *p;
  size_t len;
  int i = 0, rc;
  assert_int_equal(sl_list_iter_open(&f->s, 3, NULL, &it), SL_STATE_OK);
  while ((rc = sl_list_iter_next(it, &p, &len)) == SL_STATE_OK) {
    int n = snprintf(v, sizeof(v), "%d", i++);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(p, v, len);
  }
  sl_list_iter_close(it);
  assert_int_equal(rc, SL_STATE_NOTFOUND);
  assert_int_equal(i, 100000);
}

/* Per-element TTL: expired elements are skipped and deleted on read, or returned once when visible. */
static void test_ttl_elements(void **state) {
  struct fixture *f = *state;
  char buf[256];
  sl_ttl ttl = {100, SL_TTL_ON_CREATE_AND_WRITE, SL_TTL_NEVER_RETURN_EXPIRED};
  set_key(f, "k");
  assert_int_equal(sl_list_add(&f->s, 1, &ttl, "old", 3), SL_STATE_OK);
  f->now += 60;
  assert_int_equal(sl_list_add(&f->s, 1, &ttl, "new", 3), SL_STATE_OK);
  dump(f, 1, &ttl, buf, sizeof(buf));
  assert_string_equal(buf, "old,new,");
  f->now += 50; /* old expired at 1100, new at 1160 */
  dump(f, 1, &ttl, buf, sizeof(buf));
  assert_string_equal(buf, "new,");
  ttl.visibility = SL_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP;
  f->now += 100;
  dump(f, 1, &ttl, buf, sizeof(buf));
  assert_string_equal(buf, "new,"); /* returned once, cleaned up */
  dump(f, 1, &ttl, buf, sizeof(buf));
  assert_string_equal(buf, "");
  assert_int_equal(sl_list_is_empty(&f->s, 1, &ttl), SL_STATE_OK);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {T(test_add_iterate_clear), T(test_scoping),
                                     T(test_append_cost_is_constant), T(test_100k_elements),
                                     T(test_ttl_elements)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
