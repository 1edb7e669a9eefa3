/* checkpoint_meta.c — checkpoint metadata files and directory listing (see checkpoint_meta.h). */
#include "core/checkpoint_meta.h"

#include "state/state_clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t sl_now_ms(void) {
  /* The same wall clock as state TTL, so a checkpoint's "now" and an entry's expiry compare directly. */
  return (uint64_t)sl_clock_now(NULL);
}

int sl_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

void sl_remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
        continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

int sl_checkpoint_meta_write(const char *dir, const sl_checkpoint_meta *m, char *err, size_t errlen) {
  char tmp[4096], final[4096], text[5200];
  snprintf(tmp, sizeof tmp, "%s/_metadata.tmp", dir);
  snprintf(final, sizeof final, "%s/_metadata", dir);
  int n = snprintf(text, sizeof text,
                   "sluice-checkpoint 1\nid %" PRIu64 "\ntime_ms %" PRIu64 "\nduration_ms %" PRIu64
                   "\nalignment_ms %" PRIu64 "\nbarrier_ms %" PRIu64 "\nsnapshot_bytes %" PRIu64
                   "\nsnapshot_entries %" PRIu64 "\nsink_committed %" PRIu64 "\nsink_first_part %" PRIu64
                   "\nsink_part %" PRIu64 "\nsavepoint %d\nbase_id %" PRIu64 "\nsink_path %s\nend\n",
                   m->id, m->time_ms, m->duration_ms, m->alignment_ms, m->barrier_ms, m->snapshot_bytes,
                   m->snapshot_entries, m->sink_committed, m->sink_first_part, m->sink_part, m->savepoint,
                   m->base_id ? m->base_id : m->id, m->sink_path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
    snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
    if (fd >= 0)
      close(fd);
    unlink(tmp);
    return -1;
  }
  close(fd);
  if (rename(tmp, final) != 0 || sl_fsync_dir(dir) != 0) {
    snprintf(err, errlen, "installing %s: %s", final, strerror(errno));
    return -1;
  }
  return 0;
}

int sl_checkpoint_meta_read(const char *dir, sl_checkpoint_meta *m, char *err, size_t errlen) {
  char path[4096], key[64];
  unsigned long long v;
  int seen = 0, ended = 0;
  snprintf(path, sizeof path, "%s/_metadata", dir);
  FILE *f = fopen(path, "re");
  memset(m, 0, sizeof *m);
  if (!f) {
    snprintf(err, errlen, "no metadata (%s)", strerror(errno));
    return -1;
  }
  char line[4200];
  while (fgets(line, sizeof line, f)) {
    if (!strcmp(line, "end\n")) {
      ended = 1;
      break;
    }
    if (!strncmp(line, "sink_path ", 10)) {
      snprintf(m->sink_path, sizeof m->sink_path, "%s", line + 10);
      m->sink_path[strcspn(m->sink_path, "\n")] = '\0';
      continue;
    }
    if (sscanf(line, "%63s %llu", key, &v) != 2)
      continue;
    seen++;
    if (!strcmp(key, "id"))
      m->id = v;
    else if (!strcmp(key, "time_ms"))
      m->time_ms = v;
    else if (!strcmp(key, "duration_ms"))
      m->duration_ms = v;
    else if (!strcmp(key, "alignment_ms"))
      m->alignment_ms = v;
    else if (!strcmp(key, "barrier_ms"))
      m->barrier_ms = v;
    else if (!strcmp(key, "snapshot_bytes"))
      m->snapshot_bytes = v;
    else if (!strcmp(key, "snapshot_entries"))
      m->snapshot_entries = v;
    else if (!strcmp(key, "sink_committed"))
      m->sink_committed = v;
    else if (!strcmp(key, "sink_first_part"))
      m->sink_first_part = v;
    else if (!strcmp(key, "sink_part"))
      m->sink_part = v;
    else if (!strcmp(key, "base_id"))
      m->base_id = v;
    else if (!strcmp(key, "savepoint"))
      m->savepoint = (int)v;
  }
  fclose(f);
  if (!ended || seen < 10) {
    snprintf(err, errlen, "metadata is truncated or malformed");
    return -1;
  }
  if (!m->base_id)
    m->base_id = m->id; /* written before incremental checkpoints: a full one */
  return 0;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int sl_checkpoint_list(const char *checkpoints_dir, uint64_t **ids) {
  DIR *d = opendir(checkpoints_dir);
  *ids = NULL;
  if (!d)
    return errno == ENOENT ? 0 : -1;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    /* Only chk-<digits>: strtoull alone would also take "chk-+5", "chk- 5", "chk--5" (as 2^64-5) and
     * saturate an overflow, and such a stray name would become the newest checkpoint. */
    if (strncmp(e->d_name, "chk-", 4) || e->d_name[4] < '0' || e->d_name[4] > '9')
      continue;
    errno = 0;
    unsigned long long id = strtoull(e->d_name + 4, &end, 10);
    if (*end || errno == ERANGE)
      continue;
    if (n == cap) {
      uint64_t *g = realloc(*ids, (cap = cap ? cap * 2 : 16) * sizeof *g);
      if (!g) {
        closedir(d);
        return -1;
      }
      *ids = g;
    }
    (*ids)[n++] = id;
  }
  closedir(d);
  if (n)
    qsort(*ids, n, sizeof **ids, cmp_u64);
  return (int)n;
}
