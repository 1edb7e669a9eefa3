/* test_state_key.c — the composite key layout and the key-group hash (state/state_key.c). The hash values
 * are XXH64's published ones: if they change, state written by an older sluice lands in the wrong group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "state/state_key.h"

static void test_hash_known_values(void **state) {
  (void)state;
  assert_true(sl_key_hash("", 0) == 0xef46db3751d8e999ULL);
  assert_true(sl_key_hash("a", 1) == 0xd24ec4f1a98c6e5bULL);
  assert_true(sl_key_hash("abc", 3) == 0x44bc2cf5ad770999ULL);
  const char *s = "Nobody inspects the spammish repetition";
  assert_true(sl_key_hash(s, strlen(s)) == 0xfbcea83c8a378bf1ULL);
}

static void test_key_group_stable_and_in_range(void **state) {
  (void)state;
  /* 0x44bc2cf5ad770999 % 128 = 0x99 % 128 = 25. */
  assert_int_equal(sl_key_group("abc", 3, 128), 25);
  assert_int_equal(sl_key_group("abc", 3, 0), 25); /* 0 means the default, 128 */
  assert_int_equal(sl_key_group("abc", 3, 1), 0);
  unsigned counts[128] = {0};
  char key[32];
  for (int i = 0; i < 12800; i++) {
    int n = snprintf(key, sizeof(key), "/api/item/%d", i);
    uint16_t g = sl_key_group(key, (size_t)n, 128);
    assert_true(g < 128);
    assert_int_equal(g, sl_key_group(key, (size_t)n, 128));
    assert_true(sl_key_group(key, (size_t)n, 7) < 7);
    assert_true(sl_key_group(key, (size_t)n, 32768) < 32768);
    counts[g]++;
  }
  /* 100 expected per group; a usable hash stays well inside [50, 150]. */
  for (int g = 0; g < 128; g++) {
    assert_true(counts[g] > 50);
    assert_true(counts[g] < 150);
  }
}

static void test_compose_parse_roundtrip(void **state) {
  (void)state;
  uint8_t buf[SL_KEY_MAX_LEN + 16];
  size_t n = sl_key_compose(buf, sizeof(buf), 0x0102, 0x03040506, "user", 4, "sub", 3);
  assert_int_equal(n, SL_KEY_HEADER_LEN + 7);
  const uint8_t head[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0, 0, 0, 4};
  assert_memory_equal(buf, head, sizeof(head));
  uint16_t kg;
  uint32_t sid;
  const void *uk, *sk;
  size_t ul, sl;
  assert_int_equal(sl_key_parse(buf, n, &kg, &sid, &uk, &ul, &sk, &sl), 0);
  assert_int_equal(kg, 0x0102);
  assert_int_equal(sid, 0x03040506);
  assert_int_equal(ul, 4);
  assert_memory_equal(uk, "user", 4);
  assert_int_equal(sl, 3);
  assert_memory_equal(sk, "sub", 3);

  /* Empty user key and sub key. */
  n = sl_key_compose(buf, sizeof(buf), 7, 9, NULL, 0, NULL, 0);
  assert_int_equal(n, SL_KEY_HEADER_LEN);
  assert_int_equal(sl_key_parse(buf, n, &kg, &sid, &uk, &ul, &sk, &sl), 0);
  assert_int_equal(ul, 0);
  assert_int_equal(sl, 0);
}

static void test_compose_limits_and_malformed(void **state) {
  (void)state;
  uint8_t buf[SL_KEY_MAX_LEN + 16];
  uint8_t big[SL_KEY_MAX_LEN];
  memset(big, 'x', sizeof(big));
  size_t fits = SL_KEY_MAX_LEN - SL_KEY_HEADER_LEN;
  assert_int_equal(sl_key_compose(buf, sizeof(buf), 0, 1, big, fits, NULL, 0), SL_KEY_MAX_LEN);
  assert_int_equal(sl_key_compose(buf, sizeof(buf), 0, 1, big, fits, "y", 1), 0);
  assert_int_equal(sl_key_compose(buf, 12, 0, 1, "abc", 3, NULL, 0), 0); /* capacity too small */
  assert_int_equal(sl_key_parse(buf, 9, NULL, NULL, NULL, NULL, NULL, NULL), -1);
  size_t n = sl_key_compose(buf, sizeof(buf), 0, 1, "abc", 3, NULL, 0);
  assert_int_equal(sl_key_parse(buf, n - 1, NULL, NULL, NULL, NULL, NULL, NULL), -1); /* length says 3 */
}

static void test_prefix_property_and_order(void **state) {
  (void)state;
  uint8_t p[SL_KEY_MAX_LEN + 16], k[SL_KEY_MAX_LEN + 16], k2[SL_KEY_MAX_LEN + 16];
  size_t pl = sl_key_prefix(p, sizeof(p), 5, 2, "key", 3);
  size_t kl = sl_key_compose(k, sizeof(k), 5, 2, "key", 3, "mapkey", 6);
  assert_true(kl > pl);
  assert_memory_equal(p, k, pl);
  /* A user key that extends another ("key" vs "keyX") does not share the prefix: the length differs. */
  size_t k2l = sl_key_compose(k2, sizeof(k2), 5, 2, "keyX", 4, NULL, 0);
  assert_true(k2l >= pl);
  assert_memory_not_equal(p, k2, pl);
  /* The key group sorts first, big-endian: group 1 < group 256 whatever the rest. */
  size_t al = sl_key_compose(k, sizeof(k), 1, 0xffffffffu, "zzz", 3, NULL, 0);
  size_t bl = sl_key_compose(k2, sizeof(k2), 256, 0, "aaa", 3, NULL, 0);
  assert_int_equal(al, bl);
  assert_true(memcmp(k, k2, al) < 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hash_known_values),         cmocka_unit_test(test_key_group_stable_and_in_range),
      cmocka_unit_test(test_compose_parse_roundtrip),   cmocka_unit_test(test_compose_limits_and_malformed),
      cmocka_unit_test(test_prefix_property_and_order),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
