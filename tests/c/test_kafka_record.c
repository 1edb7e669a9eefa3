/* test_kafka_record.c — what the Kafka sink derives (core/kafka_record.c): a record's message key is its
 * field's decoded string, or a non-string value's JSON text, or none (field absent or null; a nested field of
 * the same name does not count); the transactional id is stable for a state dir and topic, and differs when
 * either does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/kafka_record.h"

/* The key of line by field, as a NUL-terminated copy in out; the return value of sl_kafka_record_key. */
static int key_of(const char *line, const char *field, char *out, size_t outlen) {
  char *scratch = NULL;
  size_t cap = 0, klen = 0;
  const char *key = NULL;
  int rc = sl_kafka_record_key(line, strlen(line), field, strlen(field), &scratch, &cap, &key, &klen);
  out[0] = '\0';
  if (rc == 1) {
    assert_true(klen < outlen);
    memcpy(out, key, klen);
    out[klen] = '\0';
  }
  free(scratch);
  return rc;
}

static void string_keys(void **unused) {
  (void)unused;
  char k[64];
  assert_int_equal(key_of("{\"url\": \"/api/a\", \"count\": 3}", "url", k, sizeof k), 1);
  assert_string_equal(k, "/api/a");
  /* Escapes are decoded: the same string is the same key however it was written. */
  assert_int_equal(key_of("{\"url\":\"\\/api\\u0041\\n\"}", "url", k, sizeof k), 1);
  assert_string_equal(k, "/apiA\n");
  assert_int_equal(key_of("{\"url\":\"\"}", "url", k, sizeof k), 1);
  assert_string_equal(k, "");
}

static void other_values(void **unused) {
  (void)unused;
  char k[64];
  assert_int_equal(key_of("{\"url\": \"/a\", \"count\": 12}", "count", k, sizeof k), 1);
  assert_string_equal(k, "12");
  assert_int_equal(key_of("{\"ok\":true}", "ok", k, sizeof k), 1);
  assert_string_equal(k, "true");
  assert_int_equal(key_of("{\"o\":{\"a\":[1,2]}}", "o", k, sizeof k), 1);
  assert_string_equal(k, "{\"a\":[1,2]}");
}

static void no_key(void **unused) {
  (void)unused;
  char k[64];
  assert_int_equal(key_of("{\"count\": 1}", "url", k, sizeof k), 0);
  assert_int_equal(key_of("{\"url\": null}", "url", k, sizeof k), 0);
  assert_int_equal(key_of("{\"o\": {\"url\": \"/nested\"}}", "url", k, sizeof k), 0);
  /* A key that only starts like the field is another field. */
  assert_int_equal(key_of("{\"urls\": \"/a\"}", "url", k, sizeof k), 0);
}

static void txn_ids(void **unused) {
  (void)unused;
  char a[64], b[64], c[64], d[64];
  sl_kafka_txn_id("/var/lib/sluice/job/pending", "out", a, sizeof a);
  sl_kafka_txn_id("/var/lib/sluice/job/pending", "out", b, sizeof b);
  sl_kafka_txn_id("/var/lib/sluice/other/pending", "out", c, sizeof c);
  sl_kafka_txn_id("/var/lib/sluice/job/pending", "out2", d, sizeof d);
  assert_string_equal(a, b);
  assert_string_not_equal(a, c);
  assert_string_not_equal(a, d);
  assert_int_equal(strlen(a), strlen("sluice-") + 16);
  assert_memory_equal(a, "sluice-", 7);
  /* The path and the topic are kept apart: ("/x", "yz") is not ("/xy", "z"). */
  sl_kafka_txn_id("/x", "yz", c, sizeof c);
  sl_kafka_txn_id("/xy", "z", d, sizeof d);
  assert_string_not_equal(c, d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(string_keys),
      cmocka_unit_test(other_values),
      cmocka_unit_test(no_key),
      cmocka_unit_test(txn_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
