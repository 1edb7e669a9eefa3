/* test_state_crc.c — sl_crc32 (state/state_snapshot.c, slicing by 8) gives the standard CRC-32 (IEEE): the
 * check value of "123456789", the same result as a byte-at-a-time reference on random data of every
 * length and alignment, and the same result fed in pieces as at once (pending parts are checksummed in
 * 64 KiB reads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "state/state_snapshot.h"

static uint32_t reference_crc(uint32_t crc, const uint8_t *p, size_t n) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++)
      crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
  }
  return ~crc;
}

static void test_check_value(void **state) {
  (void)state;
  assert_int_equal(sl_crc32(0, "123456789", 9), 0xCBF43926u);
  assert_int_equal(sl_crc32(0, "", 0), 0);
}

static void test_matches_reference(void **state) {
  (void)state;
  uint8_t buf[600];
  uint32_t x = 12345;
  for (size_t i = 0; i < sizeof buf; i++) {
    x = x * 1103515245u + 12345u;
    buf[i] = (uint8_t)(x >> 16);
  }
  for (size_t off = 0; off < 8; off++)
    for (size_t n = 0; n + off <= sizeof buf; n += 7)
      assert_int_equal(sl_crc32(0, buf + off, n), reference_crc(0, buf + off, n));
  /* In pieces of any size: the same as in one go. */
  for (size_t cut = 0; cut <= sizeof buf; cut += 13) {
    uint32_t c = sl_crc32(sl_crc32(0, buf, cut), buf + cut, sizeof buf - cut);
    assert_int_equal(c, sl_crc32(0, buf, sizeof buf));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_check_value),
                                     cmocka_unit_test(test_matches_reference)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
