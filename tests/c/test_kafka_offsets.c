/* test_kafka_offsets.c — a Kafka source's offsets in a checkpoint (core/kafka_offsets.c): they round-trip,
 * partitions never read are left out and come back as SL_KAFKA_NO_OFFSET, a value naming a partition the
 * topic does not have is told apart (the checkpoint is of another topic), and every malformed value is
 * refused rather than read as some other offsets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/kafka_offsets.h"

static void fill(int64_t *v, int n) {
  for (int i = 0; i < n; i++)
    v[i] = SL_KAFKA_NO_OFFSET;
}

static void round_trip(void **unused) {
  (void)unused;
  int64_t in[5] = {0, 1234, SL_KAFKA_NO_OFFSET, INT64_MAX, 7}, out[5];
  char *val;
  size_t len;
  assert_int_equal(sl_kafka_offsets_encode(in, 5, &val, &len), 0);
  assert_int_equal(len, strlen("0 0\n1 1234\n3 9223372036854775807\n4 7\n"));
  assert_memory_equal(val, "0 0\n1 1234\n3 9223372036854775807\n4 7\n", len);
  fill(out, 5);
  long bad = -1;
  assert_int_equal(sl_kafka_offsets_decode(val, len, out, 5, &bad), 0);
  assert_memory_equal(in, out, sizeof in);
  free(val);
}

static void nothing_read(void **unused) {
  (void)unused;
  int64_t in[3] = {SL_KAFKA_NO_OFFSET, SL_KAFKA_NO_OFFSET, SL_KAFKA_NO_OFFSET}, out[3];
  char *val;
  size_t len;
  assert_int_equal(sl_kafka_offsets_encode(in, 3, &val, &len), 0);
  assert_int_equal(len, 0);
  fill(out, 3);
  long bad = -1;
  assert_int_equal(sl_kafka_offsets_decode(val, len, out, 3, &bad), 0);
  assert_memory_equal(in, out, sizeof in);
  free(val);
}

static void partition_beyond_topic(void **unused) {
  (void)unused;
  int64_t out[8];
  long bad = -1;
  fill(out, 8);
  const char *v = "0 5\n8 3\n";
  assert_int_equal(sl_kafka_offsets_decode(v, strlen(v), out, 8, &bad), -2);
  assert_int_equal(bad, 8);
}

static void malformed(void **unused) {
  (void)unused;
  static const char *const bad_values[] = {
      "0 5",                      /* no newline */
      "0  5\n",                   /* two spaces */
      "-1 5\n",                   /* a sign */
      "0 -5\n",                   /* a negative offset */
      "0 5\nx",                   /* trailing junk */
      "0\n",                      /* no offset */
      " 0 5\n",                   /* leading space */
      "0 99999999999999999999\n", /* over 64 bits */
      "99999999999999999999 1\n",
  };
  for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
    int64_t out[4];
    long bad = -1;
    fill(out, 4);
    if (sl_kafka_offsets_decode(bad_values[i], strlen(bad_values[i]), out, 4, &bad) != -1)
      fail_msg("accepted '%s'", bad_values[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip),
      cmocka_unit_test(nothing_read),
      cmocka_unit_test(partition_beyond_topic),
      cmocka_unit_test(malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
