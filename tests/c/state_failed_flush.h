/* state_failed_flush.h — a backend whose last frozen batch failed to flush, for the tests of what must hold
 * afterwards (test_state_iter.c, test_state_changed.c). Header-only; include after <cmocka.h>. */
#ifndef SLUICE_TEST_STATE_FAILED_FLUSH_H
#define SLUICE_TEST_STATE_FAILED_FLUSH_H

#include "state_flush_fixture.h"

enum { FAILED_N = 200, FAILED_VLEN = 2000 };

/* Opens a backend in dir on a 256 KiB map, puts FAILED_N values of FAILED_VLEN bytes ('x') under keys
 * "<prefix>%04d", freezes them and runs the flush on a worker, which fails (the map is full and a worker
 * may not grow it); the batch is completed. Returns the backend (the caller closes it). */
static inline sl_backend *open_after_failed_flush(const char *dir, const char *prefix) {
  sl_backend *b = open_b(dir, 0, 256 << 10);
  char k[32], v[FAILED_VLEN + 1];
  memset(v, 'x', FAILED_VLEN);
  v[FAILED_VLEN] = '\0';
  for (int i = 0; i < FAILED_N; i++) {
    snprintf(k, sizeof k, "%s%04d", prefix, i);
    put_s(b, k, v);
  }
  sl_frozen *f = freeze(b);
  struct worker w;
  worker_start(&w, f, 0);
  assert_int_equal(pthread_join(w.th, NULL), 0);
  assert_int_equal(w.rc, -1);
  sl_frozen_complete(f);
  return b;
}

#endif
