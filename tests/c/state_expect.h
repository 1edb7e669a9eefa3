/* state_expect.h — the assertions the state tests share: a lookup found exactly the wanted bytes (or found
 * nothing), a key or meta entry, a backend that must open, a put that must succeed, and every entry under a
 * prefix as text. Header-only, needs only the state library; include after <cmocka.h>. */
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

/* A backend in dir with the given cache cap and map size (0: the defaults) that must open. */
static inline sl_backend *open_b(const char *dir, size_t cache_max, size_t map_size) {
  sl_backend_options o = {cache_max, map_size};
  return open_backend(dir, &o);
}

/* The string key holds the string want (NULL: absent). */
static inline void expect_val(sl_backend *b, const char *key, const char *want) {
  const void *v = NULL;
  size_t vl = 0;
  int rc = sl_backend_get(b, key, strlen(key), &v, &vl);
  expect_found(rc, v, vl, want);
}

static inline void put_s(sl_backend *b, const char *key, const char *val) {
  assert_int_equal(sl_backend_put(b, key, strlen(key), val, strlen(val)), SL_STATE_OK);
}

/* Every entry under prefix (NULL: all) as "key=value;" in key order; the text must fit in cap and the
 * iterator must end with SL_STATE_NOTFOUND, and stay ended. */
static inline void iter_dump(sl_backend *b, const char *prefix, char *out, size_t cap) {
  sl_backend_iter *it;
  const void *k, *v;
  size_t kl, vl, n = 0;
  out[0] = '\0';
  assert_int_equal(sl_backend_iter_open(b, prefix, prefix ? strlen(prefix) : 0, &it), SL_STATE_OK);
  int rc;
  while ((rc = sl_backend_iter_next(it, &k, &kl, &v, &vl)) == SL_STATE_OK) {
    int w = snprintf(out + n, cap - n, "%.*s=%.*s;", (int)kl, (const char *)k, (int)vl, (const char *)v);
    assert_true(w > 0 && (size_t)w < cap - n);
    n += (size_t)w;
  }
  assert_int_equal(rc, SL_STATE_NOTFOUND);
  assert_int_equal(sl_backend_iter_next(it, &k, &kl, &v, &vl), SL_STATE_NOTFOUND);
  sl_backend_iter_close(it);
}

#endif
