/* state_fixture.h — the fixture the state kind tests share: a backend in a fresh temp dir and one scope on
 * it, removed again at teardown. Header-only so that each test_state_*.c stays one executable. */
#ifndef SLUICE_TEST_STATE_FIXTURE_H
#define SLUICE_TEST_STATE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/keyed_scope.h"

static inline int fx_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

struct fixture {
  char dir[4096];
  sl_backend *b;
  sl_keyed_scope s;
  int64_t now; /* the scope's clock reads this (sl_clock_manual) */
};

static inline int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof(f->dir), "%s/sl_kind_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(f->dir) || sl_backend_open(&f->b, f->dir, NULL, NULL, 0) != SL_STATE_OK)
    return -1;
  sl_scope_init(&f->s, f->b, 0);
  f->now = 1000;
  sl_scope_set_clock(&f->s, sl_clock_manual, &f->now);
  *state = f;
  return 0;
}

static inline int teardown(void **state) {
  struct fixture *f = *state;
  sl_scope_close(&f->s);
  sl_backend_close(f->b);
  nftw(f->dir, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
  free(f);
  return 0;
}

static inline void set_key(struct fixture *f, const char *key) {
  if (sl_scope_set_key(&f->s, key, strlen(key)) != SL_STATE_OK)
    fail_msg("set_key(%s)", key);
}

#endif
