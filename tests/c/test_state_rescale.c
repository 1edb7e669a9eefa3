/* test_state_rescale.c — rescaling (state/state_rescale.c): old subtasks' environments, written with the real
 * state APIs and registering the same states under different ids, are cut into 1, 2 and 3 new subtasks'.
 * Every keyed entry lands in exactly the task that owns its key group, with its value; operator lists
 * redistribute (even split counts, a union once); timers follow their key groups and the watermark is the
 * least; metadata is merged; a kind or metadata conflict is an error; a round trip 2 -> 3 -> 1 -> 2 keeps
 * every value; the sources are not written; a fill larger than the cache cap commits in parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "state/keyed_scope.h"
#include "state/map_state.h"
#include "state/operator_state.h"
#include "state/state_rescale.h"
#include "state/timer_state.h"
#include "state/value_state.h"
#include "state_expect.h"
#include "test_tmpdir.h"

#define MAXP SL_DEFAULT_MAX_PARALLELISM
#define NKEYS 200
#define MAXT 4

static const sl_state_info VALUE = {SL_STATE_KIND_VALUE, 0}, MAP = {SL_STATE_KIND_MAP, 0},
                           OPLIST = {SL_STATE_KIND_OPERATOR_LIST, 0}, TIMERS = {SL_STATE_KIND_TIMERS, 0};

/* The ids of the test's states in one environment. */
struct ids {
  uint32_t count, seen, offsets, names, timers;
};

struct env {
  char dir[4096];
  sl_backend *b;
  sl_keyed_scope s;
  struct ids id;
};

static char root[4096];

static uint32_t reg(sl_backend *b, const char *uid, const char *name, const sl_state_info *kind) {
  uint32_t id;
  sl_state_info stored;
  assert_int_equal(sl_backend_state_register(b, uid, name, kind, &id, &stored), SL_STATE_OK);
  return id;
}

/* Looks a state up and checks its kind: a fill registers every state it copies. */
static uint32_t lookup(sl_backend *b, const char *uid, const char *name, const sl_state_info *kind) {
  uint32_t id;
  sl_state_info info;
  assert_int_equal(sl_backend_state_lookup(b, uid, name, &id, &info), SL_STATE_OK);
  assert_int_equal(info.kind, kind->kind);
  assert_int_equal(info.ttl, kind->ttl);
  return id;
}

/* Opens environment `name` under root; `pad` states registered first shift its ids. */
static void env_open(struct env *e, const char *name, int pad) {
  snprintf(e->dir, sizeof e->dir, "%s/%s", root, name);
  e->b = open_backend(e->dir, NULL);
  sl_scope_init(&e->s, e->b, MAXP);
  for (int i = 0; i < pad; i++) {
    char n[16];
    snprintf(n, sizeof n, "pad%d", i);
    reg(e->b, "other", n, &VALUE);
  }
}

static void env_close(struct env *e) {
  sl_scope_close(&e->s);
  sl_backend_close(e->b);
  e->b = NULL;
}

/* Closes and opens e again, dropping what was not committed. */
static void env_reopen(struct env *e) {
  env_close(e);
  e->b = open_backend(e->dir, NULL);
  sl_scope_init(&e->s, e->b, MAXP);
}

/* Looks the test's states up in a filled environment. */
static void env_lookup(struct env *e) {
  e->id.count = lookup(e->b, "agg", "count", &VALUE);
  e->id.seen = lookup(e->b, "agg", "seen", &MAP);
  e->id.offsets = lookup(e->b, "src", "offsets", &OPLIST);
  e->id.names = lookup(e->b, "src", "names", &OPLIST);
  e->id.timers = lookup(e->b, "agg", "sluice.timers.event", &TIMERS);
}

static void key_name(char *out, int i) {
  snprintf(out, 16, "k%03d", i);
}

static uint16_t group_of(int i) {
  char k[16];
  key_name(k, i);
  return sl_key_group(k, strlen(k), MAXP);
}

static int owner(int i, int ntasks) {
  for (int t = 0; t < ntasks; t++)
    if (sl_key_group_owned(group_of(i), t, ntasks, MAXP))
      return t;
  fail_msg("key %d has no owner among %d tasks", i, ntasks);
  return -1;
}

static void at_key(struct env *e, int i) {
  char k[16];
  key_name(k, i);
  assert_int_equal(sl_scope_set_key(&e->s, k, strlen(k)), SL_STATE_OK);
}

/* Writes old subtask t of n: its keys' value and map state and one event timer per key, its operator lists
 * (offsets: t + 2 items "t.j"; names: "x" and "t", a union), a watermark and metadata. The ids differ between
 * subtasks (t pad states first, and the states registered in another order in odd subtasks). */
static void write_old(struct env *e, int t, int n) {
  if (t % 2) {
    e->id.timers = reg(e->b, "agg", "sluice.timers.event", &TIMERS);
    e->id.names = reg(e->b, "src", "names", &OPLIST);
  }
  e->id.count = reg(e->b, "agg", "count", &VALUE);
  e->id.seen = reg(e->b, "agg", "seen", &MAP);
  e->id.offsets = reg(e->b, "src", "offsets", &OPLIST);
  if (t % 2 == 0) {
    e->id.names = reg(e->b, "src", "names", &OPLIST);
    e->id.timers = reg(e->b, "agg", "sluice.timers.event", &TIMERS);
  }
  sl_timer_queue q;
  sl_timer_queue_init(&q, e->b, e->id.timers);
  for (int i = 0; i < NKEYS; i++) {
    if (owner(i, n) != t)
      continue;
    char k[16], v[32];
    key_name(k, i);
    at_key(e, i);
    snprintf(v, sizeof v, "v%d", i);
    assert_int_equal(sl_value_put(&e->s, e->id.count, v, strlen(v)), SL_STATE_OK);
    snprintf(v, sizeof v, "%d-a", i);
    assert_int_equal(sl_map_put(&e->s, e->id.seen, "a", 1, v, strlen(v)), SL_STATE_OK);
    snprintf(v, sizeof v, "%d-b", i);
    assert_int_equal(sl_map_put(&e->s, e->id.seen, "b", 1, v, strlen(v)), SL_STATE_OK);
    assert_int_equal(sl_timer_queue_add(&q, 1000 + i, k, strlen(k), group_of(i)), SL_STATE_OK);
  }
  assert_int_equal(sl_timer_queue_set_watermark(&q, 500 + 100 * t), SL_STATE_OK);
  sl_timer_queue_close(&q);
  char items[8][8];
  sl_op_item list[8];
  for (int j = 0; j < t + 2; j++) {
    snprintf(items[j], sizeof items[j], "%d.%d", t, j);
    list[j] = (sl_op_item){items[j], strlen(items[j])};
  }
  assert_int_equal(sl_op_state_write(e->b, e->id.offsets, (uint32_t)t, (uint32_t)n, list, (size_t)t + 2),
                   SL_STATE_OK);
  snprintf(items[0], sizeof items[0], "%d", t);
  sl_op_item names[2] = {{"x", 1}, {items[0], strlen(items[0])}};
  assert_int_equal(sl_op_state_write(e->b, e->id.names, (uint32_t)t, (uint32_t)n, names, 2), SL_STATE_OK);
  assert_int_equal(sl_backend_meta_put(e->b, "job", "wc", 2), SL_STATE_OK);
  char path[32], off[16];
  snprintf(path, sizeof path, "source/in%d.txt", t);
  snprintf(off, sizeof off, "%d", 17 * (t + 1));
  assert_int_equal(sl_backend_meta_put(e->b, path, off, strlen(off)), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(e->b, 0), SL_STATE_OK);
}

/* Builds old subtasks "old0".."old<n-1>" of n (closed again) and fills their paths into dirs. */
static void build_old(int n, char dirs[][4096], const char **paths) {
  for (int t = 0; t < n; t++) {
    struct env e;
    char name[16];
    snprintf(name, sizeof name, "old%d", t);
    env_open(&e, name, t);
    write_old(&e, t, n);
    env_close(&e);
    memcpy(dirs[t], e.dir, sizeof e.dir);
    paths[t] = dirs[t];
  }
}

/* Fills new tasks "<prefix>0".."<prefix><m-1>" of m from paths[0..nsrc): each must succeed. */
static void fill_all(struct env *out, const char *prefix, int m, const char **paths, int nsrc) {
  for (int t = 0; t < m; t++) {
    char name[32], err[512] = "";
    snprintf(name, sizeof name, "%s%d", prefix, t);
    env_open(&out[t], name, 0);
    int rc = sl_rescale_fill(out[t].b, paths, nsrc, t, m, MAXP, err, sizeof err);
    if (rc != 0)
      fail_msg("fill %s: %s", name, err);
    env_lookup(&out[t]);
  }
}

/* Every key's value and map entries are in the task that owns its group and in no other. */
static void expect_keyed(struct env *e, int m) {
  for (int i = 0; i < NKEYS; i++) {
    int own = owner(i, m);
    for (int t = 0; t < m; t++) {
      const void *v;
      size_t vl;
      char want[32];
      at_key(&e[t], i);
      int rc = sl_value_get(&e[t].s, e[t].id.count, &v, &vl);
      snprintf(want, sizeof want, "v%d", i);
      expect_found(rc, v, vl, t == own ? want : NULL);
      rc = sl_map_get(&e[t].s, e[t].id.seen, "b", 1, &v, &vl);
      snprintf(want, sizeof want, "%d-b", i);
      expect_found(rc, v, vl, t == own ? want : NULL);
      rc = sl_map_get(&e[t].s, e[t].id.seen, "a", 1, &v, &vl);
      snprintf(want, sizeof want, "%d-a", i);
      expect_found(rc, v, vl, t == own ? want : NULL);
    }
  }
}

/* Every key's timer (at 1000 + i) is in the task that owns its group, and the watermark is want_wm. */
static void expect_timers(struct env *e, int m, int64_t want_wm) {
  int found[NKEYS] = {0};
  for (int t = 0; t < m; t++) {
    sl_timer_queue q;
    sl_timer_queue_init(&q, e[t].b, e[t].id.timers);
    int64_t ts, wm;
    const void *k;
    size_t kl;
    int rc;
    assert_int_equal(sl_timer_queue_watermark(&q, &wm), SL_STATE_OK);
    assert_int_equal(wm, want_wm);
    while ((rc = sl_timer_queue_poll(&q, INT64_MAX, &ts, &k, &kl)) == SL_STATE_OK) {
      int i = (int)(ts - 1000);
      char name[16];
      assert_true(i >= 0 && i < NKEYS);
      key_name(name, i);
      assert_int_equal(kl, strlen(name));
      assert_memory_equal(k, name, kl);
      assert_int_equal(owner(i, m), t);
      found[i]++;
    }
    assert_int_equal(rc, SL_STATE_NOTFOUND);
    sl_timer_queue_close(&q);
    env_reopen(&e[t]); /* drops the polls: the timers stay for later checks */
  }
  for (int i = 0; i < NKEYS; i++)
    assert_int_equal(found[i], 1);
}

/* "a b|c|" — each task's restored list of operator list state `names` (1) or `offsets` (0). */
static void restored_lists(struct env *e, int m, int mode, int names, char *out) {
  size_t n = 0;
  for (int t = 0; t < m; t++) {
    sl_op_list l;
    assert_int_equal(sl_op_state_restore(e[t].b, names ? e[t].id.names : e[t].id.offsets, mode, (uint32_t)m,
                                         (uint32_t)t, &l),
                     SL_STATE_OK);
    for (size_t i = 0; i < l.n; i++)
      n += (size_t)sprintf(out + n, "%s%.*s", i ? " " : "", (int)l.items[i].len,
                           (const char *)l.items[i].data);
    out[n++] = '|';
    sl_op_list_free(&l);
  }
  out[n] = '\0';
}

static void expect_lists(struct env *e, int m, const char *offsets, const char *names) {
  char buf[512];
  restored_lists(e, m, SL_REDIST_EVEN_SPLIT, 0, buf);
  assert_string_equal(buf, offsets);
  restored_lists(e, m, SL_REDIST_UNION, 1, buf);
  assert_string_equal(buf, names);
}

/* As the runtime does once a restored task runs: each task writes back the lists it restored, as its own
 * instance of m. */
static void run_tasks(struct env *e, int m) {
  for (int t = 0; t < m; t++) {
    sl_op_list l;
    uint32_t ids[2] = {e[t].id.offsets, e[t].id.names};
    for (int s = 0; s < 2; s++) {
      assert_int_equal(sl_op_state_restore(e[t].b, ids[s], s ? SL_REDIST_UNION : SL_REDIST_EVEN_SPLIT,
                                           (uint32_t)m, (uint32_t)t, &l),
                       SL_STATE_OK);
      assert_int_equal(sl_op_state_write(e[t].b, ids[s], (uint32_t)t, (uint32_t)m, l.items, l.n),
                       SL_STATE_OK);
      sl_op_list_free(&l);
    }
    assert_int_equal(sl_backend_commit(e[t].b, 0), SL_STATE_OK);
  }
}

static void expect_meta_all(struct env *e, int m, int nold) {
  for (int t = 0; t < m; t++) {
    expect_meta(e[t].b, "job", "wc");
    for (int s = 0; s < nold; s++) {
      char path[32], off[16];
      snprintf(path, sizeof path, "source/in%d.txt", s);
      snprintf(off, sizeof off, "%d", 17 * (s + 1));
      expect_meta(e[t].b, path, off);
    }
  }
}

static void close_all(struct env *e, int m) {
  for (int t = 0; t < m; t++)
    env_close(&e[t]);
}

static int setup_root(void **state) {
  (void)state;
  return tmpdir_create(root, sizeof root, "sl_rescale");
}

static int teardown_root(void **state) {
  (void)state;
  tmpdir_remove(root);
  return 0;
}

/* Each key group has exactly one owner, the ranges are contiguous and in task order, and a few exact ones. */
static void test_ownership(void **state) {
  (void)state;
  int counts[] = {1, 2, 3, 5, 7, 128, 200};
  for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
    int n = counts[c], last = 0;
    for (unsigned kg = 0; kg < MAXP; kg++) {
      int owners = 0, who = -1;
      for (int t = 0; t < n; t++)
        if (sl_key_group_owned(kg, t, n, MAXP)) {
          owners++;
          who = t;
        }
      assert_int_equal(owners, 1);
      assert_true(who >= last);
      last = who;
    }
  }
  assert_true(sl_key_group_owned(42, 0, 3, 128));
  assert_true(sl_key_group_owned(43, 1, 3, 128));
  assert_true(sl_key_group_owned(127, 2, 3, 128));
  assert_false(sl_key_group_owned(128, 2, 3, 128));
  assert_false(sl_key_group_owned(0, 3, 3, 128));
}

/* Fills m new tasks from paths[0..nsrc) (holding the state of nold old subtasks) and checks all of it: the
 * restored lists are `offsets` (even split) and `names` (union). */
static void fill_check(const char *prefix, int m, const char **paths, int nsrc, int nold, const char *offsets,
                       const char *names) {
  struct env out[MAXT];
  fill_all(out, prefix, m, paths, nsrc);
  expect_keyed(out, m);
  expect_lists(out, m, offsets, names);
  expect_meta_all(out, m, nold);
  expect_timers(out, m, 500);
  close_all(out, m);
}

/* Two old subtasks cut into 1, 2 and 3 new ones. offsets: "0.0 0.1" from instance 0, "1.0 1.1 1.2" from 1;
 * names: "x 0", "x 1". */
static void test_fill(void **state) {
  (void)state;
  char dirs[3][4096];
  const char *paths[3];
  build_old(2, dirs, paths);
  fill_check("one", 1, paths, 2, 2, "0.0 0.1 1.0 1.1 1.2|", "x 0 1|");
  fill_check("two", 2, paths, 2, 2, "0.0 0.1 1.0|1.1 1.2|", "x 0 1|x 0 1|");
  fill_check("three", 3, paths, 2, 2, "0.0 0.1|1.0 1.1|1.2|", "x 0 1|x 0 1|x 0 1|");
}

/* Three old subtasks (2 + 3 + 4 offsets) cut into 2 new ones: 5 and 4. */
static void test_fill_from_three(void **state) {
  (void)state;
  char dirs[3][4096];
  const char *paths[3];
  build_old(3, dirs, paths);
  fill_check("two", 2, paths, 3, 3, "0.0 0.1 1.0 1.1 1.2|2.0 2.1 2.2 2.3|", "x 0 1 2|x 0 1 2|");
}

/* 2 -> 3 (the three run: they write back their shares) -> 1 (not run: its header still counts three
 * instances) -> 2: every value, list item and timer is where it belongs. */
static void test_round_trip(void **state) {
  (void)state;
  char dirs[3][4096], one[4096];
  const char *paths[3], *p3[3], *p1[1] = {one};
  struct env three[3];
  build_old(2, dirs, paths);
  fill_all(three, "three", 3, paths, 2);
  run_tasks(three, 3);
  for (int t = 0; t < 3; t++)
    p3[t] = three[t].dir;
  close_all(three, 3);
  fill_check("one", 1, p3, 3, 2, "0.0 0.1 1.0 1.1 1.2|", "x 0 1|");
  snprintf(one, sizeof one, "%s/one0", root);
  fill_check("two", 2, p1, 1, 2, "0.0 0.1 1.0|1.1 1.2|", "x 0 1|x 0 1|");
}

/* Reads a whole file (the test's environments are small). */
static char *slurp(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  *len = (size_t)ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *p = malloc(*len ? *len : 1);
  assert_int_equal(fread(p, 1, *len, fp), *len);
  fclose(fp);
  return p;
}

/* The sources' data files are the same bytes after a fill. */
static void test_sources_untouched(void **state) {
  (void)state;
  char dirs[3][4096], path[4200];
  const char *paths[3];
  struct env out[2];
  build_old(2, dirs, paths);
  size_t len[2];
  char *before[2];
  for (int t = 0; t < 2; t++) {
    snprintf(path, sizeof path, "%s/state.mdb", dirs[t]);
    before[t] = slurp(path, &len[t]);
  }
  fill_all(out, "new", 2, paths, 2);
  close_all(out, 2);
  for (int t = 0; t < 2; t++) {
    size_t n;
    snprintf(path, sizeof path, "%s/state.mdb", dirs[t]);
    char *after = slurp(path, &n);
    assert_int_equal(n, len[t]);
    assert_memory_equal(after, before[t], n);
    free(after);
    free(before[t]);
  }
}

/* A fill that fails: err names the reason (must contain `want`). */
static void expect_fill_error(const char **paths, int nsrc, int task, int ntasks, unsigned maxp,
                              const char *want) {
  struct env e;
  char err[512] = "";
  env_open(&e, "bad", 0);
  assert_int_equal(sl_rescale_fill(e.b, paths, nsrc, task, ntasks, maxp, err, sizeof err), -1);
  if (!strstr(err, want))
    fail_msg("error \"%s\" does not say \"%s\"", err, want);
  env_close(&e);
  tmpdir_remove(e.dir);
}

/* Two sources disagree: the same metadata name with other bytes; the same state as another kind, or with
 * and without TTL. Also: a source's entry of a state its registry lacks, key groups past the max
 * parallelism asked for, a missing source and bad arguments. */
static void test_conflicts(void **state) {
  (void)state;
  struct env a, b;
  const char *paths[2];
  env_open(&a, "a", 0);
  env_open(&b, "b", 0);
  paths[0] = a.dir;
  paths[1] = b.dir;
  assert_int_equal(sl_backend_meta_put(a.b, "job", "wc", 2), SL_STATE_OK);
  assert_int_equal(sl_backend_meta_put(b.b, "job", "wc2", 3), SL_STATE_OK);
  reg(a.b, "agg", "count", &VALUE);
  reg(b.b, "agg", "count", &VALUE);
  assert_int_equal(sl_backend_commit(a.b, 0), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(b.b, 0), SL_STATE_OK);
  expect_fill_error(paths, 2, 0, 1, MAXP, "metadata 'job' differs");
  assert_int_equal(sl_backend_meta_put(b.b, "job", "wc", 2), SL_STATE_OK);
  reg(b.b, "agg", "total", &MAP);
  reg(a.b, "agg", "total", &VALUE);
  assert_int_equal(sl_backend_commit(a.b, 0), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(b.b, 0), SL_STATE_OK);
  expect_fill_error(paths, 2, 0, 1, MAXP, "state 'total' of 'agg' is of kind 2 there but of kind 1");
  env_close(&b);
  tmpdir_remove(paths[1]);
  env_open(&b, "b", 0);
  sl_state_info ttl = {SL_STATE_KIND_VALUE, 1};
  reg(b.b, "agg", "count", &ttl);
  assert_int_equal(sl_backend_commit(b.b, 0), SL_STATE_OK);
  expect_fill_error(paths, 2, 0, 1, MAXP, "kind 1 with TTL there but of kind 1 in");
  env_close(&b);
  tmpdir_remove(paths[1]);

  /* One source alone: an entry of an unregistered state id, then keyed state past max parallelism 8. */
  uint8_t key[SL_KEY_MAX_LEN];
  size_t kl = sl_key_compose(key, sizeof key, 3, 99, "k", 1, NULL, 0);
  assert_int_equal(sl_backend_put(a.b, key, kl, "v", 1), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(a.b, 0), SL_STATE_OK);
  expect_fill_error(paths, 1, 0, 1, MAXP, "state id 99, which its registry does not have");
  assert_int_equal(sl_backend_delete(a.b, key, kl), SL_STATE_OK);
  int far = 0;
  while (group_of(far) < 8)
    far++;
  at_key(&a, far);
  assert_int_equal(sl_value_put(&a.s, lookup(a.b, "agg", "count", &VALUE), "v", 1), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(a.b, 0), SL_STATE_OK);
  char want[80];
  snprintf(want, sizeof want, "keyed state in key group %u, at or past max parallelism 8", group_of(far));
  expect_fill_error(paths, 1, 0, 1, 8, want);
  paths[1] = "/nonexistent/sluice";
  expect_fill_error(paths, 2, 0, 1, MAXP, "/nonexistent/sluice: opening state.mdb read-only");
  expect_fill_error(paths, 1, 1, 1, MAXP, "bad arguments");
  expect_fill_error(paths, 0, 0, 1, MAXP, "bad arguments");
  expect_fill_error(paths, 1, 0, 1, 0x10000, "bad arguments");
  env_close(&a);
}

/* A fill of more state than the new backend's cache holds commits in bounded parts and loses nothing. */
static void test_bounded(void **state) {
  (void)state;
  struct env src, dst;
  env_open(&src, "big", 0);
  uint32_t id = reg(src.b, "agg", "count", &VALUE);
  char k[32], v[64];
  for (int i = 0; i < 20000; i++) {
    snprintf(k, sizeof k, "key%05d", i);
    snprintf(v, sizeof v, "value-%05d-padding-padding-padding", i);
    assert_int_equal(sl_scope_set_key(&src.s, k, strlen(k)), SL_STATE_OK);
    assert_int_equal(sl_value_put(&src.s, id, v, strlen(v)), SL_STATE_OK);
  }
  assert_int_equal(sl_backend_commit(src.b, 0), SL_STATE_OK);
  const char *paths[1] = {src.dir};
  snprintf(dst.dir, sizeof dst.dir, "%s/bigdst", root);
  dst.b = open_b(dst.dir, 256 << 10, 0);
  sl_scope_init(&dst.s, dst.b, MAXP);
  char err[512] = "";
  assert_int_equal(sl_rescale_fill(dst.b, paths, 1, 0, 1, MAXP, err, sizeof err), 0);
  sl_backend_stats st;
  sl_backend_get_stats(dst.b, &st);
  assert_true(st.commits > 1);
  assert_true(st.cache_bytes <= (size_t)256 << 10);
  env_close(&dst);
  dst.b = open_backend(dst.dir, NULL);
  sl_scope_init(&dst.s, dst.b, MAXP);
  id = lookup(dst.b, "agg", "count", &VALUE);
  for (int i = 0; i < 20000; i++) {
    const void *got;
    size_t gl;
    snprintf(k, sizeof k, "key%05d", i);
    snprintf(v, sizeof v, "value-%05d-padding-padding-padding", i);
    assert_int_equal(sl_scope_set_key(&dst.s, k, strlen(k)), SL_STATE_OK);
    int rc = sl_value_get(&dst.s, id, &got, &gl);
    expect_found(rc, got, gl, v);
  }
  env_close(&dst);
  env_close(&src);
}

/* A new task's watermark is the least of its sources': none when a source holding the queue has none (that
 * subtask had reached no event time), a source without the queue does not count. */
static void test_watermark_missing(void **state) {
  (void)state;
  struct env a, b, c, out;
  const char *paths[2];
  sl_timer_queue q;
  int64_t wm;
  env_open(&a, "a", 0);
  env_open(&b, "b", 1);
  env_open(&c, "c", 0);
  sl_timer_queue_init(&q, a.b, reg(a.b, "agg", "sluice.timers.event", &TIMERS));
  assert_int_equal(sl_timer_queue_add(&q, 7, "k", 1, 3), SL_STATE_OK);
  assert_int_equal(sl_timer_queue_set_watermark(&q, 700), SL_STATE_OK);
  sl_timer_queue_close(&q);
  reg(b.b, "agg", "sluice.timers.event", &TIMERS);
  reg(c.b, "agg", "count", &VALUE);
  assert_int_equal(sl_backend_commit(a.b, 0), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(b.b, 0), SL_STATE_OK);
  assert_int_equal(sl_backend_commit(c.b, 0), SL_STATE_OK);
  struct env *second[2] = {&b, &c};
  int64_t want[2] = {0, 700};
  for (int i = 0; i < 2; i++) {
    char err[512] = "", name[16];
    paths[0] = a.dir;
    paths[1] = second[i]->dir;
    snprintf(name, sizeof name, "out%d", i);
    env_open(&out, name, 0);
    assert_int_equal(sl_rescale_fill(out.b, paths, 2, 0, 1, MAXP, err, sizeof err), 0);
    sl_timer_queue_init(&q, out.b, lookup(out.b, "agg", "sluice.timers.event", &TIMERS));
    int rc = sl_timer_queue_watermark(&q, &wm);
    if (want[i]) {
      assert_int_equal(rc, SL_STATE_OK);
      assert_int_equal(wm, want[i]);
    } else {
      assert_int_equal(rc, SL_STATE_NOTFOUND);
    }
    uint64_t n;
    assert_int_equal(sl_timer_queue_count(&q, &n), SL_STATE_OK);
    assert_int_equal(n, 1);
    sl_timer_queue_close(&q);
    env_close(&out);
  }
  env_close(&a);
  env_close(&b);
  env_close(&c);
}

#define R(fn) cmocka_unit_test_setup_teardown(fn, setup_root, teardown_root)

int main(void) {
  const struct CMUnitTest tests[] = {R(test_ownership),       R(test_fill),
                                     R(test_fill_from_three), R(test_round_trip),
                                     R(test_conflicts),       R(test_sources_untouched),
                                     R(test_bounded),         R(test_watermark_missing)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
