/* sink_file.c — the two-phase (exactly-once) file sink, for a regular --output file (see output.h for the
 * protocol): records go to STATE-DIR/pending/part-<id>; a checkpoint's barrier closes the part
 * (pre-commit), the checkpoint thread fsyncs it and checksums it into the checkpoint's metadata, and once the
 * checkpoint is complete its parts are appended to the output file and deleted (commit). Recovery puts the
 * file back to the checkpoint's content — only when it can prove the file is the one that checkpoint wrote.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fd_write.h"
#include "core/sink_kind.h"
#include "core/state_dir.h"
#include "state/file_modes.h"
#include "state/state_snapshot.h"

static void part_path(const sl_output *o, uint64_t id, char *path, size_t len) {
  sl_pending_part(o->pending_dir, id, path, len);
}

static int open_part(sl_output *o, uint64_t id) {
  char path[4096];
  part_path(o, id, path, sizeof path);
  o->part_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, SL_STATE_FILE_MODE);
  o->part_id = id;
  o->part_len = 0;
  return o->part_fd < 0 ? -1 : 0;
}

/* Takes fd (the regular --output file, opened by output.c; created: this run made it) as a two-phase sink.
 * 0, or -1 with err. */
static int file_open(sl_output *o, int created, const struct stat *st, const char *pending_dir, char *err,
                     size_t errlen) {
  o->dev = (uint64_t)st->st_dev;
  o->ino = (uint64_t)st->st_ino;
  o->real_path = realpath(o->path, NULL);
  if (!o->real_path)
    o->real_path = strdup(o->path);
  if (!o->real_path) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (created && sl_fsync_parent(o->real_path)) {
    /* A new output file whose name a power loss could take back, with its committed records in it. */
    snprintf(err, errlen, "cannot sync the directory of output '%s': %s", o->path, strerror(errno));
    return -1;
  }
  o->pending_dir = strdup(pending_dir);
  if (!o->pending_dir) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (mkdir(pending_dir, SL_STATE_DIR_MODE) && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", pending_dir, strerror(errno));
    return -1;
  }
  return 0;
}

/* Appends parts first..last at the output's committed end (pwrite: the file's size never matters) and
 * syncs. Returns the bytes appended, or -1. */
static int64_t append_parts(sl_output *o, uint64_t first, uint64_t last) {
  char buf[1 << 16], path[4096];
  off_t at = (off_t)o->committed;
  for (uint64_t id = first; id <= last; id++) {
    part_path(o, id, path, sizeof path);
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

int sl_sink_parts_present(const char *pending_dir, uint64_t first, uint64_t last) {
  char path[4096];
  for (uint64_t id = first; id <= last; id++) {
    sl_pending_part(pending_dir, id, path, sizeof path);
    if (access(path, F_OK) != 0)
      return 0;
  }
  return 1;
}

void sl_sink_delete_parts(const char *pending_dir, uint64_t first, uint64_t last) {
  char path[4096];
  for (uint64_t id = first; id <= last; id++) {
    sl_pending_part(pending_dir, id, path, sizeof path);
    unlink(path);
  }
}

/* Reads parts first..last of pending_dir in order, adding their bytes to the running CRC-32 *crc (of the
 * concatenation) and *len; fd_sync: also fsync each; copy_to >= 0: also write them there. 0, or -1 with
 * errno (ENOENT: a part is missing). */
static int read_parts(const char *pending_dir, uint64_t first, uint64_t last, int fd_sync, int copy_to,
                      uint32_t *crc, uint64_t *len) {
  char path[4096], buf[1 << 16];
  for (uint64_t id = first; id <= last; id++) {
    sl_pending_part(pending_dir, id, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return -1;
    ssize_t n;
    int failed = 0;
    while (!failed && ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)))
      if (n > 0) {
        failed = copy_to >= 0 && sl_write_all(copy_to, buf, (size_t)n) != 0;
        *crc = sl_crc32(*crc, buf, (size_t)n);
        *len += (uint64_t)n;
      }
    int e = errno;
    if (failed || n < 0 || (fd_sync && fsync(fd) != 0)) {
      e = failed || n < 0 ? e : errno;
      close(fd);
      errno = e;
      return -1;
    }
    close(fd);
  }
  return 0;
}

/* Their CRC-32 and total length (read_parts from nothing). */
static int scan_parts(const char *pending_dir, uint64_t first, uint64_t last, int fd_sync, uint32_t *crc,
                      uint64_t *len) {
  *crc = 0;
  *len = 0;
  return read_parts(pending_dir, first, last, fd_sync, -1, crc, len);
}

static int file_sync(const sl_output *o, uint64_t first, uint64_t last, uint32_t *crc) {
  uint64_t len;
  *crc = 0;
  /* The parts' names must survive a power loss too: the pending directory is synced after them. */
  if (scan_parts(o->pending_dir, first, last, 1, crc, &len) || sl_fsync_dir(o->pending_dir))
    return -1;
  return 0;
}

int sl_output_check_pending(const char *pending_dir, const sl_checkpoint_meta *m, char *err, size_t errlen) {
  char path[4096];
  if (m->sink_part == 0)
    return 0;
  /* A commit deletes the parts only once the output holds them: if any is gone, none is needed. */
  for (uint64_t id = m->sink_first_part; id <= m->id; id++) {
    sl_pending_part(pending_dir, id, path, sizeof path);
    if (access(path, F_OK) != 0)
      return 0;
  }
  uint32_t crc;
  uint64_t len;
  if (scan_parts(pending_dir, m->sink_first_part, m->id, 0, &crc, &len)) {
    snprintf(err, errlen, "cannot read its pending output in %s: %s", pending_dir, strerror(errno));
    return -1;
  }
  if (len != m->sink_part || crc != m->sink_crc) {
    snprintf(err, errlen, "its pending output (parts %" PRIu64 "-%" PRIu64 " in %s) is damaged: %s",
             m->sink_first_part, m->id, pending_dir,
             len != m->sink_part ? "wrong length" : "checksum mismatch");
    return SL_META_CORRUPT;
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

/* Whether the output file is the one checkpoint m wrote: the same path, and (for metadata that records it)
 * the same device and inode. Only such a file may be cut back or appended to. */
static int written_by(const sl_output *o, const sl_checkpoint_meta *m) {
  if (!m || !m->sink_path[0] || strcmp(m->sink_path, o->real_path) != 0)
    return 0;
  return m->sink_dev == 0 || (m->sink_dev == o->dev && m->sink_ino == o->ino);
}

static int file_recover(sl_output *o, const sl_checkpoint_meta *m, uint64_t next_id, int overwrite, char *err,
                        size_t errlen) {
  struct stat st;
  if (fstat(o->fd, &st) != 0) {
    snprintf(err, errlen, "cannot stat output '%s': %s", o->path, strerror(errno));
    return -1;
  }
  uint64_t size = (uint64_t)st.st_size, want = 0;
  if (written_by(o, m)) {
    want = m->sink_committed + m->sink_part;
    /* Short of want with m's parts still pending: the crash came in the middle of m's commit. Short of it
     * otherwise: someone cut the file. */
    int mid_commit = m->sink_part > 0 && size >= m->sink_committed &&
                     sl_sink_parts_present(o->pending_dir, m->sink_first_part, m->id);
    if (size < want && !mid_commit && !overwrite) {
      snprintf(
          err, errlen,
          "output '%s' holds %llu bytes, fewer than the %llu that checkpoint %llu committed to it: it was "
          "cut or emptied since. Restore it, or pass --overwrite-output to start it afresh (the job's state "
          "goes on from the checkpoint)",
          o->path, (unsigned long long)size, (unsigned long long)want, (unsigned long long)m->id);
      return -1;
    }
    if (size < want && !mid_commit) {
      want = 0;
    } else if (size < want) {
      /* The crash came between the checkpoint's completion and the end of its commit: commit again. Parts
       * are deleted only after the whole append was synced, so here they all still exist. */
      o->committed = m->sink_committed;
      int64_t n = append_parts(o, m->sink_first_part, m->id);
      if (n != (int64_t)m->sink_part) {
        snprintf(err, errlen, "cannot commit the pending output of checkpoint %llu to '%s': %s",
                 (unsigned long long)m->id, o->path,
                 n < 0 ? strerror(errno) : "a pending part is missing or short");
        return -1;
      }
    }
  } else if (size > 0 && !overwrite) {
    snprintf(err, errlen,
             "output '%s' already holds %llu bytes and is not the file this state dir's last checkpoint "
             "wrote%s%s%s; "
             "sluice never cuts back a file it cannot prove is its own. Choose another --output, or pass "
             "--overwrite-output to replace its content",
             o->path, (unsigned long long)size, m && m->sink_path[0] ? " (that was '" : "",
             m && m->sink_path[0] ? m->sink_path : "", m && m->sink_path[0] ? "')" : "");
    return -1;
  }
  /* Anything past want came from records after the checkpoint: they will be read again. */
  if (size != want && (ftruncate(o->fd, (off_t)want) != 0 || fdatasync(o->fd) != 0)) {
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

static int file_write(sl_output *o, const sl_buf *buf, char *err, size_t errlen) {
  if (sl_write_all(o->part_fd, buf->data, buf->len)) {
    snprintf(err, errlen, "writing output '%s' failed: %s", o->path, strerror(errno));
    return -1;
  }
  return 0;
}

static int file_precommit(sl_output *o, uint64_t next_id, char *err, size_t errlen) {
  /* close() reports what a delayed write-back could not store (NFS, some FUSE file systems). */
  int closed = close(o->part_fd);
  o->part_fd = -1;
  if (closed != 0) {
    snprintf(err, errlen, "closing pending output part %" PRIu64 " failed: %s", o->part_id, strerror(errno));
    return -1;
  }
  if (open_part(o, next_id)) {
    snprintf(err, errlen, "cannot create a pending part in %s: %s", o->pending_dir, strerror(errno));
    return -1;
  }
  return 0;
}

static int file_commit(sl_output *o, uint64_t first, uint64_t last, uint64_t len, char *err, size_t errlen) {
  int64_t n = append_parts(o, first, last);
  if (n != (int64_t)len) {
    snprintf(err, errlen, "committing pending output to '%s' failed: %s", o->path,
             n < 0 ? strerror(errno) : "a pending part has the wrong size");
    return -1;
  }
  o->committed += len;
  sl_sink_delete_parts(o->pending_dir, first, last);
  return 0;
}

static void file_close(sl_output *o) {
  if (o->part_fd >= 0)
    close(o->part_fd);
  if (o->fd >= 0)
    close(o->fd);
}

static int file_start_parts(sl_output *o, uint64_t next_id, char *err, size_t errlen) {
  discard_parts(o);
  if (open_part(o, next_id)) {
    snprintf(err, errlen, "cannot create a pending part in %s: %s", o->pending_dir, strerror(errno));
    return -1;
  }
  return 0;
}

int sl_output_gather_parts(sl_output *o, uint64_t into_id, const char *const *dirs, const uint64_t *first,
                           const uint64_t *last, int n, uint64_t *len, uint32_t *crc, char *err,
                           size_t errlen) {
  char path[4096];
  part_path(o, into_id, path, sizeof path);
  int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, SL_STATE_FILE_MODE);
  if (out < 0) {
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  uint64_t total = 0;
  uint32_t sum = 0;
  for (int t = 0; t < n; t++)
    if (read_parts(dirs[t], first[t], last[t], 0, out, &sum, &total)) {
      snprintf(err, errlen, "gathering pending output from %s into %s: %s", dirs[t], path, strerror(errno));
      close(out);
      return -1;
    }
  /* Durable before the metadata that names it, with its name (as file_sync makes a part durable). */
  if (fsync(out) != 0 || close(out) != 0 || sl_fsync_dir(o->pending_dir) != 0) {
    snprintf(err, errlen, "syncing %s: %s", path, strerror(errno));
    return -1;
  }
  *len = total;
  *crc = sum;
  return 0;
}

const sl_sink_ops sl_sink_file_ops = {file_open,   file_write,   file_precommit, file_sync,
                                      file_commit, file_recover, file_close,     file_start_parts};
