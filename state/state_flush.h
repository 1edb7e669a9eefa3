/* state_flush.h — checkpoint barriers that do not wait for LMDB.
 *
 * A barrier must capture the state as of that instant. Writing every dirty cache entry into LMDB there
 * (sl_backend_commit) stalls the stream for as long as the flush takes: about 1 µs per changed key, a
 * second for a million. Instead, sl_backend_freeze copies the dirty entries (and pending metadata and state
 * ids) into a private batch — a memory copy, tens of ns per entry — and the checkpoint's worker thread
 * writes that batch into LMDB in its own write transaction, commits, and opens the snapshot's read view
 * right after, which is then exactly the state at the barrier.
 *
 * While a frozen batch is being flushed (the backend is "flushing"), the loop thread keeps working from the
 * cache: cache misses read through a read-only transaction (the committed state plus the frozen batch is
 * the truth, and every frozen entry is still in the cache), and the rare operations that need the write
 * transaction (a cache spill, an iterator's flush, a prefix delete) wait for the worker's commit first.
 * When the checkpoint ends, entries that did not change since the freeze are marked clean.
 *
 * Cache pressure may commit dirty entries between barriers (state_txn.c); they are appended to the
 * backend's delta log, which the freeze hands to the batch, so that the delta (sl_frozen_write_delta)
 * starts with them. When the batch cannot describe every change since the last barrier — that log could
 * not be written, or the last batch's flush failed — sl_backend_freeze says so and the caller commits on
 * the loop thread (and takes a full snapshot) as before. Entries an iterator's flush
 * wrote into the write transaction are no such reason: they are still dirty in the cache, so the freeze
 * drops that transaction and freezes them with the rest; nor are prefix deletes, which are deletes of
 * each key through the cache. */
#ifndef SLUICE_STATE_FLUSH_H
#define SLUICE_STATE_FLUSH_H

#include "state/state_backend.h"
#include "state/state_snapshot.h"

typedef struct sl_frozen sl_frozen;

/* On the loop thread, at the barrier. Returns OK with *out (the backend is then flushing), 1 when the
 * caller must commit synchronously instead (see above), or an error. */
int sl_backend_freeze(sl_backend *b, sl_frozen **out);

/* On the loop thread, right after the freeze: the snapshot will leave out entries of TTL states expired at
 * now (cleanup while snapshotting; see sl_snapshot_drop_expired). 0 or ENOMEM. */
int sl_frozen_drop_expired(sl_frozen *f, int64_t now);

/* On the loop thread, before the flush, for the final checkpoint of a run when it is a delta: the batch is
 * then only the delta's (sl_frozen_write_delta), not LMDB's. The flush sorts it and writes nothing, and
 * finishing it seals the backend: LMDB lacks the batch, so the backend allows only its close after (its
 * operations fail as on a broken backend). Recovery never reads the working environment, it loads a
 * checkpoint, so nothing is lost; what is saved is the write a process that is about to exit would throw
 * away (a third of a 1 M distinct-key run's last checkpoint). */
void sl_frozen_for_delta_only(sl_frozen *f);

/* On the worker thread: writes the frozen batch into LMDB, commits, and opens the snapshot view (*snap).
 * Wakes a loop thread waiting in the backend. 0, or -1 with err (nothing committed; the entries stay dirty
 * in the cache and the next barrier commits them on the loop thread). */
int sl_frozen_flush(sl_frozen *f, sl_snapshot **snap, char *err, size_t errlen);

/* On the loop thread, when the checkpoint is over (after sl_snapshot_end): ends the flushing state and
 * settles the committed metadata and state ids. Entries are settled by sl_frozen_settle. */
void sl_frozen_finish(sl_frozen *f);

/* Marks up to max frozen entries clean that still hold what was frozen (LMDB has those bytes now). A
 * million lookups take a while, so the runtime spreads them over the batches that follow; an entry left
 * dirty meanwhile is merely written again. Returns 1 when every entry was looked at. */
int sl_frozen_settle(sl_frozen *f, size_t max);

/* Frees the batch (settled or not). A batch must have been flushed (sl_frozen_flush, even a failed one)
 * and finished before it is freed: until then the backend stays in its flushing state, and an operation
 * that needs the write transaction would wait for it forever. */
void sl_frozen_free(sl_frozen *f);

/* sl_frozen_finish, then every entry settled, then freed: for callers that do not spread the work. */
void sl_frozen_complete(sl_frozen *f);

/* Number of entries frozen (for metrics). */
size_t sl_frozen_count(const sl_frozen *f);

#endif
