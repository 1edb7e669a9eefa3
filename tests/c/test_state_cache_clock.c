/* test_state_cache_clock.c — the cache's eviction clock keeps the hash table's probes short. The clock
 * frees a quarter of the entries per round; freed from one stretch of slots, they left the rest of the table
 * nearly full, and linear probing then walked over a thousand slots per miss (state_cache.c says more).
 * Rounds of new keys and eviction at the table's usual load (about 70 % before a round) must leave
 * unsuccessful lookups short on average and no run of occupied slots long, while every entry left is still
 * found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state/state_cache.h"

static size_t key_of(char *k, size_t cap, size_t i) {
  return (size_t)snprintf(k, cap, "/u/%zu", i);
}

/* Slots a lookup of an absent key visits, on average over fresh keys; and the longest run of occupied
 * slots. */
static void probe_figures(const sl_cache *c, size_t fresh_from, double *avg, size_t *longest) {
  char k[32];
  size_t total = 0, n = 20000;
  for (size_t i = 0; i < n; i++) {
    size_t len = key_of(k, sizeof k, fresh_from + i);
    size_t s = (size_t)sl_cache_hash(k, len) & c->mask, p = 1;
    while (c->slots[s].e) {
      s = (s + 1) & c->mask;
      p++;
    }
    total += p;
  }
  *avg = (double)total / (double)n;
  size_t run = 0;
  *longest = 0;
  for (size_t i = 0; i <= 2 * c->mask + 1; i++) { /* twice round: a run may wrap */
    run = c->slots[i & c->mask].e ? run + 1 : 0;
    if (run > *longest)
      *longest = run;
  }
}

static void rounds_of_new_keys_keep_probes_short(void **unused) {
  (void)unused;
  sl_cache c;
  assert_int_equal(sl_cache_init(&c), 0);
  char k[32];
  size_t next = 0;
  for (; next < 720000; next++) {
    size_t len = key_of(k, sizeof k, next);
    assert_non_null(sl_cache_set(&c, sl_cache_hash(k, len), k, len, "v", 1, SL_CE_REF));
  }
  size_t full = c.pool.bytes;
  for (int round = 0; round < 8; round++) {
    size_t freed = sl_cache_evict(&c, full - full / 4, 0, NULL);
    assert_true(freed > 0);
    double avg;
    size_t longest;
    probe_figures(&c, 100000000, &avg, &longest);
    assert_true(avg < 5.0); /* 2.4 now; in slot order 12.9 after two rounds, and growing */
    assert_true(longest < 200); /* under 60 now; 383 in slot order */
    while (c.pool.bytes < full) { /* new keys fill it again, as a stream of distinct keys does */
      size_t len = key_of(k, sizeof k, next++);
      assert_non_null(sl_cache_set(&c, sl_cache_hash(k, len), k, len, "v", 1, SL_CE_REF));
    }
  }
  /* Whatever is left is found where its hash says. */
  size_t found = 0;
  for (size_t i = 0; i < next; i++) {
    size_t len = key_of(k, sizeof k, i);
    found += sl_cache_find(&c, sl_cache_hash(k, len), k, len) != NULL;
  }
  assert_int_equal(found, c.count);
  sl_cache_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(rounds_of_new_keys_keep_probes_short)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
