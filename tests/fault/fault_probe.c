/* fault_probe.c — `fault-probe CMD ARGS... [-- CMD ARGS...]...`: runs a script of file and memory calls and
 * prints one line per call, so that tests/e2e/fault_shims.sh can check what the two shims do to each kind of
 * call (which one fails, with which errno; what a power cut keeps) without sluice in the way.
 *
 * Commands (each opens its file by path, makes exactly one interposed call on it, closes it):
 *   write PATH TEXT        append TEXT with write() at the end (O_APPEND not used: the position is lseek'd)
 *   pwrite PATH OFF TEXT   pwrite() at OFF
 *   writev PATH TEXT       append TEXT with writev(), in two iovecs
 *   copy SRC DST           copy_file_range() all of SRC to the end of DST (which must exist; explicit offset)
 *   truncate PATH LEN      ftruncate()
 *   create PATH            open(O_CREAT | O_TRUNC)
 *   fsync PATH | fdatasync PATH | fsyncdir DIR
 *   rename FROM TO | unlink PATH | mkdir DIR | rmdir DIR
 *   stdout TEXT            write() to fd 1 (a pipe in the tests: never failed)
 *   malloc N | calloc N | realloc N    allocate N bytes (then free)
 *   kill                   SIGKILL itself (the crash a power-loss test undoes)
 * Output: "ok CMD [RESULT]" or "err CMD ERRNO-NAME", one line each; exit status 0. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static const char *errname(int e) {
  switch (e) {
  case EIO:
    return "EIO";
  case ENOSPC:
    return "ENOSPC";
  case ENOMEM:
    return "ENOMEM";
  case EXDEV:
    return "EXDEV";
  case EINTR:
    return "EINTR";
  case ENOENT:
    return "ENOENT";
  default:
    return strerror(e);
  }
}

/* Prints the outcome of a call that returned rc (< 0: failed with errno). */
static void report(const char *cmd, long rc) {
  if (rc < 0)
    printf("err %s %s\n", cmd, errname(errno));
  else
    printf("ok %s %ld\n", cmd, rc);
  fflush(stdout);
}

static long with_fd(const char *path, int flags, long (*call)(int fd, char **args), char **args) {
  int fd = open(path, flags, 0644);
  if (fd < 0)
    return -1;
  long rc = call(fd, args);
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

static long do_write(int fd, char **a) {
  lseek(fd, 0, SEEK_END);
  return write(fd, a[1], strlen(a[1]));
}

static long do_pwrite(int fd, char **a) {
  return pwrite(fd, a[2], strlen(a[2]), atol(a[1]));
}

static long do_writev(int fd, char **a) {
  size_t n = strlen(a[1]);
  struct iovec iov[2] = {{a[1], n / 2}, {a[1] + n / 2, n - n / 2}};
  lseek(fd, 0, SEEK_END);
  return writev(fd, iov, 2);
}

static long do_truncate(int fd, char **a) {
  return ftruncate(fd, atol(a[1]));
}

static long do_fsync(int fd, char **a) {
  (void)a;
  return fsync(fd);
}

static long do_fdatasync(int fd, char **a) {
  (void)a;
  return fdatasync(fd);
}

static long do_copy(const char *src, const char *dst) {
  int in = open(src, O_RDONLY), out = open(dst, O_WRONLY);
  struct stat st;
  long rc = -1;
  if (in >= 0 && out >= 0 && fstat(out, &st) == 0) {
    off_t at = st.st_size;
    rc = copy_file_range(in, NULL, out, &at, 1 << 20, 0);
  }
  int e = errno;
  if (in >= 0)
    close(in);
  if (out >= 0)
    close(out);
  errno = e;
  return rc;
}

static long do_alloc(const char *kind, size_t n) {
  void *p;
  if (!strcmp(kind, "realloc")) {
    /* From a small block (realloc(NULL, n) may be compiled into malloc(n)). */
    void *small = malloc(1);
    if (!small || !(p = realloc(small, n))) {
      free(small);
      return -1;
    }
  } else {
    p = !strcmp(kind, "malloc") ? malloc(n) : calloc(1, n);
  }
  if (!p)
    return -1;
  free(p);
  return (long)n;
}

/* Runs one command (args[0] and its arguments); returns how many arguments it took, or 0 if unknown. */
static int run(char **a, int n) {
  const char *c = a[0];
#define NEED(k)                                                                                              \
  if (n < (k) + 1)                                                                                           \
  return 0
  if (!strcmp(c, "write")) {
    NEED(2);
    report(c, with_fd(a[1], O_WRONLY | O_CREAT, do_write, a + 1));
    return 3;
  }
  if (!strcmp(c, "pwrite")) {
    NEED(3);
    report(c, with_fd(a[1], O_WRONLY | O_CREAT, do_pwrite, a + 1));
    return 4;
  }
  if (!strcmp(c, "writev")) {
    NEED(2);
    report(c, with_fd(a[1], O_WRONLY | O_CREAT, do_writev, a + 1));
    return 3;
  }
  if (!strcmp(c, "truncate")) {
    NEED(2);
    report(c, with_fd(a[1], O_WRONLY, do_truncate, a + 1));
    return 3;
  }
  if (!strcmp(c, "fsync") || !strcmp(c, "fdatasync") || !strcmp(c, "fsyncdir")) {
    NEED(1);
    int dir = !strcmp(c, "fsyncdir");
    report(c, with_fd(a[1], dir ? O_RDONLY | O_DIRECTORY : O_WRONLY,
                      strcmp(c, "fdatasync") ? do_fsync : do_fdatasync, a + 1));
    return 2;
  }
  if (!strcmp(c, "copy")) {
    NEED(2);
    report(c, do_copy(a[1], a[2]));
    return 3;
  }
  if (!strcmp(c, "create")) {
    NEED(1);
    int fd = open(a[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    report(c, fd < 0 ? -1 : 0);
    if (fd >= 0)
      close(fd);
    return 2;
  }
  if (!strcmp(c, "rename")) {
    NEED(2);
    report(c, rename(a[1], a[2]));
    return 3;
  }
  if (!strcmp(c, "unlink") || !strcmp(c, "mkdir") || !strcmp(c, "rmdir")) {
    NEED(1);
    report(c, !strcmp(c, "unlink") ? unlink(a[1]) : !strcmp(c, "mkdir") ? mkdir(a[1], 0755) : rmdir(a[1]));
    return 2;
  }
  if (!strcmp(c, "stdout")) {
    NEED(1);
    long rc = write(1, a[1], strlen(a[1]));
    report(c, rc < 0 ? -1 : 0); /* the count would land on the same line as the text */
    return 2;
  }
  if (!strcmp(c, "malloc") || !strcmp(c, "calloc") || !strcmp(c, "realloc")) {
    NEED(1);
    report(c, do_alloc(c, (size_t)atol(a[1])));
    return 2;
  }
  if (!strcmp(c, "kill")) {
    fflush(stdout);
    raise(SIGKILL);
  }
  return 0;
#undef NEED
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc;) {
    if (!strcmp(argv[i], "--")) {
      i++;
      continue;
    }
    int used = run(argv + i, argc - i);
    if (!used) {
      fprintf(stderr, "fault-probe: bad command at '%s'\n", argv[i]);
      return 2;
    }
    i += used;
  }
  return 0;
}
