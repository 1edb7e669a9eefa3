/* snapshot_expect.h — the snapshot steps the state tests share, as assertions: write a snapshot of
 * everything committed, load one into a directory. Header-only, needs only the state library; include after
 * <cmocka.h>. */
#ifndef SLUICE_TEST_SNAPSHOT_EXPECT_H
#define SLUICE_TEST_SNAPSHOT_EXPECT_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "state/state_snapshot.h"

/* Writes a snapshot of everything committed in b to path; returns its entry count. */
static inline uint64_t snapshot_to(sl_backend *b, const char *path) {
  sl_snapshot *s = NULL;
  uint64_t bytes = 0, entries = 0;
  char err[512] = "";
  assert_int_equal(sl_snapshot_begin(b, &s), SL_STATE_OK);
  int rc = sl_snapshot_write(s, path, &bytes, &entries, err, sizeof err);
  if (rc)
    fprintf(stderr, "snapshot: %s\n", err);
  assert_int_equal(rc, 0);
  sl_snapshot_end(s);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal((uint64_t)st.st_size, bytes);
  return entries;
}

/* Loads path into dir (created if missing: load itself expects an existing directory). */
static inline void load_ok(const char *dir, const char *path, sl_snapshot_keep_fn keep, void *arg) {
  char err[512] = "";
  if (mkdir(dir, 0755) != 0)
    assert_int_equal(errno, EEXIST);
  int rc = sl_snapshot_load(dir, path, keep, arg, err, sizeof err);
  if (rc)
    fprintf(stderr, "load: %s\n", err);
  assert_int_equal(rc, 0);
}

#endif
