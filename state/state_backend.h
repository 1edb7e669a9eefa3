/* state_backend.h — the store behind every keyed and operator state: one LMDB environment with a
 * write-back cache in front of it.
 *
 * Why a cache: a per-record mdb_get + mdb_put costs 0.4–1.5 µs; a hot key read and written through a hash
 * table costs a few tens of ns. Dirty entries reach LMDB only at sl_backend_commit(), which the runtime
 * calls between records (at a checkpoint or a graceful stop), so LMDB always holds a state that matches
 * one point of the input stream. Commits are never per record.
 *
 * Layout on disk: DIR/state.mdb (MDB_NOSUBDIR, plus its -lock file). Named databases:
 *   "kv"     composite keys (see state_key.h) -> encoded values; the cache sits in front of it
 *   "meta"   runtime metadata by name (source offsets, sink positions, job name) -> bytes; written into
 *            the same write transaction as the state at commit, so it commits atomically with the state
 *   "states" "op_uid\0state_name" -> state id (uint32 big-endian), assigned once and kept forever, then
 *            the state's kind and TTL flag (see sl_backend_state_register)
 *
 * Threading: one backend is used by one thread (LMDB binds a write transaction to its thread).
 * Ownership: the backend owns the environment, the cache and every pointer it hands out; a value pointer
 * returned by a get stays valid until the next call that mutates this backend (put, delete, commit,
 * iterator open) — copy it if you need it longer. */
#ifndef SLUICE_STATE_BACKEND_H
#define SLUICE_STATE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "state/state_status.h"

typedef struct sl_backend sl_backend;

typedef struct sl_backend_options {
  size_t cache_max_bytes; /* cap of the memory the cache holds (entries, hash table, queues); 0 = 64 MiB.
                             Checked on put/delete, never on get (gets may pass it until the next put). Past
                             it, clean entries are evicted one by one, least recently used first (a clock),
                             down to 3/4 of the cap; when the cache is mostly dirty, every dirty entry is
                             first committed to LMDB (in bounded transactions, see sl_backend_commit) — a
                             commit between barriers, whose entries are also appended to the delta log (an
                             unlinked temporary file in DIR) for the next frozen batch's delta (state_flush.h;
                             if the log cannot be written, that freeze falls back to a full checkpoint
                             instead). A write transaction is also committed once it may have dirtied
                             half a cap of pages (LMDB holds them in memory until the commit), so the
                             backend's memory is about twice the cap, whatever the number of keys. */
  size_t map_size;        /* initial LMDB map size; 0 = 1 GiB; grown (doubled) on MDB_MAP_FULL and retried */
} sl_backend_options;

/* Opens (creating DIR and the environment if missing) the backend in DIR. Runs mdb_reader_check to clear
 * reader slots left by a crashed process. The environment runs with MDB_NOSYNC: a commit survives a
 * process crash; sl_backend_commit(b, 1) also makes it survive an OS crash.
 * Returns SL_STATE_OK and *out, or an error (EIO for an unreadable/uncreatable DIR; the message from
 * sl_backend_last_error is not available then, so the error string is copied to errbuf when non-NULL). */
int sl_backend_open(sl_backend **out, const char *dir, const sl_backend_options *opts, char *errbuf,
                    size_t errlen);

/* mkdir -p: creates dir and its missing parents (sl_backend_open does, and so does the runtime, which needs
 * the state dir before the backend opens). Returns 0 or an errno value. */
int sl_make_dirs(const char *dir);

/* Discards uncommitted changes (cache and open transaction) and closes. NULL is allowed. */
void sl_backend_close(sl_backend *b);

/* The detail of the last EIO/EFULL/ECORRUPT (LMDB's mdb_strerror plus what was being done). */
const char *sl_backend_last_error(const sl_backend *b);

/* The state registry ("states"): each (op_uid, state_name) pair has an id, and the kind of state and its
 * TTL setting it was registered with. The kind is what makes a restore safe: the bytes of a ValueState
 * read as a MapState (or a value with the TTL header read without it) are garbage, so a registration of
 * a known pair as another kind is refused (as Flink's state-compatibility check refuses a changed state
 * descriptor), and the runtime refuses to run that code on that state.
 *
 * A registry value is the id (u32 big-endian), then one byte of sl_state_kind and one of flags (bit 0:
 * TTL). A registry written before kinds were recorded has only the 4-byte id: its kind reads as
 * SL_STATE_KIND_UNKNOWN, and the first registration with a kind records it. Registry rows travel in
 * snapshots and deltas as they are (state_snapshot.c, state_delta.c read the id from their first 4 bytes). */
typedef enum sl_state_kind {
  SL_STATE_KIND_UNKNOWN = 0, /* not recorded (an older registry, or sl_backend_state_id) */
  SL_STATE_KIND_VALUE = 1,
  SL_STATE_KIND_MAP = 2,
  SL_STATE_KIND_LIST = 3,
  SL_STATE_KIND_REDUCING = 4,
  SL_STATE_KIND_AGGREGATING = 5,
  SL_STATE_KIND_OPERATOR_LIST = 6, /* operator (non-keyed) ListState */
  SL_STATE_KIND_TIMERS = 7,        /* a timer queue (timer_state.h) */
  SL_STATE_KIND_MAX = 7
} sl_state_kind;

typedef struct sl_state_info {
  uint8_t kind; /* sl_state_kind */
  uint8_t ttl;  /* 1 when the state's values carry the TTL header of state_ttl.h, else 0 */
} sl_state_info;

/* Finds or assigns the id of state `state_name` of operator `op_uid`, without a kind (an existing row is
 * left as it is; a new one records SL_STATE_KIND_UNKNOWN). Ids start at 1 and are persisted (in the
 * current write transaction), so the same pair gets the same id after a reopen. Returns OK, EINVAL (a NULL
 * or empty name, names too long), ENOMEM, or an error reading the registry (EIO, ECORRUPT: also for a row
 * that is not 4 or 6 bytes long). */
int sl_backend_state_id(sl_backend *b, const char *op_uid, const char *state_name, uint32_t *id);

/* Looks the pair up without assigning anything: OK with *id and *info (kind UNKNOWN for a row of an older
 * registry; a kind above SL_STATE_KIND_MAX, written by a newer sluice, as it is), NOTFOUND when it has no
 * id yet, or an error as sl_backend_state_id. */
int sl_backend_state_lookup(sl_backend *b, const char *op_uid, const char *state_name, uint32_t *id,
                            sl_state_info *info);

/* Finds or assigns the id of the pair as a state of kind want->kind with TTL want->ttl (want->kind must be
 * a known kind, 1..SL_STATE_KIND_MAX, want->ttl 0 or 1). *stored is always set: to what the registry held
 * before the call ({UNKNOWN, 0} for a new pair or an older row).
 * Returns OK and *id when the pair is new (assigned, pending the next commit), its row has no kind yet (the
 * kind is recorded, pending the next commit, id unchanged), or its row has this kind and TTL setting.
 * Returns SL_STATE_EINVAL with stored->kind != SL_STATE_KIND_UNKNOWN when the row records another kind or
 * TTL setting: nothing is changed, and the caller names both (the job must not run this code on this
 * state). Other EINVAL (then stored->kind is UNKNOWN), ENOMEM, EIO, ECORRUPT: as sl_backend_state_id. */
int sl_backend_state_register(sl_backend *b, const char *op_uid, const char *state_name,
                              const sl_state_info *want, uint32_t *id, sl_state_info *stored);

/* Keyed entries, by composite key (state_key.h). get returns OK or NOTFOUND. */
int sl_backend_get(sl_backend *b, const void *key, size_t klen, const void **val, size_t *vlen);
int sl_backend_put(sl_backend *b, const void *key, size_t klen, const void *val, size_t vlen);
/* Deleting an absent key is OK. */
int sl_backend_delete(sl_backend *b, const void *key, size_t klen);
/* Deletes every entry whose key starts with prefix (cache and LMDB): the keys that exist under it (after
 * writing what was written since the last flush into the write transaction) are each deleted as by
 * sl_backend_delete, so it costs the entries under the prefix, not a pass over the cache, and a frozen
 * batch (an incremental checkpoint) holds the deletes like any other. OK, or an error as a get or delete
 * (ENOMEM: some of the keys may be deleted, none is lost from a later commit's view of the others). */
int sl_backend_delete_prefix(sl_backend *b, const void *prefix, size_t plen);

/* Iterates, in key order, every entry whose key starts with prefix, as of now: it sees every put and delete
 * made before it opened (entries written since the last flush are written into the write transaction
 * first, without committing). Mutating the backend while an iterator is open is allowed for the entry the
 * iterator is on (LMDB cursor semantics); next returns OK or NOTFOUND at the end. Key and value pointers
 * are valid until the next call on the iterator.
 * An iterator survives a commit or a map resize: it resumes after the last key it returned, in the new
 * transaction. Opening one costs a cursor seek plus the entries written since the previous open (sorted
 * and written into the transaction), not a pass over the cache, so a job may iterate state on every
 * record. Iterating does not keep a checkpoint from being incremental (the freeze drops that transaction:
 * its entries are still dirty in the cache and go into the frozen batch). */
typedef struct sl_backend_iter sl_backend_iter;
int sl_backend_iter_open(sl_backend *b, const void *prefix, size_t plen, sl_backend_iter **it);
int sl_backend_iter_next(sl_backend_iter *it, const void **key, size_t *klen, const void **val, size_t *vlen);
/* May come after sl_backend_close (an iterator a garbage collector closes late): it then only frees it. */
void sl_backend_iter_close(sl_backend_iter *it);
/* Moves the iterator so that the next call to next returns the first entry (within its prefix) after key:
 * for walks done in steps that must not keep an iterator open between them. EINVAL on a bad argument. */
int sl_backend_iter_seek_after(sl_backend_iter *it, const void *key, size_t klen);

/* Runtime metadata, committed atomically with the state. get returns OK or NOTFOUND; the pointer is valid
 * until the next mutating call. */
int sl_backend_meta_put(sl_backend *b, const char *name, const void *val, size_t len);
int sl_backend_meta_get(sl_backend *b, const char *name, const void **val, size_t *len);

/* Writes every dirty cache entry, the pending metadata and new state ids into LMDB and commits. Many dirty
 * entries are written in several transactions, each committed before the pages it dirtied pass the bound
 * (see cache_max_bytes); the metadata and new state ids go in the last one (they wait in memory until
 * then, so an aborted transaction loses none). sync != 0 also flushes it to disk (mdb_env_sync). On
 * EFULL/EIO the entries of the failed part and after it stay dirty in the cache and the metadata and ids
 * pending, so a later commit can retry: no update is lost (earlier parts may be committed: the working
 * environment then holds a state no checkpoint describes, which recovery never reads — it loads a
 * checkpoint). */
int sl_backend_commit(sl_backend *b, int sync);

/* Whether anything changed since the last successful sl_backend_commit or completed freeze (a frozen batch
 * whose flush succeeded and that sl_frozen_finish ended; state_flush.h): 1 when some put or delete changed
 * an entry, a prefix was deleted, metadata was set to other bytes than it held, or a state id or kind was
 * registered since; else 0 (also for NULL). A put of the bytes an entry already holds, a delete of an
 * absent cached entry and a sl_backend_meta_put of the value already stored change nothing and are not
 * counted, so an idle job whose barrier saves the same offsets again stays unchanged. A delete of a key the
 * cache does not hold counts (the backend does not look LMDB up to know). Costs two loads. 0 says LMDB
 * holds every change, not that a checkpoint does: a checkpoint coordinator asks it after the barrier's own
 * writes (snapshot hooks, offsets) and before freezing, and may skip the checkpoint when it is 0 and the
 * previous checkpoint completed (one whose flush succeeded but whose files failed leaves it 0 too). A
 * failed background flush leaves it 1. */
int sl_backend_changed(const sl_backend *b);

/* Marks state_id as TTL-enabled (its values carry the header of state_ttl.h), so that snapshots can drop
 * its expired entries (cleanup while snapshotting). Idempotent. */
int sl_backend_mark_ttl_state(sl_backend *b, uint32_t state_id);

/* The map size to reserve for an environment whose map must not grow while a snapshot's read view is open
 * (LMDB cannot resize then): 16 GiB of address space (not memory: the file grows as needed), or an eighth
 * of the address-space limit when `ulimit -v` sets one (at least 64 MiB), so that sluice starts under it. */
size_t sl_backend_map_reserve(void);

/* Counters for metrics and tests. commits counts LMDB commits (a bounded commit counts each part);
 * cache_scans counts passes over every slot of the cache (a commit, a spill, and the fallbacks when a
 * queue could not grow): iterator opens, prefix deletes and frozen barriers make none; evictions counts
 * clean entries evicted; cache_bytes is the memory the cache holds (what cache_max_bytes bounds). */
/* The cache is half full or more, and mostly of entries written since the last barrier (not yet handed to a
 * flush): a barrier now lets the checkpoint thread write them to LMDB, where reaching the cap would make the
 * record thread commit them itself. A hint for the runtime's checkpoint timing; 0 while a flush runs. */
int sl_backend_wants_barrier(const sl_backend *b);

typedef struct sl_backend_stats {
  uint64_t cache_hits, cache_misses, commits, entries_written, map_resizes;
  uint64_t cache_scans, evictions;
  size_t cache_bytes;
} sl_backend_stats;
void sl_backend_get_stats(const sl_backend *b, sl_backend_stats *out);

#endif
