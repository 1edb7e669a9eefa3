/* checkpoint_meta.c — checkpoint metadata files and directory listing (see checkpoint_meta.h). */
#include "core/checkpoint_meta.h"
#include "core/state_dir.h"

#include "state/file_modes.h"
#include "state/state_clock.h"
#include "state/state_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
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

int sl_fsync_parent(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    dir[--n] = '\0';
  char *slash = strrchr(dir, '/');
  if (!slash)
    return sl_fsync_dir(".");
  *slash = '\0';
  return sl_fsync_dir(slash == dir ? "/" : dir);
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

/* The _metadata format, version 2: one "key value" line per field, in this order, then a CRC-32 of every
 * byte before the crc32 line. The CRC is what makes a damaged file provably damaged: a flipped bit in a
 * number would otherwise read as another valid checkpoint (another output size, another base). Version 1
 * files (written before the checksum, ended by an "end" line) are still read, strictly: every key known,
 * every required key present. */
#define META_MAX_BYTES 16384

typedef struct meta_field {
  const char *key;
  size_t offset;  /* of the uint64_t in sl_checkpoint_meta */
  int since;      /* the first format version that has it */
  int optional_1; /* may be absent from a version 1 file (added during version 1) */
} meta_field;

#define F(name, since, opt)                                                                                  \
  { #name, offsetof(sl_checkpoint_meta, name), since, opt }
static const meta_field fields[] = {
    F(id, 1, 0),
    F(time_ms, 1, 0),
    F(duration_ms, 1, 0),
    F(alignment_ms, 1, 0),
    F(barrier_ms, 1, 0),
    F(snapshot_bytes, 1, 0),
    F(snapshot_entries, 1, 0),
    F(sink_committed, 1, 0),
    F(sink_first_part, 1, 0),
    F(sink_part, 1, 0),
    F(base_id, 1, 1),
    F(sink_dev, 2, 0),
    F(sink_ino, 2, 0),
    F(sink_crc, 2, 0),
    F(max_parallelism, 2, 0),
    F(parallelism, 3, 0),
};
#undef F
#define NFIELDS (sizeof fields / sizeof fields[0])

int sl_checkpoint_meta_write(const char *dir, const sl_checkpoint_meta *m, char *err, size_t errlen) {
  char tmp[4096], final[4096], text[META_MAX_BYTES];
  sl_checkpoint_file(dir, SL_CHECKPOINT_METADATA ".tmp", tmp, sizeof tmp);
  sl_checkpoint_file(dir, SL_CHECKPOINT_METADATA, final, sizeof final);
  sl_checkpoint_meta c = *m;
  if (!c.base_id)
    c.base_id = c.id;
  /* Version 3 only adds the parallelism, so a job that runs alone writes version 2 as before. */
  int version = c.parallelism > 1 ? 3 : 2;
  size_t n = (size_t)snprintf(text, sizeof text, "sluice-checkpoint %d\n", version);
  for (size_t i = 0; i < NFIELDS; i++)
    if (fields[i].since <= version)
      n += (size_t)snprintf(text + n, sizeof text - n, "%s %" PRIu64 "\n", fields[i].key,
                          *(const uint64_t *)((const char *)&c + fields[i].offset));
  n += (size_t)snprintf(text + n, sizeof text - n, "savepoint %d\nsink_path %s\n", c.savepoint ? 1 : 0,
                        c.sink_path);
  n += (size_t)snprintf(text + n, sizeof text - n, "crc32 %08" PRIx32 "\n", sl_crc32(0, text, n));
  if (n >= sizeof text) {
    snprintf(err, errlen, "writing %s: the sink path is too long", tmp);
    return -1;
  }
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, SL_STATE_FILE_MODE);
  if (fd < 0 || write(fd, text, n) != (ssize_t)n || fsync(fd) != 0) {
    snprintf(err, errlen, "writing %s: %s", tmp, strerror(errno));
    if (fd >= 0)
      close(fd);
    unlink(tmp);
    return -1;
  }
  /* The rename makes _metadata durable in dir, and dir's own name must be durable in its parent (the
   * checkpoints directory): a power loss must not take back a checkpoint that was complete. */
  if (close(fd) != 0 || rename(tmp, final) != 0 || sl_fsync_dir(dir) != 0 || sl_fsync_parent(dir) != 0) {
    snprintf(err, errlen, "installing %s: %s", final, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* 8 lowercase hex digits, as written (uppercase is refused: a flipped case bit must not read as valid). */
static int parse_hex32(const char *p, uint64_t *out) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0)
      return -1;
    v = v << 4 | (uint64_t)d;
  }
  *out = v;
  return 0;
}

/* A decimal uint64 that is the whole of [p, end): digits only, no sign, no overflow. */
static int parse_u64(const char *p, const char *end, uint64_t *out) {
  uint64_t v = 0;
  if (p == end || end - p > 20)
    return -1;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* Parses the lines of [p, end) (each ending in '\n') of a version `version` file into m. 0, or -1 with the
 * reason. */
static int parse_lines(const char *p, const char *end, int version, sl_checkpoint_meta *m, char *err,
                       size_t errlen) {
  unsigned seen = 0; /* bit i: fields[i]; bit NFIELDS: savepoint; bit NFIELDS+1: sink_path */
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (!eol) { /* the crc32 line (or "end") must start a line of its own */
      snprintf(err, errlen, "metadata's last field is not on a line of its own");
      return -1;
    }
    const char *sp = memchr(p, ' ', (size_t)(eol - p));
    if (!sp) {
      snprintf(err, errlen, "metadata line '%.*s' has no value", (int)(eol - p > 40 ? 40 : eol - p), p);
      return -1;
    }
    size_t klen = (size_t)(sp - p);
    const char *v = sp + 1;
    unsigned bit;
    if (klen == 9 && !memcmp(p, "sink_path", 9)) {
      bit = NFIELDS + 1;
      if ((size_t)(eol - v) >= sizeof m->sink_path) {
        snprintf(err, errlen, "metadata sink_path is too long");
        return -1;
      }
      memcpy(m->sink_path, v, (size_t)(eol - v));
      m->sink_path[eol - v] = '\0';
    } else if (klen == 9 && !memcmp(p, "savepoint", 9)) {
      bit = NFIELDS;
      if (eol - v != 1 || (*v != '0' && *v != '1')) {
        snprintf(err, errlen, "metadata savepoint is not 0 or 1");
        return -1;
      }
      m->savepoint = *v == '1';
    } else {
      for (bit = 0; bit < NFIELDS; bit++)
        if (strlen(fields[bit].key) == klen && !memcmp(p, fields[bit].key, klen) &&
            fields[bit].since <= version)
          break;
      if (bit == NFIELDS) {
        snprintf(err, errlen, "metadata has an unknown key '%.*s'", (int)(klen > 40 ? 40 : klen), p);
        return -1;
      }
      if (parse_u64(v, eol, (uint64_t *)((char *)m + fields[bit].offset))) {
        snprintf(err, errlen, "metadata %s is not a number", fields[bit].key);
        return -1;
      }
    }
    if (seen & (1u << bit)) {
      snprintf(err, errlen, "metadata has key '%.*s' twice", (int)(klen > 40 ? 40 : klen), p);
      return -1;
    }
    seen |= 1u << bit;
    p = eol + 1;
  }
  for (unsigned bit = 0; bit < NFIELDS + 2; bit++) {
    int required =
        bit >= NFIELDS || (fields[bit].since <= version && !(version == 1 && fields[bit].optional_1));
    if (required && !(seen & (1u << bit))) {
      snprintf(err, errlen, "metadata lacks %s",
               bit == NFIELDS       ? "savepoint"
               : bit == NFIELDS + 1 ? "sink_path"
                                    : fields[bit].key);
      return -1;
    }
  }
  if (!m->base_id)
    m->base_id = m->id; /* version 1, before incremental checkpoints: a full one */
  if (m->base_id > m->id || m->sink_first_part > m->id) {
    snprintf(err, errlen, "metadata names a base or a pending part after its own checkpoint");
    return -1;
  }
  return 0;
}

/* Reads the whole file (at most META_MAX_BYTES) into buf. Its length, or -1 with errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      errno = e;
      return -1;
    }
    if (r == 0 || (n += (size_t)r) == cap)
      break;
  }
  close(fd);
  return (ssize_t)n;
}

int sl_checkpoint_meta_read(const char *dir, sl_checkpoint_meta *m, char *err, size_t errlen) {
  char path[4096], buf[META_MAX_BYTES + 1];
  sl_checkpoint_file(dir, SL_CHECKPOINT_METADATA, path, sizeof path);
  memset(m, 0, sizeof *m);
  ssize_t len = read_small(path, buf, sizeof buf);
  if (len < 0) {
    int missing = errno == ENOENT || errno == ENOTDIR;
    snprintf(err, errlen, "%s (%s)", missing ? "no metadata" : "cannot read its metadata", strerror(errno));
    return missing ? SL_META_MISSING : SL_META_UNREADABLE;
  }
  size_t n = (size_t)len;
  if (n > META_MAX_BYTES || n == 0 || buf[n - 1] != '\n' || memchr(buf, '\0', n)) {
    snprintf(err, errlen, "metadata is truncated or malformed");
    return SL_META_CORRUPT;
  }
  static const char v1[] = "sluice-checkpoint 1\n", v2[] = "sluice-checkpoint 2\n",
                    v3[] = "sluice-checkpoint 3\n";
  const char *body = buf + sizeof v2 - 1, *end;
  int version;
  int is_v3 = n > sizeof v3 - 1 && !memcmp(buf, v3, sizeof v3 - 1);
  if ((n > sizeof v2 - 1 && !memcmp(buf, v2, sizeof v2 - 1)) || is_v3) {
    /* The last line is "crc32 XXXXXXXX" over everything before it. */
    static const char tag[] = "crc32 ";
    size_t line = sizeof tag - 1 + 8 + 1;
    uint64_t crc;
    if (n < sizeof v2 - 1 + line || memcmp(buf + n - line, tag, sizeof tag - 1) ||
        parse_hex32(buf + n - 9, &crc) || sl_crc32(0, buf, n - line) != (uint32_t)crc) {
      snprintf(err, errlen, "metadata fails its checksum (damaged or truncated)");
      return SL_META_CORRUPT;
    }
    version = is_v3 ? 3 : 2;
    end = buf + n - line;
  } else if (n > sizeof v1 - 1 && !memcmp(buf, v1, sizeof v1 - 1) && n >= 4 + sizeof v1 - 1 &&
             !memcmp(buf + n - 4, "end\n", 4) && (n == 4 || buf[n - 5] == '\n')) {
    version = 1;
    body = buf + sizeof v1 - 1;
    end = buf + n - 4;
  } else {
    snprintf(err, errlen, "metadata is truncated or malformed");
    return SL_META_CORRUPT;
  }
  if (parse_lines(body, end, version, m, err, errlen)) {
    memset(m, 0, sizeof *m);
    return SL_META_CORRUPT;
  }
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
    size_t plen = sizeof SL_CHECKPOINT_PREFIX - 1;
    if (strncmp(e->d_name, SL_CHECKPOINT_PREFIX, plen) || e->d_name[plen] < '0' || e->d_name[plen] > '9')
      continue;
    errno = 0;
    unsigned long long id = strtoull(e->d_name + plen, &end, 10);
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
