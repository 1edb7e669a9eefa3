/* state_flush.c — barriers that hand the LMDB flush to the checkpoint worker (see state_flush.h). */
#include "state/state_flush.h"

#include "state/state_delta.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/key_sort.h"
#include "state/state_backend_internal.h"
#include "state/state_key.h"

/* One frozen write: a copy, so the loop thread may change the cache meanwhile. */
typedef struct frozen_rec {
  const sl_cache_entry *e; /* the cache entry it was copied from (valid while cache.frees is unchanged) */
  uint8_t db;              /* 1 kv, 2 meta, 3 states */
  uint8_t deleted;
  uint32_t klen, vlen;
  uint8_t *data; /* key then value */
} frozen_rec;

struct sl_frozen {
  sl_backend *b;
  frozen_rec *recs;
  size_t n;
  size_t settled;    /* entries looked at by sl_frozen_settle */
  uint32_t *ttl_ids; /* for the snapshot's cleanup of expired entries (sl_frozen_drop_expired) */
  size_t nttl_ids;
  int64_t now;
  int drop_expired;
  uint64_t frees_at_freeze;    /* the cache's free count when the pointers in recs were taken */
  uint64_t freeze_no, commits; /* b->freezes and b->stats.commits at the freeze: settling is safe only
                                  while neither moved (LMDB may hold newer bytes after either) */
  int failed;                  /* the flush failed: nothing to settle */
  int delta_only;              /* sl_frozen_for_delta_only: LMDB is not written, the backend is sealed */
  uint64_t changes;            /* the backend's change count at the freeze (sl_backend_changed) */
  sl_spill_log log;            /* the backend's delta log at the freeze: changes committed since the last
                                  barrier, which the delta writes before the batch */
  uint8_t *arena;              /* all keys and values, one allocation */
  size_t recs_cap, arena_cap;  /* what recs and arena hold, in bytes (either may be a reused spare) */
  size_t pend_first, npend;    /* where the pending metadata and state ids lie in recs: one run, listed
                                  together, and at the end once sorted (their databases sort after kv) */
};

size_t sl_frozen_count(const sl_frozen *f) {
  return f ? f->n : 0;
}

/* The batch would miss changes: entries were committed between barriers (cache pressure). Entries an
 * iterator's flush wrote into the write transaction are still dirty in the cache, so that transaction can
 * simply be dropped (see sl_backend_freeze). */
static int txn_has_writes(const sl_backend *b) {
  return b->committed_unfrozen;
}

static int is_pending(const sl_cache_entry *e) {
  return e && (e->flags & SL_CE_DIRTY);
}

#define PREFETCH_AHEAD 16

/* Buffers the backend keeps from one checkpoint to the next (the batch's arrays, which sl_frozen_free gives
 * back, and the flush's sort arrays): a stream of new keys needs ones of about the same size every
 * checkpoint, and a fresh one is faulted in page by page (1 M distinct keys: a quarter of the run's page
 * faults were the batches' and their sorts' fresh arrays). fit_spare makes *buf (of *cap bytes) hold `need`:
 * kept when large enough and not four times too large, else replaced by a fresh one with a quarter more,
 * since the next batch is often a little larger. NULL (and *cap 0) without memory. */
static void *fit_spare(void **buf, size_t *cap, size_t need) {
  need = need ? need : 1;
  if (*buf && *cap >= need && *cap / 4 <= need + ((size_t)1 << 20))
    return *buf;
  free(*buf);
  *cap = need + need / 4;
  if (!(*buf = malloc(*cap)))
    *cap = 0;
  return *buf;
}

/* fit_spare, the buffer then handed over (its size in *cap). */
static void *take_spare(void **spare, size_t *spare_cap, size_t need, size_t *cap) {
  void *p = fit_spare(spare, spare_cap, need);
  *cap = *spare_cap;
  *spare = NULL;
  *spare_cap = 0;
  return p;
}

static void give_spare(void **spare, size_t *spare_cap, void *p, size_t cap) {
  if (*spare || !p) {
    free(p);
    return;
  }
  *spare = p;
  *spare_cap = cap;
}

/* Lists entry e of database db as the next record of f (its bytes are copied later), adding its size. */
static void list_one(sl_frozen *f, size_t *bytes, const sl_cache_entry *e, uint8_t db) {
  frozen_rec *r = &f->recs[f->n++];
  r->e = e;
  r->db = db;
  r->deleted = db == 1 && (e->flags & SL_CE_DELETED);
  r->klen = e->klen;
  r->vlen = r->deleted ? 0 : e->vlen;
  *bytes += r->klen + r->vlen;
}

/* Lists every entry to freeze into f->recs (room for `room`): pending metadata and state ids, and the dirty
 * kv entries — from the queue of entries written since the last barrier when it is complete (a dirty entry
 * not written since then was frozen before and is still being settled), else from a scan of the whole cache.
 * Going through the queue, it also takes every entry off it, and off UNFLUSHED too when `both` (that queue
 * is then a subset of WRITTEN), so that the entries, which lie at random addresses, are visited once; the
 * caller then forgets the queues.
 * The entries are prefetched a few places ahead, which hides most of the memory latency this loop spends
 * its time on (it runs while the stream stands still). Returns the bytes the records' copies take. */
static size_t list_pending(sl_backend *b, sl_frozen *f, int listed, int both) {
  const sl_cache *caches[3] = {&b->cache, &b->meta_pend, &b->ids_pend};
  size_t bytes = 0;
  for (int c = listed ? 1 : 0; c < 3; c++) {
    const sl_cache *ca = caches[c];
    if (c == 1)
      f->pend_first = f->n;
    for (size_t i = 0; i <= ca->mask; i++) {
      if (i + PREFETCH_AHEAD <= ca->mask && ca->slots[i + PREFETCH_AHEAD].e)
        __builtin_prefetch(ca->slots[i + PREFETCH_AHEAD].e);
      sl_cache_entry *e = ca->slots[i].e;
      if (e && (c > 0 || is_pending(e))) /* pending meta and ids are kept in caches of their own */
        list_one(f, &bytes, e, (uint8_t)(c + 1));
    }
  }
  f->npend = f->n - f->pend_first;
  const sl_cache_queue *w = &b->cache.q[SL_CQ_WRITTEN];
  for (size_t i = 0; listed && i < w->n; i++) {
    if (i + PREFETCH_AHEAD < w->n && w->v[i + PREFETCH_AHEAD])
      __builtin_prefetch(w->v[i + PREFETCH_AHEAD]);
    sl_cache_entry *e = w->v[i];
    if (!e)
      continue;
    e->qpos[SL_CQ_WRITTEN] = 0;
    if (both)
      e->qpos[SL_CQ_UNFLUSHED] = 0;
    if (is_pending(e))
      list_one(f, &bytes, e, 1);
  }
  return bytes;
}

/* Copies the listed records' bytes into the arena, in one pass, prefetching the entries ahead. */
static void copy_listed(sl_frozen *f) {
  uint8_t *at = f->arena;
  for (size_t i = 0; i < f->n; i++) {
    if (i + PREFETCH_AHEAD < f->n)
      __builtin_prefetch(f->recs[i + PREFETCH_AHEAD].e);
    frozen_rec *r = &f->recs[i];
    r->data = at;
    memcpy(at, r->e->data, r->klen + r->vlen);
    at += r->klen + r->vlen;
  }
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
  sl_cache_queue *w = &b->cache.q[SL_CQ_WRITTEN];
  /* UNFLUSHED is a subset of WRITTEN but after a flush that found its entries by a scan (txn_untracked: the
   * abort below may then queue entries that are on UNFLUSHED alone). Asked before the abort resets it. */
  int unflushed_in_written = !w->lost && !b->txn_untracked;
  /* What an iterator's flush wrote into the write transaction is still dirty in the cache, so the frozen
   * batch takes it too: the transaction is dropped (the worker needs the write lock), and with it the
   * reason a job that iterates state could never have an incremental checkpoint. */
  if (b->txn_written)
    sl_bk_txn_abort(b);
  /* The dirty kv entries are listed from the WRITTEN queue when it is complete, else by a scan. */
  int listed = !w->lost;
  size_t room = (listed ? w->n : b->cache.count) + b->meta_pend.count + b->ids_pend.count;
  sl_frozen *f = calloc(1, sizeof *f);
  /* The batch takes the delta log; the backend starts an empty one (set up first: it can fail). */
  sl_spill_log fresh;
  if (!f ||
      !(f->recs = take_spare(&b->spare_recs, &b->spare_recs_cap, room * sizeof *f->recs, &f->recs_cap))) {
    free(f);
    return SL_STATE_ENOMEM;
  }
  if (!listed)
    b->stats.cache_scans++;
  size_t bytes = list_pending(b, f, listed, unflushed_in_written);
  /* Listing took the entries off the queues; from here on a failure must say the queues miss them. */
  f->arena = take_spare(&b->spare_arena, &b->spare_arena_cap, bytes, &f->arena_cap);
  if (!f->arena || sl_spill_init(&fresh, b->spill.dir) != 0) {
    if (listed) {
      w->lost = 1;
      if (unflushed_in_written)
        b->cache.q[SL_CQ_UNFLUSHED].lost = 1;
    }
    free(f->recs);
    free(f->arena);
    free(f);
    return SL_STATE_ENOMEM;
  }
  f->log = b->spill;
  b->spill = fresh;
  copy_listed(f);
  /* Everything written so far is in the batch: the queues start again (an entry written from now on is
   * queued anew), and the change count it covers is remembered for sl_frozen_finish. */
  if (listed)
    sl_cache_queue_forget(&b->cache, SL_CQ_WRITTEN);
  else
    sl_cache_queue_clear(&b->cache, SL_CQ_WRITTEN);
  if (listed && unflushed_in_written)
    sl_cache_queue_forget(&b->cache, SL_CQ_UNFLUSHED);
  else
    sl_cache_queue_clear(&b->cache, SL_CQ_UNFLUSHED);
  f->changes = sl_bk_change_count(b);
  /* The write transaction only served reads since the last commit: end it, the worker needs the lock. */
  if (b->txn) {
    mdb_txn_abort(b->txn);
    b->txn = NULL;
    b->txn_gen++;
  }
  f->b = b;
  f->frees_at_freeze = b->cache.frees;
  f->freeze_no = ++b->freezes;
  f->commits = b->stats.commits;
  b->flushing = 1;
  b->flushed = 0;
  b->snapshots_open++;
  b->unsettled = f; /* settled once flushed: after the barrier is over, or sooner under pressure */
  *out = f;
  return SL_STATE_OK;
}

/* Orders two frozen records of one database whose first 23 key bytes agree (key_sort.h). */
static int frozen_tie(const sl_sort_item *pa, const sl_sort_item *pb) {
  const frozen_rec *a = pa->p, *b = pb->p;
  return sl_sort_bytes_cmp(a->data, a->klen, b->data, b->klen);
}

/* Key order per database: LMDB then fills a few leaf pages at a time (see state_txn.c). The records are
 * put into that order (sl_frozen_write_delta relies on it); without memory for the sort items they stay as
 * they are, which is as correct, only slower to write. */
static void sort_by_db_key(sl_frozen *f) {
  /* The items, then the sort's scratch of as many (fit_spare). */
  sl_sort_item *v =
      f->n < 2 ? NULL : fit_spare(&f->b->flush_sort, &f->b->flush_sort_cap, 2 * f->n * sizeof *v);
  if (!v)
    return;
  /* The kv records are sorted apart from the few pending metadata and state ids (whose databases sort
   * after kv): mixed in, their other key shapes made every byte position vary, and the kv keys' sort codes
   * (key_sort.h) a third longer. */
  size_t nkv = f->n - f->npend, j = 0;
  for (size_t i = 0; i < f->n; i++)
    if (i < f->pend_first || i >= f->pend_first + f->npend)
      sl_sort_item_init(&v[j++], 1, f->recs[i].data, f->recs[i].klen, &f->recs[i]);
  for (size_t i = f->pend_first; i < f->pend_first + f->npend; i++)
    sl_sort_item_init(&v[j++], f->recs[i].db, f->recs[i].data, f->recs[i].klen, &f->recs[i]);
  sl_sort_items_with(v, nkv, frozen_tie, v + f->n);
  sl_sort_items_with(v + nkv, f->npend, frozen_tie, v + f->n);
  f->pend_first = nkv;
  /* The records in that order, gathered into the sort's scratch half (free again, and as large) and copied
   * back: each load is independent of the others, so their misses overlap, where following the
   * permutation's cycles in place waited for each record before it knew the next. */
  _Static_assert(sizeof(frozen_rec) <= sizeof(sl_sort_item), "the scratch half holds the gathered records");
  frozen_rec *sorted = (frozen_rec *)(v + f->n);
  for (size_t i = 0; i < f->n; i++) {
    if (i + PREFETCH_AHEAD < f->n)
      __builtin_prefetch(v[i + PREFETCH_AHEAD].p);
    sorted[i] = *(const frozen_rec *)v[i].p;
  }
  memcpy(f->recs, sorted, f->n * sizeof *f->recs);
}

static void signal_flushed(sl_backend *b) {
  pthread_mutex_lock(&b->mu);
  b->flushed = 1;
  pthread_cond_broadcast(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

int sl_frozen_drop_expired(sl_frozen *f, int64_t now) {
  sl_backend *b = f->b;
  f->now = now;
  f->drop_expired = 1;
  if (!b->nttl_ids)
    return 0;
  if (!(f->ttl_ids = malloc(b->nttl_ids * sizeof *f->ttl_ids)))
    return ENOMEM;
  memcpy(f->ttl_ids, b->ttl_ids, b->nttl_ids * sizeof *f->ttl_ids);
  f->nttl_ids = b->nttl_ids;
  return 0;
}

void sl_frozen_for_delta_only(sl_frozen *f) {
  f->delta_only = 1;
}

int sl_frozen_flush(sl_frozen *f, sl_snapshot **snap, char *err, size_t errlen) {
  sl_backend *b = f->b;
  MDB_dbi dbis[4] = {0, b->kv, b->meta, b->states};
  MDB_txn *txn = NULL;
  sort_by_db_key(f);
  if (f->delta_only) {
    *snap = NULL;
    signal_flushed(b);
    return 0;
  }
  int rc = mdb_txn_begin(b->env, NULL, 0, &txn);
  uint64_t writes = 0, bytes = 0;
  MDB_cursor *cur[4] = {0}; /* per database, for the transaction (sl_bk_cursor_write says why) */
  for (size_t i = 0; rc == 0 && i < f->n; i++) {
    frozen_rec *r = &f->recs[i];
    if (i + PREFETCH_AHEAD < f->n) /* in key order the copies lie at random places in the arena */
      __builtin_prefetch(f->recs[i + PREFETCH_AHEAD].data);
    MDB_val k = {r->klen, r->data}, v = {r->vlen, r->data + r->klen};
    if (!cur[r->db])
      rc = mdb_cursor_open(txn, dbis[r->db], &cur[r->db]);
    if (rc == 0)
      rc = sl_bk_cursor_write(cur[r->db], &k, &v, r->deleted);
    writes++;
    bytes += r->klen + r->vlen;
    /* A large batch is committed in parts, so that the pages it dirties (memory until the commit) stay
     * bounded. Nobody sees the parts: the loop thread holds every frozen entry in its cache until the
     * flush is over, so its misses never read them, and the snapshot's view opens after the last part. */
    if (rc == 0 && (writes & 63) == 0 && r->db == 1 &&
        sl_bk_dirty_estimate(txn, b->kv, writes, bytes, b->psize) >= b->txn_max_pages) {
      rc = mdb_txn_commit(txn); /* closes the cursors */
      txn = NULL;
      memset(cur, 0, sizeof cur);
      writes = bytes = 0;
      if (rc == 0)
        rc = mdb_txn_begin(b->env, NULL, 0, &txn);
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
  if (rc == 0 && f->drop_expired) {
    sl_snapshot_take_expiry(*snap, f->ttl_ids, f->nttl_ids, f->now);
    f->ttl_ids = NULL;
  }
  if (rc) {
    if (view)
      mdb_txn_abort(view);
    snprintf(err, errlen, "flushing %zu entries for the checkpoint: %s", f->n, mdb_strerror(rc));
    b->flush_failed = 1; /* read by the loop thread only after signal_flushed's mutex */
  }
  signal_flushed(b);
  return rc ? -1 : 0;
}

static int put_logged(void *arg, int op, const void *k, size_t klen, const void *v, size_t vlen) {
  sl_snapfile_put(arg, op == SL_SPILL_DEL ? 4 : 1, k, klen, v, vlen);
  return op == SL_SPILL_DEL || op == SL_SPILL_PUT ? 0 : EINVAL;
}

int sl_frozen_write_delta(sl_frozen *f, const char *path, uint64_t *bytes, uint64_t *entries, char *err,
                          size_t errlen) {
  sl_snapfile *w = sl_snapfile_create(path, err, errlen);
  if (!w)
    return -1;
  /* First what cache pressure committed between the barriers, in the order it was committed; then the
   * batch, which is newer (a delta is applied in order, the last record of a key wins). */
  int rc = sl_spill_replay(&f->log, put_logged, w);
  if (rc) {
    char why[64];
    snprintf(why, sizeof why, "%s", strerror(rc < 0 ? -rc : rc));
    sl_snapfile_finish(w, bytes, entries, err, errlen);
    snprintf(err, errlen, "reading the delta log: %s", why);
    remove(path);
    return -1;
  }
  /* sl_frozen_flush sorted the records by database and key. */
  for (size_t i = 0; i < f->n; i++) {
    const frozen_rec *r = &f->recs[i];
    if (i + PREFETCH_AHEAD < f->n)
      __builtin_prefetch(f->recs[i + PREFETCH_AHEAD].data);
    sl_snapfile_put(w, r->deleted ? 4 : r->db, r->data, r->klen, r->data + r->klen, r->vlen);
  }
  return sl_snapfile_finish(w, bytes, entries, err, errlen);
}

/* A kv entry the worker wrote is clean again if it still holds what was frozen. While no cache entry was
 * freed since the freeze, the entry is reached through the pointer taken then (no hashing, no probing);
 * otherwise it is looked up. */
static void settle(const sl_frozen *f, const frozen_rec *r) {
  sl_backend *b = f->b;
  sl_cache_entry *e = b->cache.frees == f->frees_at_freeze
                          ? (sl_cache_entry *)r->e
                          : sl_cache_find(&b->cache, sl_cache_hash(r->data, r->klen), r->data, r->klen);
  if (!e)
    return;
  /* While the WRITTEN queue is whole, an entry off it was not written since the freeze (the freeze took
   * every entry off it), so it holds the frozen bytes: the copy in the arena, at a random place in key
   * order, need not be read (collect_dirty in state_txn.c relies on the same). */
  if (!e->qpos[SL_CQ_WRITTEN] && !b->cache.q[SL_CQ_WRITTEN].lost) {
    e->flags &= ~(uint32_t)SL_CE_DIRTY;
    return;
  }
  /* Else the bytes tell. An entry written since the freeze is left dirty, even if it holds the frozen bytes
   * again, once the write transaction holds flushed entries: it may hold what the entry held in between (an
   * iterator's flush), and marking it clean would keep the commit from overwriting that. The next barrier
   * freezes it again. */
  if (!(e->qpos[SL_CQ_WRITTEN] && b->txn_written) && e->klen == r->klen &&
      !!(e->flags & SL_CE_DELETED) == r->deleted && e->vlen == r->vlen &&
      memcmp(e->data, r->data, r->klen + r->vlen) == 0)
    e->flags &= ~(uint32_t)SL_CE_DIRTY;
}

/* Pending metadata and state ids the worker committed leave their pending caches, unless changed since. */
struct committed {
  const sl_frozen *f;
  uint8_t db;
};
static int was_committed(const sl_cache_entry *e, void *arg) {
  const struct committed *c = arg;
  /* Only the run of pending records: a pass over the whole batch per pending entry read every frozen kv
   * record again, long out of the CPU's caches, at every checkpoint. */
  for (size_t i = c->f->pend_first; i < c->f->pend_first + c->f->npend; i++) {
    const frozen_rec *r = &c->f->recs[i];
    if (r->db == c->db && r->klen == e->klen && r->vlen == e->vlen &&
        memcmp(r->data, e->data, r->klen) == 0 && memcmp(r->data + r->klen, e->data + e->klen, r->vlen) == 0)
      return 1;
  }
  return 0;
}

void sl_frozen_finish(sl_frozen *f) {
  if (!f)
    return;
  sl_backend *b = f->b;
  sl_bk_wait_flush(b);
  b->snapshots_open--;
  f->failed = b->flush_failed;
  if (f->delta_only) {
    /* LMDB lacks the batch, and the cache would mark it clean: nothing may read or write the state now. */
    b->broken = 2;
    snprintf(b->err, sizeof b->err, "the state was sealed by the final checkpoint");
    f->failed = 1; /* nothing to settle */
  } else if (f->failed) {
    /* LMDB lacks the batch: iterators must see its entries, which are on no queue any more. */
    b->cache.q[SL_CQ_UNFLUSHED].lost = 1;
    b->frozen_lost = 1;
  } else {
    /* LMDB holds every change made up to the freeze (none after it is undone by this). */
    if (f->changes > b->synced_changes)
      b->synced_changes = f->changes;
    struct committed meta = {f, 2}, ids = {f, 3};
    sl_cache_remove_if(&b->meta_pend, was_committed, &meta);
    sl_cache_remove_if(&b->ids_pend, was_committed, &ids);
  }
}

void sl_bk_settle_now(sl_backend *b) {
  if (!b->unsettled)
    return;
  /* A batch still being flushed is waited for: a commit would wait for it too, and then write its entries
   * again; once LMDB holds them they only need marking clean. */
  sl_bk_wait_flush(b);
  if (!b->flush_failed)
    (void)sl_frozen_settle(b->unsettled, (size_t)-1);
}

void sl_bk_detach_unsettled(sl_backend *b) {
  if (b->unsettled)
    b->unsettled->b = NULL;
  b->unsettled = NULL;
}

/* Settling is over for f (done, or no longer allowed): the backend stops pointing at it. */
static int settled(sl_frozen *f) {
  if (f->b && f->b->unsettled == f)
    f->b->unsettled = NULL;
  return 1;
}

int sl_frozen_settle(sl_frozen *f, size_t max) {
  if (!f || !f->b || f->failed)
    return f ? settled(f) : 1;
  /* After a newer freeze or a commit LMDB may hold newer bytes than this batch: matching this batch's bytes
   * no longer proves an entry clean, so settling stops (the entries merely stay dirty). */
  if (f->b->freezes != f->freeze_no || f->b->stats.commits != f->commits)
    return settled(f);
  /* Without a complete WRITTEN queue, settle cannot tell which entries the write transaction may hold. */
  if (f->b->cache.q[SL_CQ_WRITTEN].lost && f->b->txn_written)
    return settled(f);
  for (; f->settled < f->n && max > 0; f->settled++, max--) {
    if (f->settled + PREFETCH_AHEAD < f->n && f->recs[f->settled + PREFETCH_AHEAD].db == 1)
      __builtin_prefetch(f->recs[f->settled + PREFETCH_AHEAD].e);
    if (f->recs[f->settled].db == 1)
      settle(f, &f->recs[f->settled]);
  }
  return f->settled == f->n ? settled(f) : 0;
}

void sl_frozen_free(sl_frozen *f) {
  if (!f)
    return;
  settled(f);
  free(f->ttl_ids);
  if (f->b) { /* the next freeze takes them (take_spare) */
    give_spare(&f->b->spare_recs, &f->b->spare_recs_cap, f->recs, f->recs_cap);
    give_spare(&f->b->spare_arena, &f->b->spare_arena_cap, f->arena, f->arena_cap);
  } else {
    free(f->recs);
    free(f->arena);
  }
  sl_spill_close(&f->log);
  free(f);
}

void sl_frozen_complete(sl_frozen *f) {
  sl_frozen_finish(f);
  sl_frozen_settle(f, (size_t)-1);
  sl_frozen_free(f);
}
