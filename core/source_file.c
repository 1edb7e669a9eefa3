/* source_file.c — sources that read a descriptor: a file (or device, or FIFO) by path, and the shared part
 * of stdin (source_stdin.c opens fd 0 and uses the rest of this file).
 *
 * Regular files and devices (and stdin redirected from one, /dev/null included) are read with plain read()
 * from an idle handle, one chunk per loop turn: a local file read does not block in any way that matters, and
 * it saves the thread-pool round trip libuv's uv_fs_read would cost per chunk. Pipes and terminals are read
 * through a libuv stream. With --follow a file at its end is polled for growth, truncation and rotation (a
 * new inode at the path, as logrotate leaves it), like `tail -F`. A file's offset and line number are
 * committed with the state, so a restarted job resumes where the last commit left it, provided the file is
 * the same (device and inode); a different file at the path is read from its start. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/source_kind.h"
#include "core/source_splits.h"
#include "core/stream_input.h"

#define READ_SIZE (1u << 20)
#define FOLLOW_POLL_MS 100

static sl_fd_source *fd_src(sl_source *s) {
  return (sl_fd_source *)s;
}

typedef struct sl_offset_record {
  uint64_t dev, ino, offset, line;
} sl_offset_record;

static void close_handle(sl_source *s, uv_handle_t *h) {
  if (h->loop && !uv_is_closing(h)) { /* zeroed until initialised: a source that never started */
    h->data = s;
    uv_close(h, NULL);
  }
}

static void finish(sl_source *s) {
  if (s->closed)
    return;
  sl_runtime_consume(s->in.rt, &s->in, 1);
  sl_runtime_source_done(s->in.rt);
  sl_source_close(s);
}

/* Maps a regular file that is read to its end once (no --follow): lines are then read in place, with no
 * copy into a buffer. A followed file grows and rotates, so it is read with read(). */
static void try_map(sl_source *s, const struct stat *st) {
  if (fd_src(s)->follow || st->st_size <= 0)
    return;
  void *map = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE, fd_src(s)->fd, 0);
  if (map == MAP_FAILED)
    return; /* fine: read() it is */
  madvise(map, (size_t)st->st_size, MADV_SEQUENTIAL);
  fd_src(s)->map = map;
  fd_src(s)->map_len = (size_t)st->st_size;
}

/* Reads the mapping from the reader's resume point (the whole file), or split `cur` of a split file. */
static void use_map(sl_source *s) {
  sl_fd_source *f = fd_src(s);
  if (!f->map)
    return;
  if (f->splits) {
    const sl_split *sp = &f->splits[f->cur];
    sl_line_reader_use_mapping(&s->in.reader, f->map, (size_t)sp->end, sp->offset);
    s->in.reader.line_no = sp->line;
  } else {
    sl_line_reader_use_mapping(&s->in.reader, f->map, f->map_len, s->in.reader.offset);
  }
}

/* The reader's position, into the split it is reading. */
static void note_split(sl_source *s) {
  sl_fd_source *f = fd_src(s);
  f->splits[f->cur].offset = s->in.reader.offset;
  f->splits[f->cur].line = s->in.reader.line_no;
}

/* Drops the mapped pages of lines already processed, so a large input does not stay resident. */
static void release_consumed(sl_source *s) {
  size_t done = s->in.reader.start & ~(size_t)(16u * 1024 * 1024 - 1);
  if (done > fd_src(s)->map_released) {
    madvise((char *)fd_src(s)->map + fd_src(s)->map_released, done - fd_src(s)->map_released, MADV_DONTNEED);
    fd_src(s)->map_released = done;
  }
}

/* Reads one chunk; returns bytes read, 0 at end of file, -1 on error (logged). */
static ssize_t read_chunk(sl_source *s) {
  char *p;
  size_t room;
  if (fd_src(s)->nothing)
    return 0;
  if (s->in.reader.external) {
    /* A mapped file: "reading" is taking the next window of the mapping; at a split's end, the next split
     * (its lines all ended there: a split ends just after a newline). */
    size_t n = sl_line_reader_mapping_left(&s->in.reader);
    sl_fd_source *f = fd_src(s);
    if (n == 0 && f->splits && f->cur + 1 < f->nsplits) {
      note_split(s);
      f->cur++;
      use_map(s);
      n = sl_line_reader_mapping_left(&s->in.reader);
    }
    n = n > READ_SIZE ? READ_SIZE : n;
    sl_line_reader_commit(&s->in.reader, n);
    release_consumed(s);
    return (ssize_t)n;
  }
  if (sl_line_reader_space(&s->in.reader, &p, &room)) {
    sl_runtime_fail(s->in.rt, "%s: out of memory", s->in.name);
    return -1;
  }
  if (room > READ_SIZE)
    room = READ_SIZE;
  ssize_t n;
  do
    n = read(fd_src(s)->fd, p, room);
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    sl_runtime_fail(s->in.rt, "%s: read failed: %s", s->in.name, strerror(errno));
    return -1;
  }
  sl_line_reader_commit(&s->in.reader, (size_t)n);
  return n;
}

/* Follow mode: the file at the path is no longer the one we read (rotated) or shrank (truncated). */
static void check_rotation(sl_source *s) {
  struct stat now, cur;
  if (fstat(fd_src(s)->fd, &cur) == 0 && (uint64_t)cur.st_size < s->in.reader.offset) {
    sl_warn("%s: file truncated; reading from its start", s->in.name);
    lseek(fd_src(s)->fd, 0, SEEK_SET);
    s->in.reader.offset = 0;
    s->in.reader.start = s->in.reader.len = s->in.reader.scan = 0;
    return;
  }
  if (stat(s->ep.path, &now) != 0 ||
      ((uint64_t)now.st_ino == fd_src(s)->ino && (uint64_t)now.st_dev == fd_src(s)->dev))
    return;
  int fd = open(s->ep.path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;                                /* the new file is not there yet; try again at the next poll */
  sl_runtime_consume(s->in.rt, &s->in, 1); /* a last line without newline in the old file */
  sl_info("%s: file rotated; reading the new one from its start", s->in.name);
  close(fd_src(s)->fd);
  fd_src(s)->fd = fd;
  fd_src(s)->dev = (uint64_t)now.st_dev;
  fd_src(s)->ino = (uint64_t)now.st_ino;
  s->in.reader.offset = 0;
  s->in.reader.line_no = 0;
}

static void on_idle(uv_idle_t *h);

static void on_poll(uv_timer_t *t) {
  sl_source *s = t->data;
  ssize_t n = read_chunk(s);
  if (n > 0) {
    sl_runtime_consume(s->in.rt, &s->in, 0);
    uv_timer_stop(&fd_src(s)->poll);
    uv_idle_start(&fd_src(s)->idle, on_idle);
  } else if (n == 0) {
    check_rotation(s);
  }
}

static void on_idle(uv_idle_t *h) {
  sl_source *s = h->data;
  ssize_t n = read_chunk(s);
  if (n > 0) {
    sl_runtime_consume(s->in.rt, &s->in, 0);
    return;
  }
  if (n == 0 && fd_src(s)->follow) {
    uv_idle_stop(&fd_src(s)->idle);
    uv_timer_start(&fd_src(s)->poll, on_poll, FOLLOW_POLL_MS, FOLLOW_POLL_MS);
    return;
  }
  finish(s);
}

static void on_stream_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  sl_source *s = st->data; /* also the sl_input: it is the first member */
  (void)buf;
  if (!sl_input_on_read(&s->in, n))
    return;
  if (n != UV_EOF)
    sl_runtime_fail(s->in.rt, "%s: read failed: %s", s->in.name, uv_strerror((int)n));
  finish(s);
}

/* Restores the resume point of a file read by an earlier run, if it is the same file. */
static void restore_offset(sl_source *s, const struct stat *st) {
  const void *val;
  size_t len;
  if (sl_backend_meta_get(s->in.rt->backend, fd_src(s)->meta_key, &val, &len) != SL_STATE_OK ||
      len != sizeof(sl_offset_record))
    return;
  sl_offset_record rec;
  memcpy(&rec, val, sizeof rec);
  if (rec.dev != (uint64_t)st->st_dev || rec.ino != (uint64_t)st->st_ino) {
    sl_info("%s: not the file read before (new inode); reading from its start", s->in.name);
    return;
  }
  if (rec.offset > (uint64_t)st->st_size) {
    sl_warn("%s: shorter than the %llu bytes read before; reading from its start", s->in.name,
            (unsigned long long)rec.offset);
    return;
  }
  if (lseek(fd_src(s)->fd, (off_t)rec.offset, SEEK_SET) < 0)
    return;
  s->in.reader.offset = rec.offset;
  s->in.reader.line_no = rec.line;
}

int sl_fd_source_save_offset(sl_source *s) {
  sl_fd_source *f = fd_src(s);
  if (f->nothing)
    return 0;
  if (f->splits) {
    note_split(s);
    return sl_splits_save(s->in.rt->backend, f->real, f->dev, f->ino, f->splits, f->nsplits);
  }
  if (!fd_src(s)->meta_key)
    return 0;
  sl_offset_record rec = {fd_src(s)->dev, fd_src(s)->ino, s->in.reader.offset, s->in.reader.line_no};
  return sl_backend_meta_put(s->in.rt->backend, fd_src(s)->meta_key, &rec, sizeof rec);
}

int sl_file_source_forget_offset(sl_backend *b, const sl_endpoint *ep) {
  char real[PATH_MAX], key[PATH_MAX + 8];
  const void *val;
  size_t len;
  if (!realpath(ep->path, real))
    return SL_STATE_OK;
  snprintf(key, sizeof key, "source/%s", real);
  if (sl_backend_meta_get(b, key, &val, &len) != SL_STATE_OK || len <= 1)
    return SL_STATE_OK;
  /* Not empty: the mark still says the file was read before, whole, by one reader, so this subtask decides
   * as the reader does (it must not cut the file into splits of its own). */
  return sl_backend_meta_put(b, key, SL_SOURCE_READ_ELSEWHERE, 1);
}

/* Which part of a rewindable file this reader reads (core/source_splits.h): all of it from its resume
 * point, its own splits, or none (a parallel job's other subtask reads it). 0, or -1 with err. */
static int plan_reading(sl_source *s, const struct stat *st, char *err, size_t errlen) {
  sl_fd_source *f = fd_src(s);
  sl_runtime *rt = s->in.rt;
  unsigned n = rt->lua.parallelism ? rt->lua.parallelism : 1;
  int owner = 1;
  /* Event time needs each subtask's input in time order: a file read whole, by one reader
   * (core/parallel/job.c refuses more than one input), never in splits that interleave. */
  int may_cut = !rt->opts->no_split && !rt->lua.job.event_time;
  int rc = sl_splits_plan(rt->backend, f->real, st, f->map, f->follow, may_cut, (unsigned)s->in.source_index,
                          (unsigned)rt->lua.job.nsources, rt->lua.subtask, n, &f->splits, &f->nsplits, &owner,
                          err, errlen);
  if (rc < 0)
    return -1;
  if (rc == 1 && n > 1 && rt->lua.job.event_time) {
    snprintf(err, errlen,
             "%s was read in splits by an earlier parallel run, and a job with event time cannot read a split "
             "file at --parallelism > 1 (its watermark would run ahead of the other splits); run it with "
             "--parallelism 1",
             s->in.name);
    return -1;
  }
  if (rc == 1 && f->nsplits == 0) {
    free(f->splits);
    f->splits = NULL;
  }
  if (!owner) {
    f->nothing = 1;
    /* The whole file's resume point is its reader's; a copy the restore gave this subtask is emptied. */
    if (rc == 0 && sl_file_source_forget_offset(rt->backend, &s->ep) != SL_STATE_OK) {
      snprintf(err, errlen, "%s: the state backend failed: %s", s->in.name, sl_backend_last_error(rt->backend));
      return -1;
    }
    return 0;
  }
  if (rc == 0)
    restore_offset(s, st);
  return 0;
}

int sl_fd_source_attach(sl_source *s, int fd, char *err, size_t errlen) {
  sl_fd_source *f = fd_src(s);
  struct stat st;
  f->fd = fd;
  if (fstat(fd, &st) != 0) {
    snprintf(err, errlen, "cannot stat input '%s': %s", s->in.name, strerror(errno));
    return -1;
  }
  if (S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "input '%s' is a directory", s->in.name);
    return -1;
  }
  /* epoll takes only pipes, sockets and terminals (a device such as /dev/null is refused with EPERM), so
   * everything else is read with plain read(), like a regular file. */
  f->regular = !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !isatty(fd);
  f->dev = (uint64_t)st.st_dev;
  f->ino = (uint64_t)st.st_ino;
  f->follow = s->in.rt->opts->follow && s->ep.kind == SL_EP_FILE;
  if (s->ep.kind == SL_EP_FILE && S_ISREG(st.st_mode)) {
    char real[PATH_MAX];
    if (realpath(s->ep.path, real)) {
      size_t n = strlen(real) + 8;
      if (!(f->meta_key = malloc(n))) {
        snprintf(err, errlen, "out of memory opening '%s'", s->ep.path);
        return -1;
      }
      snprintf(f->meta_key, n, "source/%s", real);
      if (!(f->real = strdup(real))) {
        snprintf(err, errlen, "out of memory opening '%s'", s->ep.path);
        return -1;
      }
    }
  }
  if (S_ISREG(st.st_mode))
    try_map(s, &st);
  if (f->real && plan_reading(s, &st, err, errlen))
    return -1;
  sl_runtime *rt = s->in.rt;
  if (!f->real && rt->lua.parallelism > 1 && (unsigned)s->in.source_index % rt->lua.parallelism != rt->lua.subtask)
    f->nothing = 1; /* a FIFO or a device has one reader: bytes read twice would be split lines */
  if (f->nothing)
    f->regular = 1; /* nothing to read: the idle handle finds the end at once */
  use_map(s);
  return 0;
}

static int file_open(sl_source *s, char *err, size_t errlen) {
  fd_src(s)->fd = -1;
  if (!(s->in.name = strdup(s->ep.path))) {
    snprintf(err, errlen, "out of memory opening '%s'", s->ep.path);
    return -1;
  }
  int fd = open(s->ep.path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open input '%s': %s", s->ep.path, strerror(errno));
    return -1;
  }
  return sl_fd_source_attach(s, fd, err, errlen);
}

void sl_fd_source_release(sl_source *s) {
  sl_fd_source *f = fd_src(s);
  if (f->map)
    munmap(f->map, f->map_len);
  free(f->meta_key);
  free(f->real);
  free(f->splits);
  free(f->stream);
}

const sl_source_ops sl_source_file_ops = {
    sizeof(sl_fd_source), file_open,          sl_fd_source_start,   sl_fd_source_save_offset,
    sl_fd_source_close,   sl_fd_source_release, sl_fd_source_pause, sl_fd_source_resume,
    sl_fd_source_progress, NULL, NULL,
};

/* A paused source reads nothing: a regular file's idle handle (or its follow poll) stops, a stream stops
 * reading. Resume starts the idle handle again, which polls on at EOF in follow mode as usual. */
void sl_fd_source_pause(sl_source *s) {
  if (fd_src(s)->regular) {
    uv_idle_stop(&fd_src(s)->idle);
    uv_timer_stop(&fd_src(s)->poll);
  } else if (fd_src(s)->stream) {
    uv_read_stop(fd_src(s)->stream);
  }
}

void sl_fd_source_resume(sl_source *s) {
  if (fd_src(s)->regular)
    uv_idle_start(&fd_src(s)->idle, on_idle);
  else if (fd_src(s)->stream)
    uv_read_start(fd_src(s)->stream, sl_input_alloc_cb, on_stream_read);
}

int sl_fd_source_start(sl_source *s, char *err, size_t errlen) {
  uv_loop_t *loop = s->in.rt->loop;
  int rc;
  if (fd_src(s)->regular) {
    uv_idle_init(loop, &fd_src(s)->idle); /* these two inits cannot fail */
    uv_timer_init(loop, &fd_src(s)->poll);
    fd_src(s)->idle.data = fd_src(s)->poll.data = s;
    rc = uv_idle_start(&fd_src(s)->idle, on_idle);
  } else {
    int tty = uv_guess_handle(fd_src(s)->fd) == UV_TTY;
    fd_src(s)->stream = malloc(tty ? sizeof(uv_tty_t) : sizeof(uv_pipe_t));
    if (!fd_src(s)->stream) {
      snprintf(err, errlen, "%s: out of memory", s->in.name);
      return -1;
    }
    rc = tty ? uv_tty_init(loop, (uv_tty_t *)fd_src(s)->stream, fd_src(s)->fd, 1)
             : uv_pipe_init(loop, (uv_pipe_t *)fd_src(s)->stream, 0);
    if (rc != 0) {
      free(fd_src(s)->stream); /* never initialised: nothing to close */
      fd_src(s)->stream = NULL;
    } else {
      fd_src(s)->stream->data = s;
      if (!tty)
        rc = uv_pipe_open((uv_pipe_t *)fd_src(s)->stream, fd_src(s)->fd);
      if (rc == 0)
        rc = uv_read_start(fd_src(s)->stream, sl_input_alloc_cb, on_stream_read);
    }
  }
  if (rc != 0) {
    snprintf(err, errlen, "%s: cannot read: %s", s->in.name, uv_strerror(rc));
    return -1;
  }
  return 0;
}

void sl_fd_source_close(sl_source *s) {
  if (fd_src(s)->regular) {
    uv_idle_stop(&fd_src(s)->idle);
    uv_timer_stop(&fd_src(s)->poll);
    close_handle(s, (uv_handle_t *)&fd_src(s)->idle);
    close_handle(s, (uv_handle_t *)&fd_src(s)->poll);
  } else if (fd_src(s)->stream) {
    uv_read_stop(fd_src(s)->stream);
    close_handle(s, (uv_handle_t *)fd_src(s)->stream);
  }
  if (fd_src(s)->fd > 0)
    close(fd_src(s)->fd);
  fd_src(s)->fd = -1;
}
