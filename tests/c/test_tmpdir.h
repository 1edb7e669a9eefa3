/* test_tmpdir.h — a fresh directory under $TMPDIR (or /tmp) for one test, removed recursively afterwards.
 * Header-only so that each test_*.c stays one executable that links only what it tests. */
#ifndef SLUICE_TEST_TMPDIR_H
#define SLUICE_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The name prefix of the directories tmpdir_setup makes; a test may define its own before the include. */
#ifndef TEST_TMPDIR_PREFIX
#define TEST_TMPDIR_PREFIX "sl_test"
#endif

static inline int tmpdir_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Makes <$TMPDIR or /tmp>/<prefix>_XXXXXX and leaves its path in out. 0, or -1 when mkdtemp fails. */
static inline int tmpdir_create(char *out, size_t cap, const char *prefix) {
  const char *tmp = getenv("TMPDIR");
  snprintf(out, cap, "%s/%s_XXXXXX", tmp && tmp[0] ? tmp : "/tmp", prefix);
  return mkdtemp(out) ? 0 : -1;
}

/* Removes dir and everything below it (symlinks are removed, not followed). */
static inline void tmpdir_remove(const char *dir) {
  nftw(dir, tmpdir_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* cmocka setup/teardown for tests whose state is the directory itself: *state is its path (char[4096]). */
static inline int tmpdir_setup(void **state) {
  char *dir = malloc(4096);
  if (!dir || tmpdir_create(dir, 4096, TEST_TMPDIR_PREFIX) != 0) {
    free(dir);
    return -1;
  }
  *state = dir;
  return 0;
}

static inline int tmpdir_teardown(void **state) {
  tmpdir_remove(*state);
  free(*state);
  return 0;
}

#endif
