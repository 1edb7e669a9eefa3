/* output.c — stdout, the two-phase file sink, and the dead-letter file (see output.h). */
#include "core/output.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

void sl_output_part_path(const sl_output *o, uint64_t id, char *path, size_t len) {
  snprintf(path, len, "%s/part-%020" PRIu64, o->pending_dir, id);
}

static int open_part(sl_output *o, uint64_t id) {
  char path[4096];
  sl_output_part_path(o, id, path, sizeof path);
  o->part_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  o->part_id = id;
  o->part_len = 0;
  return o->part_fd < 0 ? -1 : 0;
}

int sl_output_open(sl_output *o, const sl_endpoint *ep, const char *pending_dir, char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  o->fd = 1;
  o->part_fd = -1;
  if (ep->kind != SL_EP_FILE)
    return 0;
  o->path = strdup(ep->path);
  o->pending_dir = strdup(pending_dir);
  if (mkdir(pending_dir, 0755) && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", pending_dir, strerror(errno));
    return -1;
  }
  o->fd = open(ep->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (o->fd < 0) {
    snprintf(err, errlen, "cannot open output '%s': %s", ep->path, strerror(errno));
    return -1;
  }
  o->real_path = realpath(ep->path, NULL);
  if (!o->real_path)
    o->real_path = strdup(ep->path);
  return 0;
}

/* Appends parts first..last at the output's committed end (pwrite: the file's size never matters) and
 * syncs. Returns the bytes appended, or -1. */
static int64_t append_parts(sl_output *o, uint64_t first, uint64_t last) {
  char buf[1 << 16], path[4096];
  off_t at = (off_t)o->committed;
  for (uint64_t id = first; id <= last; id++) {
    sl_output_part_path(o, id, path, sizeof path);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
      return -1;
    ssize_t n;
    /* copy_file_range copies inside the kernel (no trip through user memory); plain reads and writes are
     * the fallback where it is not supported. */
    while ((n = copy_file_range(in, NULL, o->fd, &at, 1 << 30, 0)) > 0)
      ;
    if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
      while ((n = read(in, buf, sizeof buf)) > 0) {
        if (pwrite(o->fd, buf, (size_t)n, at) != n) {
          close(in);
          return -1;
        }
        at += n;
      }
    }
    close(in);
    if (n < 0)
      return -1;
  }
  if (fdatasync(o->fd) != 0)
    return -1;
  return (int64_t)(at - (off_t)o->committed);
}

static void delete_parts(const sl_output *o, uint64_t first, uint64_t last) {
  char path[4096];
  for (uint64_t id = first; id <= last; id++) {
    sl_output_part_path(o, id, path, sizeof path);
    unlink(path);
  }
}

int sl_output_sync_parts(const sl_output *o, uint64_t first, uint64_t last) {
  char path[4096];
  if (!o->path)
    return 0;
  for (uint64_t id = first; id <= last; id++) {
    sl_output_part_path(o, id, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
      if (fd >= 0)
        close(fd);
      return -1;
    }
    close(fd);
  }
  return 0;
}

/* Deletes every pending part. */
static void discard_parts(sl_output *o) {
  DIR *d = opendir(o->pending_dir);
  struct dirent *e;
  char path[4096];
  while (d && (e = readdir(d)))
    if (!strncmp(e->d_name, "part-", 5)) {
      snprintf(path, sizeof path, "%s/%s", o->pending_dir, e->d_name);
      unlink(path);
    }
  if (d)
    closedir(d);
}

int sl_output_recover(sl_output *o, const sl_checkpoint_meta *m, uint64_t next_id, char *err, size_t errlen) {
  struct stat st;
  if (!o->path)
    return 0;
  if (m && strcmp(m->sink_path, o->real_path) != 0)
    m = NULL; /* the checkpoint's output was another file: this one starts empty */
  o->committed = m ? m->sink_committed : 0;
  uint64_t want = o->committed + (m ? m->sink_part : 0);
  if (fstat(o->fd, &st) != 0) {
    snprintf(err, errlen, "cannot stat output '%s': %s", o->path, strerror(errno));
    return -1;
  }
  if (m && m->sink_part > 0 && (uint64_t)st.st_size < want) {
    /* The crash came between the checkpoint's completion and the end of its commit: commit again. Parts are
     * deleted only after the whole append was synced, so here they all still exist. */
    int64_t n = append_parts(o, m->sink_first_part, m->id);
    if (n != (int64_t)m->sink_part) {
      snprintf(err, errlen, "cannot commit the pending output of checkpoint %llu to '%s'",
               (unsigned long long)m->id, o->path);
      return -1;
    }
  }
  /* Anything past the committed size came from records after the checkpoint: they will be read again. */
  if (ftruncate(o->fd, (off_t)want) != 0 || fdatasync(o->fd) != 0) {
    snprintf(err, errlen, "cannot restore output '%s': %s", o->path, strerror(errno));
    return -1;
  }
  o->committed = want;
  discard_parts(o);
  if (open_part(o, next_id)) {
    snprintf(err, errlen, "cannot create a pending part in %s: %s", o->pending_dir, strerror(errno));
    return -1;
  }
  return 0;
}

int sl_output_write(sl_output *o, sl_buf *buf) {
  if (buf->len == 0)
    return 0;
  int fd = o->path ? o->part_fd : o->fd;
  if (write_all(fd, buf->data, buf->len)) {
    sl_error("writing output '%s' failed: %s", o->path ? o->path : "stdout", strerror(errno));
    return -1;
  }
  o->part_len += buf->len;
  sl_buf_reset(buf);
  return 0;
}

int sl_output_rotate(sl_output *o, uint64_t next_id, uint64_t *part_id, uint64_t *part_len) {
  *part_id = o->part_id;
  *part_len = o->part_len;
  if (!o->path) {
    o->part_id = next_id;
    o->part_len = 0;
    return 0;
  }
  close(o->part_fd);
  if (open_part(o, next_id)) {
    sl_error("cannot create a pending part in %s: %s", o->pending_dir, strerror(errno));
    return -1;
  }
  return 0;
}

int sl_output_commit_parts(sl_output *o, uint64_t first, uint64_t last, uint64_t len) {
  if (!o->path)
    return 0;
  int64_t n = append_parts(o, first, last);
  if (n != (int64_t)len) {
    sl_error("committing pending output to '%s' failed: %s (recovery will redo it)", o->path,
             n < 0 ? strerror(errno) : "a pending part has the wrong size");
    return -1;
  }
  o->committed += len;
  delete_parts(o, first, last);
  return 0;
}

void sl_output_close(sl_output *o) {
  if (o->part_fd >= 0)
    close(o->part_fd);
  if (o->fd > 2)
    close(o->fd);
  free(o->path);
  free(o->real_path);
  free(o->pending_dir);
  memset(o, 0, sizeof *o);
  o->fd = -1;
  o->part_fd = -1;
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
