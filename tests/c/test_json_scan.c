/* test_json_scan.c — the JSON line validator/indexer, field lookup and unescaping (core/record/json_scan.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/record/json_scan.h"

#define NGINX                                                                                                \
  "{\"@timestamp\":\"18/Apr/2019:00:00:00\",\"remote_addr\":\"10.183.89.35\",\"request\":\"GET\","           \
  "\"url\":\"/api/search/9539\",\"status\":200,\"body_bytes_sent\":11099,\"http_user_agent\":\"curl/"        \
  "8.5.0\"}"

static int scan_n(const char *s, size_t len, sl_json_field *f, uint32_t cap, uint32_t *n, sl_json_error *e) {
  return sl_json_scan(s, len, f, cap, n, e);
}

static int scan(const char *s, sl_json_field *f, uint32_t cap, uint32_t *n, sl_json_error *e) {
  return scan_n(s, strlen(s), f, cap, n, e);
}

/* Asserts that s is valid and returns its field count. */
static uint32_t valid(const char *s, size_t len) {
  sl_json_field f[64];
  sl_json_error e = {0, NULL};
  uint32_t n = 0;
  int rc = scan_n(s, len, f, 64, &n, &e);
  if (rc != 0)
    fail_msg("rejected valid line (%s at %zu): %.*s", e.reason, e.offset, (int)len, s);
  return n;
}

/* Asserts that field f's key and value text are key and val, its type type. */
static void check_field(const char *line, const sl_json_field *f, const char *key, const char *val,
                        int type) {
  assert_int_equal(f->key_len, strlen(key));
  assert_memory_equal(line + f->key_off, key, f->key_len);
  assert_int_equal(f->val_len, strlen(val));
  assert_memory_equal(line + f->val_off, val, f->val_len);
  assert_int_equal(f->type, type);
}

typedef struct want_field {
  const char *key, *val;
  int type;
} want_field;

/* Asserts that line s scans (into f, room for cap) to exactly nwant fields, field i being want[i]. */
static void expect_fields(const char *s, sl_json_field *f, uint32_t cap, const want_field *want,
                          uint32_t nwant) {
  sl_json_error e;
  uint32_t n = 0;
  assert_int_equal(scan(s, f, cap, &n, &e), 0);
  assert_int_equal(n, nwant);
  for (uint32_t i = 0; i < nwant; i++)
    check_field(s, &f[i], want[i].key, want[i].val, want[i].type);
}

static void test_nginx_line_indexed(void **state) {
  (void)state;
  static const want_field want[] = {
      {"@timestamp", "18/Apr/2019:00:00:00", SL_JSON_STRING},
      {"remote_addr", "10.183.89.35", SL_JSON_STRING},
      {"request", "GET", SL_JSON_STRING},
      {"url", "/api/search/9539", SL_JSON_STRING},
      {"status", "200", SL_JSON_NUMBER},
      {"body_bytes_sent", "11099", SL_JSON_NUMBER},
      {"http_user_agent", "curl/8.5.0", SL_JSON_STRING},
  };
  sl_json_field f[16];
  expect_fields(NGINX, f, 16, want, sizeof want / sizeof *want);
  assert_int_equal(f[0].key_off, 2);
  assert_int_equal(f[0].val_off, 15);
  for (int i = 0; i < 7; i++)
    assert_true(f[i].key_escaped == 0 && f[i].val_escaped == 0);
}

static void test_every_value_type(void **state) {
  (void)state;
  const char *s = "{\"s\":\"x\",\"n\":-12.5e+3,\"t\":true,\"f\":false,\"z\":null,"
                  "\"a\":[1,\"2\",{\"x\":[]},[[]],null],\"o\":{\"k\":{\"k2\":[true,{}]}},\"e\":\"\"}";
  static const want_field want[] = {
      {"s", "x", SL_JSON_STRING},
      {"n", "-12.5e+3", SL_JSON_NUMBER},
      {"t", "true", SL_JSON_TRUE},
      {"f", "false", SL_JSON_FALSE},
      {"z", "null", SL_JSON_NULL},
      {"a", "[1,\"2\",{\"x\":[]},[[]],null]", SL_JSON_ARRAY},
      {"o", "{\"k\":{\"k2\":[true,{}]}}", SL_JSON_OBJECT},
      {"e", "", SL_JSON_STRING},
  };
  sl_json_field f[16];
  expect_fields(s, f, 16, want, sizeof want / sizeof *want);
}

static void test_whitespace_and_crlf(void **state) {
  (void)state;
  const char *s = " \t{ \"a\" :\t1 , \"b\" : [ 1 , { \"c\" : 2 } ] , \"c\" : \"x\" }  \r\n";
  static const want_field want[] = {
      {"a", "1", SL_JSON_NUMBER},
      {"b", "[ 1 , { \"c\" : 2 } ]", SL_JSON_ARRAY},
      {"c", "x", SL_JSON_STRING},
  };
  sl_json_field f[4];
  expect_fields(s, f, 4, want, sizeof want / sizeof *want);
  assert_int_equal(valid("{\"a\":1}\r", 8), 1);
  assert_int_equal(valid("{}", 2), 0);
  assert_int_equal(valid(" { } ", 5), 0);
  /* A line ends at len: bytes past it are not looked at. */
  assert_int_equal(valid("{\"a\":1}garbage", 7), 1);
}

static void test_valid_numbers(void **state) {
  (void)state;
  static const char *nums[] = {"0",
                               "-0",
                               "0.5",
                               "-0.0",
                               "1e10",
                               "1E-10",
                               "2e+0",
                               "-1.5e+300",
                               "0e0",
                               "123456789012345678901234567890",
                               "9007199254740993",
                               "1.7976931348623157e309"};
  for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
    char line[128];
    int len = snprintf(line, sizeof line, "{\"n\":%s,\"m\":[%s]}", nums[i], nums[i]);
    sl_json_field f[2];
    sl_json_error e;
    uint32_t n;
    assert_int_equal(scan_n(line, (size_t)len, f, 2, &n, &e), 0);
    check_field(line, &f[0], "n", nums[i], SL_JSON_NUMBER);
  }
}

static void test_valid_strings(void **state) {
  (void)state;
  const char *esc = "{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\uFFFF\\ud83d\\ude00\"}";
  assert_int_equal(valid(esc, strlen(esc)), 1);
  /* UTF-8 at the edges of each sequence length and around the surrogate gap. */
  const char *u = "{\"u\":\"\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xEF\xBF\xBF"
                  "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF h\xC3\xA9llo \xE2\x82\xAC\"}";
  assert_int_equal(valid(u, strlen(u)), 1);
  assert_int_equal(valid("{\"\xC3\xA9\":\"\x7F\"}", 10), 1);
}

/* Escapes, controls and non-ASCII bytes at every position of a long string: the 16-byte fast path and
 * the scalar tail must agree on where the special byte is. */
static void test_special_byte_at_every_position(void **state) {
  (void)state;
  for (size_t len = 1; len < 48; len++) {
    for (size_t pos = 0; pos < len; pos++) {
      char line[80];
      sl_json_field f[1];
      sl_json_error e;
      uint32_t n;
      memcpy(line, "{\"k\":\"", 6);
      memset(line + 6, 'a', len);
      memcpy(line + 6 + len, "\"}", 2);
      size_t total = len + 8;

      line[6 + pos] = '\x01';
      assert_int_equal(scan_n(line, total, f, 1, &n, &e), -1);
      assert_string_equal(e.reason, "control character in string");
      assert_int_equal(e.offset, 6 + pos);

      line[6 + pos] = '\xFF';
      assert_int_equal(scan_n(line, total, f, 1, &n, &e), -1);
      assert_string_equal(e.reason, "invalid UTF-8");
      assert_int_equal(e.offset, 6 + pos);

      line[6 + pos] = '"';
      assert_int_equal(scan_n(line, total, f, 1, &n, &e), -1);
      assert_int_equal(e.offset, 7 + pos);

      if (pos + 1 < len) {
        memcpy(line + 6 + pos, "\\n", 2);
        assert_int_equal(scan_n(line, total, f, 1, &n, &e), 0);
        assert_int_equal(f[0].val_len, len);
        assert_int_equal(f[0].val_escaped, 1);
        memcpy(line + 6 + pos, "\xC3\xA9", 2);
        assert_int_equal(scan_n(line, total, f, 1, &n, &e), 0);
        assert_int_equal(f[0].val_escaped, 0);
        memcpy(line + 6 + pos, "aa", 2);
      }
      line[6 + pos] = 'a';
      assert_int_equal(scan_n(line, total, f, 1, &n, &e), 0);
      assert_int_equal(f[0].val_len, len);
    }
  }
}

static void test_escaped_flags(void **state) {
  (void)state;
  const char *s =
      "{\"k\\\"ey\":\"v\\\\al\",\"p\":\"plain\",\"o\":{\"x\\n\":1},\"a\":[\"\\u0041\"],\"b\":[\"x\"]}";
  sl_json_field f[8];
  sl_json_error e;
  uint32_t n;
  assert_int_equal(scan(s, f, 8, &n, &e), 0);
  assert_int_equal(n, 5);
  check_field(s, &f[0], "k\\\"ey", "v\\\\al", SL_JSON_STRING);
  assert_int_equal(f[0].key_escaped, 1);
  assert_int_equal(f[0].val_escaped, 1);
  assert_int_equal(f[1].key_escaped, 0);
  assert_int_equal(f[1].val_escaped, 0);
  assert_int_equal(f[2].val_escaped, 1); /* a container whose text holds a backslash */
  assert_int_equal(f[3].val_escaped, 1);
  assert_int_equal(f[4].val_escaped, 0);
}

static void test_find(void **state) {
  (void)state;
  sl_json_field f[16];
  sl_json_error e;
  uint32_t n;
  assert_int_equal(scan(NGINX, f, 16, &n, &e), 0);
  int i = sl_json_find(NGINX, f, n, "status", 6);
  assert_int_equal(i, 4);
  assert_int_equal(sl_json_find(NGINX, f, n, "url", 3), 3);
  assert_int_equal(sl_json_find(NGINX, f, n, "@timestamp", 10), 0);
  assert_int_equal(sl_json_find(NGINX, f, n, "stat", 4), -1);
  assert_int_equal(sl_json_find(NGINX, f, n, "statuses", 8), -1);
  assert_int_equal(sl_json_find(NGINX, f, n, "", 0), -1);
  assert_int_equal(sl_json_find(NGINX, f, 0, "url", 3), -1);

  const char *s = "{\"a\\u0062c\":1,\"x\\\"y\":2,\"\\ud83d\\ude00\":3,\"\\\\\":4,\"\":5}";
  assert_int_equal(scan(s, f, 16, &n, &e), 0);
  assert_int_equal(sl_json_find(s, f, n, "abc", 3), 0);
  assert_int_equal(sl_json_find(s, f, n, "a\\u0062c", 8), -1); /* keys compare decoded */
  assert_int_equal(sl_json_find(s, f, n, "x\"y", 3), 1);
  assert_int_equal(sl_json_find(s, f, n, "\xF0\x9F\x98\x80", 4), 2);
  assert_int_equal(sl_json_find(s, f, n, "\\", 1), 3);
  assert_int_equal(sl_json_find(s, f, n, "", 0), 4);
  assert_int_equal(sl_json_find(s, f, n, "ab", 2), -1);
  assert_int_equal(sl_json_find(s, f, n, "abcd", 4), -1);
}

static void test_find_duplicate_keys_last_wins(void **state) {
  (void)state;
  const char *s = "{\"a\":1,\"b\":2,\"a\":3,\"ab\":4,\"a\\u0062\":5}";
  sl_json_field f[8], out;
  sl_json_error e;
  uint32_t n;
  assert_int_equal(scan(s, f, 8, &n, &e), 0);
  assert_int_equal(n, 5);
  assert_int_equal(sl_json_find(s, f, n, "a", 1), 2);
  assert_int_equal(sl_json_find(s, f, n, "ab", 2), 4);
  assert_int_equal(sl_json_find_scan(s, strlen(s), "a", 1, &out), 0);
  check_field(s, &out, "a", "3", SL_JSON_NUMBER);
  assert_int_equal(sl_json_find_scan(s, strlen(s), "ab", 2, &out), 0);
  check_field(s, &out, "a\\u0062", "5", SL_JSON_NUMBER);
  assert_int_equal(out.key_escaped, 1);
}

static void test_more_fields_than_cap(void **state) {
  (void)state;
  char line[4096];
  size_t len = 0;
  line[len++] = '{';
  for (int i = 0; i < 100; i++)
    len += (size_t)snprintf(line + len, sizeof line - len, "%s\"k%d\":%s", i ? "," : "", i,
                            i % 2 ? "\"v\"" : "[1,{\"k5\":0}]");
  line[len++] = '}';
  sl_json_field f[8], out;
  sl_json_error e;
  uint32_t n = 0;
  assert_int_equal(scan_n(line, len, f, 8, &n, &e), 0);
  assert_int_equal(n, 100);
  check_field(line, &f[7], "k7", "v", SL_JSON_STRING);
  /* Absent from the index, found by scanning. */
  assert_int_equal(sl_json_find(line, f, 8, "k57", 3), -1);
  assert_int_equal(sl_json_find_scan(line, len, "k57", 3, &out), 0);
  check_field(line, &out, "k57", "v", SL_JSON_STRING);
  assert_int_equal(sl_json_find_scan(line, len, "k98", 3, &out), 0);
  check_field(line, &out, "k98", "[1,{\"k5\":0}]", SL_JSON_ARRAY);
  assert_int_equal(sl_json_find_scan(line, len, "k0", 2, &out), 0);
  assert_int_equal(out.key_off, 2);
  /* Only top-level keys count. */
  assert_int_equal(sl_json_find_scan(line, len, "k100", 4, &out), -1);
  assert_int_equal(sl_json_find_scan(line, len, "k", 1, &out), -1);
  /* A zero-capacity index still validates and counts. */
  assert_int_equal(sl_json_scan(line, len, NULL, 0, &n, &e), 0);
  assert_int_equal(n, 100);
  assert_int_equal(sl_json_find_scan("{}", 2, "k", 1, &out), -1);
}

typedef struct bad_case {
  const char *in;
  size_t len; /* 0: strlen */
  const char *reason;
  size_t offset;
} bad_case;

static const bad_case bad_cases[] = {
    {"", 0, "empty line", 0},
    {"  \t\r\n", 0, "empty line", 5},
    {"{\"a\":1} x", 0, "unexpected data after the value", 8},
    {"{\"a\":1}{\"b\":2}", 0, "unexpected data after the value", 7},
    {"{\"a\":1}}", 0, "unexpected data after the value", 7},
    {"[1,2]", 0, "root is not an object", 0},
    {"\"str\"", 0, "root is not an object", 0},
    {"42", 0, "root is not an object", 0},
    {" true", 0, "root is not an object", 1},
    {"\xEF\xBB\xBF{}", 0, "root is not an object", 0},
    {"{\"a\":\"abc", 0, "unterminated string", 5},
    {"{\"a\":\"abc\\\"}", 0, "unterminated string", 5},
    {"{\"abc", 0, "unterminated string", 1},
    {"{\"a\":\"x\ty\"}", 0, "control character in string", 7},
    {"{\"a\":\"x\ny\"}", 0, "control character in string", 7},
    {"{\"a\":\"x\0y\"}", 11, "control character in string", 7},
    {"{\"a\":\"\\x\"}", 0, "invalid escape", 6},
    {"{\"a\":\"\\U0041\"}", 0, "invalid escape", 6},
    {"{\"a\":\"\\", 0, "invalid escape", 6},
    {"{\"a\":\"\\u12G4\"}", 0, "invalid \\u escape", 6},
    {"{\"a\":\"\\u12\"}", 0, "invalid \\u escape", 6},
    {"{\"a\":\"\\uD800\"}", 0, "unpaired high surrogate", 6},
    {"{\"a\":\"\\uD800\\u0041\"}", 0, "unpaired high surrogate", 6},
    {"{\"a\":\"\\uDBFF\\uD800\"}", 0, "unpaired high surrogate", 6},
    {"{\"a\":\"\\uD800\\n\"}", 0, "unpaired high surrogate", 6},
    {"{\"a\":\"x\\uDC00\"}", 0, "unpaired low surrogate", 7},
    {"{\"a\":\"\\uDFFF\\uD800\"}", 0, "unpaired low surrogate", 6},
    {"{\"\\uD83D\":1}", 0, "unpaired high surrogate", 2},
    {"{\"a\":\"\xC0\xAF\"}", 0, "invalid UTF-8", 6},         /* overlong '/' */
    {"{\"a\":\"\xE0\x80\xAF\"}", 0, "invalid UTF-8", 6},     /* overlong, 3 bytes */
    {"{\"a\":\"\xF0\x80\x80\xAF\"}", 0, "invalid UTF-8", 6}, /* overlong, 4 bytes */
    {"{\"a\":\"\xC3\"}", 0, "invalid UTF-8", 6},             /* truncated by the quote */
    {"{\"a\":\"\xE2\x82", 0, "invalid UTF-8", 6},            /* truncated by the end of line */
    {"{\"a\":\"ab\xF0\x9F\x98\"}", 0, "invalid UTF-8", 8},
    {"{\"a\":\"\xFF\"}", 0, "invalid UTF-8", 6},
    {"{\"a\":\"\xFE\"}", 0, "invalid UTF-8", 6},
    {"{\"a\":\"\x80\"}", 0, "invalid UTF-8", 6},             /* stray continuation byte */
    {"{\"a\":\"\xED\xA0\x80\"}", 0, "invalid UTF-8", 6},     /* encoded surrogate U+D800 */
    {"{\"a\":\"\xED\xBF\xBF\"}", 0, "invalid UTF-8", 6},     /* encoded surrogate U+DFFF */
    {"{\"a\":\"\xF4\x90\x80\x80\"}", 0, "invalid UTF-8", 6}, /* U+110000 */
    {"{\"\xFF\":1}", 0, "invalid UTF-8", 2},
    {"{\"a\":01}", 0, "leading zero in number", 5},
    {"{\"a\":-01}", 0, "leading zero in number", 6},
    {"{\"a\":00}", 0, "leading zero in number", 5},
    {"{\"a\":1.}", 0, "expected digit after decimal point", 7},
    {"{\"a\":1.e5}", 0, "expected digit after decimal point", 7},
    {"{\"a\":.5}", 0, "expected value", 5},
    {"{\"a\":-}", 0, "expected digit after '-'", 6},
    {"{\"a\":-", 0, "expected digit after '-'", 6},
    {"{\"a\":+1}", 0, "expected value", 5},
    {"{\"a\":1e}", 0, "expected digit in exponent", 7},
    {"{\"a\":1e+}", 0, "expected digit in exponent", 8},
    {"{\"a\":1E-", 0, "expected digit in exponent", 8},
    {"{\"a\":0x10}", 0, "expected ',' or '}'", 6},
    {"{\"a\":1.5.2}", 0, "expected ',' or '}'", 8},
    {"{\"a\":NaN}", 0, "expected value", 5},
    {"{\"a\":Infinity}", 0, "expected value", 5},
    {"{\"a\":-Infinity}", 0, "expected digit after '-'", 6},
    {"{\"a\":nul}", 0, "invalid literal", 5},
    {"{\"a\":tru", 0, "invalid literal", 5},
    {"{\"a\":True}", 0, "expected value", 5},
    {"{\"a\":truex}", 0, "expected ',' or '}'", 9},
    {"{\"a\":'x'}", 0, "expected value", 5},
    {"{\"a\":1,}", 0, "trailing comma", 7},
    {"{\"a\":[1,]}", 0, "trailing comma", 8},
    {"{\"a\":{\"b\":1,}}", 0, "trailing comma", 12},
    {"{,}", 0, "expected string key", 1},
    {"{\"a\":[,1]}", 0, "expected value", 6},
    {"{\"a\":1,,\"b\":2}", 0, "expected string key", 7},
    {"{\"a\" 1}", 0, "expected ':' after key", 5},
    {"{\"a\"}", 0, "expected ':' after key", 4},
    {"{\"a\":{\"b\" 1}}", 0, "expected ':' after key", 10},
    {"{\"a\":1 \"b\":2}", 0, "expected ',' or '}'", 7},
    {"{\"a\":[1 2]}", 0, "expected ',' or ']'", 8},
    {"{\"a\":[1}", 0, "expected ',' or ']'", 7},
    {"{\"a\":{\"b\":1]}", 0, "expected ',' or '}'", 11},
    {"{\"a\":1", 0, "expected ',' or '}'", 6},
    {"{\"a\":[1", 0, "expected ',' or ']'", 7},
    {"{\"a\":[", 0, "expected value", 6},
    {"{\"a\":{", 0, "expected string key", 6},
    {"{\"a\":", 0, "expected value", 5},
    {"{", 0, "expected string key", 1},
    {"{a:1}", 0, "expected string key", 1},
    {"{1:1}", 0, "expected string key", 1},
    {"{\"a\":{1:1}}", 0, "expected string key", 6},
};

static void test_invalid_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
    const bad_case *c = &bad_cases[i];
    size_t len = c->len ? c->len : strlen(c->in);
    sl_json_field f[4];
    sl_json_error e = {999, NULL};
    uint32_t n = 0;
    int rc = scan_n(c->in, len, f, 4, &n, &e);
    if (rc != -1 || !e.reason || strcmp(e.reason, c->reason) != 0 || e.offset != c->offset)
      fail_msg("case %zu %.*s: rc %d, got \"%s\" at %zu, want \"%s\" at %zu", i, (int)len, c->in, rc,
               e.reason ? e.reason : "(none)", e.offset, c->reason, c->offset);
  }
}

/* A line of `depth` nested containers inside the root object's field "a", closed properly. */
static char *nested(size_t depth, int objects, size_t *len) {
  size_t cap = depth * 6 + 16, n = 0;
  char *s = malloc(cap);
  assert_non_null(s);
  n += (size_t)sprintf(s, "{\"a\":");
  for (size_t i = 0; i < depth; i++)
    n += (size_t)sprintf(s + n, "%s", objects ? "{\"a\":" : "[");
  s[n++] = '1';
  for (size_t i = 0; i < depth; i++)
    s[n++] = objects ? '}' : ']';
  s[n++] = '}';
  *len = n;
  return s;
}

static void test_depth_limit(void **state) {
  (void)state;
  sl_json_field f[1];
  sl_json_error e;
  uint32_t n;
  size_t len;
  /* The root object is level 1, so SL_JSON_MAX_DEPTH - 1 containers fit inside it. */
  for (int objects = 0; objects <= 1; objects++) {
    char *s = nested(SL_JSON_MAX_DEPTH - 1, objects, &len);
    assert_int_equal(scan_n(s, len, f, 1, &n, &e), 0);
    assert_int_equal(f[0].type, objects ? SL_JSON_OBJECT : SL_JSON_ARRAY);
    assert_int_equal(f[0].val_len, len - 6);
    free(s);
    s = nested(SL_JSON_MAX_DEPTH, objects, &len);
    assert_int_equal(scan_n(s, len, f, 1, &n, &e), -1);
    assert_string_equal(e.reason, "nesting too deep");
    free(s);
  }
  /* 10000 and a million levels: an error at the first bracket past the limit, no stack growth. */
  size_t depths[] = {10000, 1000000};
  for (size_t i = 0; i < 2; i++) {
    char *s = nested(depths[i], 0, &len);
    assert_int_equal(scan_n(s, len, f, 1, &n, &e), -1);
    assert_string_equal(e.reason, "nesting too deep");
    assert_int_equal(e.offset, 5 + (SL_JSON_MAX_DEPTH - 1));
    /* Unclosed: still the depth error, found first. */
    assert_int_equal(scan_n(s, 5 + depths[i], f, 1, &n, &e), -1);
    assert_string_equal(e.reason, "nesting too deep");
    free(s);
  }
}

static void test_unescape(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
    size_t outlen;
  } cases[] = {
      {"plain", "plain", 5},
      {"a\\nb", "a\nb", 3},
      {"\\\"\\\\\\/\\b\\f\\n\\r\\t", "\"\\/\b\f\n\r\t", 8},
      {"\\u0041\\u00e9\\u20AC", "A\xC3\xA9\xE2\x82\xAC", 6},
      {"x\\ud83d\\ude00y", "x\xF0\x9F\x98\x80y", 6},
      {"\\u0000", "\0", 1},
      {"\\uFFFF", "\xEF\xBF\xBF", 3},
      /* Not valid JSON, but decoding must stay in bounds: a lone surrogate becomes U+FFFD. */
      {"\\uDC00", "\xEF\xBF\xBD", 3},
      {"\\uD800x", "\xEF\xBF\xBDx", 4},
      {"ab\\", "ab\\", 3},
      {"\\u12", "\\u12", 4},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char out[64];
    size_t inlen = strlen(cases[i].in);
    size_t n = sl_json_unescape(cases[i].in, inlen, out);
    assert_int_equal(n, cases[i].outlen);
    assert_true(n <= inlen);
    assert_memory_equal(out, cases[i].out, n);
    /* In place. */
    char buf[64];
    memcpy(buf, cases[i].in, inlen);
    assert_int_equal(sl_json_unescape(buf, inlen, buf), n);
    assert_memory_equal(buf, cases[i].out, n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nginx_line_indexed),
      cmocka_unit_test(test_every_value_type),
      cmocka_unit_test(test_whitespace_and_crlf),
      cmocka_unit_test(test_valid_numbers),
      cmocka_unit_test(test_valid_strings),
      cmocka_unit_test(test_special_byte_at_every_position),
      cmocka_unit_test(test_escaped_flags),
      cmocka_unit_test(test_find),
      cmocka_unit_test(test_find_duplicate_keys_last_wins),
      cmocka_unit_test(test_more_fields_than_cap),
      cmocka_unit_test(test_invalid_table),
      cmocka_unit_test(test_depth_limit),
      cmocka_unit_test(test_unescape),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
