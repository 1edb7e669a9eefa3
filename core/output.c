/* output.c — sink files, stdout and the dead-letter file (see output.h). */
#include "core/output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Cuts the file back to the size committed by the previous run, or empties it on a first run. */
static int restore_size(sl_output *o, sl_backend *b, char *err, size_t errlen) {
  const void *val;
  size_t len;
  uint64_t committed = 0;
  struct stat st;
  if (sl_backend_meta_get(b, o->meta_key, &val, &len) == SL_STATE_OK && len == sizeof committed)
    memcpy(&committed, val, sizeof committed);
  if (fstat(o->fd, &st) != 0) {
    snprintf(err, errlen, "cannot stat output '%s': %s", o->path, strerror(errno));
    return -1;
  }
  if ((uint64_t)st.st_size < committed) {
    sl_warn("output '%s' is shorter than the %llu bytes committed before; appending to it", o->path,
            (unsigned long long)committed);
    committed = (uint64_t)st.st_size;
  } else if ((uint64_t)st.st_size > committed) {
    if (committed > 0)
      sl_info("output '%s': dropping %llu bytes written after the last commit (their records are read again)",
              o->path, (unsigned long long)((uint64_t)st.st_size - committed));
    if (ftruncate(o->fd, (off_t)committed) != 0) {
      snprintf(err, errlen, "cannot truncate output '%s': %s", o->path, strerror(errno));
      return -1;
    }
  }
  o->size = committed;
  return 0;
}

int sl_output_open(sl_output *o, const sl_endpoint *ep, sl_backend *b, char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  o->fd = 1;
  if (ep->kind != SL_EP_FILE)
    return 0;
  o->path = strdup(ep->path);
  o->fd = open(ep->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (o->fd < 0) {
    snprintf(err, errlen, "cannot open output '%s': %s", ep->path, strerror(errno));
    return -1;
  }
  char real[PATH_MAX];
  if (!realpath(ep->path, real))
    snprintf(real, sizeof real, "%s", ep->path);
  size_t n = strlen(real) + 6;
  o->meta_key = malloc(n);
  snprintf(o->meta_key, n, "sink/%s", real);
  return restore_size(o, b, err, errlen);
}

int sl_output_write(sl_output *o, sl_buf *buf) {
  if (buf->len == 0)
    return 0;
  if (write_all(o->fd, buf->data, buf->len)) {
    sl_error("writing output '%s' failed: %s", o->path ? o->path : "stdout", strerror(errno));
    return -1;
  }
  o->size += buf->len;
  sl_buf_reset(buf);
  return 0;
}

int sl_output_prepare_commit(sl_output *o, sl_backend *b, int durable) {
  if (!o->meta_key)
    return 0;
  if (durable && fdatasync(o->fd) != 0) {
    sl_error("syncing output '%s' failed: %s", o->path, strerror(errno));
    return -1;
  }
  return sl_backend_meta_put(b, o->meta_key, &o->size, sizeof o->size) == SL_STATE_OK ? 0 : -1;
}

void sl_output_close(sl_output *o) {
  if (o->fd > 2)
    close(o->fd);
  free(o->path);
  free(o->meta_key);
  memset(o, 0, sizeof *o);
  o->fd = -1;
}

void sl_dead_letter_write(int fd, const char *source, unsigned long long line_no, const char *reason,
                          const char *text, size_t len) {
  sl_buf b;
  char num[32];
  if (fd < 0)
    return;
  sl_buf_init(&b);
  sl_buf_put(&b, "{\"source\": ", 11);
  sl_buf_put_json_string(&b, source, strlen(source));
  snprintf(num, sizeof num, ", \"line\": %llu", line_no);
  sl_buf_put(&b, num, strlen(num));
  sl_buf_put(&b, ", \"error\": ", 11);
  sl_buf_put_json_string(&b, reason, strlen(reason));
  sl_buf_put(&b, ", \"record\": ", 12);
  sl_buf_put_json_string(&b, text, len);
  sl_buf_put(&b, "}\n", 2);
  if (!b.oom && write_all(fd, b.data, b.len))
    sl_warn("writing the dead-letter file failed: %s", strerror(errno));
  sl_buf_free(&b);
}
