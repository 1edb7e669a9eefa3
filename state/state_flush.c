/* state_flush.c — barriers that hand the LMDB flush to the checkpoint worker (see state_flush.h). */
#include "state/state_flush.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_backend_internal.h"
#include "state/state_key.h"

/* One frozen write: a copy, so the loop thread may change the cache meanwhile. */
typedef struct frozen_rec {
  uint8_t db; /* 1 kv, 2 meta, 3 states */
  uint8_t deleted;
  uint32_t klen, vlen;
  uint8_t *data; /* key then value */
} frozen_rec;

struct sl_frozen {
  sl_backend *b;
  frozen_rec *recs;
  size_t n;
  uint8_t *arena; /* all keys and values, one allocation */
};

size_t sl_frozen_count(const sl_frozen *f) {
  return f ? f->n : 0;
}

/* The write transaction holds changes another thread cannot take over. */
static int txn_has_writes(sl_backend *b) {
  if (b->spill.records > 0 || b->pfx_pend.count > 0)
    return 1;
  for (size_t i = 0; i <= b->cache.mask; i++) {
    sl_cache_entry *e = b->cache.slots[i].e;
    if (e && (e->flags & SL_CE_IN_TXN))
      return 1;
  }
  return 0;
}

static int is_pending(const sl_cache_entry *e) {
  return e && (e->flags & SL_CE_DIRTY);
}

/* Visits every entry to freeze: dirty cache entries, pending state ids, pending metadata. */
static void each_pending(sl_backend *b, void (*fn)(void *, uint8_t, const sl_cache_entry *), void *arg) {
  const sl_cache *caches[3] = {&b->cache, &b->meta_pend, &b->ids_pend};
  const uint8_t dbs[3] = {1, 2, 3};
  for (int c = 0; c < 3; c++)
    for (size_t i = 0; i <= caches[c]->mask; i++) {
      const sl_cache_entry *e = caches[c]->slots[i].e;
      /* Pending meta and ids are kept in their own caches, all of them pending. */
      if (e && (c > 0 || is_pending(e)))
        fn(arg, dbs[c], e);
    }
}

struct sizer {
  size_t n, bytes;
};
static void size_one(void *arg, uint8_t db, const sl_cache_entry *e) {
  struct sizer *z = arg;
  (void)db;
  z->n++;
  z->bytes += e->klen + ((e->flags & SL_CE_DELETED) ? 0 : e->vlen);
}

struct copier {
  sl_frozen *f;
  uint8_t *at;
};
static void copy_one(void *arg, uint8_t db, const sl_cache_entry *e) {
  struct copier *c = arg;
  frozen_rec *r = &c->f->recs[c->f->n++];
  r->db = db;
  r->deleted = db == 1 && (e->flags & SL_CE_DELETED);
  r->klen = e->klen;
  r->vlen = r->deleted ? 0 : e->vlen;
  r->data = c->at;
  memcpy(c->at, e->data, e->klen);
  if (r->vlen)
    memcpy(c->at + e->klen, e->data + e->klen, r->vlen);
  c->at += r->klen + r->vlen;
}

int sl_backend_freeze(sl_backend *b, sl_frozen **out) {
  if (!b || !out)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  sl_bk_wait_flush(b);
  if (b->flush_failed || txn_has_writes(b)) {
    b->flush_failed = 0;
    return 1;
  }
  struct sizer z = {0, 0};
  each_pending(b, size_one, &z);
  sl_frozen *f = calloc(1, sizeof *f);
  if (!f || !(f->recs = malloc((z.n ? z.n : 1) * sizeof *f->recs)) || !(f->arena = malloc(z.bytes ? z.bytes : 1))) {
    if (f)
      free(f->recs);
    free(f);
    return SL_STATE_ENOMEM;
  }
  struct copier c = {f, f->arena};
  each_pending(b, copy_one, &c);
  /* The write transaction only served reads since the last commit: end it, the worker needs the lock. */
  sl_bk_txn_abort(b);
  f->b = b;
  b->flushing = 1;
  b->flushed = 0;
  b->snapshots_open++;
  *out = f;
  return SL_STATE_OK;
}

/* Key order per database: LMDB then fills a few leaf pages at a time (see state_txn.c). */
static int by_db_key(const void *pa, const void *pb) {
  const frozen_rec *a = pa, *b = pb;
  if (a->db != b->db)
    return a->db - b->db;
  size_t n = a->klen < b->klen ? a->klen : b->klen;
  int c = memcmp(a->data, b->data, n);
  return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

static void signal_flushed(sl_backend *b) {
  pthread_mutex_lock(&b->mu);
  b->flushed = 1;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

int sl_frozen_flush(sl_frozen *f, sl_snapshot **snap, char *err, size_t errlen) {
  sl_backend *b = f->b;
  MDB_dbi dbis[4] = {0, b->kv, b->meta, b->states};
  MDB_txn *txn = NULL;
  qsort(f->recs, f->n, sizeof *f->recs, by_db_key);
  int rc = mdb_txn_begin(b->env, NULL, 0, &txn);
  for (size_t i = 0; rc == 0 && i < f->n; i++) {
    frozen_rec *r = &f->recs[i];
    MDB_val k = {r->klen, r->data}, v = {r->vlen, r->data + r->klen};
    if (r->deleted) {
      rc = mdb_del(txn, dbis[r->db], &k, NULL);
      if (rc == MDB_NOTFOUND)
        rc = 0;
    } else {
      rc = mdb_put(txn, dbis[r->db], &k, &v, 0);
    }
  }
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
    txn = NULL;
  }
  if (txn)
    mdb_txn_abort(txn);
  MDB_txn *view = NULL;
  /* The view is opened before the loop thread can take the write lock: it is the state at the barrier. */
  if (rc == 0)
    rc = mdb_txn_begin(b->env, NULL, MDB_RDONLY, &view);
  if (rc == 0)
    rc = sl_snapshot_wrap(b, view, snap) == SL_STATE_OK ? 0 : ENOMEM;
  if (rc) {
    if (view)
      mdb_txn_abort(view);
    snprintf(err, errlen, "flushing %zu entries for the checkpoint: %s", f->n, mdb_strerror(rc));
    b->flush_failed = 1; /* read by the loop thread only after signal_flushed's mutex */
  }
  signal_flushed(b);
  return rc ? -1 : 0;
}

/* A kv entry the worker wrote is clean again if it still holds what was frozen. */
static void settle(sl_backend *b, const frozen_rec *r) {
  sl_cache_entry *e = sl_cache_find(&b->cache, sl_key_hash(r->data, r->klen), r->data, r->klen);
  if (e && !!(e->flags & SL_CE_DELETED) == r->deleted && e->vlen == r->vlen &&
      memcmp(e->data + e->klen, r->data + r->klen, r->vlen) == 0)
    e->flags &= ~(uint32_t)SL_CE_DIRTY;
}

/* Pending metadata and state ids the worker committed leave their pending caches, unless changed since. */
struct committed {
  const sl_frozen *f;
  uint8_t db;
};
static int was_committed(const sl_cache_entry *e, void *arg) {
  const struct committed *c = arg;
  for (size_t i = 0; i < c->f->n; i++) {
    const frozen_rec *r = &c->f->recs[i];
    if (r->db == c->db && r->klen == e->klen && r->vlen == e->vlen && memcmp(r->data, e->data, r->klen) == 0 &&
        memcmp(r->data + r->klen, e->data + e->klen, r->vlen) == 0)
      return 1;
  }
  return 0;
}

void sl_frozen_complete(sl_frozen *f) {
  if (!f)
    return;
  sl_backend *b = f->b;
  sl_bk_wait_flush(b);
  b->snapshots_open--;
  if (!b->flush_failed) {
    for (size_t i = 0; i < f->n; i++)
      if (f->recs[i].db == 1)
        settle(b, &f->recs[i]);
    struct committed meta = {f, 2}, ids = {f, 3};
    sl_cache_remove_if(&b->meta_pend, was_committed, &meta);
    sl_cache_remove_if(&b->ids_pend, was_committed, &ids);
  }
  free(f->recs);
  free(f->arena);
  free(f);
}
