/* test_state_iter.c — the iterator's contract (state/state_backend.h) now that opening one writes only the
 * entries written since the previous open (the cache's UNFLUSHED queue) instead of every dirty entry of the
 * cache: an iterator sees every write made before it opened, whatever happened to the entry in between (its
 * value moved in memory, it was frozen, spilled, deleted by prefix, or a flush failed); mutating the entry
 * it is on is allowed; it survives a commit and a map resize; an open costs what was written since the
 * previous one (counted in entries written, not timed); iterating does not make the next freeze fall back
 * to a commit. A randomized run checks every iteration against a model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state_failed_flush.h"
#include "state_flush_fixture.h"

/* The iteration under prefix, as iter_dump writes it, must be want. */
static void expect_iter(sl_backend *b, const char *prefix, const char *want) {
  char got[8192];
  iter_dump(b, prefix, got, sizeof got);
  assert_string_equal(got, want);
}

/* Writes made since the last commit, since the last open, a delete and an overwrite are all seen, also
 * when the value outgrew its entry in between (the entry moved in memory, its queue place with it). */
static void test_sees_every_write(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  char big[301];
  memset(big, 'B', 300);
  big[300] = '\0';
  put_s(b, "a1", "x");
  put_s(b, "a2", "y");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  put_s(b, "a3", "z");
  expect_iter(b, "a", "a1=x;a2=y;a3=z;");
  del_s(b, "a1");
  put_s(b, "a2", "y2");
  expect_iter(b, "a", "a2=y2;a3=z;");
  put_s(b, "a3", big); /* moves the entry */
  put_s(b, "a0", "w");
  char want[512];
  snprintf(want, sizeof want, "a0=w;a2=y2;a3=%s;", big);
  expect_iter(b, "a", want);
  put_s(b, "a3", "small"); /* written again after the move */
  expect_iter(b, "a", "a0=w;a2=y2;a3=small;");
  expect_iter(b, "b", "");
  /* Other prefixes' entries were written too, and a reopen after a commit reads them from LMDB. */
  put_s(b, "b1", "q");
  expect_iter(b, "a", "a0=w;a2=y2;a3=small;");
  expect_iter(b, NULL, "a0=w;a2=y2;a3=small;b1=q;");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_iter(b, NULL, "a0=w;a2=y2;a3=small;b1=q;");
  sl_backend_close(b);
}

/* An open writes the entries written since the previous open and makes no pass over the cache (what made
 * a job that iterates per record quadratic): with 5000 dirty entries, each put-then-open writes one entry
 * and scans nothing. */
static void test_open_costs_what_was_written(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  char k[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "d%05d", i);
    put_s(b, k, "v");
  }
  sl_backend_stats st0, st1;
  sl_backend_get_stats(b, &st0);
  expect_iter(b, "d00000", "d00000=v;");
  for (int i = 0; i < 100; i++) {
    snprintf(k, sizeof k, "m%03d", i);
    uint64_t before = written(b);
    put_s(b, k, "1");
    put_s(b, k, "2"); /* written twice, flushed once */
    char want[48];
    snprintf(want, sizeof want, "%s=2;", k);
    expect_iter(b, k, want);
    assert_int_equal(written(b) - before, 1);
  }
  /* Opening with nothing written since writes nothing. */
  uint64_t before = written(b);
  expect_iter(b, "m000", "m000=2;");
  assert_int_equal(written(b), before);
  sl_backend_get_stats(b, &st1);
  assert_int_equal(st1.cache_scans, st0.cache_scans);
  /* Nor does a barrier (the frozen batch comes from the WRITTEN queue). */
  sl_frozen *f = freeze(b);
  assert_int_equal(sl_frozen_count(f), 5100);
  flush_done(f, flush_inline(f));
  sl_backend_get_stats(b, &st1);
  assert_int_equal(st1.cache_scans, st0.cache_scans);
  sl_backend_close(b);
}

/* Mutating the entry the iterator is on — overwriting or deleting it — leaves the walk intact. */
static void test_mutate_current_entry(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  char k[32], v[32];
  for (int i = 0; i < 10; i++) {
    snprintf(k, sizeof k, "c%d", i);
    put_s(b, k, "old");
  }
  sl_backend_iter *it;
  const void *kp, *vp;
  size_t kl, vl;
  int n = 0;
  assert_int_equal(sl_backend_iter_open(b, "c", 1, &it), SL_STATE_OK);
  while (sl_backend_iter_next(it, &kp, &kl, &vp, &vl) == SL_STATE_OK) {
    assert_int_equal(vl, 3);
    snprintf(k, sizeof k, "%.*s", (int)kl, (const char *)kp);
    snprintf(v, sizeof v, "c%d", n);
    assert_string_equal(k, v);
    if (n % 2)
      del_s(b, k);
    else
      put_s(b, k, "new");
    n++;
  }
  sl_backend_iter_close(it);
  assert_int_equal(n, 10);
  expect_iter(b, "c", "c0=new;c2=new;c4=new;c6=new;c8=new;");
  sl_backend_close(b);
}

/* Under a cache so small that every write evicts and commits (cache pressure), a walk that rewrites each
 * entry it is on still visits every key once, in order, and every rewrite lands. */
static void test_mutate_under_cache_pressure(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 2048, 0);
  char k[32], v[200];
  for (int i = 0; i < 300; i++) {
    snprintf(k, sizeof k, "m%03d", i);
    put_s(b, k, "old");
  }
  memset(v, 'n', sizeof v - 1);
  v[sizeof v - 1] = '\0';
  sl_backend_stats st;
  sl_backend_get_stats(b, &st);
  uint64_t commits = st.commits;
  sl_backend_iter *it;
  const void *kp, *vp;
  size_t kl, vl;
  int n = 0;
  assert_int_equal(sl_backend_iter_open(b, "m", 1, &it), SL_STATE_OK);
  while (sl_backend_iter_next(it, &kp, &kl, &vp, &vl) == SL_STATE_OK) {
    snprintf(k, sizeof k, "m%03d", n);
    assert_int_equal(kl, 4);
    assert_memory_equal(kp, k, 4);
    assert_int_equal(vl, 3);
    put_s(b, k, v);
    n++;
  }
  sl_backend_iter_close(it);
  assert_int_equal(n, 300);
  sl_backend_get_stats(b, &st);
  assert_true(st.commits > commits);
  assert_true(st.evictions > 0);
  for (int i = 0; i < 300; i += 7) {
    snprintf(k, sizeof k, "m%03d", i);
    expect_val(b, k, v);
  }
  sl_backend_close(b);
}

/* A commit in the middle of a walk ends the transaction under the cursor: the walk resumes after the last
 * key it returned, and sees what was written before the commit. So does a map resize. */
static void test_survives_commit_and_resize(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 64 << 10); /* a small map, grown on MAP_FULL */
  char k[32], v[2100];
  for (int i = 0; i < 6; i++) {
    snprintf(k, sizeof k, "r%d", i);
    put_s(b, k, "v");
  }
  sl_backend_iter *it;
  const void *kp, *vp;
  size_t kl, vl;
  assert_int_equal(sl_backend_iter_open(b, "r", 1, &it), SL_STATE_OK);
  assert_int_equal(sl_backend_iter_next(it, &kp, &kl, &vp, &vl), SL_STATE_OK);
  assert_memory_equal(kp, "r0", 2);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  assert_int_equal(sl_backend_iter_next(it, &kp, &kl, &vp, &vl), SL_STATE_OK);
  assert_memory_equal(kp, "r1", 2);
  /* Large values elsewhere fill the map: the next open's flush grows it (abort, resize, replay). */
  memset(v, 'x', sizeof v - 1);
  v[sizeof v - 1] = '\0';
  sl_backend_stats st0, st1;
  sl_backend_get_stats(b, &st0);
  for (int i = 0; i < 200; i++) {
    snprintf(k, sizeof k, "z%03d", i);
    put_s(b, k, v);
  }
  put_s(b, "r5", "late");
  char want1[sizeof v + 16];
  snprintf(want1, sizeof want1, "z199=%s;", v);
  expect_iter(b, "z199", want1);
  sl_backend_get_stats(b, &st1);
  assert_true(st1.map_resizes > st0.map_resizes);
  const char *want[] = {"r2", "r3", "r4", "r5"};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(sl_backend_iter_next(it, &kp, &kl, &vp, &vl), SL_STATE_OK);
    assert_int_equal(kl, 2);
    assert_memory_equal(kp, want[i], 2);
    if (i == 3)
      assert_memory_equal(vp, "late", 4);
  }
  assert_int_equal(sl_backend_iter_next(it, &kp, &kl, &vp, &vl), SL_STATE_NOTFOUND);
  sl_backend_iter_close(it);
  sl_backend_close(b);
}

/* A job that iterates state still gets frozen batches (an incremental checkpoint needs one): the freeze
 * drops the transaction the iterator's flush wrote into, the batch holds those entries, and the snapshot
 * is exactly the state at the barrier. After the freeze an iterator sees the state written since. */
static void test_iterating_does_not_stop_freeze(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  put_s(b, "p1", "1");
  put_s(b, "p2", "2");
  expect_iter(b, "p", "p1=1;p2=2;");
  put_s(b, "p2", "22");
  expect_iter(b, "p", "p1=1;p2=22;");
  sl_frozen *f = freeze(b);
  assert_int_equal(sl_frozen_count(f), 2);
  assert_int_equal(b->txn_written, 0);
  sl_snapshot *snap = flush_inline(f);
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  flush_done(f, snap);
  char got[256];
  dump_loaded(dir, got, sizeof got);
  assert_string_equal(got, "p1=1;p2=22;");
  put_s(b, "p3", "3");
  expect_iter(b, "p", "p1=1;p2=22;p3=3;");
  /* The next batch takes only what was written since the freeze. */
  f = freeze(b);
  assert_int_equal(sl_frozen_count(f), 1);
  flush_done(f, flush_inline(f));
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_iter(b, "p", "p1=1;p2=22;p3=3;");
  sl_backend_close(b);
}

/* The settle of a batch must not mark clean an entry the write transaction holds another value of: frozen
 * as "1", flushed into the transaction as "2" by an iterator, then set back to "1". The commit must write
 * "1" over the transaction's "2". */
static void test_settle_after_iterator_flush(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  put_s(b, "s", "1");
  sl_frozen *f = freeze(b);
  sl_snapshot *snap = flush_inline(f);
  sl_snapshot_end(snap);
  sl_frozen_finish(f);
  put_s(b, "s", "2");
  expect_iter(b, "s", "s=2;");
  put_s(b, "s", "1");
  assert_int_equal(sl_frozen_settle(f, 100), 1);
  sl_frozen_free(f);
  expect_iter(b, "s", "s=1;");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_val(b, "s", "1");
  sl_backend_close(b);
}

/* A frozen batch whose flush failed (the map is full and the worker may not grow it) is in no queue any
 * more; an iterator opened afterwards must still see its entries. */
static void test_iter_after_failed_flush(void **state) {
  sl_backend *b = open_after_failed_flush(*state, "f");
  sl_backend_iter *it;
  const void *kp, *vp;
  size_t kl, vl;
  int n = 0;
  assert_int_equal(sl_backend_iter_open(b, "f", 1, &it), SL_STATE_OK);
  while (sl_backend_iter_next(it, &kp, &kl, &vp, &vl) == SL_STATE_OK) {
    assert_int_equal(vl, FAILED_VLEN);
    n++;
  }
  sl_backend_iter_close(it);
  assert_int_equal(n, FAILED_N);
  sl_backend_close(b);
}

/* A prefix delete removes committed keys, keys only in the cache and keys an iterator flushed, costs the
 * entries under the prefix (no pass over the cache) and is held by the next frozen batch: the snapshot
 * is exact and the barrier does not fall back. */
static void test_delete_prefix(void **state) {
  const char *dir = *state;
  sl_backend *b = open_b(dir, 0, 0);
  char k[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "o%05d", i);
    put_s(b, k, "v");
  }
  put_s(b, "q1", "committed");
  put_s(b, "q2", "committed");
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  put_s(b, "q3", "flushed");
  expect_iter(b, "q", "q1=committed;q2=committed;q3=flushed;");
  put_s(b, "q4", "cached");
  del_s(b, "q2");
  sl_backend_stats st0, st1;
  sl_backend_get_stats(b, &st0);
  assert_int_equal(sl_backend_delete_prefix(b, "q", 1), SL_STATE_OK);
  sl_backend_get_stats(b, &st1);
  assert_int_equal(st1.cache_scans, st0.cache_scans);
  expect_iter(b, "q", "");
  expect_val(b, "q1", NULL);
  expect_val(b, "q4", NULL);
  put_s(b, "q5", "after");
  sl_frozen *f = freeze(b);
  sl_snapshot *snap = flush_inline(f);
  uint64_t entries = 0;
  write_and_load(dir, snap, &entries);
  flush_done(f, snap);
  sl_backend *l = open_loaded(dir);
  expect_iter(l, "q", "q5=after;");
  expect_val(l, "o04999", "v");
  sl_backend_close(l);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  expect_iter(b, "q", "q5=after;");
  sl_backend_close(b);
}

/* The model of the randomized run: key i is "k%02d" (sorted like i), value or absent. */
enum { NKEYS = 64 };
struct model {
  char *val[NKEYS];
};

static void model_dump(const struct model *m, const char *prefix, char *out, size_t cap) {
  size_t n = 0, pl = prefix ? strlen(prefix) : 0;
  out[0] = '\0';
  for (int i = 0; i < NKEYS; i++) {
    char k[8];
    snprintf(k, sizeof k, "k%02d", i);
    if (!m->val[i] || strncmp(k, prefix ? prefix : "", pl) != 0)
      continue;
    n += (size_t)snprintf(out + n, cap - n, "%s=%s;", k, m->val[i]);
  }
}

/* Random puts (small and large values, so entries move), deletes, prefix deletes, commits, barriers
 * (frozen batches flushed, settled or not) and iterations over the whole state and a prefix, checked
 * against the model after every step; run with a cache so small it spills, and with the default one. */
static void random_run(const char *dir, size_t cache_max, unsigned seed) {
  sl_backend *b = open_b(dir, cache_max, 0);
  struct model m = {{0}};
  char k[8], v[400], got[NKEYS * 420], want[NKEYS * 420];
  srand(seed);
  for (int step = 0; step < 3000; step++) {
    int op = rand() % 100, i = rand() % NKEYS;
    snprintf(k, sizeof k, "k%02d", i);
    if (op < 45) {
      int len = rand() % 10 ? 1 + rand() % 12 : 200 + rand() % 190;
      for (int j = 0; j < len; j++)
        v[j] = (char)('a' + (step + j) % 26);
      v[len] = '\0';
      put_s(b, k, v);
      free(m.val[i]);
      m.val[i] = strdup(v);
    } else if (op < 60) {
      del_s(b, k);
      free(m.val[i]);
      m.val[i] = NULL;
    } else if (op < 62) {
      char p[4] = {'k', (char)('0' + rand() % 7), 0, 0};
      assert_int_equal(sl_backend_delete_prefix(b, p, 2), SL_STATE_OK);
      for (int j = 0; j < NKEYS; j++)
        if (j / 10 == p[1] - '0') {
          free(m.val[j]);
          m.val[j] = NULL;
        }
    } else if (op < 65) {
      assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
    } else if (op < 69) {
      sl_frozen *f = NULL;
      int rc = sl_backend_freeze(b, &f);
      if (rc == 1) {
        assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
      } else {
        assert_int_equal(rc, SL_STATE_OK);
        sl_snapshot_end(flush_inline(f));
        sl_frozen_finish(f);
        if (rand() % 2)
          sl_frozen_settle(f, (size_t)(rand() % 8));
        sl_frozen_free(f);
      }
    } else if (op < 85) {
      iter_dump(b, NULL, got, sizeof got);
      model_dump(&m, NULL, want, sizeof want);
      assert_string_equal(got, want);
    } else {
      char p[4] = {'k', (char)('0' + rand() % 7), 0, 0};
      iter_dump(b, p, got, sizeof got);
      model_dump(&m, p, want, sizeof want);
      assert_string_equal(got, want);
    }
  }
  /* What was committed last survives a reopen. */
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  sl_backend_close(b);
  b = open_b(dir, 0, 0);
  iter_dump(b, NULL, got, sizeof got);
  model_dump(&m, NULL, want, sizeof want);
  assert_string_equal(got, want);
  sl_backend_close(b);
  for (int i = 0; i < NKEYS; i++)
    free(m.val[i]);
}

static void test_random_default_cache(void **state) {
  random_run(*state, 0, 1);
}

static void test_random_spilling_cache(void **state) {
  random_run(*state, 2048, 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_sees_every_write),
      T(test_open_costs_what_was_written),
      T(test_mutate_current_entry),
      T(test_mutate_under_cache_pressure),
      T(test_survives_commit_and_resize),
      T(test_iterating_does_not_stop_freeze),
      T(test_settle_after_iterator_flush),
      T(test_iter_after_failed_flush),
      T(test_delete_prefix),
      T(test_random_default_cache),
      T(test_random_spilling_cache),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
