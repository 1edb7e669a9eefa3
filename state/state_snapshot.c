/* state_snapshot.c — writes, verifies and loads full snapshots (see state_snapshot.h). */
#include "state/state_snapshot.h"
#include "state/file_modes.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/byte_order.h"
#include "state/state_backend_internal.h"
#include "state/state_ttl.h"

#define MAGIC "SLSNAP01"
#define TRAILER_TAG 0xFF
#define TRAILER_LEN (1 + 8 + 4)

struct sl_snapshot {
  sl_backend *b;
  MDB_txn *txn;
  int counted; /* opened by sl_snapshot_begin, which counts it in b->snapshots_open */
  /* Cleanup while snapshotting (sl_snapshot_drop_expired): the TTL states, and the time they expire at. */
  uint32_t *ttl_ids;
  size_t nttl_ids;
  int64_t now;
  uint64_t dropped;
};

/* CRC-32 (IEEE, reflected), slicing by 8: eight table lookups per 8 bytes instead of one per byte, about
 * four times the byte-wise speed (it checks every snapshot and every pending output part, measured at 9 % of
 * a URL count's cycles byte-wise). The tables are built once, on first use, by whichever thread comes first
 * (parallel subtasks checksum on several threads). */
static uint32_t crc_table[8][256];

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
}

uint32_t sl_crc32(uint32_t crc, const void *p, size_t n) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, crc_init);
  const uint8_t *s = p;
  crc = ~crc;
  while (n >= 8) {
    uint32_t lo = crc ^ ((uint32_t)s[0] | (uint32_t)s[1] << 8 | (uint32_t)s[2] << 16 | (uint32_t)s[3] << 24);
    uint32_t hi = (uint32_t)s[4] | (uint32_t)s[5] << 8 | (uint32_t)s[6] << 16 | (uint32_t)s[7] << 24;
    crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^ crc_table[5][(lo >> 16) & 0xFF] ^
          crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
          crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
    s += 8;
    n -= 8;
  }
  while (n--)
    crc = crc_table[0][(crc ^ *s++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

int sl_snapshot_begin(sl_backend *b, sl_snapshot **out) {
  /* Build the CRC table here, on the loop thread, before a worker thread can race to build it. */
  sl_crc32(0, "", 0);
  sl_snapshot *s = calloc(1, sizeof *s);
  if (!s)
    return SL_STATE_ENOMEM;
  int rc = mdb_txn_begin(b->env, NULL, MDB_RDONLY, &s->txn);
  if (rc) {
    free(s);
    return sl_bk_fail(b, rc, "opening the snapshot view");
  }
  s->b = b;
  s->counted = 1;
  b->snapshots_open++;
  *out = s;
  return SL_STATE_OK;
}

int sl_snapshot_wrap(sl_backend *b, void *read_txn, sl_snapshot **out) {
  sl_snapshot *s = calloc(1, sizeof *s);
  if (!s)
    return SL_STATE_ENOMEM;
  s->b = b;
  s->txn = read_txn;
  *out = s;
  return SL_STATE_OK;
}

void sl_snapshot_end(sl_snapshot *s) {
  if (!s)
    return;
  mdb_txn_abort(s->txn);
  if (s->counted)
    s->b->snapshots_open--;
  free(s->ttl_ids);
  free(s);
}

int sl_snapshot_drop_expired(sl_snapshot *s, int64_t now) {
  sl_backend *b = s->b;
  free(s->ttl_ids);
  s->ttl_ids = NULL;
  s->nttl_ids = 0;
  s->now = now;
  if (!b->nttl_ids)
    return 0;
  if (!(s->ttl_ids = malloc(b->nttl_ids * sizeof *s->ttl_ids)))
    return ENOMEM;
  memcpy(s->ttl_ids, b->ttl_ids, b->nttl_ids * sizeof *s->ttl_ids);
  s->nttl_ids = b->nttl_ids;
  return 0;
}

void sl_snapshot_take_expiry(sl_snapshot *s, uint32_t *ids, size_t n, int64_t now) {
  free(s->ttl_ids);
  s->ttl_ids = ids;
  s->nttl_ids = n;
  s->now = now;
}

uint64_t sl_snapshot_expired_dropped(const sl_snapshot *s) {
  return s ? s->dropped : 0;
}

/* A kv entry of a TTL state whose expiry has passed (composite key: [group 2][state id 4 BE]...). */
static int expired(const sl_snapshot *s, const MDB_val *k, const MDB_val *v) {
  if (!s->nttl_ids || k->mv_size < 6)
    return 0;
  const uint8_t *key = k->mv_data;
  uint32_t sid = sl_get_be32(key + 2);
  for (size_t i = 0; i < s->nttl_ids; i++)
    if (s->ttl_ids[i] == sid) {
      const void *val;
      size_t len;
      return sl_ttl_check(s->now, v->mv_data, v->mv_size, &val, &len) == SL_TTL_EXPIRED;
    }
  return 0;
}

/* A buffered, checksummed writer. The checksum is taken over the buffer as it is written out, not per put:
 * a record is three short puts, and a CRC call per put (set-up, then a byte-wise tail) cost more than the
 * whole snapshot's bytes checksummed in 64 KiB runs (perf: 5 % of a 1 M distinct-key run). */
typedef struct writer {
  int fd;
  uint32_t crc;
  uint64_t bytes;
  size_t len;
  size_t crc_at; /* buf[0, crc_at) is in crc already (or is the trailer's crc, which is not checksummed) */
  int failed;
  uint8_t buf[1 << 16];
} writer;

static void w_checksum_pending(writer *w) {
  w->crc = sl_crc32(w->crc, w->buf + w->crc_at, w->len - w->crc_at);
  w->crc_at = w->len;
}

static void w_flush(writer *w) {
  w_checksum_pending(w);
  size_t off = 0;
  while (!w->failed && off < w->len) {
    ssize_t n = write(w->fd, w->buf + off, w->len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      w->failed = errno;
    else
      off += (size_t)n;
  }
  w->len = w->crc_at = 0;
}

/* Appends n bytes; with checksum 0 they stay out of the checksum (the trailer's crc itself). */
static void w_put(writer *w, const void *p, size_t n, int checksum) {
  if (!checksum)
    w_checksum_pending(w);
  w->bytes += n;
  const uint8_t *s = p;
  while (n > 0) {
    if (w->len == sizeof w->buf)
      w_flush(w);
    size_t k = sizeof w->buf - w->len < n ? sizeof w->buf - w->len : n;
    memcpy(w->buf + w->len, s, k);
    w->len += k;
    if (!checksum)
      w->crc_at = w->len;
    s += k;
    n -= k;
  }
}

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get_u64(const uint8_t *p) {
  return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

/* The trailer (entry count, then the checksum of everything before it), and out to the file. */
static void w_finish(writer *w, uint64_t entries) {
  uint8_t trailer[TRAILER_LEN];
  trailer[0] = TRAILER_TAG;
  put_u64(trailer + 1, entries);
  w_put(w, trailer, 9, 1);
  w_checksum_pending(w);
  put_u32(trailer + 9, w->crc);
  w_put(w, trailer + 9, 4, 0);
  w_flush(w);
}

static void w_record(writer *w, uint8_t tag, const void *k, size_t kl, const void *v, size_t vl) {
  uint8_t head[9];
  head[0] = tag;
  put_u32(head + 1, (uint32_t)kl);
  put_u32(head + 5, (uint32_t)vl);
  w_put(w, head, sizeof head, 1);
  w_put(w, k, kl, 1);
  w_put(w, v, vl, 1);
}

struct sl_snapfile {
  writer w;
  uint64_t entries;
  char path[4096];
};

sl_snapfile *sl_snapfile_create(const char *path, char *err, size_t errlen) {
  sl_snapfile *f = calloc(1, sizeof *f);
  if (!f) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  snprintf(f->path, sizeof f->path, "%s", path);
  f->w.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, SL_STATE_FILE_MODE);
  if (f->w.fd < 0) {
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    free(f);
    return NULL;
  }
  w_put(&f->w, MAGIC, 8, 1);
  return f;
}

void sl_snapfile_put(sl_snapfile *f, uint8_t tag, const void *k, size_t kl, const void *v, size_t vl) {
  w_record(&f->w, tag, k, kl, v, vl);
  f->entries++;
}

int sl_snapfile_finish(sl_snapfile *f, uint64_t *bytes, uint64_t *entries, char *err, size_t errlen) {
  writer *w = &f->w;
  w_finish(w, f->entries);
  int result = 0;
  if (w->failed || fsync(w->fd) != 0) {
    snprintf(err, errlen, "writing %s: %s", f->path, strerror(w->failed ? w->failed : errno));
    result = -1;
  }
  *bytes = w->bytes;
  *entries = f->entries;
  close(w->fd);
  free(f);
  return result;
}

static int write_db(sl_snapshot *s, MDB_dbi dbi, uint8_t tag, writer *w, uint64_t *entries) {
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(s->txn, dbi, &c);
  if (rc)
    return rc;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (tag == 1 && expired(s, &k, &v)) {
      s->dropped++;
      continue;
    }
    w_record(w, tag, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
    (*entries)++;
  }
  mdb_cursor_close(c);
  return rc == MDB_NOTFOUND ? 0 : rc;
}

int sl_snapshot_write(sl_snapshot *s, const char *path, uint64_t *bytes, uint64_t *entries, char *err,
                      size_t errlen) {
  writer *w = calloc(1, sizeof *w);
  if (!w) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, SL_STATE_FILE_MODE);
  if (w->fd < 0) {
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    free(w);
    return -1;
  }
  *entries = 0;
  s->dropped = 0;
  w_put(w, MAGIC, 8, 1);
  int rc = write_db(s, s->b->kv, 1, w, entries);
  if (!rc)
    rc = write_db(s, s->b->meta, 2, w, entries);
  if (!rc)
    rc = write_db(s, s->b->states, 3, w, entries);
  w_finish(w, *entries);
  int result = 0;
  if (rc) {
    snprintf(err, errlen, "reading the snapshot view: %s", mdb_strerror(rc));
    result = -1;
  } else if (w->failed || fsync(w->fd) != 0) {
    snprintf(err, errlen, "writing %s: %s", path, strerror(w->failed ? w->failed : errno));
    result = -1;
  }
  *bytes = w->bytes;
  close(w->fd);
  free(w);
  return result;
}

/* A verified snapshot mapped in memory. */
typedef struct mapped {
  const uint8_t *p;
  size_t len;
  uint64_t entries;
} mapped;

/* Maps path and checks it. 0; SL_SNAPSHOT_CORRUPT when its content (or its absence) proves it bad; -1 when
 * it cannot be read now (out of memory or address space, EIO, permissions): that proves nothing about it. */
static int map_verified(const char *path, mapped *m, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  memset(m, 0, sizeof *m);
  if (fd < 0 || fstat(fd, &st) != 0) {
    int missing = errno == ENOENT;
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return missing ? SL_SNAPSHOT_CORRUPT : -1;
  }
  m->len = (size_t)st.st_size;
  if (m->len < 8 + TRAILER_LEN) {
    snprintf(err, errlen, "%s is truncated (%zu bytes)", path, m->len);
    close(fd);
    return SL_SNAPSHOT_CORRUPT;
  }
  m->p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (m->p == MAP_FAILED) {
    snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
    m->p = NULL;
    return -1;
  }
  const uint8_t *t = m->p + m->len - TRAILER_LEN;
  if (memcmp(m->p, MAGIC, 8) != 0 || t[0] != TRAILER_TAG) {
    snprintf(err, errlen, "%s is not a sluice snapshot or is truncated", path);
  } else if (sl_crc32(0, m->p, m->len - 4) != get_u32(t + 9)) {
    snprintf(err, errlen, "%s fails its checksum (corrupt)", path);
  } else {
    m->entries = get_u64(t + 1);
    /* Walk the records once: every length must stay inside the file. */
    size_t off = 8;
    uint64_t n = 0;
    while (off < m->len - TRAILER_LEN) {
      if (off + 9 > m->len - TRAILER_LEN)
        break;
      size_t klen = get_u32(m->p + off + 1), vlen = get_u32(m->p + off + 5);
      if (m->p[off] < 1 || m->p[off] > 4 || klen == 0 || off + 9 + klen + vlen > m->len - TRAILER_LEN)
        break;
      off += 9 + klen + vlen;
      n++;
    }
    if (off == m->len - TRAILER_LEN && n == m->entries)
      return 0;
    snprintf(err, errlen, "%s has a malformed record at byte %zu", path, off);
  }
  munmap((void *)m->p, m->len);
  m->p = NULL;
  return SL_SNAPSHOT_CORRUPT;
}

int sl_snapfile_visit(const char *path, sl_snapfile_fn fn, void *arg, char *err, size_t errlen) {
  mapped m;
  if (map_verified(path, &m, err, errlen))
    return -1;
  int rc = 0;
  for (size_t off = 8; rc == 0 && off < m.len - TRAILER_LEN;) {
    size_t klen = get_u32(m.p + off + 1), vlen = get_u32(m.p + off + 5);
    rc = fn(arg, m.p[off], m.p + off + 9, klen, m.p + off + 9 + klen, vlen);
    off += 9 + klen + vlen;
  }
  munmap((void *)m.p, m.len);
  if (rc)
    snprintf(err, errlen, "applying %s: %s", path, mdb_strerror(rc));
  return rc ? -1 : 0;
}

int sl_snapshot_verify(const char *path, char *err, size_t errlen) {
  mapped m;
  int rc = map_verified(path, &m, err, errlen);
  if (rc)
    return rc;
  munmap((void *)m.p, m.len);
  return 0;
}

void sl_snapshot_remove_env(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/state.mdb", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/state.mdb-lock", dir);
  unlink(path);
}

/* State ids whose registration the keep function refused. */
typedef struct dropped {
  uint32_t *ids;
  size_t n;
} dropped;

static int is_dropped(const dropped *d, const uint8_t *key, size_t klen) {
  if (!d->n || klen < 6)
    return 0;
  uint32_t sid = (uint32_t)key[2] << 24 | (uint32_t)key[3] << 16 | (uint32_t)key[4] << 8 | key[5];
  for (size_t i = 0; i < d->n; i++)
    if (d->ids[i] == sid)
      return 1;
  return 0;
}

static int collect_dropped(const mapped *m, sl_snapshot_keep_fn keep, void *arg, dropped *d) {
  for (size_t off = 8; off < m->len - TRAILER_LEN;) {
    size_t klen = get_u32(m->p + off + 1), vlen = get_u32(m->p + off + 5);
    const uint8_t *k = m->p + off + 9;
    /* Tombstones (keys starting with NUL, see load_records) are no registration to offer to keep. */
    /* A registry row is the id (4 bytes), then its kind and flags in a registry that records them. */
    if (m->p[off] == 3 && vlen >= 4 && keep && k[0] != '\0') {
      char name[1024];
      size_t n = klen < sizeof name - 1 ? klen : sizeof name - 1;
      memcpy(name, k, n);
      name[n] = '\0';
      const char *state = memchr(name, '\0', n) ? name + strlen(name) + 1 : "";
      if (!keep(name, state, arg)) {
        uint32_t *ids = realloc(d->ids, (d->n + 1) * sizeof *ids);
        if (!ids)
          return -1;
        d->ids = ids;
        const uint8_t *v = k + klen;
        d->ids[d->n++] = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
      }
    }
    off += 9 + klen + vlen;
  }
  return 0;
}

/* A full snapshot holds puts only: a delete record (tag 4) belongs in a delta (state_delta.h), and loading
 * one would index past the three databases. The offset of the first one, or 0 when there is none. */
static size_t first_delete(const mapped *m) {
  for (size_t off = 8; off < m->len - TRAILER_LEN;) {
    if (m->p[off] == 4)
      return off;
    off += 9 + (size_t)get_u32(m->p + off + 1) + get_u32(m->p + off + 5);
  }
  return 0;
}

/* A load commits every LOAD_CHUNK records: one transaction for a whole snapshot kept every page it wrote in
 * malloc'd memory until its commit (hundreds of MB for millions of keys) and slowed each page allocation
 * with a dirty list that long. The environment is a scratch one until it is renamed into place, so the
 * parts need no durability of their own (mdb_env_sync at the end). */
#define LOAD_CHUNK 65536

static int load_begin(MDB_env *env, MDB_txn **txn, MDB_dbi dbi[4], MDB_cursor *cur[4]) {
  int rc = mdb_txn_begin(env, NULL, 0, txn);
  if (rc)
    return rc;
  if ((rc = mdb_dbi_open(*txn, "kv", MDB_CREATE, &dbi[1])) ||
      (rc = mdb_dbi_open(*txn, "meta", MDB_CREATE, &dbi[2])) ||
      (rc = mdb_dbi_open(*txn, "states", MDB_CREATE, &dbi[3]))) {
    mdb_txn_abort(*txn);
    return rc;
  }
  memset(cur, 0, 4 * sizeof *cur); /* opened on first use; the commit closes them */
  return 0;
}

/* Appends (k, v) to database tag through its cursor: records come in key order, so MDB_APPEND, and one
 * cursor per database instead of mdb_put's cursor per call. */
static int load_append(MDB_txn *txn, const MDB_dbi dbi[4], MDB_cursor *cur[4], uint8_t tag, MDB_val *k,
                       MDB_val *v) {
  int rc = cur[tag] ? 0 : mdb_cursor_open(txn, dbi[tag], &cur[tag]);
  return rc ? rc : mdb_cursor_put(cur[tag], k, v, MDB_APPEND);
}

static int load_records(MDB_env *env, const mapped *m, const dropped *d) {
  MDB_txn *txn;
  MDB_dbi dbi[4];
  MDB_cursor *cur[4];
  int rc = load_begin(env, &txn, dbi, cur);
  if (rc)
    return rc;
  size_t in_txn = 0;
  for (size_t off = 8; rc == 0 && off < m->len - TRAILER_LEN;) {
    uint8_t tag = m->p[off];
    size_t klen = get_u32(m->p + off + 1), vlen = get_u32(m->p + off + 5);
    MDB_val k = {klen, (void *)(m->p + off + 9)}, v = {vlen, (void *)(m->p + off + 9 + klen)};
    int drop = (tag == 1 && is_dropped(d, k.mv_data, klen)) ||
               (tag == 3 && vlen >= 4 && d->n && is_dropped(d, (const uint8_t *)v.mv_data - 2, 6));
    if (!drop) {
      rc = load_append(txn, dbi, cur, tag, &k, &v);
    } else if (tag == 3) {
      /* A dropped registration leaves a tombstone "\0" + id: the backend assigns the next id as the
       * number of registrations + 1, so removing a row would hand a kept state's id to the next new
       * state. No op uid is empty, so a tombstone is never found by a lookup; it sorts first, so the
       * appends after it are still in order. */
      uint8_t tomb[5] = {0};
      memcpy(tomb + 1, v.mv_data, 4);
      MDB_val tk = {sizeof tomb, tomb};
      rc = mdb_put(txn, dbi[3], &tk, &v, 0);
    }
    off += 9 + klen + vlen;
    if (rc == 0 && ++in_txn == LOAD_CHUNK) {
      in_txn = 0;
      if ((rc = mdb_txn_commit(txn)) != 0)
        return rc;
      if ((rc = load_begin(env, &txn, dbi, cur)) != 0)
        return rc;
    }
  }
  if (rc) {
    mdb_txn_abort(txn);
    return rc;
  }
  return mdb_txn_commit(txn);
}

int sl_snapshot_load(const char *dir, const char *path, sl_snapshot_keep_fn keep, void *arg, char *err,
                     size_t errlen) {
  mapped m;
  dropped d = {NULL, 0};
  char tmp[4096], final[4096];
  if (map_verified(path, &m, err, errlen))
    return -1;
  size_t del = first_delete(&m);
  if (del) {
    snprintf(err, errlen, "%s has a delete record at byte %zu: a delta, not a full snapshot", path, del);
    munmap((void *)m.p, m.len);
    return -1;
  }
  int result = -1;
  MDB_env *env = NULL;
  snprintf(tmp, sizeof tmp, "%s/state.loading.mdb", dir);
  snprintf(final, sizeof final, "%s/state.mdb", dir);
  unlink(tmp);
  int rc = collect_dropped(&m, keep, arg, &d) ? ENOMEM : 0;
  if (!rc && !(rc = mdb_env_create(&env)) && !(rc = mdb_env_set_maxdbs(env, 4)) &&
      !(rc = mdb_env_set_mapsize(env, sl_backend_map_reserve())) &&
      !(rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOSYNC | MDB_NOLOCK, SL_STATE_FILE_MODE)) &&
      !(rc = load_records(env, &m, &d)) && !(rc = mdb_env_sync(env, 1))) {
    mdb_env_close(env);
    env = NULL;
    sl_snapshot_remove_env(dir);
    if (rename(tmp, final) == 0)
      result = 0;
    else
      snprintf(err, errlen, "cannot install %s: %s", final, strerror(errno));
  } else {
    snprintf(err, errlen, "loading %s: %s", path, rc == ENOMEM ? "out of memory" : mdb_strerror(rc));
  }
  if (env)
    mdb_env_close(env);
  if (result)
    unlink(tmp);
  snprintf(tmp, sizeof tmp, "%s/state.loading.mdb-lock", dir);
  unlink(tmp);
  free(d.ids);
  munmap((void *)m.p, m.len);
  return result;
}
