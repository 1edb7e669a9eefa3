/* state_backend_internal.h — the backend's struct and the helpers its three files share. Not a public header:
 * only state_backend.c (entry points), state_txn.c (the write transaction and its recovery) and
 * state_backend_iter.c (cursors: iterators and delete_prefix) include it.
 *
 * The invariant everything rests on: until a commit succeeds, every change since the previous commit can be
 * rebuilt without the open write transaction — from the dirty cache entries (a prefix delete is deletes of
 * entries; cache pressure commits rather than moving dirty entries out of memory), pending meta and
 * pending state ids. So the transaction can be aborted at any time (to grow the map, or after an error)
 * and rebuilt without losing an update, and a failed commit leaves the working state intact. */
#ifndef SLUICE_STATE_BACKEND_INTERNAL_H
#define SLUICE_STATE_BACKEND_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>

#include "state/key_filter.h"
#include "state/state_backend.h"
#include "state/state_cache.h"
#include "state/state_spill_log.h"

struct sl_backend {
  MDB_env *env;
  MDB_dbi kv, meta, states;
  MDB_txn *txn;     /* the write transaction, opened lazily; NULL between commits until needed */
  uint64_t txn_gen; /* bumped whenever a transaction ends, so iterators notice their cursor is gone */
  MDB_cursor *wcur; /* the cursor writes into txn go through (sl_bk_write_cursor); LMDB frees it with txn */
  uint64_t wcur_gen; /* txn_gen when wcur was opened: another value means wcur is gone */
  int txn_written;  /* cache entries were written into txn (a flush): it cannot be handed to a worker */
  uint64_t txn_writes, txn_bytes; /* entries (and their bytes) written into txn: its dirty-page estimate */
  size_t txn_max_pages;           /* the bound on that estimate: a transaction is committed before it */
  int committed_unfrozen; /* entries were committed between barriers and the delta log could not take them:
                             the next barrier's delta would miss them, so the freeze falls back */
  int frozen_lost;        /* a frozen batch's flush failed: dirty entries on no queue may be missing from
                             LMDB (cleared by a commit, which writes every dirty entry) */
  int txn_untracked;      /* a flush found its entries by a pass over the cache (its queue was lost): entries
                             outside the WRITTEN queue may be marked SL_CE_IN_TXN, so clearing the marks scans */
  struct sl_backend_iter *iters; /* live iterators, orphaned at close (sl_bk_orphan_iters) */
  uint64_t freezes;   /* sl_backend_freeze calls: a frozen batch settles only while no newer one exists */
  int broken;         /* 1: LMDB panicked or the file is corrupt; 2: sealed by a final delta checkpoint that
                         left LMDB behind the cache (sl_frozen_for_delta_only). Only close is allowed */
  int snapshots_open; /* read views held by snapshots: the map must not be resized meanwhile */
  /* A frozen batch is being written by a checkpoint worker (state_flush.h). flushed is set by the worker
   * (under mu, signalling cv) once its commit is done and the write lock free again. */
  int flushing;
  int flushed;
  int flush_failed; /* the last background flush failed: the next barrier commits synchronously */
  MDB_txn *rtxn;    /* read-only transaction for cache misses while flushing */
  /* The last frozen batch's record and arena arrays, kept for the next freeze (state_flush.c, take_spare);
   * sizes in bytes. Loop thread only; freed at close. */
  void *spare_recs, *spare_arena;
  size_t spare_recs_cap, spare_arena_cap;
  /* The flush's sort items and their scratch, one array (state_flush.c), kept from one flush to the next
   * for the same reason: the flushing thread's alone while b->flushing, freed at close. Size in bytes. */
  void *flush_sort;
  size_t flush_sort_cap;
  struct sl_frozen *unsettled; /* the last frozen batch while some of it is not settled yet: cache pressure
                                  waits for its flush and settles it all before it commits anything
                                  (sl_bk_settle_now) */
  /* The cache's queues (state_cache.h), so that nothing per record or per iterator scans the cache:
   *   SL_CQ_WRITTEN    entries put or deleted since the last freeze (what the next barrier freezes). Every
   *                    entry marked SL_CE_IN_TXN is on it (the write transaction never outlives a barrier),
   *                    unless txn_untracked.
   *   SL_CQ_UNFLUSHED  entries put or deleted since the last flush into the write transaction (what an
   *                    iterator's open writes into it); a subset of WRITTEN. */
  /* Changes made through the backend (puts and deletes that changed an entry, prefix deletes, metadata that
   * changed); with ids_pend.sets, compared with synced_changes by sl_backend_changed. */
  uint64_t changes;
  uint64_t synced_changes; /* the count of changes LMDB held after the last commit or completed freeze */
  uint32_t *ttl_ids;       /* TTL-enabled state ids (sl_backend_mark_ttl_state), for snapshot-time cleanup */
  size_t nttl_ids;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t cache_max;
  size_t mapsize, psize;
  sl_spill_log spill; /* the delta log: entries committed between barriers (cache pressure), in order;
                         handed to the next frozen batch, whose delta begins with them */
  sl_cache cache;     /* composite key -> value, the write-back cache */
  sl_key_filter keys; /* every composite key kv may hold: built from kv at open, added to by every put that
                         makes a key present (state_backend.c), so a miss it rules out skips LMDB */
  sl_cache meta_pend; /* meta name -> bytes not yet written */
  sl_cache ids_pend;  /* "op_uid\0state_name" -> u32 BE id assigned since the last commit */
  sl_backend_stats stats;
  char err[320];
};

/* Records "what: LMDB's message" as the last error and maps an LMDB/errno code to a status (MDB_PANIC and
 * corruption mark the backend broken). */
int sl_bk_fail(sl_backend *b, int rc, const char *what);

/* An operation run inside the write transaction; returns an LMDB code (0, MDB_NOTFOUND, MDB_MAP_FULL, ...).
 */
typedef int (*sl_bk_op)(sl_backend *b, void *arg);

/* Runs op in the write transaction (opening it first). On MDB_MAP_FULL it aborts, doubles the map and runs op
 * again; on other errors it aborts the transaction. Returns OK, NOTFOUND (op said MDB_NOTFOUND) or an error
 * status. */
int sl_bk_run(sl_backend *b, sl_bk_op op, void *arg, const char *what);

/* Records that e was written (a put or delete changed it): queues it for the next barrier and the next
 * flush. A queue that cannot grow is marked lost (its consumer then scans), so this cannot fail. */
static inline void sl_bk_note_written(sl_backend *b, sl_cache_entry *e) {
  (void)sl_cache_enqueue(&b->cache, SL_CQ_WRITTEN, e);
  (void)sl_cache_enqueue(&b->cache, SL_CQ_UNFLUSHED, e);
  b->changes++;
}

/* The count sl_backend_changed compares: every change, including state ids registered (ids_pend.sets). */
static inline uint64_t sl_bk_change_count(const sl_backend *b) {
  return b->changes + b->ids_pend.sets;
}

/* Clears SL_CE_IN_TXN from every entry marked (after the transaction ended uncommitted) and queues the dirty
 * ones for the next flush: through the WRITTEN queue, or a pass over the cache when it cannot be trusted. */
void sl_bk_clear_in_txn(sl_backend *b);

/* Detaches every live iterator from b (at close): closing one later frees only the iterator. */
void sl_bk_orphan_iters(sl_backend *b);

/* Like sl_bk_run for operations that only read: while a frozen batch is being flushed they run on a
 * read-only transaction instead of waiting for the write lock. */
int sl_bk_read(sl_backend *b, sl_bk_op op, void *arg, const char *what);

/* Blocks until a background flush has committed, then ends the flushing state. */
void sl_bk_wait_flush(sl_backend *b);

/* Ends the write transaction without committing (no-op without one); everything in it stays replayable. */
void sl_bk_txn_abort(sl_backend *b);

/* sl_bk_op: writes every entry put or deleted since the last flush (the UNFLUSHED queue; a pass over the
 * cache if the queue was lost) that is still dirty and not in the transaction into it, in key order. Costs
 * what was written since, not the size of the cache. */
int sl_bk_op_flush(sl_backend *b, void *arg);

/* sl_bk_op: writes every dirty cache entry not yet in the transaction (a pass over the whole cache). */
int sl_bk_op_flush_all(sl_backend *b, void *arg);

/* Settles every entry of b->unsettled now (state_flush.c): under cache pressure the clean entries it yields
 * can be evicted, where a commit would instead write them again and end settling for good. */
void sl_bk_settle_now(sl_backend *b);

/* At close: the unsettled batch (freed later by its owner) no longer points at b. */
void sl_bk_detach_unsettled(sl_backend *b);

/* Called after a put/delete when the cache is past its cap (sl_bk_cache_footprint > cache_max): frees clean
 * entries one by one (a clock) down to three quarters of the cap; when too few are clean, first commits
 * every dirty entry (sl_bk_spill_commit). Returns a status (a failed commit's; nothing is lost then). */
int sl_bk_maybe_spill(sl_backend *b);

/* Writes every dirty entry into LMDB and commits, in transactions whose estimated dirty pages stay under
 * txn_max_pages (pending metadata and state ids stay pending), then marks the next freeze to fall back. */
int sl_bk_spill_commit(sl_backend *b);

/* The memory the cache holds: entries, slot table and queues (what --state-cache-mb bounds). Inline: put
 * and delete compare it with the cap. */
static inline size_t sl_bk_cache_footprint(const sl_backend *b) {
  const sl_cache *c = &b->cache;
  return c->pool.bytes + (c->mask + 1) * sizeof(sl_cache_slot) +
         (c->q[SL_CQ_WRITTEN].cap + c->q[SL_CQ_UNFLUSHED].cap) * sizeof(sl_cache_entry *);
}

/* An upper bound on the pages a write transaction has dirtied — LMDB keeps each in malloc'd memory until
 * the commit, and reuses them afterwards rather than freeing them, so this is what a long transaction adds
 * to the process's memory. Each of `writes` entries (of `bytes` in all) dirties at most its leaf (or its
 * overflow pages), and never more leaves than the tree has; every branch page may be on some path. */
size_t sl_bk_dirty_estimate(MDB_txn *txn, MDB_dbi dbi, uint64_t writes, uint64_t bytes, size_t psize);

/* Writes (or, with del, deletes: a missing key is no error) k through cursor c. Writes in key order go
 * through one cursor per transaction rather than mdb_put/mdb_del: LMDB's cursor positioning first looks at
 * the leaf page the cursor is on, so a key that lands near the last one skips the descent from the root,
 * and its comparisons (mdb_put opens a fresh cursor, and descends, every time). */
static inline int sl_bk_cursor_write(MDB_cursor *c, MDB_val *k, MDB_val *v, int del) {
  if (!del)
    return mdb_cursor_put(c, k, v, 0);
  MDB_val found;
  int rc = mdb_cursor_get(c, k, &found, MDB_SET);
  return rc ? (rc == MDB_NOTFOUND ? 0 : rc) : mdb_cursor_del(c, 0);
}

/* The open write transaction's estimate has reached txn_max_pages. */
int sl_bk_txn_over_bound(const sl_backend *b);

#endif
