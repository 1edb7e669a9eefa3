/* test_state_key_sort.c — the radix sort of keys (state/key_sort.c) against qsort with a plain comparison
 * (lead byte, then memcmp of the keys, then length): keys of every length around the 23-byte prefix, keys
 * equal in their first 23 bytes and differing after, duplicates, one lead byte or several, every byte
 * position constant but one, and the small-array path. Both radix paths run: keys over a small alphabet
 * code into 64 bits (the compressed passes), keys over 26 letters at many positions do not (the byte-wise
 * passes); so do keys like a counter's (a key group, then a number in decimal). Any misordering or lost
 * or doubled pointer fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state/key_sort.h"

typedef struct key {
  uint8_t lead;
  size_t len;
  uint8_t bytes[48];
} key;

static int key_cmp(const key *a, const key *b) {
  if (a->lead != b->lead)
    return a->lead < b->lead ? -1 : 1;
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->bytes, b->bytes, n);
  return c ? c : (a->len > b->len) - (a->len < b->len);
}

static int ref_cmp(const void *pa, const void *pb) {
  return key_cmp(*(const key *const *)pa, *(const key *const *)pb);
}

static int tie(const sl_sort_item *a, const sl_sort_item *b) {
  return key_cmp(a->p, b->p);
}

static uint64_t rng = 88172645463325252ull;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

/* Sorts keys both ways and compares the orders key by key (equal keys may come in either order);
 * with_scratch: through sl_sort_items_with and a scratch array of the caller's. */
static void check_sorted_by(key *keys, size_t n, int with_scratch) {
  sl_sort_item *v = malloc(n * sizeof *v);
  sl_sort_item *scratch = malloc(n * sizeof *scratch);
  const key **ref = malloc(n * sizeof *ref);
  assert_non_null(v);
  assert_non_null(scratch);
  assert_non_null(ref);
  for (size_t i = 0; i < n; i++) {
    sl_sort_item_init(&v[i], keys[i].lead, keys[i].bytes, keys[i].len, &keys[i]);
    ref[i] = &keys[i];
  }
  if (with_scratch)
    sl_sort_items_with(v, n, tie, scratch);
  else
    sl_sort_items(v, n, tie);
  free(scratch);
  qsort(ref, n, sizeof *ref, ref_cmp);
  size_t *seen = calloc(n, sizeof *seen);
  assert_non_null(seen);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(key_cmp(v[i].p, ref[i]), 0);
    seen[(const key *)v[i].p - keys]++;
  }
  for (size_t i = 0; i < n; i++)
    assert_int_equal(seen[i], 1); /* each item once: none lost, none doubled */
  free(seen);
  free(ref);
  free(v);
}

static void check_sorted(key *keys, size_t n) {
  check_sorted_by(keys, n, 0);
  check_sorted_by(keys, n, 1);
}

/* Keys like the backend's: a shared header, then bytes from a small alphabet, of random length. */
static void fill_random(key *keys, size_t n, int nleads, size_t maxlen, int alphabet) {
  for (size_t i = 0; i < n; i++) {
    key *k = &keys[i];
    k->lead = (uint8_t)(next() % (uint32_t)nleads);
    k->len = next() % (maxlen + 1);
    for (size_t j = 0; j < k->len; j++)
      k->bytes[j] = (uint8_t)(j < 6 ? j : 'a' + next() % (uint32_t)alphabet);
  }
}

static void random_keys_in_every_shape(void **unused) {
  (void)unused;
  enum { N = 20000 };
  key *keys = malloc(N * sizeof *keys);
  assert_non_null(keys);
  size_t lens[] = {0, 5, 22, 23, 24, 30, 47};
  int alphabets[] = {1, 2, 26};
  for (size_t l = 0; l < sizeof lens / sizeof *lens; l++)
    for (size_t a = 0; a < sizeof alphabets / sizeof *alphabets; a++)
      for (int leads = 1; leads <= 3; leads += 2) {
        fill_random(keys, N, leads, lens[l], alphabets[a]);
        check_sorted(keys, N);
      }
  free(keys);
}

/* Keys equal in their first 23 bytes, so the order past the prefix comes from the tie function alone. */
static void keys_that_differ_past_the_prefix(void **unused) {
  (void)unused;
  enum { N = 3000 };
  key *keys = malloc(N * sizeof *keys);
  assert_non_null(keys);
  for (size_t i = 0; i < N; i++) {
    keys[i].lead = 1;
    keys[i].len = 23 + next() % 20;
    memset(keys[i].bytes, 'x', 23);
    for (size_t j = 23; j < keys[i].len; j++)
      keys[i].bytes[j] = (uint8_t)('0' + next() % 3);
  }
  check_sorted(keys, N);
  free(keys);
}

/* One varying byte among constant ones (every other pass skipped), duplicates, and arrays below the radix
 * path's threshold. */
static void one_varying_byte_duplicates_and_small_arrays(void **unused) {
  (void)unused;
  key keys[5000];
  for (size_t i = 0; i < 5000; i++) {
    keys[i].lead = 2;
    keys[i].len = 12;
    memset(keys[i].bytes, 'k', 12);
    keys[i].bytes[7] = (uint8_t)(next() % 5);
  }
  check_sorted(keys, 5000);
  for (size_t n = 0; n < 70; n++) {
    fill_random(keys, n, 2, 30, 3);
    check_sorted(keys, n ? n : 1);
  }
}

/* Keys shaped like the backend's for a counter over distinct URLs: a lead byte, a key group of 128, a fixed
 * state id, a length, "/u/" and a decimal number (the shape the compressed path is for: 38 bits of code),
 * and the same with a 64th-bit-scale spread (a byte of 256 values at eight positions: 64 bits exactly). */
static void counter_keys_and_the_64_bit_edge(void **unused) {
  (void)unused;
  enum { N = 30000 };
  key *keys = malloc(N * sizeof *keys);
  assert_non_null(keys);
  for (size_t i = 0; i < N; i++) {
    key *k = &keys[i];
    k->lead = 1;
    uint32_t n = next() % 2000000, kg = next() % 128;
    int len = snprintf((char *)k->bytes + 10, sizeof k->bytes - 10, "/u/%u", (unsigned)n);
    uint8_t head[10] = {0, (uint8_t)kg, 0, 0, 0, 7, 0, 0, 0, (uint8_t)len};
    memcpy(k->bytes, head, sizeof head);
    k->len = 10 + (size_t)len;
  }
  check_sorted(keys, N);
  for (size_t i = 0; i < N; i++) { /* 8 positions of 256 values each: 64 bits of code */
    keys[i].lead = 3;
    keys[i].len = 8;
    for (int j = 0; j < 8; j++)
      keys[i].bytes[j] = (uint8_t)(i < 256 ? i : next());
  }
  check_sorted(keys, N);
  keys[0].bytes[8] = 1; /* and one bit more: the byte-wise passes */
  keys[0].len = 9;
  check_sorted(keys, N);
  free(keys);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(random_keys_in_every_shape),
      cmocka_unit_test(keys_that_differ_past_the_prefix),
      cmocka_unit_test(one_varying_byte_duplicates_and_small_arrays),
      cmocka_unit_test(counter_keys_and_the_64_bit_edge),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
