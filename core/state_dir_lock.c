/* state_dir_lock.c — STATE-DIR/lock: taken by the job, probed by the commands (see state_dir_lock.h). */
#include "core/state_dir_lock.h"
#include "core/state_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static void lock_path(const char *state_dir, char *out, size_t len) {
  sl_state_dir_path(state_dir, "lock", out, len);
}

/* The kernel's answer to "who holds a lock that conflicts with a read lock on the whole file": 1 with the
 * holder's pid, 0 when nobody, -1 with errno. */
static int holder_of(int fd, long *pid) {
  struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  if (fcntl(fd, F_GETLK, &fl) != 0)
    return -1;
  if (fl.l_type == F_UNLCK)
    return 0;
  *pid = (long)fl.l_pid;
  return 1;
}

int sl_state_dir_lock_take(const char *state_dir, long *holder) {
  char path[4200], text[32];
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
  *holder = 0;
  lock_path(state_dir, path, sizeof path);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  if (fcntl(fd, F_SETLK, &fl) != 0) {
    int e = errno == EACCES || errno == EAGAIN ? EWOULDBLOCK : errno;
    if (e == EWOULDBLOCK && holder_of(fd, holder) != 1)
      *holder = 0;
    close(fd);
    errno = e;
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  /* The text is for people only; the locks are what count, so failing to write it is no error. */
  int n = snprintf(text, sizeof text, "%ld\n", (long)getpid());
  int written = ftruncate(fd, 0) == 0 && pwrite(fd, text, (size_t)n, 0) == n;
  (void)written;
  return fd;
}

int sl_state_dir_lock_probe(const char *state_dir, long *pid) {
  char path[4200];
  *pid = 0;
  lock_path(state_dir, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : -1;
  int rc = holder_of(fd, pid);
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

/* Whether process pid has a handler for sig: 1, 0, or -1 when /proc cannot tell. */
static int catches(long pid, int sig) {
  char path[64], line[256];
  unsigned long long mask;
  int found = -1;
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "re");
  if (!f)
    return -1;
  while (found < 0 && fgets(line, sizeof line, f))
    if (sscanf(line, "SigCgt: %llx", &mask) == 1)
      found = (int)((mask >> (sig - 1)) & 1);
  fclose(f);
  return found;
}

int sl_state_dir_lock_signal(const char *state_dir, long pid, int sig) {
  long holder = 0;
  if (sl_state_dir_lock_probe(state_dir, &holder) != 1 || holder != pid) {
    errno = ESRCH;
    return -1;
  }
  if (catches(pid, sig) == 0)
    return 1;
  return kill((pid_t)pid, sig) == 0 ? 0 : -1;
}
