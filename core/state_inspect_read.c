/* state_inspect_read.c — finds the snapshot files of a checkpoint, savepoint or state dir, resolves each
 * subtask's delta chain in memory, and decodes stored values (see state_inspect.h for why in memory). */
#include "core/state_inspect.h"

#include "core/state_dir.h"
#include "state/state_backend.h"
#include "state/state_snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DB_KV 1
#define DB_STATES 3
#define TAG_DELETED 4

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A visit callback: copies each record into the task (the file is unmapped after the visit). */
static int collect(void *arg, uint8_t tag, const void *k, size_t kl, const void *v, size_t vl) {
  sl_insp_task *t = arg;
  if (t->only_db && tag != t->only_db)
    return 0;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    sl_insp_rec *g = realloc(t->recs, cap * sizeof *g);
    if (!g)
      return ENOMEM;
    t->recs = g;
    t->cap = cap;
  }
  sl_insp_rec *r = &t->recs[t->n];
  if (!(r->k = malloc(kl + vl + 1)))
    return ENOMEM;
  memcpy(r->k, k, kl);
  if (vl)
    memcpy(r->k + kl, v, vl);
  r->db = tag;
  r->kl = (uint32_t)kl;
  r->vl = (uint32_t)vl;
  r->seq = t->n++;
  return 0;
}

static int db_of(uint8_t tag) {
  return tag == TAG_DELETED ? DB_KV : tag;
}

/* (db, key) as LMDB orders keys (bytes, then the shorter first), then read order. */
static int cmp_rec(const void *a, const void *b) {
  const sl_insp_rec *x = a, *y = b;
  if (db_of(x->db) != db_of(y->db))
    return db_of(x->db) - db_of(y->db);
  int c = memcmp(x->k, y->k, x->kl < y->kl ? x->kl : y->kl);
  if (c || x->kl != y->kl)
    return c ? c : x->kl < y->kl ? -1 : 1;
  return x->seq < y->seq ? -1 : 1;
}

/* Sorts the records and keeps the last of each key, dropping deleted ones. */
static void resolve(sl_insp_task *t) {
  if (t->n == 0)
    return; /* recs may be NULL: qsort must not see it */
  qsort(t->recs, t->n, sizeof *t->recs, cmp_rec);
  size_t w = 0;
  for (size_t i = 0; i < t->n; i++) {
    sl_insp_rec *r = &t->recs[i];
    int last = i + 1 == t->n || db_of(t->recs[i + 1].db) != db_of(r->db) || t->recs[i + 1].kl != r->kl ||
               memcmp(t->recs[i + 1].k, r->k, r->kl);
    if (!last || r->db == TAG_DELETED)
      free(r->k);
    else
      t->recs[w++] = *r;
  }
  t->n = w;
}

static void file_of(const char *dir, const sl_checkpoint_meta *m, unsigned task, int full, char *out,
                    size_t len) {
  if (m->parallelism > 1 && full)
    sl_checkpoint_task_file(dir, task, out, len);
  else if (m->parallelism > 1)
    sl_checkpoint_task_delta_file(dir, task, out, len);
  else
    sl_checkpoint_file(dir, full ? SL_CHECKPOINT_SNAPSHOT : SL_CHECKPOINT_DELTA, out, len);
}

/* Subtask `task`'s chain, as recovery loads it (core/recovery.c): its full snapshot at the newest checkpoint
 * of m's chain that has one, then the deltas after it. chkdir is the checkpoints directory (NULL for a
 * savepoint, which is whole). */
static int read_task(sl_insp *s, const char *chkdir, unsigned task, char *err, size_t errlen) {
  const sl_checkpoint_meta *m = &s->meta;
  char link[4200], file[4300];
  uint64_t base = m->id;
  file_of(s->dir, m, task, 1, file, sizeof file);
  if (access(file, F_OK) != 0) {
    if (!chkdir || m->base_id == m->id) {
      snprintf(err, errlen, "%s: missing (%s)", file, chkdir ? "an incomplete checkpoint" : "not whole");
      return -1;
    }
    for (base = m->id - 1; base >= m->base_id; base--) {
      sl_checkpoint_meta lm;
      char why[512];
      sl_checkpoint_dir(chkdir, base, link, sizeof link);
      if (sl_checkpoint_meta_read(link, &lm, why, sizeof why) != SL_META_OK || lm.base_id != m->base_id) {
        snprintf(err, errlen, "checkpoint %" PRIu64 "'s chain is broken at checkpoint %" PRIu64 ": %s", m->id,
                 base, lm.base_id != m->base_id ? "another chain" : why);
        return -1;
      }
      file_of(link, m, task, 1, file, sizeof file);
      if (access(file, F_OK) == 0 || base == m->base_id)
        break;
    }
  }
  sl_insp_task *t = &s->tasks[task];
  if (sl_snapfile_visit(file, collect, t, err, errlen))
    return -1;
  for (uint64_t id = base + 1; id <= m->id; id++) {
    sl_checkpoint_dir(chkdir, id, link, sizeof link);
    file_of(link, m, task, 0, file, sizeof file);
    if (sl_snapfile_visit(file, collect, t, err, errlen))
      return -1;
  }
  resolve(t);
  return 0;
}

/* Finds or adds the state (op, name); its index, or -1 (ENOMEM). */
static long add_state(sl_insp *s, const char *op, const char *name, uint8_t kind, uint8_t ttl) {
  for (size_t i = 0; i < s->nstates; i++)
    if (!strcmp(s->states[i].op, op) && !strcmp(s->states[i].name, name))
      return (long)i;
  sl_insp_state *g = realloc(s->states, (s->nstates + 1) * sizeof *g);
  if (!g)
    return -1;
  s->states = g;
  sl_insp_state *st = &g[s->nstates];
  st->op = strdup(op);
  st->name = strdup(name);
  st->kind = kind;
  st->ttl = ttl;
  s->nstates++;
  return st->op && st->name ? (long)s->nstates - 1 : -1;
}

/* Reads task t's registry rows ("op\0name" -> id, kind, flags) into s->states and t->idmap. */
static int read_registry(sl_insp *s, sl_insp_task *t, char *err, size_t errlen) {
  for (size_t i = 0; i < t->n; i++) {
    sl_insp_rec *r = &t->recs[i];
    char op[512], name[512];
    const uint8_t *v = r->k + r->kl, *nul = memchr(r->k, 0, r->kl);
    size_t ol = nul ? (size_t)(nul - r->k) : 0;
    if (r->db != DB_STATES)
      continue;
    if (!nul || ol >= sizeof op || r->kl - ol - 1 >= sizeof name || (r->vl != 4 && r->vl != 6)) {
      snprintf(err, errlen, "a malformed state registry row in %s", s->dir);
      return -1;
    }
    memcpy(op, r->k, ol + 1);
    memcpy(name, nul + 1, r->kl - ol - 1);
    name[r->kl - ol - 1] = '\0';
    uint32_t id = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3];
    long idx = add_state(s, op, name, r->vl == 6 ? v[4] : SL_STATE_KIND_UNKNOWN, r->vl == 6 ? (v[5] & 1) : 0);
    if (idx >= 0 && id >= t->nids) {
      uint32_t *g = realloc(t->idmap, (id + 1) * sizeof *g);
      if (g) {
        memset(g + t->nids, 0, (id + 1 - t->nids) * sizeof *g);
        t->idmap = g;
        t->nids = id + 1;
      }
    }
    if (idx < 0 || id >= t->nids) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    t->idmap[id] = (uint32_t)idx + 1;
  }
  return 0;
}

long sl_insp_state_of(const sl_insp *s, unsigned task, uint32_t id) {
  const sl_insp_task *t = &s->tasks[task];
  return id < t->nids && t->idmap[id] ? (long)t->idmap[id] - 1 : -1;
}

/* PATH's checkpoint or savepoint directory into s->dir and s->meta; *in_chk says whether it lies in a
 * checkpoints directory (then its chain can be followed). */
static int find_dir(const char *path, sl_insp *s, int *in_chk, char *err, size_t errlen) {
  char file[4300], chk[4200];
  if (!is_dir(path)) {
    snprintf(err, errlen, "%s: %s", path, access(path, F_OK) ? strerror(errno) : "not a directory");
    return -1;
  }
  sl_checkpoint_file(path, SL_CHECKPOINT_METADATA, file, sizeof file);
  sl_state_dir_path(path, "checkpoints", chk, sizeof chk);
  if (access(file, F_OK) == 0) {
    snprintf(s->dir, sizeof s->dir, "%s", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    *in_chk = !strncmp(base, SL_CHECKPOINT_PREFIX, sizeof SL_CHECKPOINT_PREFIX - 1);
    return sl_checkpoint_meta_read(s->dir, &s->meta, err, errlen) == SL_META_OK ? 0 : -1;
  }
  uint64_t *ids = NULL;
  int n = is_dir(chk) ? sl_checkpoint_list(chk, &ids) : -1;
  for (int i = n - 1; i >= 0; i--) { /* the newest complete one */
    char why[512];
    sl_checkpoint_dir(chk, ids[i], s->dir, sizeof s->dir);
    if (sl_checkpoint_meta_read(s->dir, &s->meta, why, sizeof why) == SL_META_OK) {
      free(ids);
      *in_chk = 1;
      return 0;
    }
  }
  free(ids);
  snprintf(err, errlen, "%s: %s", path,
           n < 0 ? "neither a checkpoint, a savepoint nor a state dir (no _metadata, no checkpoints/)"
                 : "the state dir has no complete checkpoint");
  return -1;
}

int sl_insp_open(const char *path, sl_insp *s, char *err, size_t errlen) {
  return sl_insp_open_db(path, 0, s, err, errlen);
}

int sl_insp_open_db(const char *path, uint8_t db, sl_insp *s, char *err, size_t errlen) {
  int in_chk = 0;
  memset(s, 0, sizeof *s);
  if (find_dir(path, s, &in_chk, err, errlen))
    return -1;
  char chkdir[4200];
  snprintf(chkdir, sizeof chkdir, "%s", s->dir);
  char *slash = strrchr(chkdir, '/');
  if (slash)
    *slash = '\0';
  else
    snprintf(chkdir, sizeof chkdir, ".");
  s->ntasks = s->meta.parallelism > 1 ? (unsigned)s->meta.parallelism : 1;
  if (!(s->tasks = calloc(s->ntasks, sizeof *s->tasks))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (unsigned t = 0; t < s->ntasks; t++)
    s->tasks[t].only_db = db;
  for (unsigned t = 0; t < s->ntasks; t++)
    if (read_task(s, in_chk ? chkdir : NULL, t, err, errlen) || read_registry(s, &s->tasks[t], err, errlen)) {
      sl_insp_free(s);
      return -1;
    }
  return 0;
}

void sl_insp_free(sl_insp *s) {
  for (unsigned t = 0; s->tasks && t < s->ntasks; t++) {
    for (size_t i = 0; i < s->tasks[t].n; i++)
      free(s->tasks[t].recs[i].k);
    free(s->tasks[t].recs);
    free(s->tasks[t].idmap);
  }
  for (size_t i = 0; i < s->nstates; i++) {
    free(s->states[i].op);
    free(s->states[i].name);
  }
  free(s->tasks);
  free(s->states);
  memset(s, 0, sizeof *s);
}

/* Decoding lua/sluice/codec.lua's values: LuaJIT's string.buffer serialization format (LuaJIT's
 * string.buffer reference, "Serialization Format Specification"), as far as JSON can say it. Tables become
 * arrays when 1-based with no hash part, else objects (number keys as strings); a value JSON cannot hold
 * (lightuserdata, complex, a dictionary or metatable reference, another table key) fails, and the caller
 * shows the bytes instead. */
typedef struct dec {
  const uint8_t *p, *end;
  sl_buf *out;
  int depth;
} dec;

static int dec_u(dec *d, uint32_t *n) {
  if (d->p >= d->end)
    return -1;
  uint32_t b = *d->p++;
  if (b < 0xe0) {
    *n = b;
  } else if (b < 0xff) {
    if (d->p >= d->end)
      return -1;
    *n = (((b & 0x1f) << 8) | *d->p++) + 0xe0;
  } else {
    if (d->end - d->p < 4)
      return -1;
    *n = (uint32_t)d->p[0] | (uint32_t)d->p[1] << 8 | (uint32_t)d->p[2] << 16 | (uint32_t)d->p[3] << 24;
    d->p += 4;
  }
  return 0;
}

static int dec_le(dec *d, size_t n, uint64_t *v) {
  if ((size_t)(d->end - d->p) < n)
    return -1;
  *v = 0;
  for (size_t i = 0; i < n; i++)
    *v |= (uint64_t)d->p[i] << (8 * i);
  d->p += n;
  return 0;
}

static int dec_obj(dec *d);

/* A table key: a string as it is, a number as its JSON text in quotes. */
static int dec_key(dec *d) {
  if (d->p >= d->end)
    return -1;
  uint8_t t = *d->p;
  if (t == 0x06 || t == 0x07 || t == 0x10 || t == 0x11) {
    sl_buf num;
    sl_buf_init(&num);
    sl_buf *keep = d->out;
    d->out = &num;
    int rc = dec_obj(d);
    d->out = keep;
    if (rc == 0)
      sl_buf_put_json_string(d->out, num.data, num.len);
    sl_buf_free(&num);
    return rc;
  }
  return t >= 0x20 ? dec_obj(d) : -1;
}

/* An object: (when has_hash) h.U, then na array entries (indexes first_index ..), then h key/value pairs. */
static int dec_pairs(dec *d, uint32_t first_index, uint32_t na, int has_hash) {
  uint32_t nh = 0;
  int comma = 0;
  if (has_hash && dec_u(d, &nh))
    return -1;
  sl_buf_putc(d->out, '{');
  for (uint32_t i = 0; i < na; i++) {
    char key[16];
    int kl = snprintf(key, sizeof key, "%u", first_index + i);
    if (comma)
      sl_buf_put(d->out, ", ", 2);
    comma = 1;
    sl_buf_put_json_string(d->out, key, (size_t)kl);
    sl_buf_put(d->out, ": ", 2);
    if (dec_obj(d))
      return -1;
  }
  for (uint32_t i = 0; i < nh; i++) {
    if (comma)
      sl_buf_put(d->out, ", ", 2);
    comma = 1;
    if (dec_key(d))
      return -1;
    sl_buf_put(d->out, ": ", 2);
    if (dec_obj(d))
      return -1;
  }
  sl_buf_putc(d->out, '}');
  return 0;
}

static int dec_table(dec *d, uint8_t t) {
  uint32_t na = 0;
  int has_hash = t == 0x09 || t == 0x0b || t == 0x0d;
  if (t == 0x08) {
    sl_buf_put(d->out, "{}", 2);
    return 0;
  }
  if (t != 0x09 && dec_u(d, &na))
    return -1;
  if (t == 0x0c && na > 0) { /* 1-based array: a JSON array */
    sl_buf_putc(d->out, '[');
    for (uint32_t i = 1; i < na; i++) {
      if (i > 1)
        sl_buf_put(d->out, ", ", 2);
      if (dec_obj(d))
        return -1;
    }
    sl_buf_putc(d->out, ']');
    return 0;
  }
  if (t == 0x0c || t == 0x0d) /* 1-based: a entries hold indexes 1 .. a-1 */
    return na ? dec_pairs(d, 1, na - 1, has_hash) : -1;
  return dec_pairs(d, 0, na, has_hash);
}

static int dec_obj(dec *d) {
  uint64_t v;
  uint32_t n;
  if (d->p >= d->end || ++d->depth > 100)
    return -1;
  uint8_t t = *d->p;
  int rc = 0;
  if (t >= 0x20) {
    if (dec_u(d, &n) || (size_t)(d->end - d->p) < n - 0x20) {
      d->depth--;
      return -1;
    }
    sl_buf_put_json_string(d->out, (const char *)d->p, n - 0x20);
    d->p += n - 0x20;
  } else if (d->p++, t <= 0x02) {
    sl_buf_put(d->out, t == 0 ? "null" : t == 1 ? "false" : "true", t == 0 ? 4 : t == 1 ? 5 : 4);
  } else if (t == 0x06 && !(rc = dec_le(d, 4, &v))) {
    sl_buf_put_int64(d->out, (int32_t)(uint32_t)v);
  } else if (t == 0x07 && !(rc = dec_le(d, 8, &v))) {
    double x;
    memcpy(&x, &v, sizeof x);
    sl_buf_put_json_number(d->out, x);
  } else if (t == 0x10 && !(rc = dec_le(d, 8, &v))) {
    sl_buf_put_int64(d->out, (int64_t)v);
  } else if (t == 0x11 && !(rc = dec_le(d, 8, &v))) {
    char s[24];
    sl_buf_put(d->out, s, (size_t)snprintf(s, sizeof s, "%" PRIu64, v));
  } else if (t >= 0x08 && t <= 0x0d) {
    rc = dec_table(d, t);
  } else {
    rc = -1;
  }
  d->depth--;
  return rc;
}

int sl_insp_decode_json(const uint8_t *p, size_t n, sl_buf *out) {
  size_t len = out->len;
  dec d = {p, p + n, out, 0};
  if (dec_obj(&d) == 0 && d.p == d.end && !out->oom)
    return 0;
  out->len = len;
  return -1;
}
