/* state_clock.h — processing time for state TTL, behind a function pointer so that tests can inject time.
 *
 * Why injectable: TTL behaviour (expiry, update on read, cleanup) must be testable without sleeping. A scope
 * (keyed_scope.h) holds one sl_clock; production leaves it zeroed (the system's wall clock), tests point it
 * at sl_clock_manual and a variable they advance by hand. */
#ifndef SLUICE_STATE_CLOCK_H
#define SLUICE_STATE_CLOCK_H

#include <stdint.h>

/* Returns the current processing time in milliseconds since the Unix epoch. */
typedef int64_t (*sl_clock_fn)(void *arg);

typedef struct sl_clock {
  sl_clock_fn fn; /* NULL = CLOCK_REALTIME */
  void *arg;      /* passed to fn; borrowed, must outlive the clock's use */
} sl_clock;

/* The time of c (NULL or a zeroed clock read the system's wall clock), in ms. */
int64_t sl_clock_now(const sl_clock *c);

/* Milliseconds on CLOCK_MONOTONIC, from an arbitrary start: for deadlines, timeouts and backoffs, which a
 * step of the wall clock (NTP, a person with `date`) must neither stretch nor cut short. */
uint64_t sl_monotonic_ms(void);

/* A clock function for tests: arg points at an int64_t holding the time in ms. */
int64_t sl_clock_manual(void *arg);

#endif
