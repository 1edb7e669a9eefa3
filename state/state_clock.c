/* state_clock.c — the processing-time clock of state TTL (see state_clock.h). */
#include <time.h>

#include "state/state_clock.h"

int64_t sl_clock_now(const sl_clock *c) {
  if (c && c->fn)
    return c->fn(c->arg);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t sl_monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t sl_clock_manual(void *arg) {
  return arg ? *(const int64_t *)arg : 0;
}
