/* test_json_write.c — the output buffer, JSON string escaping and number formatting (core/record/json_write.h).
 * Every output is also fed back through the scanner: the writer must never produce invalid JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "core/record/json_scan.h"
#include "core/record/json_write.h"

/* Asserts that b holds exactly want[0..n). */
static void assert_buf(const sl_buf *b, const char *want, size_t n) {
  if (b->len != n || memcmp(b->data, want, n) != 0)
    fail_msg("got [%.*s], want [%.*s]", (int)b->len, b->data, (int)n, want);
}

/* Asserts that the value text v[0..n) is valid JSON of the given type, by scanning {"v":<text>}. */
static void assert_json_value(const char *v, size_t n, int type, sl_json_field *out) {
  char *line = malloc(n + 8);
  assert_non_null(line);
  memcpy(line, "{\"v\":", 5);
  memcpy(line + 5, v, n);
  line[5 + n] = '}';
  sl_json_field f[1];
  sl_json_error e;
  uint32_t cnt;
  if (sl_json_scan(line, n + 6, f, 1, &cnt, &e) != 0)
    fail_msg("writer produced invalid JSON (%s at %zu): %.*s", e.reason, e.offset, (int)n, v);
  assert_int_equal(f[0].type, type);
  if (out) {
    *out = f[0];
    out->val_off -= 5;
  }
  free(line);
}

static void put_string(sl_buf *b, const char *s, size_t n, const char *want) {
  sl_buf_reset(b);
  sl_buf_put_json_string(b, s, n);
  assert_buf(b, want, strlen(want));
  assert_json_value(b->data, b->len, SL_JSON_STRING, NULL);
}

static void test_buffer(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  assert_int_equal(b.len, 0);
  sl_buf_put(&b, "ab", 2);
  sl_buf_putc(&b, 'c');
  sl_buf_put(&b, NULL, 0);
  assert_buf(&b, "abc", 3);
  for (int i = 0; i < 10000; i++)
    sl_buf_putc(&b, (char)('a' + i % 26));
  assert_int_equal(b.len, 10003);
  assert_int_equal(b.data[10002], 'a' + 9999 % 26);
  char *mem = b.data;
  size_t cap = b.cap;
  sl_buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_ptr_equal(b.data, mem);
  assert_int_equal(b.cap, cap);
  assert_int_equal(sl_buf_reserve(&b, cap), 0);
  assert_true(b.cap - b.len >= cap);
  /* After a failed allocation puts are dropped until the caller looks. */
  b.oom = 1;
  sl_buf_put(&b, "x", 1);
  sl_buf_putc(&b, 'y');
  sl_buf_put_json_string(&b, "z", 1);
  sl_buf_put_json_number(&b, 1);
  assert_int_equal(b.len, 0);
  assert_int_equal(sl_buf_reserve(&b, 1), -1);
  sl_buf_free(&b);
  assert_null(b.data);
  sl_buf_free(&b);
}

static void test_string_escapes(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  put_string(&b, "", 0, "\"\"");
  put_string(&b, "/api/a", 6, "\"/api/a\"");
  put_string(&b, "a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
  put_string(&b, "\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
  put_string(&b, "\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
  put_string(&b, "a\0b", 3, "\"a\\u0000b\"");
  sl_buf_free(&b);
}

static void test_string_utf8(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  /* Valid UTF-8 passes through unchanged. */
  put_string(&b, "h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 12,
             "\"h\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"");
  put_string(&b, "\xF4\x8F\xBF\xBF", 4, "\"\xF4\x8F\xBF\xBF\"");
  /* Each byte of an invalid sequence becomes \ufffd; what follows is read afresh. */
  put_string(&b, "\xFF", 1, "\"\\ufffd\"");
  put_string(&b, "a\xC3(", 3, "\"a\\ufffd(\"");
  put_string(&b, "\xC0\xAF", 2, "\"\\ufffd\\ufffd\"");                       /* overlong */
  put_string(&b, "\xE2\x82", 2, "\"\\ufffd\\ufffd\"");                       /* truncated */
  put_string(&b, "\xED\xA0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");            /* encoded surrogate */
  put_string(&b, "\x80\xC3\xA9", 3, "\"\\ufffd\xC3\xA9\"");                  /* stray continuation */
  put_string(&b, "\xF4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
  sl_buf_free(&b);
}

/* Long strings force the buffer to grow in the middle of an escape run; decoding the output must give
 * the input back. */
static void test_string_round_trip(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  srand(1);
  for (int round = 0; round < 200; round++) {
    size_t n = (size_t)(rand() % 3000);
    char *s = malloc(n + 1), *dec = malloc(n * 6 + 1);
    assert_non_null(s);
    assert_non_null(dec);
    for (size_t i = 0; i < n; i++) {
      int r = rand() % 10;
      s[i] = r < 6 ? (char)(' ' + rand() % 95) : r < 8 ? "\"\\\n\x01"[rand() % 4] : (char)(rand() % 256);
    }
    sl_buf_free(&b); /* start each round from an empty buffer so growth happens mid-string */
    sl_buf_put_json_string(&b, s, n);
    assert_int_equal(b.oom, 0);
    sl_json_field f;
    assert_json_value(b.data, b.len, SL_JSON_STRING, &f);
    size_t dn = sl_json_unescape(b.data + f.val_off, f.val_len, dec);
    if (round % 2 == 0) {
      /* Only valid UTF-8 survives unchanged; check that case on a sanitised copy. */
      size_t m = 0;
      for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x80)
          s[m++] = s[i];
      sl_buf_reset(&b);
      sl_buf_put_json_string(&b, s, m);
      assert_json_value(b.data, b.len, SL_JSON_STRING, &f);
      dn = sl_json_unescape(b.data + f.val_off, f.val_len, dec);
      assert_int_equal(dn, m);
      assert_memory_equal(dec, s, m);
    }
    free(s);
    free(dec);
  }
  sl_buf_free(&b);
}

static void put_number(sl_buf *b, double x, const char *want) {
  sl_buf_reset(b);
  sl_buf_put_json_number(b, x);
  assert_buf(b, want, strlen(want));
  assert_json_value(b->data, b->len, isfinite(x) ? SL_JSON_NUMBER : SL_JSON_NULL, NULL);
}

static void test_numbers(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  put_number(&b, 0, "0");
  put_number(&b, -0.0, "0"); /* documented: -0 prints as 0 */
  put_number(&b, 42, "42");
  put_number(&b, -7, "-7");
  put_number(&b, 1.5, "1.5");
  put_number(&b, 0.1, "0.1");
  put_number(&b, -2.5e-7, "-2.5e-07");
  put_number(&b, 1.0 / 3, "0.3333333333333333");
  put_number(&b, 1e300, "1e+300");
  put_number(&b, 9007199254740992.0, "9007199254740992");         /* 2^53 */
  put_number(&b, 9007199254740993.0, "9007199254740992");         /* not a double: rounds to 2^53 */
  put_number(&b, 9223372036854774784.0, "9223372036854774784");   /* largest double below 2^63 */
  put_number(&b, 9223372036854775808.0, "9.223372036854776e+18"); /* 2^63: not an int64 */
  put_number(&b, -9223372036854775808.0, "-9.223372036854776e+18");
  put_number(&b, 1.7976931348623157e308, "1.7976931348623157e+308");
  put_number(&b, 5e-324, "4.94065645841247e-324");
  put_number(&b, NAN, "null");
  put_number(&b, INFINITY, "null");
  put_number(&b, -INFINITY, "null");
  sl_buf_free(&b);
}

static void test_numbers_round_trip(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  double fixed[] = {1.0 / 3, 2.0 / 3, 0.1, 0.2, 0.3, 1e-300, 123456.789, 3.141592653589793, 1e21, 1e22};
  srand(2);
  for (int i = 0; i < 20000; i++) {
    double x;
    if (i < (int)(sizeof fixed / sizeof *fixed)) {
      x = fixed[i];
    } else {
      uint64_t bits = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
      memcpy(&x, &bits, sizeof x);
      if (!isfinite(x))
        continue;
    }
    sl_buf_reset(&b);
    sl_buf_put_json_number(&b, x);
    sl_buf_putc(&b, '\0');
    if (strtod(b.data, NULL) != x)
      fail_msg("%.17g printed as %s", x, b.data);
    assert_true(b.len - 1 <= 24);
    assert_json_value(b.data, b.len - 1, SL_JSON_NUMBER, NULL);
  }
  sl_buf_free(&b);
}

static void test_int64(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  static const struct {
    int64_t v;
    const char *want;
  } cases[] = {
      {0, "0"},
      {1, "1"},
      {-1, "-1"},
      {10, "10"},
      {-7, "-7"},
      {INT64_MAX, "9223372036854775807"},
      {INT64_MIN, "-9223372036854775808"},
      {INT64_MIN + 1, "-9223372036854775807"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    sl_buf_reset(&b);
    sl_buf_put_int64(&b, cases[i].v);
    assert_buf(&b, cases[i].want, strlen(cases[i].want));
  }
  sl_buf_free(&b);
}

/* The seed examples' output style, built from the primitives as the Lua encoder does. */
static void test_record_style(void **state) {
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  sl_buf_putc(&b, '{');
  sl_buf_put_json_string(&b, "url", 3);
  sl_buf_put(&b, ": ", 2);
  sl_buf_put_json_string(&b, "/api/a", 6);
  sl_buf_put(&b, ", ", 2);
  sl_buf_put_json_string(&b, "count", 5);
  sl_buf_put(&b, ": ", 2);
  sl_buf_put_json_number(&b, 1);
  sl_buf_putc(&b, '}');
  const char *want = "{\"url\": \"/api/a\", \"count\": 1}";
  assert_buf(&b, want, strlen(want));
  sl_json_field f[2];
  sl_json_error e;
  uint32_t n;
  assert_int_equal(sl_json_scan(b.data, b.len, f, 2, &n, &e), 0);
  assert_int_equal(n, 2);
  sl_buf_free(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_buffer),      cmocka_unit_test(test_string_escapes),
      cmocka_unit_test(test_string_utf8), cmocka_unit_test(test_string_round_trip),
      cmocka_unit_test(test_numbers),     cmocka_unit_test(test_numbers_round_trip),
      cmocka_unit_test(test_int64),       cmocka_unit_test(test_record_style),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
