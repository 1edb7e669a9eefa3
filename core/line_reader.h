/* line_reader.h — the reader core every source shares: a buffer that input is read into, split into
 * lines, with line numbers, byte offsets and the over-long-line rule.
 *
 * Zero copy for the common case: a source asks for free space (sl_line_reader_space), reads into it, and
 * commits the bytes; complete lines are handed out as pointers into the buffer, valid until the next
 * sl_line_reader_compact(). The buffer never grows past max_line + one read: a line longer than max_line
 * is reported once as over-long and its bytes are skipped up to the next newline, so a hostile input can
 * not make the process buffer without bound. */
#ifndef SLUICE_LINE_READER_H
#define SLUICE_LINE_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_line {
  const char *text; /* without the '\n' (a trailing '\r' is kept; the JSON scanner treats it as space) */
  size_t len;
  uint64_t line_no;    /* 1-based */
  uint64_t end_offset; /* byte offset just past this line's newline in the stream */
  int too_long;        /* 1: the line exceeded max_line; text holds its first bytes only */
} sl_line;

typedef struct sl_line_reader {
  char *buf;              /* our buffer, or a read-only file mapping in external mode */
  int external;           /* buf is a mapping of the whole input: lines point into it, nothing is copied */
  size_t start, len, cap; /* unconsumed bytes are buf[start .. len) */
  size_t scan;            /* bytes before this (from start) are known to have no newline */
  size_t max_line;
  size_t read_size;
  int skipping;     /* inside an over-long line: drop bytes until the next newline */
  uint64_t line_no; /* lines handed out so far */
  uint64_t offset;  /* stream offset of buf[start] */
} sl_line_reader;

/* read_size is the size of one read (e.g. 1 MiB). start_offset/start_line let a source resume. */
int sl_line_reader_init(sl_line_reader *r, size_t max_line, size_t read_size, uint64_t start_offset,
                        uint64_t start_line);
void sl_line_reader_free(sl_line_reader *r);

/* Switches to external mode over a mapping of a whole file (len bytes: the end of what is read, which a
 * split of the file ends before the file does; called again for the next split), resuming at start_offset: the
 * source then "reads" by sl_line_reader_commit of the next window, with no copy. The reader's own buffer
 * is freed; the caller owns the mapping and unmaps it after sl_line_reader_free. */
void sl_line_reader_use_mapping(sl_line_reader *r, const char *map, size_t len, uint64_t start_offset);
/* External mode: bytes of the mapping not yet committed. */
size_t sl_line_reader_mapping_left(const sl_line_reader *r);

/* Free space to read into (at least read_size bytes). Returns -1 on out of memory. */
int sl_line_reader_space(sl_line_reader *r, char **p, size_t *n);
/* Marks n bytes (read into the space) as received. */
void sl_line_reader_commit(sl_line_reader *r, size_t n);
/* Copies n bytes in (for stream sources whose buffer is not ours). Returns -1 on out of memory. */
int sl_line_reader_append(sl_line_reader *r, const char *p, size_t n);

/* Next complete line: 1 and *line filled, or 0 when no complete line is buffered. At end of input pass
 * at_eof = 1 to also get a last line that has no newline. */
int sl_line_reader_next(sl_line_reader *r, sl_line *line, int at_eof);

/* Drops the bytes of lines already handed out (invalidates their pointers). */
void sl_line_reader_compact(sl_line_reader *r);

/* The newlines in p[0..n) (p may be NULL when n is 0). */
size_t sl_count_newlines(const char *p, size_t n);

#endif
