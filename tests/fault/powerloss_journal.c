/* powerloss_journal.c — reading the power-loss undo journal back (format in powerloss_journal.h). */
#include "powerloss_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *pl_link_path(const char *journal, uint64_t dev, uint64_t ino, char *out, size_t len) {
  snprintf(out, len, "%s.links/i-%" PRIu64 "-%" PRIu64, journal, dev, ino);
  return out;
}

/* Reads exactly n bytes; 1 when they were all there, 0 at a (torn) end. */
static int read_exact(int fd, void *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return 0;
    p = (char *)p + r;
    n -= (size_t)r;
  }
  return 1;
}

static char *read_string(int fd, uint32_t len, int *ok) {
  char *s = malloc((size_t)len + 1);
  if (!s || !read_exact(fd, s, len)) {
    free(s);
    *ok = 0;
    return NULL;
  }
  s[len] = '\0';
  return s;
}

int pl_journal_read(const char *path, pl_record **recs, size_t *n) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t cap = 0;
  *recs = NULL;
  *n = 0;
  for (;;) {
    pl_record r = {0};
    int ok = 1;
    if (!read_exact(fd, &r.h, sizeof r.h) || r.h.magic != PL_MAGIC)
      break;
    r.path1 = read_string(fd, r.h.len1, &ok);
    r.path2 = ok ? read_string(fd, r.h.len2, &ok) : NULL;
    if (ok && r.h.data_len) {
      r.data = malloc(r.h.data_len);
      ok = r.data && read_exact(fd, r.data, r.h.data_len);
    }
    if (!ok) {
      pl_records_free(&r, 1);
      break;
    }
    if (*n == cap) {
      cap = cap ? cap * 2 : 256;
      pl_record *grown = realloc(*recs, cap * sizeof **recs);
      if (!grown) {
        pl_records_free(&r, 1);
        close(fd);
        errno = ENOMEM;
        return -1;
      }
      *recs = grown;
    }
    (*recs)[(*n)++] = r;
  }
  close(fd);
  return 0;
}

void pl_records_free(pl_record *recs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(recs[i].path1);
    free(recs[i].path2);
    free(recs[i].data);
  }
}
