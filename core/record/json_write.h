/* json_write.h — a growable byte buffer and the JSON output primitives used to encode emitted records.
 *
 * The Lua encoder walks a record table and calls these (through the FFI, so the calls are JIT-compiled);
 * sinks write the buffer out in large writes. Output style matches the seed examples (Python's default
 * json.dumps): `{"url": "/api/a", "count": 1}` — ", " between members and ": " after keys. */
#ifndef SLUICE_JSON_WRITE_H
#define SLUICE_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_buf {
  char *data;
  size_t len, cap;
  int oom; /* set when an allocation failed; later puts are dropped, callers check it once at the end */
} sl_buf;

void sl_buf_init(sl_buf *b);
void sl_buf_free(sl_buf *b);
void sl_buf_reset(sl_buf *b); /* len = 0, keeps the memory */
/* Makes room for n more bytes; returns 0, or -1 (and sets oom). */
int sl_buf_reserve(sl_buf *b, size_t n);
void sl_buf_put(sl_buf *b, const void *p, size_t n);
void sl_buf_putc(sl_buf *b, char c);

/* A JSON string literal with quotes: escapes '"', '\\' and control characters (\n \r \t \b \f, else
 * \u00XX); valid UTF-8 passes through unchanged; each byte of an invalid UTF-8 sequence becomes \ufffd,
 * so the output is always valid JSON. */
void sl_buf_put_json_string(sl_buf *b, const char *s, size_t n);

/* A JSON number: an integral value with |x| < 2^63 prints as an integer ("42", "-7"); other finite values
 * print in the shortest form that reads back to the same double (%.15g, then %.16g, then %.17g);
 * NaN and infinities print as null (JSON has no such numbers). */
void sl_buf_put_json_number(sl_buf *b, double x);
void sl_buf_put_int64(sl_buf *b, int64_t v);

#endif
