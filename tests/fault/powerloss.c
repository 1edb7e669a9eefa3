/* powerloss.c — an LD_PRELOAD shim for simulated power loss, in the manner of Jepsen's LazyFS: it journals,
 * before each change under a directory, what the change destroys, so that after the program is SIGKILLed
 * at any instant `powerloss-apply JOURNAL` can undo everything that was not made durable yet — what a
 * power cut does to a filesystem's page cache.
 *
 *   SLUICE_POWERLOSS_DIR=DIR          trace changes to files and directory entries under DIR
 *   SLUICE_POWERLOSS_JOURNAL=FILE     the undo journal (format: powerloss_journal.h); outside DIR, on the
 *                                     same filesystem (inodes are kept alive by hard links FILE.links/...)
 *   SLUICE_POWERLOSS_EXCLUDE=A,B      basenames starting with A or B are not traced (for sluice: the working
 *                                     LMDB environment, state.mdb*, which recovery rebuilds from a
 *                                     checkpoint before it is opened — core/recovery.c, sl_snapshot_load)
 *
 * The durability model is the strict POSIX one (what ALICE and LazyFS assume, and what a filesystem may do):
 *   - file data and size: a write, pwrite(v), writev, copy_file_range into, ftruncate, or O_TRUNC is lost
 *     unless an fsync or fdatasync of that file returned after it;
 *   - directory entries: a create, mkdir, rename, unlink or rmdir is lost unless an fsync of the directory
 *     that holds the entry returned after it (for a rename, of both directories). Syncing a file does not
 *     make its name durable; syncing a directory does not make its files' data durable.
 * sync(), syncfs(), msync, the *at() variants of rename/unlink/mkdir and writes through a shared mapping
 * are not traced: sluice does not use them on the traced files (LMDB does, on the excluded environment).
 * stdio's internal writes are invisible to an LD_PRELOAD shim; sluice's checkpoints, snapshots, pending
 * parts and output use plain write/pwrite/copy_file_range/fsync, which are seen.
 *
 * Every traced call holds one mutex from its journal record to the end of the real call (and an fsync until
 * its PL_SYNC record is written), so the journal's order is the order of the changes. The shim never fails a
 * call: if it cannot journal a change it says so on stderr and ends the process with status 125, since a
 * change it cannot undo would make the test meaningless. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fault_common.h"
#include "powerloss_journal.h"

static struct {
  int on;
  char dir[PATH_MAX];
  size_t dir_len;
  char journal[PATH_MAX];
  int journal_fd;
  char exclude[1024];
} pl = {.journal_fd = -1};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what, const char *path) {
  char msg[PATH_MAX + 256];
  int n = snprintf(msg, sizeof msg, "powerloss shim: %s %s: %s\n", what, path, strerror(errno));
  syscall(SYS_write, 2, msg, (size_t)n);
  _exit(125);
}

__attribute__((constructor)) static void pl_init(void) {
  const char *dir = getenv("SLUICE_POWERLOSS_DIR"), *journal = getenv("SLUICE_POWERLOSS_JOURNAL");
  const char *exclude = getenv("SLUICE_POWERLOSS_EXCLUDE");
  if (!dir || !journal)
    return;
  if (!realpath(dir, pl.dir))
    die("cannot resolve", dir);
  pl.dir_len = strlen(pl.dir);
  snprintf(pl.journal, sizeof pl.journal, "%s", journal);
  snprintf(pl.exclude, sizeof pl.exclude, "%s", exclude ? exclude : "");
  pl.journal_fd =
      (int)syscall(SYS_openat, AT_FDCWD, journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (pl.journal_fd < 0)
    die("cannot open journal", journal);
  char links[PATH_MAX + 8];
  snprintf(links, sizeof links, "%s.links", journal);
  if (syscall(SYS_mkdirat, AT_FDCWD, links, 0700) != 0 && errno != EEXIST)
    die("cannot create", links);
  pl.on = 1;
}

/* Whether an absolute path is under the traced directory (or is it) and not excluded. */
static int traced(const char *abs) {
  if (!pl.on || strncmp(abs, pl.dir, pl.dir_len) != 0 || (abs[pl.dir_len] != '/' && abs[pl.dir_len] != '\0'))
    return 0;
  const char *base = strrchr(abs, '/') + 1;
  for (const char *e = pl.exclude; *e;) {
    const char *end = strchr(e, ',');
    size_t n = end ? (size_t)(end - e) : strlen(e);
    if (n && strncmp(base, e, n) == 0)
      return 0;
    e = end ? end + 1 : e + n;
  }
  return 1;
}

/* An absolute path for path (relative to dirfd): the real path of its parent, then its last component.
 * 0, or -1 if the parent does not resolve (the call will fail by itself). */
static int absolute(int dirfd, const char *path, char *out, size_t len) {
  char joined[PATH_MAX * 2], parent[PATH_MAX];
  if (path[0] == '/') {
    snprintf(joined, sizeof joined, "%s", path);
  } else {
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
      if (!getcwd(base, sizeof base))
        return -1;
    } else {
      fc_fd_path(dirfd, base, sizeof base);
    }
    snprintf(joined, sizeof joined, "%s/%s", base, path);
  }
  size_t n = strlen(joined);
  while (n > 1 && joined[n - 1] == '/')
    joined[--n] = '\0';
  char *slash = strrchr(joined, '/');
  *slash = '\0';
  if (!realpath(slash == joined ? "/" : joined, parent))
    return -1;
  snprintf(out, len, "%s/%s", strcmp(parent, "/") ? parent : "", slash + 1);
  return 0;
}

/* Appends one record (write-ahead: before the change it describes). */
static void journal(pl_head *h, const char *p1, const char *p2, const void *data) {
  h->magic = PL_MAGIC;
  h->len1 = p1 ? (uint32_t)strlen(p1) : 0;
  h->len2 = p2 ? (uint32_t)strlen(p2) : 0;
  struct iovec iov[4] = {
      {h, sizeof *h}, {(void *)p1, h->len1}, {(void *)p2, h->len2}, {(void *)data, h->data_len}};
  size_t total = sizeof *h + h->len1 + h->len2 + h->data_len;
  if (syscall(SYS_writev, pl.journal_fd, iov, 4) != (long)total)
    die("cannot append to", pl.journal);
}

/* Keeps inode (dev, ino) alive under the journal's links directory; from an fd, or (fd < 0) from a path. */
static void keep_inode(int fd, const char *path, uint64_t dev, uint64_t ino) {
  char link[PATH_MAX + 64], from[64];
  pl_link_path(pl.journal, dev, ino, link, sizeof link);
  long rc;
  if (fd >= 0) {
    snprintf(from, sizeof from, "/proc/self/fd/%d", fd);
    rc = syscall(SYS_linkat, AT_FDCWD, from, AT_FDCWD, link, AT_SYMLINK_FOLLOW);
  } else {
    rc = syscall(SYS_linkat, AT_FDCWD, path, AT_FDCWD, link, 0);
  }
  if (rc != 0 && errno != EEXIST)
    die("cannot keep a link to", path);
}

/* Journals the bytes [off, off+len) of inode st (those below its size) and its size, before they change. */
static void journal_range(const char *path, const struct stat *st, int64_t off, uint64_t len) {
  pl_head h = {.kind = PL_DATA, .dev = st->st_dev, .ino = st->st_ino, .off = off, .size = st->st_size};
  char link[PATH_MAX + 64];
  unsigned char *old = NULL;
  if (off < st->st_size && len > 0) {
    uint64_t n = (uint64_t)(st->st_size - off) < len ? (uint64_t)(st->st_size - off) : len;
    int fd = (int)syscall(SYS_openat, AT_FDCWD,
                          pl_link_path(pl.journal, st->st_dev, st->st_ino, link, sizeof link),
                          O_RDONLY | O_CLOEXEC);
    if (fd < 0 || !(old = malloc(n)))
      die("cannot read old bytes of", path);
    for (uint64_t got = 0; got < n;) {
      long r = syscall(SYS_pread64, fd, old + got, n - got, off + (int64_t)got);
      if (r <= 0)
        die("cannot read old bytes of", path);
      got += (uint64_t)r;
    }
    syscall(SYS_close, fd);
    h.data_len = n;
  }
  journal(&h, path, NULL, old);
  free(old);
}

/* If fd is a traced regular file: locks, journals [off, off+len) (off < 0: the fd's current write
 * position) and returns 1 — the caller makes the change, then unlocks. 0 for anything untraced. */
static int before_write(int fd, int64_t off, uint64_t len) {
  struct stat st;
  char path[PATH_MAX];
  if (!pl.on || syscall(SYS_fstat, fd, &st) != 0 || !S_ISREG(st.st_mode))
    return 0;
  fc_fd_path(fd, path, sizeof path);
  if (!traced(path))
    return 0;
  pthread_mutex_lock(&lock);
  syscall(SYS_fstat, fd, &st); /* again, under the lock: another thread may have grown it */
  if (off < 0)
    off = (fcntl(fd, F_GETFL) & O_APPEND) ? st.st_size : syscall(SYS_lseek, fd, 0, SEEK_CUR);
  keep_inode(fd, path, st.st_dev, st.st_ino);
  journal_range(path, &st, off, len);
  return 1;
}

static void after(int locked) {
  if (locked)
    pthread_mutex_unlock(&lock);
}

static uint64_t iov_total(const struct iovec *iov, int cnt) {
  uint64_t n = 0;
  for (int i = 0; i < cnt; i++)
    n += iov[i].iov_len;
  return n;
}

/* ---- data ---- */

ssize_t write(int fd, const void *buf, size_t n) {
  static ssize_t (*real)(int, const void *, size_t);
  if (!real)
    real = fc_real("write");
  int locked = before_write(fd, -1, n);
  ssize_t rc = real(fd, buf, n);
  after(locked);
  return rc;
}

static ssize_t do_pwrite(int fd, const void *buf, size_t n, off_t off) {
  static ssize_t (*real)(int, const void *, size_t, off_t);
  if (!real)
    real = fc_real("pwrite");
  int locked = before_write(fd, off, n);
  ssize_t rc = real(fd, buf, n, off);
  after(locked);
  return rc;
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  return do_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
  return do_pwrite(fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  static ssize_t (*real)(int, const struct iovec *, int);
  if (!real)
    real = fc_real("writev");
  int locked = before_write(fd, -1, iov_total(iov, cnt));
  ssize_t rc = real(fd, iov, cnt);
  after(locked);
  return rc;
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags) {
  static ssize_t (*real)(int, const struct iovec *, int, off_t, int);
  if (!real)
    real = fc_real("pwritev2");
  int locked = before_write(fd, off, iov_total(iov, cnt));
  ssize_t rc = real(fd, iov, cnt, off, flags);
  after(locked);
  return rc;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
  return pwritev2(fd, iov, cnt, off, 0);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
  return pwritev2(fd, iov, cnt, off, 0);
}

ssize_t copy_file_range(int in, off_t *in_off, int out, off_t *out_off, size_t len, unsigned flags) {
  static ssize_t (*real)(int, off_t *, int, off_t *, size_t, unsigned);
  if (!real)
    real = fc_real("copy_file_range");
  /* At most what is left in the source is written. */
  struct stat st;
  off_t from = in_off ? *in_off : (off_t)syscall(SYS_lseek, in, 0, SEEK_CUR);
  if (syscall(SYS_fstat, in, &st) == 0 && from >= 0 && S_ISREG(st.st_mode))
    len = st.st_size > from && (size_t)(st.st_size - from) < len ? (size_t)(st.st_size - from) : len;
  int locked = before_write(out, out_off ? *out_off : -1, len);
  ssize_t rc = real(in, in_off, out, out_off, len, flags);
  after(locked);
  return rc;
}

static int do_ftruncate(int fd, off_t len) {
  static int (*real)(int, off_t);
  if (!real)
    real = fc_real("ftruncate");
  /* Shrinking destroys [len, size); growing destroys nothing but the size. */
  int locked = before_write(fd, len, UINT64_MAX);
  int rc = real(fd, len);
  after(locked);
  return rc;
}

int ftruncate(int fd, off_t len) {
  return do_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len) {
  return do_ftruncate(fd, len);
}

/* ---- syncs ---- */

static int do_sync(int fd, int (*real)(int)) {
  struct stat st;
  char path[PATH_MAX];
  if (!pl.on || syscall(SYS_fstat, fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
    return real(fd);
  fc_fd_path(fd, path, sizeof path);
  if (!traced(path))
    return real(fd);
  pthread_mutex_lock(&lock);
  int rc = real(fd);
  if (rc == 0) {
    pl_head h = {.kind = S_ISDIR(st.st_mode) ? PL_DIRSYNC : PL_SYNC, .dev = st.st_dev, .ino = st.st_ino};
    journal(&h, path, NULL, NULL);
  }
  pthread_mutex_unlock(&lock);
  return rc;
}

int fsync(int fd) {
  static int (*real)(int);
  if (!real)
    real = fc_real("fsync");
  return do_sync(fd, real);
}

int fdatasync(int fd) {
  static int (*real)(int);
  if (!real)
    real = fc_real("fdatasync");
  return do_sync(fd, real);
}

/* ---- directory entries ---- */

/* Locks and resolves path if it is traced; 1 then (the caller unlocks), 0 if not. */
static int entry_begin(int dirfd, const char *path, char *abs, size_t len) {
  if (!pl.on || absolute(dirfd, path, abs, len) != 0 || !traced(abs))
    return 0;
  pthread_mutex_lock(&lock);
  return 1;
}

static int do_openat(int dirfd, const char *path, int flags, mode_t mode) {
  static int (*real)(int, const char *, int, ...);
  if (!real)
    real = fc_real("openat");
  char abs[PATH_MAX];
  int locked = (flags & (O_CREAT | O_TRUNC)) && entry_begin(dirfd, path, abs, sizeof abs);
  if (locked) {
    struct stat st;
    if (syscall(SYS_newfstatat, AT_FDCWD, abs, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (flags & O_CREAT) {
        pl_head h = {.kind = PL_CREATE};
        journal(&h, abs, NULL, NULL);
      }
    } else if ((flags & O_TRUNC) && S_ISREG(st.st_mode) && (flags & O_ACCMODE) != O_RDONLY) {
      keep_inode(-1, abs, st.st_dev, st.st_ino);
      journal_range(abs, &st, 0, UINT64_MAX);
    }
  }
  int fd = real(dirfd, path, flags, mode);
  after(locked);
  return fd;
}

int open(const char *path, int flags, ...) {
  FC_OPEN_MODE(flags, flags);
  return do_openat(AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...) {
  FC_OPEN_MODE(flags, flags);
  return do_openat(AT_FDCWD, path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
  FC_OPEN_MODE(flags, flags);
  return do_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) {
  FC_OPEN_MODE(flags, flags);
  return do_openat(dirfd, path, flags, mode);
}

int creat(const char *path, mode_t mode) {
  return do_openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
}

int mkdir(const char *path, mode_t mode) {
  static int (*real)(const char *, mode_t);
  if (!real)
    real = fc_real("mkdir");
  char abs[PATH_MAX];
  struct stat st;
  int locked = entry_begin(AT_FDCWD, path, abs, sizeof abs);
  if (locked && syscall(SYS_newfstatat, AT_FDCWD, abs, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    pl_head h = {.kind = PL_MKDIR};
    journal(&h, abs, NULL, NULL);
  }
  int rc = real(path, mode);
  after(locked);
  return rc;
}

int rmdir(const char *path) {
  static int (*real)(const char *);
  if (!real)
    real = fc_real("rmdir");
  char abs[PATH_MAX];
  struct stat st;
  int locked = entry_begin(AT_FDCWD, path, abs, sizeof abs);
  if (locked && syscall(SYS_newfstatat, AT_FDCWD, abs, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      S_ISDIR(st.st_mode)) {
    pl_head h = {.kind = PL_RMDIR};
    journal(&h, abs, NULL, NULL);
  }
  int rc = real(path);
  after(locked);
  return rc;
}

int unlink(const char *path) {
  static int (*real)(const char *);
  if (!real)
    real = fc_real("unlink");
  char abs[PATH_MAX];
  struct stat st;
  int locked = entry_begin(AT_FDCWD, path, abs, sizeof abs);
  if (locked && syscall(SYS_newfstatat, AT_FDCWD, abs, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      !S_ISDIR(st.st_mode)) {
    keep_inode(-1, abs, st.st_dev, st.st_ino);
    pl_head h = {.kind = PL_UNLINK, .dev = st.st_dev, .ino = st.st_ino};
    journal(&h, abs, NULL, NULL);
  }
  int rc = real(path);
  after(locked);
  return rc;
}

int rename(const char *from, const char *to) {
  static int (*real)(const char *, const char *);
  if (!real)
    real = fc_real("rename");
  char afrom[PATH_MAX], ato[PATH_MAX];
  int ok = pl.on && absolute(AT_FDCWD, from, afrom, sizeof afrom) == 0 &&
           absolute(AT_FDCWD, to, ato, sizeof ato) == 0 && (traced(afrom) || traced(ato));
  struct stat sf, st;
  if (ok) {
    pthread_mutex_lock(&lock);
    if (syscall(SYS_newfstatat, AT_FDCWD, afrom, &sf, AT_SYMLINK_NOFOLLOW) == 0) {
      pl_head h = {.kind = PL_RENAME, .dev = sf.st_dev, .ino = sf.st_ino};
      if (syscall(SYS_newfstatat, AT_FDCWD, ato, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
        keep_inode(-1, ato, st.st_dev, st.st_ino);
        h.dev2 = st.st_dev;
        h.ino2 = st.st_ino;
      }
      journal(&h, afrom, ato, NULL);
    }
  }
  int rc = real(from, to);
  after(ok);
  return rc;
}
