/* line_reader.c — splits buffered input into lines (see line_reader.h). */
#include "core/line_reader.h"

#include <stdlib.h>
#include <string.h>

int sl_line_reader_init(sl_line_reader *r, size_t max_line, size_t read_size, uint64_t start_offset,
                        uint64_t start_line) {
  memset(r, 0, sizeof *r);
  r->max_line = max_line;
  r->read_size = read_size;
  r->offset = start_offset;
  r->line_no = start_line;
  r->cap = max_line + read_size + 1;
  r->buf = malloc(r->cap);
  return r->buf ? 0 : -1;
}

void sl_line_reader_free(sl_line_reader *r) {
  if (!r->external)
    free(r->buf);
  r->buf = NULL;
}

void sl_line_reader_use_mapping(sl_line_reader *r, const char *map, size_t len, uint64_t start_offset) {
  if (!r->external) /* again (the next split of a file): buf is the mapping already */
    free(r->buf);
  r->external = 1;
  r->buf = (char *)map; /* never written through: the mapping is read-only */
  r->cap = len;
  r->start = r->len = (size_t)start_offset;
  r->offset = start_offset;
  r->scan = 0;
}

size_t sl_line_reader_mapping_left(const sl_line_reader *r) {
  return r->cap - r->len;
}

void sl_line_reader_compact(sl_line_reader *r) {
  if (r->start == 0 || r->external)
    return;
  memmove(r->buf, r->buf + r->start, r->len - r->start);
  r->len -= r->start;
  r->start = 0;
}

int sl_line_reader_space(sl_line_reader *r, char **p, size_t *n) {
  if (r->external) {
    *p = r->buf + r->len;
    *n = r->cap - r->len;
    return 0;
  }
  if (r->cap - r->len < r->read_size)
    sl_line_reader_compact(r);
  if (r->cap - r->len < r->read_size) {
    /* Cannot happen while lines are bounded by max_line, but never overflow if it does. */
    char *nb = realloc(r->buf, r->len + r->read_size + 1);
    if (!nb)
      return -1;
    r->buf = nb;
    r->cap = r->len + r->read_size + 1;
  }
  *p = r->buf + r->len;
  *n = r->cap - r->len;
  return 0;
}

void sl_line_reader_commit(sl_line_reader *r, size_t n) {
  r->len += n;
}

int sl_line_reader_append(sl_line_reader *r, const char *p, size_t n) {
  while (n > 0) {
    char *dst;
    size_t room;
    if (sl_line_reader_space(r, &dst, &room))
      return -1;
    size_t k = n < room ? n : room;
    memcpy(dst, p, k);
    sl_line_reader_commit(r, k);
    p += k;
    n -= k;
  }
  return 0;
}

/* Hands out the bytes [start, start+len) as a line and consumes `consumed` bytes. */
static void take_line(sl_line_reader *r, sl_line *line, size_t len, size_t consumed, int too_long) {
  line->text = r->buf + r->start;
  line->len = len;
  line->line_no = ++r->line_no;
  line->too_long = too_long;
  r->start += consumed;
  r->offset += consumed;
  r->scan = 0;
  line->end_offset = r->offset;
}

int sl_line_reader_next(sl_line_reader *r, sl_line *line, int at_eof) {
  for (;;) {
    size_t avail = r->len - r->start;
    const char *base = r->buf + r->start;
    const char *nl = avail > r->scan ? memchr(base + r->scan, '\n', avail - r->scan) : NULL;
    if (r->skipping) {
      /* The rest of an over-long line, already reported: drop it. */
      size_t drop = nl ? (size_t)(nl - base) + 1 : avail;
      r->start += drop;
      r->offset += drop;
      r->scan = 0;
      if (!nl)
        return 0;
      r->skipping = 0;
      continue;
    }
    if (nl) {
      size_t len = (size_t)(nl - base);
      if (len > r->max_line) {
        take_line(r, line, r->max_line, len + 1, 1);
        return 1;
      }
      take_line(r, line, len, len + 1, 0);
      return 1;
    }
    r->scan = avail;
    if (avail > r->max_line) {
      /* Report now with what we have; skip the remainder until its newline arrives. */
      take_line(r, line, r->max_line, avail, 1);
      r->skipping = 1;
      return 1;
    }
    if (at_eof && avail > 0) {
      take_line(r, line, avail, avail, 0);
      return 1;
    }
    return 0;
  }
}

size_t sl_count_newlines(const char *p, size_t n) {
  size_t count = 0;
  if (n == 0)
    return 0; /* p may be NULL: memchr must not see it */
  for (const char *end = p + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
    count++;
  return count;
}
