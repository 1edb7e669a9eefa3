/* state_expect.h — the assertions the state tests share: a lookup found exactly the wanted bytes (or found
 * nothing), a meta entry, and a backend that must open. Header-only, needs only the state library; include
 * after <cmocka.h>. */
#ifndef SLUICE_TEST_STATE_EXPECT_H
#define SLUICE_TEST_STATE_EXPECT_H

#include <stdio.h>
#include <string.h>

#include "state/state_backend.h"

/* The result of a get: want NULL, rc must be SL_STATE_NOTFOUND; else SL_STATE_OK and v[0..vl) == want. */
static inline void expect_found(int rc, const void *v, size_t vl, const char *want) {
  if (!want) {
    assert_int_equal(rc, SL_STATE_NOTFOUND);
    return;
  }
  assert_int_equal(rc, SL_STATE_OK);
  assert_int_equal(vl, strlen(want));
  assert_memory_equal(v, want, vl);
}

/* The meta entry name holds want (NULL: absent). */
static inline void expect_meta(sl_backend *b, const char *name, const char *want) {
  const void *v = NULL;
  size_t vl = 0;
  int rc = sl_backend_meta_get(b, name, &v, &vl);
  expect_found(rc, v, vl, want);
}

/* A backend in dir (opts NULL: the defaults) that must open. */
static inline sl_backend *open_backend(const char *dir, const sl_backend_options *opts) {
  sl_backend *b = NULL;
  char err[256] = "";
  int rc = sl_backend_open(&b, dir, opts, err, sizeof err);
  if (rc != SL_STATE_OK)
    fprintf(stderr, "open %s: %s\n", dir, err);
  assert_int_equal(rc, SL_STATE_OK);
  assert_non_null(b);
  return b;
}

#endif
