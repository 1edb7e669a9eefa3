/* json_write.c — growable output buffer and JSON string/number encoding (see json_write.h).
 *
 * Allocation failure is sticky (b->oom) rather than returned from every put, so the Lua encoder can make
 * a run of FFI calls and check once. Strings copy plain runs found 16 bytes at a time by the same skip
 * the scanner uses; only quotes, backslashes, control characters and non-ASCII bytes take the slow path. */
#include "core/record/json_write.h"

#include "core/record/json_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_buf_init(sl_buf *b) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

void sl_buf_free(sl_buf *b) {
  free(b->data);
  sl_buf_init(b);
}

void sl_buf_reset(sl_buf *b) {
  b->len = 0;
}

int sl_buf_reserve(sl_buf *b, size_t n) {
  if (b->oom)
    return -1;
  if (b->cap - b->len >= n)
    return 0;
  if (n > SIZE_MAX / 2 - b->len) {
    b->oom = 1;
    return -1;
  }
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < n)
    cap *= 2;
  char *d = realloc(b->data, cap);
  if (!d) {
    b->oom = 1;
    return -1;
  }
  b->data = d;
  b->cap = cap;
  return 0;
}

void sl_buf_put(sl_buf *b, const void *p, size_t n) {
  if (n == 0 || sl_buf_reserve(b, n) != 0)
    return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void sl_buf_putc(sl_buf *b, char c) {
  if (sl_buf_reserve(b, 1) != 0)
    return;
  b->data[b->len++] = c;
}

/* The letter of a short escape (\n ...), or 0 when a control character needs \u00XX. */
static char short_escape(unsigned char c) {
  switch (c) {
  case '"':
    return '"';
  case '\\':
    return '\\';
  case '\n':
    return 'n';
  case '\r':
    return 'r';
  case '\t':
    return 't';
  case '\b':
    return 'b';
  case '\f':
    return 'f';
  default:
    return 0;
  }
}

void sl_buf_put_json_string(sl_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const char *p = s, *end = s + n;
  size_t start = b->len;
  /* Room for the common case (nothing to escape); each escape below makes room for the rest. */
  if (n > SIZE_MAX / 4 || sl_buf_reserve(b, n + 2) != 0) {
    b->oom = 1;
    return;
  }
  char *o = b->data + b->len;
  *o++ = '"';
  for (;;) {
    const char *q = sl_json_skip_plain(p, end);
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    p = q;
    if (p == end)
      break;
    /* Worst case from here: this byte as a 6-byte escape, the rest verbatim, the closing quote. */
    size_t need = (size_t)(end - p) + 7;
    if ((size_t)(b->data + b->cap - o) < need) {
      b->len = (size_t)(o - b->data);
      if (sl_buf_reserve(b, need) != 0) {
        b->len = start;
        return;
      }
      o = b->data + b->len;
    }
    unsigned char c = (unsigned char)*p;
    if (c >= 0x80) {
      size_t k = sl_utf8_seq_len((const unsigned char *)p, (size_t)(end - p));
      if (k) {
        memcpy(o, p, k);
        o += k;
        p += k;
      } else {
        memcpy(o, "\\ufffd", 6);
        o += 6;
        p++;
      }
      continue;
    }
    char e = short_escape(c);
    *o++ = '\\';
    if (e) {
      *o++ = e;
    } else {
      memcpy(o, "u00", 3);
      o[3] = hex[c >> 4];
      o[4] = hex[c & 15];
      o += 5;
    }
    p++;
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
}

void sl_buf_put_int64(sl_buf *b, int64_t v) {
  char tmp[24], *o = tmp + sizeof tmp;
  /* Through uint64_t so that INT64_MIN negates without overflow. */
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--o = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0)
    *--o = '-';
  sl_buf_put(b, o, (size_t)(tmp + sizeof tmp - o));
}

/* -0.0 is integral and prints as "0": JSON readers (and Lua's tostring of an integer-valued number) do
 * not distinguish it, and "0" is what json.dumps(int) gives for counters that hit zero. */
void sl_buf_put_json_number(sl_buf *b, double x) {
  if (isnan(x) || isinf(x)) {
    sl_buf_put(b, "null", 4);
    return;
  }
  if (x > -9223372036854775808.0 && x < 9223372036854775808.0 && x == trunc(x)) {
    sl_buf_put_int64(b, (int64_t)x);
    return;
  }
  char tmp[32];
  int len = 0;
  for (int prec = 15; prec <= 17; prec++) {
    len = snprintf(tmp, sizeof tmp, "%.*g", prec, x);
    if (prec == 17 || strtod(tmp, NULL) == x)
      break;
  }
  /* A locale may have set a decimal comma; JSON always uses '.'. */
  for (int i = 0; i < len; i++)
    if (tmp[i] == ',')
      tmp[i] = '.';
  sl_buf_put(b, tmp, (size_t)len);
}
