/* json_internal.h — pieces shared by the JSON scanner and writer (core/record/json_*.c only, not a public API).
 *
 * Both the scanner and the writer spend their time skipping "plain" string bytes: printable ASCII other
 * than '"' and '\\'. The skip is inline and, on x86-64, looks at 16 bytes per step with SSE2; a signed
 * compare against 0x20 catches control characters and every byte >= 0x80 in one instruction. UTF-8 is
 * only decoded when a byte >= 0x80 actually shows up, so ASCII-only strings do no UTF-8 work. */
#ifndef SLUICE_JSON_INTERNAL_H
#define SLUICE_JSON_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* 1 for bytes that may appear in a JSON string body as themselves with no further checks. */
extern const uint8_t sl_json_plain_tab[256];
/* Value of a hex digit, or 0xFF. */
extern const uint8_t sl_json_hex_tab[256];

/* Returns the first byte in [p, end) that is not plain (see above), or end. */
static inline const char *sl_json_skip_plain(const char *p, const char *end) {
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                               _mm_cmplt_epi8(v, space));
    int mask = _mm_movemask_epi8(hit);
    if (mask)
      return p + __builtin_ctz((unsigned)mask);
    p += 16;
  }
#endif
  while (p < end && sl_json_plain_tab[(unsigned char)*p])
    p++;
  return p;
}

/* Length (2..4) of the well-formed UTF-8 sequence starting with the non-ASCII byte p[0], among avail
 * bytes, or 0 when it is not one: stray continuation bytes, overlongs (C0, C1, E0 80..9F, F0 80..8F),
 * encoded surrogates (ED A0..BF), code points past U+10FFFF, F5..FF and truncated sequences. */
static inline size_t sl_utf8_seq_len(const unsigned char *p, size_t avail) {
  unsigned c = p[0], lo = 0x80, hi = 0xBF;
  size_t n;
  if (c < 0xC2)
    return 0;
  if (c < 0xE0) {
    n = 2;
  } else if (c < 0xF0) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c < 0xF5) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return 0;
  }
  if (avail < n || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xC0) != 0x80)
      return 0;
  return n;
}

/* Value of the 4 hex digits at p, or -1. */
static inline int32_t sl_json_hex4(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  uint32_t a = sl_json_hex_tab[u[0]], b = sl_json_hex_tab[u[1]], c = sl_json_hex_tab[u[2]],
           d = sl_json_hex_tab[u[3]];
  if ((a | b | c | d) & 0xF0)
    return -1;
  return (int32_t)(a << 12 | b << 8 | c << 4 | d);
}

/* Decodes the escape starting at in[0] == '\\' (avail bytes readable) into out[0..4); sets *produced and
 * returns the number of input bytes consumed (>= 1, and always >= *produced). Malformed escapes, which a
 * validated line never holds, decode without reading past avail: a lone surrogate becomes U+FFFD. */
size_t sl_json_unescape_one(const char *in, size_t avail, char out[4], size_t *produced);

/* 1 when the raw key bytes raw[0..rawlen) (escaped says whether they hold a backslash) decode to
 * key[0..klen). */
int sl_json_key_equals(const char *raw, size_t rawlen, int escaped, const char *key, size_t klen);

#endif
