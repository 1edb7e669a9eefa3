/* test_state_backend.c — the LMDB backend and its write-back cache (state/state_backend.c, state_txn.c,
 * state_backend_iter.c, state_cache.c): durability across reopen, atomic meta, state ids, prefix deletes,
 * iteration over committed + dirty entries, cache spills, map growth. Each test gets its own directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/state_backend.h"
#include "state_expect.h"
#define TEST_TMPDIR_PREFIX "sl_backend"
#include "test_tmpdir.h"

static size_t keyf(char *buf, const char *prefix, int i) {
  return (size_t)sprintf(buf, "%s%08d", prefix, i);
}

static void test_put_get_delete(void **state) {
  sl_backend *b = open_b(*state, 0, 0);
  expect_val(b, "k1", NULL);
  put_s(b, "k1", "v1");
  expect_val(b, "k1", "v1");
  put_s(b, "k1", "a much longer value than before, to force a reallocation of the entry");
  expect_val(b, "k1", "a much longer value than before, to force a reallocation of the entry");
  put_s(b, "k1", "");
  expect_val(b, "k1", "");
  assert_int_equal(sl_backend_delete(b, "k1", 2), SL_STATE_OK);
  expect_val(b, "k1", NULL);
  assert_int_equal(sl_backend_delete(b, "absent", 6), SL_STATE_OK);
  /* A value from a get may be passed back to a put of the same key. */
  put_s(b, "k2", "same");
  const void *v;
  size_t vl;
  assert_int_equal(sl_backend_get(b, "k2", 2, &v, &vl), SL_STATE_OK);
  assert_int_equal(sl_backend_put(b, "k2", 2, v, vl), SL_STATE_OK);
  expect_val(b, "k2", "same");
  char big[600];
  memset(big, 'k', sizeof(big));
  assert_int_equal(sl_backend_put(b, big, sizeof(big), "x", 1), SL_STATE_EINVAL);
  assert_int_equal(sl_backend_put(b, "", 0, "x", 1), SL_STATE_EINVAL);
  assert_int_equal(sl_backend_get(b, NULL, 1, &v, &vl), SL_STATE_EINVAL);
  sl_backend_close(b);
}

static void test_commit_reopen_keeps_data(void **state) {
  char k[64], v[64];
  sl_backend *b = open_b(*state, 0, 0);
  for (int i = 0; i < 1000; i++) {
    keyf(k, "key/", i);
    sprintf(v, "value-%d", i);
    put_s(b, k, v);
  }
  assert_int_equal(sl_backend_commit(b, 1), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(*state, 0, 0);
  for (int i = 0; i < 1000; i++) {
    keyf(k, "key/", i);
    sprintf(v, "value-%d", i);
    expect_val(b, k, v);
  }
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  assert_int_equal(st.cache_misses, 1000);
  sl_backend_close(b);
}

static void test_uncommitted_changes_vanish(void **state) {
  sl_backend *b = open_b(*state, 0, 0);
  put_s(b, "a", "committed");
  put_s(b, "c", "committed");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  put_s(b, "a", "changed");
  put_s(b, "b", "new");
  assert_int_equal(sl_backend_delete(b, "c", 1), SL_STATE_OK);
  expect_val(b, "a", "changed");
  expect_val(b, "c", NULL);
  sl_backend_close(b);
  b = open_b(*state, 0, 0);
  expect_val(b, "a", "committed");
  expect_val(b, "b", NULL);
  expect_val(b, "c", "committed");
  sl_backend_close(b);
}

static void test_meta_commits_with_state(void **state) {
  sl_backend *b = open_b(*state, 0, 0);
  expect_meta(b, "offset", NULL);
  assert_int_equal(sl_backend_meta_put(b, "offset", "100", 3), SL_STATE_OK);
  put_s(b, "count", "100");
  expect_meta(b, "offset", "100");
  assert_int_equal(sl_backend_commit(b, 1), SL_STATE_OK);
  expect_meta(b, "offset", "100");
  assert_int_equal(sl_backend_meta_put(b, "offset", "200", 3), SL_STATE_OK);
  put_s(b, "count", "200");
  expect_meta(b, "offset", "200");
  sl_backend_close(b); /* no commit: both the meta and the state go back to 100 */
  b = open_b(*state, 0, 0);
  expect_meta(b, "offset", "100");
  expect_val(b, "count", "100");
  assert_int_equal(sl_backend_meta_put(b, "offset", "300", 3), SL_STATE_OK);
  put_s(b, "count", "300");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(*state, 0, 0);
  expect_meta(b, "offset", "300");
  expect_val(b, "count", "300");
  assert_int_equal(sl_backend_meta_put(b, "", "x", 1), SL_STATE_EINVAL);
  sl_backend_close(b);
}

static void test_state_ids_stable(void **state) {
  uint32_t a, b2, c, again;
  sl_backend *b = open_b(*state, 0, 0);
  assert_int_equal(sl_backend_state_id(b, "op1", "count", &a), SL_STATE_OK);
  assert_int_equal(sl_backend_state_id(b, "op1", "seen", &b2), SL_STATE_OK);
  assert_int_equal(sl_backend_state_id(b, "op2", "count", &c), SL_STATE_OK);
  assert_int_equal(a, 1);
  assert_int_equal(b2, 2);
  assert_int_equal(c, 3);
  assert_int_equal(sl_backend_state_id(b, "op1", "seen", &again), SL_STATE_OK);
  assert_int_equal(again, 2);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(sl_backend_state_id(b, "op3", "x", &again), SL_STATE_OK);
  assert_int_equal(again, 4);
  sl_backend_close(b); /* op3/x was not committed */
  b = open_b(*state, 0, 0);
  assert_int_equal(sl_backend_state_id(b, "op2", "count", &again), SL_STATE_OK);
  assert_int_equal(again, 3);
  assert_int_equal(sl_backend_state_id(b, "op1", "count", &again), SL_STATE_OK);
  assert_int_equal(again, 1);
  assert_int_equal(sl_backend_state_id(b, "op4", "y", &again), SL_STATE_OK);
  assert_int_equal(again, 4);
  assert_int_equal(sl_backend_state_id(b, "", "y", &again), SL_STATE_EINVAL);
  sl_backend_close(b);
}

static void test_delete_prefix(void **state) {
  char buf[1024];
  sl_backend *b = open_b(*state, 0, 0);
  put_s(b, "A1", "c");
  put_s(b, "A2", "c");
  put_s(b, "B1", "c");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  put_s(b, "A3", "d");
  put_s(b, "AB", "d");
  expect_val(b, "A1", "c"); /* now cached clean */
  assert_int_equal(sl_backend_delete_prefix(b, "A", 1), SL_STATE_OK);
  expect_val(b, "A1", NULL);
  expect_val(b, "A2", NULL);
  expect_val(b, "A3", NULL);
  expect_val(b, "B1", "c");
  iter_dump(b, "A", buf, sizeof(buf));
  assert_string_equal(buf, "");
  put_s(b, "A9", "after");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(*state, 0, 0);
  iter_dump(b, "", buf, sizeof(buf));
  assert_string_equal(buf, "A9=after;B1=c;");
  /* An uncommitted delete_prefix vanishes on close. */
  assert_int_equal(sl_backend_delete_prefix(b, "", 0), SL_STATE_OK);
  iter_dump(b, "", buf, sizeof(buf));
  assert_string_equal(buf, "");
  sl_backend_close(b);
  b = open_b(*state, 0, 0);
  iter_dump(b, "", buf, sizeof(buf));
  assert_string_equal(buf, "A9=after;B1=c;");
  sl_backend_close(b);
}

static void test_iterator_order_and_bounds(void **state) {
  char buf[4096], k[64], want[4096];
  sl_backend *b = open_b(*state, 0, 0);
  put_s(b, "p1", "exact");
  put_s(b, "p10/x", "other");
  put_s(b, "p2/a", "other");
  put_s(b, "p0/z", "other");
  for (int i = 0; i < 20; i += 2) { /* even keys committed */
    keyf(k, "p1/", i);
    put_s(b, k, "old");
  }
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  for (int i = 1; i < 20; i += 2) { /* odd keys dirty */
    keyf(k, "p1/", i);
    put_s(b, k, "new");
  }
  keyf(k, "p1/", 4);
  put_s(b, k, "upd"); /* a committed key updated in the cache */
  keyf(k, "p1/", 6);
  assert_int_equal(sl_backend_delete(b, k, strlen(k)), SL_STATE_OK);
  size_t n = 0;
  for (int i = 0; i < 20; i++) {
    if (i == 6)
      continue;
    keyf(k, "p1/", i);
    n += (size_t)sprintf(want + n, "%s=%s;", k, i == 4 ? "upd" : i % 2 ? "new" : "old");
  }
  iter_dump(b, "p1/", buf, sizeof(buf));
  assert_string_equal(buf, want);
  iter_dump(b, "p2", buf, sizeof(buf));
  assert_string_equal(buf, "p2/a=other;");
  iter_dump(b, "p3", buf, sizeof(buf));
  assert_string_equal(buf, "");
  iter_dump(b, "p1", buf, sizeof(buf));
  assert_true(strncmp(buf, "p1=exact;p1/00000000=old;", 25) == 0);
  assert_non_null(strstr(buf, "p10/x=other;"));
  assert_null(strstr(buf, "p2/"));
  /* The iterated state is what a commit + reopen gives back. */
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(*state, 0, 0);
  iter_dump(b, "p1/", buf, sizeof(buf));
  assert_string_equal(buf, want);
  sl_backend_close(b);
}

static void test_iterator_survives_commit(void **state) {
  char k[64];
  sl_backend *b = open_b(*state, 0, 0);
  for (int i = 0; i < 500; i++) {
    keyf(k, "it/", i);
    put_s(b, k, "v");
  }
  sl_backend_iter *it;
  assert_int_equal(sl_backend_iter_open(b, "it/", 3, &it), SL_STATE_OK);
  const void *key, *v;
  size_t kl, vl;
  int seen = 0, rc;
  while ((rc = sl_backend_iter_next(it, &key, &kl, &v, &vl)) == SL_STATE_OK) {
    keyf(k, "it/", seen);
    assert_int_equal(kl, strlen(k));
    assert_memory_equal(key, k, kl);
    if (++seen == 100)
      assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  }
  assert_int_equal(rc, SL_STATE_NOTFOUND);
  assert_int_equal(seen, 500);
  sl_backend_iter_close(it);
  sl_backend_close(b);
}

static void check_counts(sl_backend *b, int n) {
  char k[64], v[64];
  for (int i = 0; i < n; i++) {
    keyf(k, "cnt/", i);
    sprintf(v, "%d", i % 3 == 0 ? i * 2 : i);
    expect_val(b, k, i % 7 == 0 ? NULL : v);
  }
}

static void fill_counts(sl_backend *b, int n) {
  char k[64], v[64];
  for (int i = 0; i < n; i++) {
    keyf(k, "cnt/", i);
    sprintf(v, "%d", i);
    put_s(b, k, v);
  }
  for (int i = 0; i < n; i += 3) {
    keyf(k, "cnt/", i);
    sprintf(v, "%d", i * 2);
    put_s(b, k, v);
  }
  for (int i = 0; i < n; i += 7) {
    keyf(k, "cnt/", i);
    assert_int_equal(sl_backend_delete(b, k, strlen(k)), SL_STATE_OK);
  }
}

static void test_cache_pressure_100k(void **state) {
  const int n = 100000;
  sl_backend *b = open_b(*state, 16 * 1024, 0);
  fill_counts(b, n);
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  assert_true(st.cache_bytes < 64 * 1024); /* spills kept it near its cap */
  assert_true(st.entries_written > 0);
  check_counts(b, n); /* before the commit: read through the transaction */
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  check_counts(b, n);
  sl_backend_close(b);
  b = open_b(*state, 16 * 1024, 0);
  check_counts(b, n);
  sl_backend_close(b);
}

static void test_map_growth(void **state) {
  const int n = 30000;
  char k[64], v[128];
  sl_backend *b = open_b(*state, 0, 64 * 1024);
  for (int i = 0; i < n; i++) {
    keyf(k, "grow/", i);
    snprintf(v, sizeof(v), "%d-%s", i, "padding padding padding padding padding padding padding padding");
    put_s(b, k, v);
  }
  assert_int_equal(sl_backend_meta_put(b, "m", "1", 1), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(b, 1), SL_STATE_OK);
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  assert_true(st.map_resizes > 0);
  sl_backend_close(b);
  b = open_b(*state, 0, 64 * 1024); /* a smaller configured size than the file needs is fine */
  for (int i = 0; i < n; i += 97) {
    keyf(k, "grow/", i);
    snprintf(v, sizeof(v), "%d-%s", i, "padding padding padding padding padding padding padding padding");
    expect_val(b, k, v);
  }
  expect_meta(b, "m", "1");
  sl_backend_close(b);
}

static void test_map_growth_with_spills(void **state) {
  const int n = 50000;
  sl_backend *b = open_b(*state, 8 * 1024, 64 * 1024);
  fill_counts(b, n);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  fill_counts(b, n); /* a second interval over a database that is now larger than the first map */
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  assert_true(st.map_resizes > 0);
  sl_backend_close(b);
  b = open_b(*state, 8 * 1024, 64 * 1024);
  check_counts(b, n);
  sl_backend_close(b);
}

/* Spills, a prefix delete between them and map growth afterwards: the transaction is rebuilt from the spill
 * log in order, so the delete neither resurrects nor loses anything. */
static void test_spill_replay_with_prefix_delete(void **state) {
  char k[64], v[64];
  sl_backend *b = open_b(*state, 8 * 1024, 64 * 1024);
  for (int i = 0; i < 20000; i++) {
    keyf(k, "a/", i);
    sprintf(v, "a%d", i);
    put_s(b, k, v);
  }
  assert_int_equal(sl_backend_delete_prefix(b, "a/0000", 6), SL_STATE_OK); /* a/0 .. a/9999 */
  put_s(b, "a/00000005", "back");
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  uint64_t resizes = st.map_resizes;
  for (int i = 0; i < 40000; i++) {
    keyf(k, "b/", i);
    put_s(b, k, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  }
  assert_int_equal(sl_backend_commit(b, 1), SL_STATE_OK);
  sl_backend_get_stats(b, &st);
  assert_true(st.map_resizes > resizes); /* grown (and replayed) after the prefix delete */
  sl_backend_close(b);
  b = open_b(*state, 8 * 1024, 64 * 1024);
  for (int i = 0; i < 20000; i++) {
    keyf(k, "a/", i);
    sprintf(v, "a%d", i);
    expect_val(b, k, i == 5 ? "back" : i < 10000 ? NULL : v);
  }
  for (int i = 0; i < 40000; i += 13) {
    keyf(k, "b/", i);
    expect_val(b, k, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
  }
  sl_backend_close(b);
}

static void test_stats(void **state) {
  sl_backend *b = open_b(*state, 0, 0);
  put_s(b, "x", "1");
  put_s(b, "y", "2");
  expect_val(b, "x", "1");
  expect_val(b, "x", "1");
  expect_val(b, "z", NULL); /* a miss, then cached as absent */
  expect_val(b, "z", NULL);
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  assert_int_equal(st.cache_hits, 3);
  assert_int_equal(st.cache_misses, 1);
  assert_int_equal(st.commits, 0);
  assert_true(st.cache_bytes > 0);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_get_stats(b, &st);
  assert_int_equal(st.commits, 2);
  assert_int_equal(st.entries_written, 2);
  assert_int_equal(st.map_resizes, 0);
  sl_backend_close(b);
}

static void test_open_errors_and_strerror(void **state) {
  char path[4200], err[256];
  snprintf(path, sizeof(path), "%s/file", (char *)*state);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fclose(f);
  sl_backend *b = (sl_backend *)1;
  assert_int_equal(sl_backend_open(&b, path, NULL, err, sizeof(err)), SL_STATE_EIO);
  assert_null(b);
  assert_true(strlen(err) > 0);
  assert_int_equal(sl_backend_open(&b, "", NULL, err, sizeof(err)), SL_STATE_EINVAL);
  /* Nested directories are created. */
  snprintf(path, sizeof(path), "%s/a/b/c", (char *)*state);
  assert_int_equal(sl_backend_open(&b, path, NULL, NULL, 0), SL_STATE_OK);
  sl_backend_close(b);
  snprintf(path, sizeof(path), "%s/a/b/c/state.mdb", (char *)*state);
  assert_int_equal(access(path, F_OK), 0);
  sl_backend_close(NULL);
  for (int s = -6; s <= 2; s++)
    assert_non_null(sl_state_strerror(s));
  assert_string_not_equal(sl_state_strerror(SL_STATE_EFULL), sl_state_strerror(SL_STATE_EIO));
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

/* An iterator may outlive its backend (a Lua loop that broke early is closed by the garbage collector,
 * possibly after the job closed the backend): closing it then must not touch the backend (ASan checks). */
static void test_iterator_closed_after_backend(void **state) {
  sl_backend *b = open_backend(*state, NULL);
  assert_int_equal(sl_backend_put(b, "k1", 2, "v", 1), SL_STATE_OK);
  assert_int_equal(sl_backend_put(b, "k2", 2, "v", 1), SL_STATE_OK);
  sl_backend_iter *a, *c;
  assert_int_equal(sl_backend_iter_open(b, "k", 1, &a), SL_STATE_OK);
  assert_int_equal(sl_backend_iter_open(b, "k", 1, &c), SL_STATE_OK);
  const void *k, *v;
  size_t kl, vl;
  assert_int_equal(sl_backend_iter_next(a, &k, &kl, &v, &vl), SL_STATE_OK);
  sl_backend_iter_close(c); /* one closed before, one after */
  sl_backend_close(b);
  assert_int_equal(sl_backend_iter_next(a, &k, &kl, &v, &vl), SL_STATE_EINVAL);
  sl_backend_iter_close(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_put_get_delete),
      T(test_commit_reopen_keeps_data),
      T(test_uncommitted_changes_vanish),
      T(test_meta_commits_with_state),
      T(test_state_ids_stable),
      T(test_delete_prefix),
      T(test_iterator_order_and_bounds),
      T(test_iterator_survives_commit),
      T(test_iterator_closed_after_backend),
      T(test_cache_pressure_100k),
      T(test_map_growth),
      T(test_map_growth_with_spills),
      T(test_spill_replay_with_prefix_delete),
      T(test_stats),
      T(test_open_errors_and_strerror),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
