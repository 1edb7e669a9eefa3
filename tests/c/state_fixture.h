/* state_fixture.h — the fixture the state kind tests share: a backend in a fresh temp dir and one scope on
 * it (with a manual clock at f->now), removed again at teardown. Header-only so that each test_state_*.c
 * stays one executable. Include after <cmocka.h>. */
#ifndef SLUICE_TEST_STATE_FIXTURE_H
#define SLUICE_TEST_STATE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "state/keyed_scope.h"
#include "state_expect.h"
#include "test_tmpdir.h"

struct fixture {
  char dir[4096];
  sl_backend *b;
  sl_keyed_scope s;
  int64_t now; /* the scope's clock reads this (sl_clock_manual) */
};

/* Opens the backend in f->dir and a scope on it (default max parallelism) whose clock reads f->now. */
static inline void fixture_open(struct fixture *f) {
  f->b = open_backend(f->dir, NULL);
  sl_scope_init(&f->s, f->b, 0);
  sl_scope_set_clock(&f->s, sl_clock_manual, &f->now);
}

/* Closes scope and backend (dropping what was not committed) and opens them again on the same dir. */
static inline void fixture_reopen(struct fixture *f) {
  sl_scope_close(&f->s);
  sl_backend_close(f->b);
  fixture_open(f);
}

static inline int setup(void **state) {
  struct fixture *f = calloc(1, sizeof(*f));
  if (!f || tmpdir_create(f->dir, sizeof(f->dir), "sl_kind") != 0) {
    free(f);
    return -1;
  }
  f->now = 1000;
  fixture_open(f);
  *state = f;
  return 0;
}

static inline int teardown(void **state) {
  struct fixture *f = *state;
  sl_scope_close(&f->s);
  sl_backend_close(f->b);
  tmpdir_remove(f->dir);
  free(f);
  return 0;
}

static inline void set_key(struct fixture *f, const char *key) {
  if (sl_scope_set_key(&f->s, key, strlen(key)) != SL_STATE_OK)
    fail_msg("set_key(%s)", key);
}

#endif
