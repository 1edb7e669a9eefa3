/* fault_common.h — what the two LD_PRELOAD shims (faultinject.c, powerloss.c) share: finding the real libc
 * function behind an interposed one, and writing a line to a log file without going through anything the
 * shims interpose (raw syscalls, no stdio, no malloc), so a log line can be written from inside a failing
 * malloc or write.
 *
 * Everything here is static inline: each shim is one self-contained .so, and this header is its only
 * shared code. */
#ifndef SLUICE_FAULT_COMMON_H
#define SLUICE_FAULT_COMMON_H

#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The next definition of name after the calling shim's (libc's). dlsym may call calloc: the fault shim's
 * calloc goes straight to __libc_calloc, so that is no recursion. Callers keep the result in a static. */
static inline void *fc_real(const char *name) {
  return dlsym(RTLD_NEXT, name);
}

/* A small line buffer filled without snprintf (which is safe here, but not documented to never allocate). */
typedef struct fc_line {
  char s[1200];
  size_t n;
} fc_line;

static inline void fc_put(fc_line *l, const char *s) {
  while (s && *s && l->n < sizeof l->s - 2)
    l->s[l->n++] = *s++;
}

static inline void fc_put_u64(fc_line *l, uint64_t v) {
  char d[24];
  int i = 0;
  do
    d[i++] = (char)('0' + v % 10);
  while ((v /= 10) && i < 24);
  while (i > 0 && l->n < sizeof l->s - 2)
    l->s[l->n++] = d[--i];
}

/* Appends the line (and a newline) to the file at path with O_APPEND, so lines from several processes and
 * threads never interleave inside a line. */
static inline void fc_append_line(const char *path, fc_line *l) {
  if (!path || !*path)
    return;
  l->s[l->n++] = '\n';
  long fd = syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  syscall(SYS_write, (int)fd, l->s, l->n);
  syscall(SYS_close, (int)fd);
}

/* The path an fd is open on (from /proc/self/fd), or "" if unknown. */
static inline void fc_fd_path(int fd, char *buf, size_t len) {
  fc_line p = {.n = 0};
  fc_put(&p, "/proc/self/fd/");
  fc_put_u64(&p, (uint64_t)fd);
  p.s[p.n] = '\0';
  long n = syscall(SYS_readlink, p.s, buf, len - 1);
  buf[n > 0 ? n : 0] = '\0';
}

/* Whether fd is open on a regular file (never a pipe, a socket, a tty or /dev/null). */
static inline int fc_fd_is_regular(int fd) {
  struct stat st;
  return syscall(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* In an interposed open(path, flags, ...): declares `mode`, the variadic argument that is there only with
 * O_CREAT or O_TMPFILE (0 otherwise). */
#define FC_OPEN_MODE(flags, last)                                                                            \
  mode_t mode = 0;                                                                                           \
  if ((flags) & (O_CREAT | __O_TMPFILE)) {                                                                   \
    va_list ap;                                                                                              \
    va_start(ap, last);                                                                                      \
    mode = (mode_t)va_arg(ap, int);                                                                          \
    va_end(ap);                                                                                              \
  }

#endif
