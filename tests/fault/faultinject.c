/* faultinject.c — an LD_PRELOAD shim that makes chosen libc calls fail, for the fault tests
 * (tests/e2e/fault_*.sh). It owns nothing but its counters; the program under test sees a libc whose N-th
 * write (or fsync, rename, malloc, ...) fails with the errno a full or broken disk, or a memory limit, gives.
 *
 * Control, one rule per process, in the environment:
 *
 *   SLUICE_FAULT="op=OPS[,nth=N][,errno=NAME][,sticky=1][,short=1][,path=S][,min=B][,skip_caller=S|S]"
 *   SLUICE_FAULT_LOG=FILE      (optional) where each fired fault, and a summary at exit, is appended
 *
 *   op      one or more of write writev pwrite pwritev fsync fdatasync rename copy_file_range ftruncate
 *           open malloc calloc realloc, joined with '|' (op=write|pwrite). pwrite covers pwrite64, pwritev
 *           covers pwritev64 and pwritev2, open covers open/open64/openat/openat64/creat and only calls
 *           with O_CREAT.
 *   nth     the N-th matching call fails (1-based); 0 (the default) never fails: the exit summary then
 *           says how many calls matched, which is how a test picks an N that lands inside a run.
 *   errno   EIO ENOSPC EDQUOT EROFS ENOMEM EINTR EAGAIN EXDEV EINVAL EBADF or a number; the default is EIO
 *           (ENOMEM for the malloc family, which always fails with ENOMEM and returns NULL).
 *   sticky  1: every matching call after the N-th fails too (a disk that stays full, memory that stays
 *           short). The default, 0, fails only the N-th (a transient error).
 *   short   1 (write-like ops only): the N-th call writes half its bytes and returns that count, as a write
 *           that fills the disk does; only the calls after it (if sticky) fail with errno.
 *   path    only calls on a file whose path contains SUBSTR count (fd ops: the path the fd is open
 *           on; rename: the source; open: the path given).
 *   min     (malloc family) only allocations of at least BYTES count, to target big buffers.
 *   skip_caller  (malloc family) allocations called from a loaded object whose path contains one of
 *           SUBSTR|SUBSTR... do not count (dladdr of the return address): for libraries that abort or
 *           crash when an allocation fails (libuv, libgcc's unwinder under LuaJIT, lua-cjson), which no
 *           caller can recover from, so that the faults land where the program under test can.
 *
 * What is never failed: I/O on anything but regular files (fsync/fdatasync: regular files and directories),
 * so pipes, sockets, ttys, stdout and stderr keep working and a test can still read the program's output
 * and messages. Calls libc makes internally (stdio's own write inside fwrite/fclose, fopen's open) do not go
 * through the dynamic symbols and are not seen: sluice's checkpoint, snapshot and output paths use plain
 * write/pwrite/fsync, which are. LuaJIT's GC heap does not use malloc (it has its own mmap-based
 * allocator), so malloc faults reach sluice's C code, libuv, LMDB and libc, not Lua table allocations.
 *
 * Log lines (raw syscalls, O_APPEND, never through anything interposed here):
 *   fault pid=P op=write call=pwrite n=120 errno=ENOSPC path=/x/out     a fault fired (the first 50)
 *   exit pid=P matched=M fired=F write=W fsync=S ...                     at exit (not after SIGKILL)
 * The exit line counts matching calls per op too, so one run with nth=0 and every op of interest tells a
 * test how many calls of each op a run makes.
 *
 * The real allocation functions are glibc's __libc_malloc/__libc_calloc/__libc_realloc, so there is no
 * dlsym recursion; the real I/O functions are found with dlsym(RTLD_NEXT). Counters are atomics: several
 * threads (sluice's checkpoint worker) count into the same N. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault_common.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

enum {
  OP_WRITE = 1 << 0,
  OP_WRITEV = 1 << 1,
  OP_PWRITE = 1 << 2,
  OP_PWRITEV = 1 << 3,
  OP_FSYNC = 1 << 4,
  OP_FDATASYNC = 1 << 5,
  OP_RENAME = 1 << 6,
  OP_COPY_FILE_RANGE = 1 << 7,
  OP_FTRUNCATE = 1 << 8,
  OP_OPEN = 1 << 9,
  OP_MALLOC = 1 << 10,
  OP_CALLOC = 1 << 11,
  OP_REALLOC = 1 << 12,
};

static const struct {
  const char *name;
  int bit;
} op_names[] = {{"write", OP_WRITE},         {"writev", OP_WRITEV},
                {"pwrite", OP_PWRITE},       {"pwritev", OP_PWRITEV},
                {"fsync", OP_FSYNC},         {"fdatasync", OP_FDATASYNC},
                {"rename", OP_RENAME},       {"copy_file_range", OP_COPY_FILE_RANGE},
                {"ftruncate", OP_FTRUNCATE}, {"open", OP_OPEN},
                {"malloc", OP_MALLOC},       {"calloc", OP_CALLOC},
                {"realloc", OP_REALLOC}};

static const struct {
  const char *name;
  int value;
} errno_names[] = {{"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EDQUOT", EDQUOT}, {"EROFS", EROFS},
                   {"ENOMEM", ENOMEM}, {"EINTR", EINTR},   {"EAGAIN", EAGAIN}, {"EXDEV", EXDEV},
                   {"EINVAL", EINVAL}, {"EBADF", EBADF}};

#define MAX_LOGGED 50

static struct {
  int parsed; /* 0 not yet, 1 done */
  int ops;
  uint64_t nth;
  int err;
  int err_set;
  int sticky;
  int short_write;
  char path[512];
  char skip_caller[512];
  uint64_t min;
  const char *log;
  uint64_t matched; /* atomics from here on */
  uint64_t fired;
  uint64_t per_op[sizeof op_names / sizeof op_names[0]];
} rule;

static int streq_n(const char *a, size_t n, const char *b) {
  return strlen(b) == n && memcmp(a, b, n) == 0;
}

static uint64_t parse_u64(const char *s, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
    v = v * 10 + (uint64_t)(s[i] - '0');
  return v;
}

static int parse_ops(const char *v, size_t n) {
  int ops = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && v[j] != '|')
      j++;
    for (size_t k = 0; k < sizeof op_names / sizeof op_names[0]; k++)
      if (streq_n(v + i, j - i, op_names[k].name))
        ops |= op_names[k].bit;
    i = j + 1;
  }
  return ops;
}

static int parse_errno(const char *v, size_t n) {
  for (size_t k = 0; k < sizeof errno_names / sizeof errno_names[0]; k++)
    if (streq_n(v, n, errno_names[k].name))
      return errno_names[k].value;
  return (int)parse_u64(v, n);
}

static const char *errno_name(int e) {
  for (size_t k = 0; k < sizeof errno_names / sizeof errno_names[0]; k++)
    if (errno_names[k].value == e)
      return errno_names[k].name;
  return "?";
}

/* Reads SLUICE_FAULT once, without allocating (malloc may call this before main). */
static void parse_rule(void) {
  extern char **environ;
  if (rule.parsed || !environ) /* before libc set up the environment: pass, and read it later */
    return;
  rule.parsed = 1;
  const char *s = getenv("SLUICE_FAULT");
  rule.log = getenv("SLUICE_FAULT_LOG");
  while (s && *s) {
    const char *end = strchr(s, ',');
    size_t len = end ? (size_t)(end - s) : strlen(s);
    const char *eq = memchr(s, '=', len);
    if (eq) {
      size_t kn = (size_t)(eq - s), vn = len - kn - 1;
      const char *v = eq + 1;
      if (streq_n(s, kn, "op"))
        rule.ops = parse_ops(v, vn);
      else if (streq_n(s, kn, "nth"))
        rule.nth = parse_u64(v, vn);
      else if (streq_n(s, kn, "errno"))
        rule.err = parse_errno(v, vn), rule.err_set = 1;
      else if (streq_n(s, kn, "sticky"))
        rule.sticky = parse_u64(v, vn) != 0;
      else if (streq_n(s, kn, "short"))
        rule.short_write = parse_u64(v, vn) != 0;
      else if (streq_n(s, kn, "min"))
        rule.min = parse_u64(v, vn);
      else if (streq_n(s, kn, "skip_caller") && vn < sizeof rule.skip_caller)
        memcpy(rule.skip_caller, v, vn), rule.skip_caller[vn] = '\0';
      else if (streq_n(s, kn, "path") && vn < sizeof rule.path)
        memcpy(rule.path, v, vn), rule.path[vn] = '\0';
    }
    s = end ? end + 1 : NULL;
  }
  if (!rule.err_set)
    rule.err = EIO;
}

__attribute__((constructor)) static void fault_init(void) {
  parse_rule();
}

__attribute__((destructor)) static void fault_fini(void) {
  fc_line l = {.n = 0};
  fc_put(&l, "exit pid=");
  fc_put_u64(&l, (uint64_t)getpid());
  fc_put(&l, " matched=");
  fc_put_u64(&l, __atomic_load_n(&rule.matched, __ATOMIC_SEQ_CST));
  fc_put(&l, " fired=");
  fc_put_u64(&l, __atomic_load_n(&rule.fired, __ATOMIC_SEQ_CST));
  for (size_t k = 0; k < sizeof op_names / sizeof op_names[0]; k++)
    if (rule.ops & op_names[k].bit) {
      fc_put(&l, " ");
      fc_put(&l, op_names[k].name);
      fc_put(&l, "=");
      fc_put_u64(&l, __atomic_load_n(&rule.per_op[k], __ATOMIC_SEQ_CST));
    }
  fc_append_line(rule.log, &l);
}

enum verdict { PASS, FAIL, SHORT };

static void log_fired(int op, const char *call, uint64_t n, int err, const char *path) {
  if (__atomic_add_fetch(&rule.fired, 1, __ATOMIC_SEQ_CST) > MAX_LOGGED)
    return;
  fc_line l = {.n = 0};
  fc_put(&l, "fault pid=");
  fc_put_u64(&l, (uint64_t)getpid());
  fc_put(&l, " op=");
  for (size_t k = 0; k < sizeof op_names / sizeof op_names[0]; k++)
    if (op_names[k].bit == op)
      fc_put(&l, op_names[k].name);
  fc_put(&l, " call=");
  fc_put(&l, call);
  fc_put(&l, " n=");
  fc_put_u64(&l, n);
  fc_put(&l, err ? " errno=" : " short");
  if (err)
    fc_put(&l, errno_name(err));
  if (path) {
    fc_put(&l, " path=");
    fc_put(&l, path);
  }
  fc_append_line(rule.log, &l);
}

/* Counts a call that passed the op and file-kind filters; decides whether it fails. */
static enum verdict count_call(int op, const char *call, const char *path, int write_like, int err) {
  if (rule.path[0] && (!path || !strstr(path, rule.path)))
    return PASS;
  for (size_t k = 0; k < sizeof op_names / sizeof op_names[0]; k++)
    if (op_names[k].bit == op)
      __atomic_add_fetch(&rule.per_op[k], 1, __ATOMIC_SEQ_CST);
  uint64_t n = __atomic_add_fetch(&rule.matched, 1, __ATOMIC_SEQ_CST);
  if (rule.nth == 0 || n < rule.nth || (n > rule.nth && !rule.sticky))
    return PASS;
  int shorten = n == rule.nth && rule.short_write && write_like;
  log_fired(op, call, n, shorten ? 0 : err, path);
  return shorten ? SHORT : FAIL;
}

/* For an fd op: whether this call fails. dirs_too lets fsync/fdatasync of a directory count. */
static enum verdict check_fd(int op, const char *call, int fd, int dirs_too, int write_like) {
  parse_rule();
  if (!(rule.ops & op))
    return PASS;
  struct stat st;
  if (syscall(SYS_fstat, fd, &st) != 0 || !(S_ISREG(st.st_mode) || (dirs_too && S_ISDIR(st.st_mode))))
    return PASS;
  char path[1024];
  fc_fd_path(fd, path, sizeof path);
  return count_call(op, call, path, write_like, rule.err);
}

static enum verdict check_path(int op, const char *call, const char *path) {
  parse_rule();
  if (!(rule.ops & op))
    return PASS;
  return count_call(op, call, path, 0, rule.err);
}

/* Whether the code at address `caller` is in a loaded object named in skip_caller. dladdr takes the loader's
 * recursive lock and does not allocate, so it is safe inside malloc (also inside dlopen's own mallocs). */
static int skipped_caller(const void *caller) {
  Dl_info info;
  if (!rule.skip_caller[0] || !dladdr(caller, &info) || !info.dli_fname)
    return 0;
  for (const char *p = rule.skip_caller; *p;) {
    const char *end = strchr(p, '|');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char want[128];
    if (n > 0 && n < sizeof want) {
      memcpy(want, p, n);
      want[n] = '\0';
      if (strstr(info.dli_fname, want))
        return 1;
    }
    p = end ? end + 1 : p + n;
  }
  return 0;
}

static int check_alloc(int op, const char *call, size_t size, const void *caller) {
  parse_rule();
  if (!(rule.ops & op) || size < rule.min || skipped_caller(caller))
    return 0;
  return count_call(op, call, NULL, 0, ENOMEM) != PASS; /* an allocation fails with nothing else */
}

#define FAIL_WITH(value)                                                                                     \
  do {                                                                                                       \
    errno = rule.err;                                                                                        \
    return value;                                                                                            \
  } while (0)

/* ---- writes ---- */

ssize_t write(int fd, const void *buf, size_t n) {
  static ssize_t (*real)(int, const void *, size_t);
  if (!real)
    real = fc_real("write");
  enum verdict v = check_fd(OP_WRITE, "write", fd, 0, 1);
  if (v == FAIL)
    FAIL_WITH(-1);
  return real(fd, buf, v == SHORT && n > 1 ? n / 2 : n);
}

static ssize_t do_pwrite(const char *call, int fd, const void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real)
    real = fc_real("pwrite");
  enum verdict v = check_fd(OP_PWRITE, call, fd, 0, 1);
  if (v == FAIL)
    FAIL_WITH(-1);
  return real(fd, buf, v == SHORT && n > 1 ? n / 2 : n, off);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  return do_pwrite("pwrite", fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  return do_pwrite("pwrite64", fd, buf, n, off);
}

/* A short vector write keeps the first half of the iovecs (at least one). */
static int short_iovcnt(int cnt) {
  return cnt > 1 ? cnt / 2 : cnt;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  static ssize_t (*real)(int, const struct iovec *, int);
  if (!real)
    real = fc_real("writev");
  enum verdict v = check_fd(OP_WRITEV, "writev", fd, 0, 1);
  if (v == FAIL)
    FAIL_WITH(-1);
  return real(fd, iov, v == SHORT ? short_iovcnt(cnt) : cnt);
}

static ssize_t do_pwritev(const char *call, int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
  static ssize_t (*real)(int, const struct iovec *, int, off_t, int);
  if (!real)
    real = fc_real("pwritev2");
  enum verdict v = check_fd(OP_PWRITEV, call, fd, 0, 1);
  if (v == FAIL)
    FAIL_WITH(-1);
  return real(fd, iov, v == SHORT ? short_iovcnt(cnt) : cnt, off, flags);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
  return do_pwritev("pwritev", fd, iov, cnt, off, 0);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
  return do_pwritev("pwritev64", fd, iov, cnt, off, 0);
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
  return do_pwritev("pwritev2", fd, iov, cnt, off, flags);
}

ssize_t copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len, unsigned flags) {
  static ssize_t (*real)(int, off_t *, int, off_t *, size_t, unsigned);
  if (!real)
    real = fc_real("copy_file_range");
  enum verdict v = check_fd(OP_COPY_FILE_RANGE, "copy_file_range", out, 0, 1);
  if (v == FAIL)
    FAIL_WITH(-1);
  if (v == SHORT) {
    /* Half of what is left in the source, at least one byte. */
    struct stat st;
    off_t at = in_off ? *in_off : lseek(in, 0, SEEK_CUR);
    if (fstat(in, &st) == 0 && at >= 0 && st.st_size > at) {
      size_t left = (size_t)(st.st_size - at);
      len = left > 1 ? left / 2 : left;
    }
  }
  return real(in, in_off, out, out_off, len, flags);
}

/* ---- sync, truncate, rename, create ---- */

int fsync(int fd) {
  static int (*real)(int);
  if (!real)
    real = fc_real("fsync");
  if (check_fd(OP_FSYNC, "fsync", fd, 1, 0) != PASS)
    FAIL_WITH(-1);
  return real(fd);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real)
    real = fc_real("fdatasync");
  if (check_fd(OP_FDATASYNC, "fdatasync", fd, 1, 0) != PASS)
    FAIL_WITH(-1);
  return real(fd);
}

static int do_ftruncate(const char *call, int fd, off_t len) {
  static int (*real)(int, off_t);
  if (!real)
    real = fc_real("ftruncate");
  if (check_fd(OP_FTRUNCATE, call, fd, 0, 0) != PASS)
    FAIL_WITH(-1);
  return real(fd, len);
}

int ftruncate(int fd, off_t len) {
  return do_ftruncate("ftruncate", fd, len);
}

int ftruncate64(int fd, off_t len) {
  return do_ftruncate("ftruncate64", fd, len);
}

int rename(const char *from, const char *to) {
  static int (*real)(const char *, const char *);
  if (!real)
    real = fc_real("rename");
  struct stat st;
  if (lstat(from, &st) == 0 && S_ISREG(st.st_mode) && check_path(OP_RENAME, "rename", from) != PASS)
    FAIL_WITH(-1);
  return real(from, to);
}

static int do_openat(const char *call, int dirfd, const char *path, int flags, mode_t mode) {
  static int (*real)(int, const char *, int, ...);
  if (!real)
    real = fc_real("openat");
  if ((flags & O_CREAT) && check_path(OP_OPEN, call, path) != PASS)
    FAIL_WITH(-1);
  return real(dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...) {
  FC_OPEN_MODE(flags, flags);
  return do_openat("open", AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) {
  FC_OPEN_MODE(flags, flags);
  return do_openat("open64", AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
  FC_OPEN_MODE(flags, flags);
  return do_openat("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
  FC_OPEN_MODE(flags, flags);
  return do_openat("openat64", dirfd, path, flags, mode);
}

int creat(const char *path, mode_t mode) {
  return do_openat("creat", AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

/* ---- memory ---- */

void *malloc(size_t n) {
  if (check_alloc(OP_MALLOC, "malloc", n, __builtin_return_address(0))) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_malloc(n);
}

void *calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total))
    total = SIZE_MAX;
  if (check_alloc(OP_CALLOC, "calloc", total, __builtin_return_address(0))) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n) {
  if (n > 0 && check_alloc(OP_REALLOC, "realloc", n, __builtin_return_address(0))) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_realloc(p, n);
}
