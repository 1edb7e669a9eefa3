/* state_rescale.c — fills one new subtask's backend from the old subtasks' environments (see
 * state_rescale.h).
 *
 * Two passes over the sources, all opened read-only at once: first every registry is merged into dst (so
 * that each state's kind is known from whichever source recorded it before any entry is read), then each
 * source's entries are copied in key order: the owned key-group range (one cursor seek), then the
 * operator group SL_OP_STATE_GROUP, then the metadata. An entry is copied as its bytes with only the state id
 * rewritten, so no state kind's value format is read here. What an entry under the operator group is comes
 * from its state's kind, and from the entry's shape when the registry predates kinds (the layouts of
 * operator_state.h and timer_state.h never overlap). */
#include "state/state_rescale.h"

#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/byte_order.h"
#include "state/operator_state.h"
#include "state/state_key.h"

/* One state of the merged registry. */
struct rs_state {
  uint32_t id;    /* in dst */
  uint8_t kind;   /* a known kind once any source recorded one */
  int holders;    /* sources whose registry has it */
  int wm_seen;    /* of those, the ones whose timer queue holds a watermark */
  uint8_t wm[8];  /* the least of those watermarks (timer_state.c's encoding sorts as the times do) */
  size_t wm_klen; /* the watermark's key in dst */
  uint8_t wm_key[SL_KEY_MAX_LEN];
};

/* One source's state id and the merged state it maps to. */
struct rs_id {
  uint32_t src_id;
  size_t state;
};

struct rs_source {
  const char *dir;
  MDB_env *env;
  MDB_txn *txn; /* one read view for both passes */
  MDB_dbi kv, meta, states;
  struct rs_id *ids; /* sorted by src_id */
  size_t nids;
};

struct rs_fill {
  sl_backend *dst;
  int task, ntasks, nsrc;
  unsigned maxp;
  struct rs_state *states;
  size_t nstates;
  char *err;
  size_t errlen;
};

int sl_key_group_owned(unsigned kg, int task, int ntasks, unsigned max_parallelism) {
  if (ntasks <= 0 || task < 0 || task >= ntasks || kg >= max_parallelism)
    return 0;
  return (uint64_t)kg * (uint64_t)ntasks / max_parallelism == (uint64_t)task;
}

static int fail(struct rs_fill *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (f->err && f->errlen)
    vsnprintf(f->err, f->errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static int dst_fail(struct rs_fill *f, int rc, const char *what) {
  return fail(f, "%s in the new state: %s (%s)", what, sl_state_strerror(rc), sl_backend_last_error(f->dst));
}

static int src_fail(struct rs_fill *f, const struct rs_source *s, int rc, const char *what) {
  return fail(f, "%s: %s: %s", s->dir, what, mdb_strerror(rc));
}

static int src_open(struct rs_fill *f, struct rs_source *s) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/state.mdb", s->dir) >= (int)sizeof path)
    return fail(f, "%s: path too long", s->dir);
  int rc = mdb_env_create(&s->env);
  if (rc == 0 && (rc = mdb_env_set_maxdbs(s->env, 4)) == 0)
    rc = mdb_env_open(s->env, path, MDB_RDONLY | MDB_NOSUBDIR | MDB_NOTLS, 0);
  if (rc == 0)
    rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->txn);
  if (rc != 0)
    return src_fail(f, s, rc, "opening state.mdb read-only");
  if ((rc = mdb_dbi_open(s->txn, "kv", 0, &s->kv)) != 0 || (rc = mdb_dbi_open(s->txn, "meta", 0, &s->meta)) ||
      (rc = mdb_dbi_open(s->txn, "states", 0, &s->states)))
    return src_fail(f, s, rc, "opening its databases");
  return 0;
}

static void src_close(struct rs_source *s) {
  if (s->txn)
    mdb_txn_abort(s->txn);
  if (s->env)
    mdb_env_close(s->env);
  free(s->ids);
}

static int cmp_id(const void *a, const void *b) {
  uint32_t x = ((const struct rs_id *)a)->src_id, y = ((const struct rs_id *)b)->src_id;
  return x < y ? -1 : x > y;
}

/* The merged state of source id sid, or NULL when the source's registry does not have it. */
static struct rs_state *state_of(struct rs_fill *f, const struct rs_source *s, uint32_t sid) {
  struct rs_id want = {sid, 0};
  const struct rs_id *hit = bsearch(&want, s->ids, s->nids, sizeof *s->ids, cmp_id);
  return hit ? &f->states[hit->state] : NULL;
}

/* Registers one registry row of s in dst (kind and TTL as the row says, a row without kind as such) and
 * maps its source id to the merged state. */
static int merge_row(struct rs_fill *f, struct rs_source *s, const MDB_val *k, const MDB_val *v) {
  char uid[SL_KEY_MAX_LEN + 1];
  const char *nul = k->mv_size <= SL_KEY_MAX_LEN ? memchr(k->mv_data, '\0', k->mv_size) : NULL;
  if (!nul || (v->mv_size != 4 && v->mv_size != 6))
    return fail(f, "%s: a malformed registry row", s->dir);
  memcpy(uid, k->mv_data, k->mv_size);
  uid[k->mv_size] = '\0';
  const char *name = uid + (nul - (const char *)k->mv_data) + 1;
  const uint8_t *row = v->mv_data;
  sl_state_info want = {v->mv_size == 6 ? row[4] : SL_STATE_KIND_UNKNOWN, v->mv_size == 6 ? row[5] & 1u : 0};
  sl_state_info stored = {0, 0};
  uint32_t id;
  int rc;
  if (want.kind > SL_STATE_KIND_MAX)
    return fail(f, "%s: state '%s' of '%s' has kind %u, unknown to this sluice", s->dir, name, uid,
                want.kind);
  if (want.kind == SL_STATE_KIND_UNKNOWN)
    rc = sl_backend_state_id(f->dst, uid, name, &id);
  else
    rc = sl_backend_state_register(f->dst, uid, name, &want, &id, &stored);
  if (rc == SL_STATE_EINVAL && stored.kind != SL_STATE_KIND_UNKNOWN)
    return fail(f, "%s: state '%s' of '%s' is of kind %u%s there but of kind %u%s in an earlier source",
                s->dir, name, uid, want.kind, want.ttl ? " with TTL" : "", stored.kind,
                stored.ttl ? " with TTL" : "");
  if (rc != SL_STATE_OK)
    return dst_fail(f, rc, "registering a state");
  size_t i = 0;
  while (i < f->nstates && f->states[i].id != id)
    i++;
  if (i == f->nstates) {
    struct rs_state *p = realloc(f->states, (f->nstates + 1) * sizeof *p);
    if (!p)
      return fail(f, "out of memory");
    f->states = p;
    memset(&p[f->nstates++], 0, sizeof *p);
    p[i].id = id;
  }
  if (want.kind != SL_STATE_KIND_UNKNOWN)
    f->states[i].kind = want.kind;
  f->states[i].holders++;
  struct rs_id *ids = realloc(s->ids, (s->nids + 1) * sizeof *ids);
  if (!ids)
    return fail(f, "out of memory");
  s->ids = ids;
  ids[s->nids++] = (struct rs_id){sl_get_be32(row), i};
  return 0;
}

static int merge_registry(struct rs_fill *f, struct rs_source *s) {
  MDB_cursor *c;
  MDB_val k, v;
  int rc = mdb_cursor_open(s->txn, s->states, &c);
  if (rc != 0)
    return src_fail(f, s, rc, "reading the registry");
  int res = 0;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && res == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
    res = merge_row(f, s, &k, &v);
  mdb_cursor_close(c);
  if (res == 0 && rc != MDB_NOTFOUND)
    return src_fail(f, s, rc, "reading the registry");
  if (res != 0)
    return res;
  if (s->nids > 1) /* a checkpoint taken before any state was registered has none, and ids is NULL */
    qsort(s->ids, s->nids, sizeof *s->ids, cmp_id);
  for (size_t i = 1; i < s->nids; i++)
    if (s->ids[i].src_id == s->ids[i - 1].src_id)
      return fail(f, "%s: state id %u is registered twice", s->dir, s->ids[i].src_id);
  return 0;
}

/* Puts the entry (k, v) of s into dst under the merged state's id. */
static int put_renamed(struct rs_fill *f, const struct rs_state *st, const MDB_val *k, const MDB_val *v) {
  uint8_t key[SL_KEY_MAX_LEN];
  if (k->mv_size > SL_KEY_MAX_LEN)
    return fail(f, "a key of %zu bytes, longer than any state writes", k->mv_size);
  memcpy(key, k->mv_data, k->mv_size);
  sl_put_be32(key + 2, st->id);
  int rc = sl_backend_put(f->dst, key, k->mv_size, v->mv_data, v->mv_size);
  return rc == SL_STATE_OK ? 0 : dst_fail(f, rc, "writing an entry");
}

/* The owned key groups are [*lo, *end): kg * n / p == t exactly when t * p <= kg * n < (t + 1) * p. */
static void owned_range(const struct rs_fill *f, unsigned *lo, unsigned *end) {
  uint64_t n = (uint64_t)f->ntasks, p = f->maxp;
  *lo = (unsigned)(((uint64_t)f->task * p + n - 1) / n);
  *end = (unsigned)(((uint64_t)f->task * p + p + n - 1) / n);
}

/* Timer queue entries (the layout of timer_state.h): a timer has the empty user key, [time u64][user key]
 * as sub key and its key's group (u16 BE) as value: it goes where that group goes. The only other entry is
 * the queue's watermark (user key "w", 8 bytes): the event time that old subtask had reached. A new
 * subtask takes the least of its sources' watermarks, because a larger one would fire at once the timers
 * of the key groups that came from a subtask behind it and make their records late; none at all when some
 * source holding the queue had none (that subtask had reached no event time yet). */
static int timer_entry(struct rs_fill *f, const struct rs_source *s, struct rs_state *st, const MDB_val *k,
                       const MDB_val *v, const void *ukey, size_t ulen, size_t slen) {
  const uint8_t *val = v->mv_data;
  if (ulen == 0 && slen >= 8 && v->mv_size == 2) {
    unsigned kg = (unsigned)val[0] << 8 | val[1];
    if (kg >= f->maxp)
      return fail(f, "%s: a timer of key group %u, at or past max parallelism %u", s->dir, kg, f->maxp);
    return sl_key_group_owned(kg, f->task, f->ntasks, f->maxp) ? put_renamed(f, st, k, v) : 0;
  }
  if (ulen == 1 && memcmp(ukey, "w", 1) == 0 && slen == 0 && v->mv_size == 8) {
    if (st->wm_seen++ == 0 || memcmp(val, st->wm, 8) < 0) {
      memcpy(st->wm, val, 8);
      memcpy(st->wm_key, k->mv_data, k->mv_size);
      sl_put_be32(st->wm_key + 2, st->id);
      st->wm_klen = k->mv_size;
    }
    return 0;
  }
  return fail(f, "%s: an entry of timer queue %u that timer_state.h does not write", s->dir, st->id);
}

/* Operator list entries (operator_state.h). With several sources, source t's own list is instance t (the
 * others it may hold are stale copies from an earlier restore); with one, every instance its header counts.
 * The header is read before the lists (it sorts first). */
static int op_list_entry(struct rs_fill *f, const struct rs_source *s, int si, const struct rs_state *st,
                         uint32_t *header, const MDB_val *k, const MDB_val *v, const void *ukey, size_t ulen,
                         size_t slen) {
  uint32_t n;
  int what = sl_op_state_entry(ukey, ulen, slen, v->mv_data, v->mv_size, &n);
  if (what < 0)
    return fail(f, "%s: an entry of operator list %u that operator_state.h does not write", s->dir, st->id);
  if (what == 1) {
    *header = n;
    uint32_t dst_n = f->nsrc > 1 ? (uint32_t)f->nsrc : n;
    int rc = dst_n ? sl_op_state_write_header(f->dst, st->id, dst_n) : SL_STATE_OK;
    return rc == SL_STATE_OK ? 0 : dst_fail(f, rc, "writing an operator list header");
  }
  int keep = n < *header && (f->nsrc == 1 || n == (uint32_t)si);
  return keep ? put_renamed(f, st, k, v) : 0;
}

/* One entry of the operator group. What it is comes from its state's kind; for a state registered without
 * one, from its shape. */
static int operator_entry(struct rs_fill *f, struct rs_source *s, int si, uint32_t *header, const MDB_val *k,
                          const MDB_val *v) {
  uint16_t kg;
  uint32_t sid, n;
  const void *ukey, *sub;
  size_t ulen, slen;
  if (k->mv_size > SL_KEY_MAX_LEN ||
      sl_key_parse(k->mv_data, k->mv_size, &kg, &sid, &ukey, &ulen, &sub, &slen) != 0)
    return fail(f, "%s: a malformed key", s->dir);
  struct rs_state *st = state_of(f, s, sid);
  if (!st)
    return fail(f, "%s: an entry of state id %u, which its registry does not have", s->dir, sid);
  int kind = st->kind;
  if (kind == SL_STATE_KIND_UNKNOWN)
    kind = sl_op_state_entry(ukey, ulen, slen, v->mv_data, v->mv_size, &n) >= 0 ? SL_STATE_KIND_OPERATOR_LIST
                                                                                : SL_STATE_KIND_TIMERS;
  if (kind == SL_STATE_KIND_OPERATOR_LIST)
    return op_list_entry(f, s, si, st, header, k, v, ukey, ulen, slen);
  if (kind == SL_STATE_KIND_TIMERS)
    return timer_entry(f, s, st, k, v, ukey, ulen, slen);
  return fail(f, "%s: an entry of keyed state %u (kind %d) under the operator group", s->dir, sid, kind);
}

/* Copies the entries of the owned key groups [lo, end) (one cursor range). */
static int copy_owned(struct rs_fill *f, struct rs_source *s, MDB_cursor *c) {
  MDB_val k, v;
  uint8_t seek[2];
  unsigned lo, end;
  owned_range(f, &lo, &end);
  if (lo >= end)
    return 0;
  sl_put_be16(seek, (uint16_t)lo);
  k = (MDB_val){sizeof seek, seek};
  int rc, res = 0;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0 && res == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    uint16_t kg;
    uint32_t sid;
    const void *ukey, *sub;
    size_t ulen, slen;
    if (sl_key_parse(k.mv_data, k.mv_size, &kg, &sid, &ukey, &ulen, &sub, &slen) != 0)
      return fail(f, "%s: a malformed key", s->dir);
    if (kg >= end)
      break;
    const struct rs_state *st = state_of(f, s, sid);
    res = st ? put_renamed(f, st, &k, &v)
             : fail(f, "%s: an entry of state id %u, which its registry does not have", s->dir, sid);
  }
  return res == 0 && rc != 0 && rc != MDB_NOTFOUND ? src_fail(f, s, rc, "reading the state") : res;
}

/* Copies the operator group's entries. Between the keyed groups and it lie the key groups at or past max
 * parallelism: any entry there is an error (a source written with another max parallelism must not be cut
 * up with this one). */
static int copy_operator_group(struct rs_fill *f, struct rs_source *s, int si, MDB_cursor *c) {
  MDB_val k, v;
  uint8_t seek[2];
  uint32_t header = 0, last_sid = 0;
  sl_put_be16(seek, (uint16_t)f->maxp);
  k = (MDB_val){sizeof seek, seek};
  int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE), res = 0;
  const uint8_t *kb = k.mv_data;
  if (rc == 0 && (k.mv_size < 2 || ((unsigned)kb[0] << 8 | kb[1]) != SL_OP_STATE_GROUP))
    return fail(f, "%s: keyed state in key group %u, at or past max parallelism %u", s->dir,
                k.mv_size < 2 ? 0 : (unsigned)kb[0] << 8 | kb[1], f->maxp);
  for (; rc == 0 && res == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    uint32_t sid = k.mv_size >= SL_KEY_HEADER_LEN ? sl_get_be32((const uint8_t *)k.mv_data + 2) : 0;
    if (sid != last_sid)
      header = 0; /* a header belongs to the entries of its own state */
    last_sid = sid;
    res = operator_entry(f, s, si, &header, &k, &v);
  }
  return res == 0 && rc != 0 && rc != MDB_NOTFOUND ? src_fail(f, s, rc, "reading the state") : res;
}

/* Copies what dst takes of the kv entries of source si. */
static int copy_entries(struct rs_fill *f, struct rs_source *s, int si) {
  MDB_cursor *c;
  int rc = mdb_cursor_open(s->txn, s->kv, &c);
  if (rc != 0)
    return src_fail(f, s, rc, "reading the state");
  int res = copy_owned(f, s, c);
  if (res == 0)
    res = copy_operator_group(f, s, si, c);
  mdb_cursor_close(c);
  return res;
}

/* Copies the metadata of s; a name dst already holds must have the same bytes. An empty value, or the
 * one-byte mark "-", is no value: a parallel subtask empties (a split's) or marks (a whole file's) the resume
 * point of every source it does not read (core/source.h, sl_source_forget_offset; core/source_splits.c), so
 * only the reader's own is copied. */
static int copy_meta(struct rs_fill *f, struct rs_source *s) {
  MDB_cursor *c;
  MDB_val k, v;
  char name[SL_KEY_MAX_LEN + 1];
  int rc = mdb_cursor_open(s->txn, s->meta, &c), res = 0;
  if (rc != 0)
    return src_fail(f, s, rc, "reading the metadata");
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && res == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size == 0 || k.mv_size > SL_KEY_MAX_LEN || memchr(k.mv_data, '\0', k.mv_size)) {
      res = fail(f, "%s: a malformed metadata name", s->dir);
      break;
    }
    if (v.mv_size == 0 || (v.mv_size == 1 && *(const char *)v.mv_data == '-'))
      continue;
    memcpy(name, k.mv_data, k.mv_size);
    name[k.mv_size] = '\0';
    const void *have;
    size_t hlen;
    int st = sl_backend_meta_get(f->dst, name, &have, &hlen);
    if (st == SL_STATE_OK && (hlen != v.mv_size || (hlen && memcmp(have, v.mv_data, hlen) != 0)))
      res = fail(f, "%s: metadata '%s' differs from an earlier source's", s->dir, name);
    else if (st == SL_STATE_NOTFOUND &&
             (st = sl_backend_meta_put(f->dst, name, v.mv_data, v.mv_size)) != SL_STATE_OK)
      res = dst_fail(f, st, "writing metadata");
    else if (st != SL_STATE_OK && st != SL_STATE_NOTFOUND)
      res = dst_fail(f, st, "reading metadata");
  }
  if (res == 0 && rc != MDB_NOTFOUND)
    res = src_fail(f, s, rc, "reading the metadata");
  mdb_cursor_close(c);
  return res;
}

/* Writes each timer queue's watermark once every source is read (see timer_entry). */
static int write_watermarks(struct rs_fill *f) {
  for (size_t i = 0; i < f->nstates; i++) {
    const struct rs_state *st = &f->states[i];
    if (st->wm_seen == 0 || st->wm_seen < st->holders)
      continue;
    int rc = sl_backend_put(f->dst, st->wm_key, st->wm_klen, st->wm, sizeof st->wm);
    if (rc != SL_STATE_OK)
      return dst_fail(f, rc, "writing a watermark");
  }
  return 0;
}

int sl_rescale_fill(sl_backend *dst, const char *const *src_dirs, int nsrc, int task, int ntasks,
                    unsigned max_parallelism, char *err, size_t errlen) {
  struct rs_fill f = {dst, task, ntasks, nsrc, max_parallelism, NULL, 0, err, errlen};
  if (err && errlen)
    err[0] = '\0';
  if (!dst || !src_dirs || nsrc < 1 || ntasks < 1 || task < 0 || task >= ntasks || max_parallelism == 0 ||
      max_parallelism > SL_OP_STATE_GROUP)
    return fail(&f, "rescale: bad arguments (task %d of %d, %d sources, max parallelism %u)", task, ntasks,
                nsrc, max_parallelism);
  for (int i = 0; i < nsrc; i++)
    if (!src_dirs[i] || !src_dirs[i][0])
      return fail(&f, "rescale: source %d has no directory", i);
  struct rs_source *src = calloc((size_t)nsrc, sizeof *src);
  if (!src)
    return fail(&f, "out of memory");
  int res = 0;
  for (int i = 0; i < nsrc && res == 0; i++) {
    src[i].dir = src_dirs[i];
    res = src_open(&f, &src[i]);
  }
  for (int i = 0; i < nsrc && res == 0; i++)
    res = merge_registry(&f, &src[i]);
  for (int i = 0; i < nsrc && res == 0; i++)
    if ((res = copy_entries(&f, &src[i], i)) == 0)
      res = copy_meta(&f, &src[i]);
  if (res == 0)
    res = write_watermarks(&f);
  int rc;
  if (res == 0 && (rc = sl_backend_commit(dst, 1)) != SL_STATE_OK)
    res = dst_fail(&f, rc, "committing");
  for (int i = 0; i < nsrc; i++)
    src_close(&src[i]);
  free(src);
  free(f.states);
  return res;
}
