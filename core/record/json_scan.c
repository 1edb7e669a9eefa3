/* json_scan.c — validates one JSON line and indexes its top-level fields (see json_scan.h).
 *
 * This is the per-record hot path, so it is one forward pass with no allocation and no recursion:
 * - the top-level object is walked by its own loop, which records each field as it goes;
 * - a nested object or array is skipped by a loop over an explicit stack of expected closing brackets,
 *   bounded by SL_JSON_MAX_DEPTH, so hostile nesting is an error and never a C stack overflow;
 * - strings are skipped 16 bytes at a time (sl_json_skip_plain); escapes and UTF-8 are checked only at
 *   the bytes that need it.
 * Every check of RFC 8259 is still made; error offsets point at the offending byte (for an unterminated
 * string, at its opening quote). */
#include "core/record/json_scan.h"

#include "core/record/json_internal.h"

#include <string.h>

typedef struct scanner {
  const char *base, *end;
  sl_json_error *err;
} scanner;

#if defined(__GNUC__)
#define COLD __attribute__((cold, noinline))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define COLD
#define ALWAYS_INLINE inline
#endif

static COLD const char *fail(const scanner *s, const char *at, const char *why) {
  s->err->offset = (size_t)(at - s->base);
  s->err->reason = why;
  return NULL;
}

static inline const char *skip_ws(const char *p, const char *end) {
  /* Minified lines have no whitespace, so one compare rejects the common case. */
  while (p < end && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  return p;
}

static inline int is_digit(char c) {
  return (unsigned)(c - '0') < 10;
}

/* p is at a backslash. Returns the byte after the escape (a surrogate pair counts as one escape). */
static const char *scan_escape(const scanner *s, const char *p) {
  if (s->end - p < 2)
    return fail(s, p, "invalid escape");
  switch (p[1]) {
  case '"':
  case '\\':
  case '/':
  case 'b':
  case 'f':
  case 'n':
  case 'r':
  case 't':
    return p + 2;
  case 'u':
    break;
  default:
    return fail(s, p, "invalid escape");
  }
  int32_t cp = s->end - p >= 6 ? sl_json_hex4(p + 2) : -1;
  if (cp < 0)
    return fail(s, p, "invalid \\u escape");
  if (cp >= 0xDC00 && cp <= 0xDFFF)
    return fail(s, p, "unpaired low surrogate");
  if (cp < 0xD800 || cp > 0xDBFF)
    return p + 6;
  int32_t lo = s->end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? sl_json_hex4(p + 8) : -1;
  if (lo < 0xDC00 || lo > 0xDFFF)
    return fail(s, p, "unpaired high surrogate");
  return p + 12;
}

/* The rest of a string once a byte other than a closing quote stopped the fast skip: p is at that byte,
 * open at the opening quote. */
static const char *scan_string_slow(const scanner *s, const char *open, const char *p, uint8_t *escaped) {
  for (;;) {
    if (p == s->end)
      return fail(s, open, "unterminated string");
    unsigned char c = (unsigned char)*p;
    if (c == '"')
      return p;
    if (c == '\\') {
      *escaped = 1;
      p = scan_escape(s, p);
    } else if (c < 0x20) {
      return fail(s, p, "control character in string");
    } else {
      size_t n = sl_utf8_seq_len((const unsigned char *)p, (size_t)(s->end - p));
      p = n ? p + n : fail(s, p, "invalid UTF-8");
    }
    if (!p)
      return NULL;
    p = sl_json_skip_plain(p, s->end);
  }
}

/* p is just past an opening quote. Returns the closing quote; sets *escaped when a backslash was seen.
 * Inline because most strings are short and plain: one 16-byte step finds the closing quote. */
static ALWAYS_INLINE const char *scan_string(const scanner *s, const char *p, uint8_t *escaped) {
  const char *q = sl_json_skip_plain(p, s->end);
  if (q < s->end && *q == '"')
    return q;
  return scan_string_slow(s, p - 1, q, escaped);
}

/* number = [ "-" ] ( "0" / digit1-9 *digit ) [ "." 1*digit ] [ ( "e" / "E" ) [ "+" / "-" ] 1*digit ] */
static const char *scan_number(const scanner *s, const char *p) {
  const char *end = s->end;
  if (*p == '-') {
    p++;
    if (p == end || !is_digit(*p))
      return fail(s, p, "expected digit after '-'");
  }
  if (*p == '0') {
    p++;
    if (p < end && is_digit(*p))
      return fail(s, p - 1, "leading zero in number");
  } else {
    while (p < end && is_digit(*p))
      p++;
  }
  if (p < end && *p == '.') {
    p++;
    if (p == end || !is_digit(*p))
      return fail(s, p, "expected digit after decimal point");
    while (p < end && is_digit(*p))
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      p++;
    if (p == end || !is_digit(*p))
      return fail(s, p, "expected digit in exponent");
    while (p < end && is_digit(*p))
      p++;
  }
  return p;
}

static inline const char *scan_word(const scanner *s, const char *p, const char *word, size_t n) {
  if ((size_t)(s->end - p) < n || memcmp(p, word, n) != 0)
    return fail(s, p, "invalid literal");
  return p + n;
}

/* A value that is not a container; p is at its first byte (p < end). Returns the byte after it. */
static inline const char *scan_scalar(const scanner *s, const char *p, uint8_t *type, uint8_t *escaped) {
  switch (*p) {
  case '"': {
    *type = SL_JSON_STRING;
    const char *q = scan_string(s, p + 1, escaped);
    return q ? q + 1 : NULL;
  }
  case 't':
    *type = SL_JSON_TRUE;
    return scan_word(s, p, "true", 4);
  case 'f':
    *type = SL_JSON_FALSE;
    return scan_word(s, p, "false", 5);
  case 'n':
    *type = SL_JSON_NULL;
    return scan_word(s, p, "null", 4);
  case '-':
  case '0':
  case '1':
  case '2':
  case '3':
  case '4':
  case '5':
  case '6':
  case '7':
  case '8':
  case '9':
    *type = SL_JSON_NUMBER;
    return scan_number(s, p);
  default:
    return fail(s, p, "expected value");
  }
}

/* p is at the '{' or '[' of a top-level field's value (nesting level 2; the root object is level 1).
 * Returns the byte after the matching bracket; sets *escaped when any string inside holds a backslash. */
static const char *skip_nested(const scanner *s, const char *p, uint8_t *escaped) {
  char close[SL_JSON_MAX_DEPTH + 1]; /* close[d] is the bracket that ends level d (2..MAX) */
  unsigned depth = 1;
  const char *end = s->end;
  uint8_t type;
open:
  if (depth == SL_JSON_MAX_DEPTH)
    return fail(s, p, "nesting too deep");
  close[++depth] = *p == '{' ? '}' : ']';
  p = skip_ws(p + 1, end);
  if (p < end && *p == close[depth])
    goto closed;
  if (close[depth] == ']')
    goto value;
key:
  if (p == end || *p != '"')
    return fail(s, p, "expected string key");
  if (!(p = scan_string(s, p + 1, escaped)))
    return NULL;
  p = skip_ws(p + 1, end);
  if (p == end || *p != ':')
    return fail(s, p, "expected ':' after key");
  p = skip_ws(p + 1, end);
value:
  if (p == end)
    return fail(s, p, "expected value");
  if (*p == '{' || *p == '[')
    goto open;
  if (!(p = scan_scalar(s, p, &type, escaped)))
    return NULL;
next:
  p = skip_ws(p, end);
  if (p < end && *p == ',') {
    p = skip_ws(p + 1, end);
    if (p < end && *p == close[depth])
      return fail(s, p, "trailing comma");
    if (close[depth] == '}')
      goto key;
    goto value;
  }
  if (p == end || *p != close[depth])
    return fail(s, p, close[depth] == '}' ? "expected ',' or '}'" : "expected ',' or ']'");
closed:
  p++;
  if (--depth == 1)
    return p;
  goto next;
}

/* One top-level member's value, p at its first byte (p < end); fills f's value part. */
static inline const char *scan_member_value(const scanner *s, const char *p, sl_json_field *f) {
  const char *q;
  f->val_escaped = 0;
  if (*p == '"') {
    f->type = SL_JSON_STRING;
    f->val_off = (uint32_t)(p + 1 - s->base);
    if (!(q = scan_string(s, p + 1, &f->val_escaped)))
      return NULL;
    f->val_len = (uint32_t)(q - (p + 1));
    return q + 1;
  }
  f->val_off = (uint32_t)(p - s->base);
  if (*p == '{' || *p == '[') {
    f->type = *p == '{' ? SL_JSON_OBJECT : SL_JSON_ARRAY;
    q = skip_nested(s, p, &f->val_escaped);
  } else {
    q = scan_scalar(s, p, &f->type, &f->val_escaped);
  }
  if (q)
    f->val_len = (uint32_t)(q - p);
  return q;
}

/* The whole pass. Fields past cap go through a scratch slot; when want is set (sl_json_find_scan, which
 * passes cap 0), each of them is compared with the wanted key and the last match is kept in *found
 * (*hit set). */
static inline int scan_line(const char *line, size_t len, sl_json_field *fields, uint32_t cap,
                            uint32_t *nfields, sl_json_error *err, const char *want, size_t wantlen,
                            sl_json_field *found, int *hit) {
  scanner sc = {line, line + len, err};
  const scanner *s = &sc;
  const char *end = line + len, *p, *q;
  sl_json_field scratch;
  uint32_t n = 0;
  if (len > UINT32_MAX) {
    fail(s, line, "line too long");
    return -1;
  }
  p = skip_ws(line, end);
  if (p == end) {
    fail(s, p, "empty line");
    return -1;
  }
  if (*p != '{') {
    fail(s, p, "root is not an object");
    return -1;
  }
  p = skip_ws(p + 1, end);
  if (p < end && *p == '}')
    goto done;
  for (;;) {
    sl_json_field *f = n < cap ? &fields[n] : &scratch;
    if (p == end || *p != '"') {
      fail(s, p, "expected string key");
      return -1;
    }
    f->key_escaped = 0;
    if (!(q = scan_string(s, p + 1, &f->key_escaped)))
      return -1;
    f->key_off = (uint32_t)(p + 1 - line);
    f->key_len = (uint32_t)(q - (p + 1));
    p = skip_ws(q + 1, end);
    if (p == end || *p != ':') {
      fail(s, p, "expected ':' after key");
      return -1;
    }
    p = skip_ws(p + 1, end);
    if (p == end) {
      fail(s, p, "expected value");
      return -1;
    }
    if (!(p = scan_member_value(s, p, f)))
      return -1;
    n++;
    if (want && f == &scratch &&
        sl_json_key_equals(line + f->key_off, f->key_len, f->key_escaped, want, wantlen))
      *found = scratch, *hit = 1;
    p = skip_ws(p, end);
    if (p < end && *p == ',') {
      p = skip_ws(p + 1, end);
      if (p < end && *p == '}') {
        fail(s, p, "trailing comma");
        return -1;
      }
      continue;
    }
    if (p == end || *p != '}') {
      fail(s, p, "expected ',' or '}'");
      return -1;
    }
    break;
  }
done:
  p = skip_ws(p + 1, end);
  if (p != end) {
    fail(s, p, "unexpected data after the value");
    return -1;
  }
  *nfields = n;
  return 0;
}

int sl_json_scan(const char *line, size_t len, sl_json_field *fields, uint32_t cap, uint32_t *nfields,
                 sl_json_error *err) {
  return scan_line(line, len, fields, cap, nfields, err, NULL, 0, NULL, NULL);
}

int sl_json_find_scan(const char *line, size_t len, const char *key, size_t klen, sl_json_field *out) {
  /* The line was validated already; scanning it again costs the same as a non-validating skip would,
   * and keeps one parser. */
  sl_json_field found;
  sl_json_error err;
  uint32_t n;
  int hit = 0;
  if (scan_line(line, len, NULL, 0, &n, &err, key, klen, &found, &hit) != 0 || !hit)
    return -1;
  *out = found;
  return 0;
}
