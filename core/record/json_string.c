/* json_string.c — JSON string bodies: byte classes, escape decoding, key comparison and field lookup.
 *
 * The scanner records where keys and values lie without decoding them; decoding happens here, only for
 * the fields an operator actually reads. Keys almost never hold escapes, so lookup compares raw bytes
 * first and decodes only keys flagged as escaped, streaming, without a scratch buffer. */
#include "core/record/json_internal.h"
#include "core/record/json_scan.h"

#include <string.h>

const uint8_t sl_json_plain_tab[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

#define X 0xFF
const uint8_t sl_json_hex_tab[256] = {
    X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, X, X, X, X, X, X,
    X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, 10, 11, 12, 13, 14, 15, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    X, X,  X,  X,  X,  X,  X,  X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
};
#undef X

/* Writes code point cp (<= 0x10FFFF) as UTF-8; returns its length. */
static size_t utf8_encode(uint32_t cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | cp >> 12);
    out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | cp >> 18);
  out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes \uXXXX at in[0] (and its low half when it is a high surrogate). A \uXXXX is 6 bytes and decodes
 * to at most 3; a pair is 12 and decodes to 4, so decoding never grows the text. */
static size_t unescape_u(const char *in, size_t avail, char out[4], size_t *produced) {
  int32_t cp = sl_json_hex4(in + 2);
  if (cp < 0) {
    out[0] = '\\';
    *produced = 1;
    return 1;
  }
  if (cp >= 0xD800 && cp <= 0xDBFF && avail >= 12 && in[6] == '\\' && in[7] == 'u') {
    int32_t lo = sl_json_hex4(in + 8);
    if (lo >= 0xDC00 && lo <= 0xDFFF) {
      *produced = utf8_encode(0x10000 + (((uint32_t)cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00), out);
      return 12;
    }
  }
  if (cp >= 0xD800 && cp <= 0xDFFF)
    cp = 0xFFFD;
  *produced = utf8_encode((uint32_t)cp, out);
  return 6;
}

size_t sl_json_unescape_one(const char *in, size_t avail, char out[4], size_t *produced) {
  *produced = 1;
  if (avail < 2) {
    out[0] = '\\';
    return 1;
  }
  char c = in[1];
  switch (c) {
  case 'b':
    out[0] = '\b';
    return 2;
  case 'f':
    out[0] = '\f';
    return 2;
  case 'n':
    out[0] = '\n';
    return 2;
  case 'r':
    out[0] = '\r';
    return 2;
  case 't':
    out[0] = '\t';
    return 2;
  case 'u':
    if (avail >= 6)
      return unescape_u(in, avail, out, produced);
    out[0] = '\\';
    return 1;
  default: /* '"', '\\', '/' and, in unvalidated text, anything else */
    out[0] = c;
    return 2;
  }
}

size_t sl_json_unescape(const char *in, size_t len, char *out) {
  const char *p = in, *end = in + len;
  char *o = out;
  while (p < end) {
    const char *bs = memchr(p, '\\', (size_t)(end - p));
    size_t run = (size_t)((bs ? bs : end) - p);
    /* memmove: decoding in place (out == in) is allowed since the output never overtakes the input. */
    memmove(o, p, run);
    o += run;
    if (!bs)
      break;
    char tmp[4];
    size_t produced;
    p = bs + sl_json_unescape_one(bs, (size_t)(end - bs), tmp, &produced);
    memcpy(o, tmp, produced);
    o += produced;
  }
  return (size_t)(o - out);
}

int sl_json_key_equals(const char *raw, size_t rawlen, int escaped, const char *key, size_t klen) {
  if (!escaped)
    return rawlen == klen && memcmp(raw, key, klen) == 0;
  if (klen > rawlen)
    return 0;
  const char *p = raw, *end = raw + rawlen, *k = key, *kend = key + klen;
  while (p < end) {
    if (*p != '\\') {
      if (k == kend || *k != *p)
        return 0;
      k++;
      p++;
      continue;
    }
    char tmp[4];
    size_t produced;
    p += sl_json_unescape_one(p, (size_t)(end - p), tmp, &produced);
    if ((size_t)(kend - k) < produced || memcmp(k, tmp, produced) != 0)
      return 0;
    k += produced;
  }
  return k == kend;
}

int sl_json_find(const char *line, const sl_json_field *fields, uint32_t n, const char *key, size_t klen) {
  /* Backwards, so that the last of repeated keys wins. */
  for (uint32_t i = n; i-- > 0;) {
    const sl_json_field *f = &fields[i];
    if (f->key_escaped ? sl_json_key_equals(line + f->key_off, f->key_len, 1, key, klen)
                       : f->key_len == klen && (klen == 0 || line[f->key_off] == key[0]) &&
                             memcmp(line + f->key_off, key, klen) == 0)
      return (int)i;
  }
  return -1;
}
