/* test_state_bigmem.c — the big arrays of state/ (state/state_bigmem.c): below and above the size from which
 * they are mapped, an array is zeroed, writable end to end and starts on a cache line (the key filter's
 * 64-byte blocks rely on it: state/key_filter.c), and frees cleanly (ASan shows a leak or a bad free). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "state/state_bigmem.h"

static void check_array(size_t bytes) {
  uint8_t *p = sl_bigmem_alloc(bytes);
  assert_non_null(p);
  assert_int_equal((uintptr_t)p % 64, 0);
  for (size_t i = 0; i < bytes; i += 4093)
    assert_int_equal(p[i], 0);
  assert_int_equal(p[bytes - 1], 0);
  memset(p, 0xA5, bytes);
  assert_int_equal(p[bytes - 1], 0xA5);
  sl_bigmem_free(p, bytes);
}

static void test_small_and_mapped_arrays(void **state) {
  (void)state;
  size_t sizes[] = {1, 48, 16384, 1 << 20, (2 << 20) - 8, 2 << 20, (4 << 20) + 4096};
  for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
    check_array(sizes[i]);
  sl_bigmem_free(NULL, 100); /* allowed */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_and_mapped_arrays),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
