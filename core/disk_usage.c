/* disk_usage.c — du for one tree (disk_usage.h). */
#include "core/disk_usage.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

/* nftw passes no argument to its callback: the totals of the walk in progress on this thread. */
static _Thread_local uint64_t walk_bytes, walk_unreadable;

static int add_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)path;
  (void)ftw;
  if (flag == FTW_NS || flag == FTW_DNR)
    walk_unreadable++;
  else
    walk_bytes += (uint64_t)st->st_blocks * 512u;
  return 0;
}

uint64_t sl_disk_usage(const char *path, uint64_t *unreadable) {
  walk_bytes = walk_unreadable = 0;
  struct stat st;
  if (lstat(path, &st) != 0) {
    if (errno != ENOENT)
      walk_unreadable++;
  } else if (nftw(path, add_entry, 16, FTW_PHYS) != 0) {
    walk_unreadable++;
  }
  if (unreadable)
    *unreadable += walk_unreadable;
  return walk_bytes;
}

void sl_format_bytes(uint64_t n, char *out, unsigned len) {
  static const char *units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = (double)n;
  unsigned u = 0;
  while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
    v /= 1024;
    u++;
  }
  if (u == 0)
    snprintf(out, len, "%llu B", (unsigned long long)n);
  else
    snprintf(out, len, "%.1f %s", v, units[u]);
}
