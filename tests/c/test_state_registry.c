/* test_state_registry.c — the state registry's kinds (state/state_backend.c, sl_backend_state_register):
 * a pair registered as one kind is refused as another kind or TTL setting, with the stored kind reported
 * and nothing changed; kinds survive a commit and reopen, a full snapshot and load (with the keep filter),
 * and a delta; a registry written before kinds were recorded (4-byte rows) still loads, keeps its ids and
 * records the kind at the first registration. Each test gets its own directory under $TMPDIR. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "snapshot_expect.h"
#include "state/state_backend.h"
#include "state/state_delta.h"
#include "state/state_flush.h"
#include "state/state_snapshot.h"
#include "state_expect.h"
#define TEST_TMPDIR_PREFIX "sl_registry"
#include "test_tmpdir.h"

static const sl_state_info VALUE = {SL_STATE_KIND_VALUE, 0};
static const sl_state_info VALUE_TTL = {SL_STATE_KIND_VALUE, 1};
static const sl_state_info MAP = {SL_STATE_KIND_MAP, 0};
static const sl_state_info LIST = {SL_STATE_KIND_LIST, 0};

static void path_in(char *out, void **state, const char *name) {
  snprintf(out, 4096, "%s/%s", (const char *)*state, name);
}

/* Registers (op, name) as want, which must be accepted; returns its id. */
static uint32_t reg_ok(sl_backend *b, const char *op, const char *name, const sl_state_info *want) {
  uint32_t id = 0;
  sl_state_info stored = {99, 99};
  assert_int_equal(sl_backend_state_register(b, op, name, want, &id, &stored), SL_STATE_OK);
  assert_true(id > 0);
  assert_true(stored.kind == SL_STATE_KIND_UNKNOWN || stored.kind == want->kind);
  return id;
}

/* Registers (op, name) as want, which must be refused because the registry holds `held`. */
static void reg_refused(sl_backend *b, const char *op, const char *name, const sl_state_info *want,
                        const sl_state_info *held) {
  uint32_t id = 12345;
  sl_state_info stored = {0, 0};
  assert_int_equal(sl_backend_state_register(b, op, name, want, &id, &stored), SL_STATE_EINVAL);
  assert_int_equal(stored.kind, held->kind);
  assert_int_equal(stored.ttl, held->ttl);
  assert_int_equal(id, 12345);
}

static void expect_info(sl_backend *b, const char *op, const char *name, uint32_t id, uint8_t kind,
                        uint8_t ttl) {
  uint32_t got = 0;
  sl_state_info info = {99, 99};
  assert_int_equal(sl_backend_state_lookup(b, op, name, &got, &info), SL_STATE_OK);
  assert_int_equal(got, id);
  assert_int_equal(info.kind, kind);
  assert_int_equal(info.ttl, ttl);
}

static void test_same_kind_accepted_other_kind_refused(void **state) {
  sl_backend *b = open_b(*state, 0, 0);
  uint32_t x = reg_ok(b, "op", "x", &VALUE);
  assert_int_equal(x, 1);
  assert_int_equal(reg_ok(b, "op", "x", &VALUE), x);
  /* The same name in another operator is another state. */
  assert_int_equal(reg_ok(b, "other", "x", &MAP), 2);
  reg_refused(b, "op", "x", &MAP, &VALUE);
  reg_refused(b, "op", "x", &VALUE_TTL, &VALUE);
  /* A refusal changes nothing: the row still says ValueState without TTL. */
  expect_info(b, "op", "x", x, SL_STATE_KIND_VALUE, 0);
  /* Unknown kinds are not registrations. */
  uint32_t id;
  sl_state_info bad = {SL_STATE_KIND_UNKNOWN, 0}, stored;
  assert_int_equal(sl_backend_state_register(b, "op", "y", &bad, &id, &stored), SL_STATE_EINVAL);
  assert_int_equal(stored.kind, SL_STATE_KIND_UNKNOWN);
  bad.kind = SL_STATE_KIND_MAX + 1;
  assert_int_equal(sl_backend_state_register(b, "op", "y", &bad, &id, &stored), SL_STATE_EINVAL);
  assert_int_equal(sl_backend_state_register(b, "", "y", &MAP, &id, &stored), SL_STATE_EINVAL);
  assert_int_equal(sl_backend_state_lookup(b, "op", "y", &id, &stored), SL_STATE_NOTFOUND);
  /* The id-only call still finds the id and leaves the kind alone. */
  assert_int_equal(sl_backend_state_id(b, "op", "x", &id), SL_STATE_OK);
  assert_int_equal(id, x);
  expect_info(b, "op", "x", x, SL_STATE_KIND_VALUE, 0);
  sl_backend_close(b);
}

static void test_kinds_survive_commit_and_reopen(void **state) {
  sl_backend *b = open_b(*state, 0, 0);
  uint32_t x = reg_ok(b, "op", "x", &VALUE_TTL), l = reg_ok(b, "op", "l", &LIST);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  reg_ok(b, "op", "uncommitted", &MAP);
  sl_backend_close(b);
  b = open_b(*state, 0, 0);
  expect_info(b, "op", "x", x, SL_STATE_KIND_VALUE, 1);
  expect_info(b, "op", "l", l, SL_STATE_KIND_LIST, 0);
  reg_refused(b, "op", "x", &VALUE, &VALUE_TTL);
  reg_refused(b, "op", "l", &MAP, &LIST);
  /* The uncommitted one is gone: free to be registered as anything, with the next id. */
  assert_int_equal(reg_ok(b, "op", "uncommitted", &LIST), 3);
  sl_backend_close(b);
}

/* A registry of an older sluice: rows hold only the 4-byte id. Built as a snapshot file and loaded. */
static void write_old_snapshot(const char *path) {
  char err[256];
  sl_snapfile *w = sl_snapfile_create(path, err, sizeof err);
  assert_non_null(w);
  const uint8_t id1[4] = {0, 0, 0, 1}, id2[4] = {0, 0, 0, 2};
  sl_snapfile_put(w, 3, "op\0a", 4, id1, 4);
  sl_snapfile_put(w, 3, "op\0b", 4, id2, 4);
  uint64_t bytes, entries;
  assert_int_equal(sl_snapfile_finish(w, &bytes, &entries, err, sizeof err), 0);
}

static void test_old_registry_loads_then_records_kind(void **state) {
  char dir[4096], snap[4096], again[4096], dir2[4096];
  path_in(dir, state, "env");
  path_in(snap, state, "old.snap");
  path_in(again, state, "again.snap");
  path_in(dir2, state, "env2");
  write_old_snapshot(snap);
  load_ok(dir, snap, NULL, NULL);
  sl_backend *b = open_backend(dir, NULL);
  expect_info(b, "op", "a", 1, SL_STATE_KIND_UNKNOWN, 0);
  /* Unknown: any kind is accepted (the id is kept) and recorded from then on. */
  assert_int_equal(reg_ok(b, "op", "a", &MAP), 1);
  reg_refused(b, "op", "a", &VALUE, &MAP);
  assert_int_equal(reg_ok(b, "op", "new", &VALUE), 3);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  expect_info(b, "op", "a", 1, SL_STATE_KIND_MAP, 0);
  expect_info(b, "op", "b", 2, SL_STATE_KIND_UNKNOWN, 0);
  /* The recorded kind travels in the next snapshot. */
  snapshot_to(b, again);
  sl_backend_close(b);
  load_ok(dir2, again, NULL, NULL);
  b = open_backend(dir2, NULL);
  reg_refused(b, "op", "a", &VALUE, &MAP);
  assert_int_equal(reg_ok(b, "op", "b", &LIST), 2);
  assert_int_equal(reg_ok(b, "op", "new2", &LIST), 4);
  sl_backend_close(b);
}

/* A row written by a newer sluice, with a kind this build does not know: refused as any other kind. */
static void test_unknown_future_kind_refused(void **state) {
  char dir[4096], snap[4096], err[256];
  path_in(dir, state, "env");
  path_in(snap, state, "new.snap");
  sl_snapfile *w = sl_snapfile_create(snap, err, sizeof err);
  assert_non_null(w);
  const uint8_t row[6] = {0, 0, 0, 1, SL_STATE_KIND_MAX + 1, 0};
  sl_snapfile_put(w, 3, "op\0f", 4, row, 6);
  uint64_t bytes, entries;
  assert_int_equal(sl_snapfile_finish(w, &bytes, &entries, err, sizeof err), 0);
  load_ok(dir, snap, NULL, NULL);
  sl_backend *b = open_backend(dir, NULL);
  expect_info(b, "op", "f", 1, SL_STATE_KIND_MAX + 1, 0);
  sl_state_info future = {SL_STATE_KIND_MAX + 1, 0};
  reg_refused(b, "op", "f", &VALUE, &future);
  /* The backend is not broken by it. */
  assert_int_equal(reg_ok(b, "op", "g", &MAP), 2);
  sl_backend_close(b);
}

static int keep_not_dropped(const char *op_uid, const char *state_name, void *arg) {
  (void)arg;
  (void)state_name;
  return strcmp(op_uid, "dropped") != 0;
}

static void test_snapshot_keep_filter_with_kinds(void **state) {
  char src[4096], dst[4096], snap[4096];
  path_in(src, state, "src");
  path_in(dst, state, "dst");
  path_in(snap, state, "state.snap");
  sl_backend *b = open_backend(src, NULL);
  uint32_t a = reg_ok(b, "kept", "a", &VALUE), d = reg_ok(b, "dropped", "d", &MAP);
  uint32_t c = reg_ok(b, "kept", "c", &LIST);
  assert_int_equal(sl_backend_commit(b, 0), SL_STATE_OK);
  snapshot_to(b, snap);
  sl_backend_close(b);
  load_ok(dst, snap, keep_not_dropped, NULL);
  b = open_backend(dst, NULL);
  expect_info(b, "kept", "a", a, SL_STATE_KIND_VALUE, 0);
  expect_info(b, "kept", "c", c, SL_STATE_KIND_LIST, 0);
  uint32_t id;
  sl_state_info info;
  assert_int_equal(sl_backend_state_lookup(b, "dropped", "d", &id, &info), SL_STATE_NOTFOUND);
  /* The dropped registration leaves its id behind: a new state never reuses it, and may be any kind. */
  uint32_t again = reg_ok(b, "dropped", "d", &VALUE);
  assert_true(again > c && again != d);
  sl_backend_close(b);
}

static void test_delta_carries_recorded_kind(void **state) {
  char src[4096], dst[4096], snap[4096], delta[4096], err[256] = "";
  path_in(src, state, "src");
  path_in(dst, state, "dst");
  path_in(snap, state, "old.snap");
  path_in(delta, state, "delta.snap");
  write_old_snapshot(snap);
  load_ok(src, snap, NULL, NULL);
  load_ok(dst, snap, NULL, NULL);
  /* The checkpoint after a restore of an old registry: old id 1 gets its kind recorded, a new state 3 is
   * registered with TTL. An incremental checkpoint stores exactly that frozen batch as a delta. */
  sl_backend *b = open_backend(src, NULL);
  sl_state_info agg = {SL_STATE_KIND_AGGREGATING, 0};
  assert_int_equal(reg_ok(b, "op", "a", &agg), 1);
  assert_int_equal(reg_ok(b, "op", "c", &VALUE_TTL), 3);
  sl_frozen *f = NULL;
  assert_int_equal(sl_backend_freeze(b, &f), SL_STATE_OK);
  assert_non_null(f);
  sl_snapshot *view = NULL;
  if (sl_frozen_flush(f, &view, err, sizeof err) != 0)
    fail_msg("flush: %s", err);
  uint64_t bytes, entries;
  if (sl_frozen_write_delta(f, delta, &bytes, &entries, err, sizeof err) != 0)
    fail_msg("delta: %s", err);
  sl_snapshot_end(view);
  sl_frozen_complete(f);
  sl_backend_close(b);
  /* Restoring base + delta elsewhere gives the recorded kinds. */
  assert_int_equal(sl_snapshot_apply_delta(dst, delta, NULL, NULL, err, sizeof err), 0);
  b = open_backend(dst, NULL);
  expect_info(b, "op", "a", 1, SL_STATE_KIND_AGGREGATING, 0);
  expect_info(b, "op", "b", 2, SL_STATE_KIND_UNKNOWN, 0);
  expect_info(b, "op", "c", 3, SL_STATE_KIND_VALUE, 1);
  reg_refused(b, "op", "c", &VALUE, &VALUE_TTL);
  reg_refused(b, "op", "a", &VALUE, &agg);
  assert_int_equal(reg_ok(b, "op", "d", &MAP), 4);
  sl_backend_close(b);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)
  const struct CMUnitTest tests[] = {
      T(test_same_kind_accepted_other_kind_refused), T(test_kinds_survive_commit_and_reopen),
      T(test_old_registry_loads_then_records_kind),  T(test_snapshot_keep_filter_with_kinds),
      T(test_delta_carries_recorded_kind),           T(test_unknown_future_kind_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
