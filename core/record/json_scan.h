/* json_scan.h — validate one JSON line and index its top-level fields, without building anything.
 *
 * Records are read lazily: the runtime validates the whole line once (RFC 8259: one value, UTF-8, no raw
 * control characters in strings, valid escapes and surrogate pairs, numbers in the grammar, only
 * whitespace after the value), in one non-recursive pass with an explicit depth limit, and records where
 * each top-level field's key and value lie. Operators then read only the fields they touch.
 * A line whose root is not an object is rejected (records are JSON objects).
 * Nothing here allocates; the caller owns every buffer. */
#ifndef SLUICE_JSON_SCAN_H
#define SLUICE_JSON_SCAN_H

#include <stddef.h>
#include <stdint.h>

typedef enum sl_json_type {
  SL_JSON_NULL = 0,
  SL_JSON_FALSE = 1,
  SL_JSON_TRUE = 2,
  SL_JSON_NUMBER = 3,
  SL_JSON_STRING = 4,
  SL_JSON_ARRAY = 5,
  SL_JSON_OBJECT = 6,
} sl_json_type;

/* One top-level field. Offsets are from the start of the line.
 * key_off/key_len: the key's bytes between its quotes, escapes not decoded.
 * val_off/val_len: for strings, the bytes between the quotes, escapes not decoded; otherwise the whole
 * value's text (e.g. "12.5", "true", "{...}"). *_escaped is 1 when the bytes contain a backslash. */
typedef struct sl_json_field {
  uint32_t key_off, key_len;
  uint32_t val_off, val_len;
  uint8_t type; /* sl_json_type */
  uint8_t key_escaped;
  uint8_t val_escaped;
} sl_json_field;

typedef struct sl_json_error {
  size_t offset;      /* byte offset in the line where the problem was found */
  const char *reason; /* static text, e.g. "invalid escape", "unterminated string", "nesting too deep" */
} sl_json_error;

#define SL_JSON_MAX_DEPTH 256

/* Validates line[0..len) and indexes up to cap top-level fields into fields[]. Returns 0 on success with
 * *nfields set; when the object has more than cap fields the line is still validated and *nfields is the
 * true count (> cap): callers then fall back to sl_json_find_scan. Returns -1 on invalid JSON (or a
 * non-object root) with *err filled. A trailing '\r' (CRLF line) is treated as whitespace. */
int sl_json_scan(const char *line, size_t len, sl_json_field *fields, uint32_t cap, uint32_t *nfields,
                 sl_json_error *err);

/* Index of the field whose (unescaped) key equals key[0..klen) among fields[0..n), or -1. When keys
 * repeat, the last one wins (as in most parsers). */
int sl_json_find(const char *line, const sl_json_field *fields, uint32_t n, const char *key, size_t klen);

/* For lines with more fields than the index holds: finds the top-level field by scanning the (already
 * validated) line. Returns 0 and fills *out, or -1 if absent. */
int sl_json_find_scan(const char *line, size_t len, const char *key, size_t klen, sl_json_field *out);

/* Decodes the escapes of a validated string body in[0..len) into out (capacity >= len suffices: decoding
 * never grows the text). Returns the decoded length. */
size_t sl_json_unescape(const char *in, size_t len, char *out);

#endif
