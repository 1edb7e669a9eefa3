/* test_state_operator.c — operator ListState (state/operator_state.c): even-split and union redistribution
 * (scale up, scale down, empty lists, more instances than items; a union as a set), write/restore through
 * the backend, a restore from a damaged instance count, and union state kept as it is across restores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "state/operator_state.h"
#include "state_fixture.h"

static sl_op_item S[] = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}, {"f", 1}, {"g", 1}};

/* "ab|cd|" for lists out[0..m). */
static void show(const sl_op_list *out, size_t m, char *buf) {
  size_t n = 0;
  for (size_t j = 0; j < m; j++) {
    for (size_t i = 0; i < out[j].n; i++)
      n += (size_t)sprintf(buf + n, "%.*s", (int)out[j].items[i].len, (const char *)out[j].items[i].data);
    buf[n++] = '|';
  }
  buf[n] = '\0';
}

static void check(const sl_op_list *old, size_t n_old, size_t m, int mode, const char *want) {
  sl_op_list out[8];
  char buf[256];
  assert_int_equal(sl_op_state_redistribute(old, n_old, m, mode, out), SL_STATE_OK);
  show(out, m, buf);
  assert_string_equal(buf, want);
  for (size_t j = 0; j < m; j++)
    sl_op_list_free(&out[j]);
}

static void test_even_split(void **state) {
  (void)state;
  sl_op_list old[3] = {{S, 3, NULL}, {S + 3, 0, NULL}, {S + 3, 4, NULL}}; /* abc | - | defg */
  check(old, 3, 1, SL_REDIST_EVEN_SPLIT, "abcdefg|");
  check(old, 3, 2, SL_REDIST_EVEN_SPLIT, "abcd|efg|");
  check(old, 3, 3, SL_REDIST_EVEN_SPLIT, "abc|de|fg|");
  check(old, 3, 4, SL_REDIST_EVEN_SPLIT, "ab|cd|ef|g|");
  check(old, 3, 8, SL_REDIST_EVEN_SPLIT, "a|b|c|d|e|f|g||");
  check(old, 0, 2, SL_REDIST_EVEN_SPLIT, "||");
}

static void test_union(void **state) {
  (void)state;
  sl_op_list old[2] = {{S, 2, NULL}, {S + 2, 1, NULL}};
  check(old, 2, 1, SL_REDIST_UNION, "abc|");
  check(old, 2, 3, SL_REDIST_UNION, "abc|abc|abc|");
  check(old, 1, 2, SL_REDIST_UNION, "ab|ab|");
  /* A set union: an item written by several instances (or twice by one) comes once, where it first
   * occurs; empty items are items too. */
  sl_op_item d[] = {{"b", 1}, {"a", 1}, {"b", 1}, {"", 0}, {"c", 1}, {"a", 1}, {"", 0}, {"ab", 2}};
  sl_op_list dup[3] = {{d, 3, NULL}, {d + 3, 0, NULL}, {d + 3, 5, NULL}}; /* bab | - | "" c a "" ab */
  check(dup, 3, 2, SL_REDIST_UNION, "bacab|bacab|");
  sl_op_list same[3] = {{S, 3, NULL}, {S, 3, NULL}, {S, 3, NULL}};
  check(same, 3, 1, SL_REDIST_UNION, "abc|");
  /* Even split keeps every copy: each item there belongs to one instance. */
  check(same, 3, 2, SL_REDIST_EVEN_SPLIT, "abcab|cabc|");
}

static void test_bad_args(void **state) {
  (void)state;
  sl_op_list out[2];
  assert_int_equal(sl_op_state_redistribute(NULL, 0, 0, SL_REDIST_UNION, out), SL_STATE_EINVAL);
  assert_int_equal(sl_op_state_redistribute(NULL, 0, 2, 7, out), SL_STATE_EINVAL);
}

static void restored(struct fixture *f, int mode, uint32_t m, uint32_t i, const char *want) {
  sl_op_list l;
  char buf[256];
  assert_int_equal(sl_op_state_restore(f->b, 5, mode, m, i, &l), SL_STATE_OK);
  show(&l, 1, buf);
  assert_string_equal(buf, want);
  sl_op_list_free(&l);
}

static void test_write_restore(void **state) {
  struct fixture *f = *state;
  restored(f, SL_REDIST_UNION, 1, 0, "|"); /* never written */
  /* Two old instances wrote "abc" and "defg". */
  assert_int_equal(sl_op_state_write(f->b, 5, 0, 2, S, 3), SL_STATE_OK);
  assert_int_equal(sl_op_state_write(f->b, 5, 1, 2, S + 3, 4), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  restored(f, SL_REDIST_EVEN_SPLIT, 1, 0, "abcdefg|");
  restored(f, SL_REDIST_EVEN_SPLIT, 3, 1, "de|");
  restored(f, SL_REDIST_UNION, 3, 2, "abcdefg|");
  /* Rewriting an instance replaces its list, a shorter one included. */
  assert_int_equal(sl_op_state_write(f->b, 5, 0, 1, S + 6, 1), SL_STATE_OK);
  restored(f, SL_REDIST_UNION, 1, 0, "g|");
  assert_int_equal(sl_op_state_write(f->b, 5, 0, 1, NULL, 0), SL_STATE_OK);
  restored(f, SL_REDIST_UNION, 1, 0, "|");
  assert_int_equal(sl_op_state_write(f->b, 5, 1, 1, S, 1), SL_STATE_EINVAL);
}

/* The header's instance count comes from disk: a damaged one (2^29 instances) costs no more than the
 * entries that exist (it used to open one iterator per claimed instance: hours), and a smaller one than was
 * written leaves the lists of the instances past it out. */
static void test_damaged_header(void **state) {
  struct fixture *f = *state;
  assert_int_equal(sl_op_state_write(f->b, 5, 0, 2, S, 3), SL_STATE_OK);
  assert_int_equal(sl_op_state_write(f->b, 5, 1, 2, S + 3, 4), SL_STATE_OK);
  uint8_t key[SL_KEY_MAX_LEN], count[4] = {0x20, 0, 0, 0};
  size_t kl = sl_key_prefix(key, sizeof key, SL_OP_STATE_GROUP, 5, NULL, 0);
  assert_int_equal(sl_backend_put(f->b, key, kl, count, 4), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  restored(f, SL_REDIST_UNION, 1, 0, "abcdefg|");
  restored(f, SL_REDIST_EVEN_SPLIT, 2, 1, "efg|");
  count[0] = 0;
  count[3] = 1;
  assert_int_equal(sl_backend_put(f->b, key, kl, count, 4), SL_STATE_OK);
  restored(f, SL_REDIST_UNION, 2, 1, "abc|");
}

/* Restores union state `id` for instances 0..m-1 of m, checks each got `want`, and has each write back
 * what it got (as an operator whose snapshot hook stores its whole restored list). */
static void union_round(sl_backend *b, uint32_t id, uint32_t m, const char *want) {
  sl_op_list got[4];
  char buf[256];
  for (uint32_t i = 0; i < m; i++) {
    assert_int_equal(sl_op_state_restore(b, id, SL_REDIST_UNION, m, i, &got[i]), SL_STATE_OK);
    show(&got[i], 1, buf);
    assert_string_equal(buf, want);
  }
  for (uint32_t i = 0; i < m; i++) {
    assert_int_equal(sl_op_state_write(b, id, i, m, got[i].items, got[i].n), SL_STATE_OK);
    sl_op_list_free(&got[i]);
  }
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
}

/* Rescaling 2 -> 3 -> 2 -> 2 a union state whose instances write back the union they got keeps the same
 * list: it used to grow to 3 copies, then 6, then 12. */
static void test_union_rounds(void **state) {
  struct fixture *f = *state;
  assert_int_equal(sl_op_state_write(f->b, 5, 0, 2, S, 2), SL_STATE_OK);     /* ab */
  assert_int_equal(sl_op_state_write(f->b, 5, 1, 2, S + 1, 2), SL_STATE_OK); /* bc */
  assert_int_equal(sl_backend_commit(f->b, 0), SL_STATE_OK);
  union_round(f->b, 5, 3, "abc|");
  union_round(f->b, 5, 2, "abc|");
  union_round(f->b, 5, 2, "abc|");
  restored(f, SL_REDIST_UNION, 1, 0, "abc|");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_even_split),
                                     cmocka_unit_test(test_union),
                                     cmocka_unit_test(test_bad_args),
                                     T(test_write_restore),
                                     T(test_damaged_header),
                                     T(test_union_rounds)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
