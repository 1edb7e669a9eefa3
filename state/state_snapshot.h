/* state_snapshot.h — full snapshots of a backend: written from a frozen view while processing goes on,
 * verified, and loaded back into a fresh environment.
 *
 * Why a flat file and not an LMDB copy: a snapshot must be exactly the state at a barrier, but
 * mdb_env_copy opens its own read transaction whenever it starts; here the read transaction is opened at
 * the barrier (sl_snapshot_begin, on the runtime's thread, right after the barrier's commit) and handed to
 * a worker thread that streams it out (the environment runs with MDB_NOTLS, so a read transaction may move
 * between threads). LMDB's MVCC keeps that view intact while the runtime writes on. The flat format is
 * also what savepoints are: portable, checksummed, and loadable with MDB_APPEND in one sorted pass.
 *
 * File format (all integers little-endian):
 *   "SLSNAP01"                                        8-byte magic
 *   records: u8 db (1 kv, 2 meta, 3 states) | u32 klen | u32 vlen | key | value   (sorted per db)
 *            (a delta — state_delta.h — also has 4: a kv key deleted, with no value)
 *   trailer: u8 0xFF | u64 record count | u32 CRC-32 (IEEE) of every byte before the trailer's CRC
 * A file that is short, has a bad magic, or fails the CRC is corrupt and never loaded. */
#ifndef SLUICE_STATE_SNAPSHOT_H
#define SLUICE_STATE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "state/state_backend.h"

typedef struct sl_snapshot sl_snapshot;

/* Opens the frozen view: everything committed so far. Call right after sl_backend_commit at the barrier.
 * The backend refuses to grow its map while a snapshot is open (LMDB forbids resizing with a transaction
 * active), so size the map generously. */
int sl_snapshot_begin(sl_backend *b, sl_snapshot **out);

/* Wraps a read transaction opened elsewhere (state_flush.c) as a snapshot; sl_snapshot_end aborts it.
 * read_txn is an MDB_txn *. */
int sl_snapshot_wrap(sl_backend *b, void *read_txn, sl_snapshot **out);

/* Writes the view to path (creating or replacing it) and fsyncs it. May run on another thread; it touches
 * only the read transaction. Fills *bytes and *entries. */
int sl_snapshot_write(sl_snapshot *s, const char *path, uint64_t *bytes, uint64_t *entries, char *err,
                      size_t errlen);

/* Cleanup while snapshotting: from now on sl_snapshot_write leaves out the entries of TTL-enabled states
 * (sl_backend_mark_ttl_state) that have expired at time now (ms, the clock of state_ttl.h). Call on the
 * loop thread (it copies the backend's list of TTL states). 0 or ENOMEM. */
int sl_snapshot_drop_expired(sl_snapshot *s, int64_t now);

/* The same, with the TTL state ids already copied (ids is malloc'ed; the snapshot takes it): for a snapshot
 * opened on another thread (state_flush.c). */
void sl_snapshot_take_expiry(sl_snapshot *s, uint32_t *ids, size_t n, int64_t now);

/* Entries left out by the last sl_snapshot_write because they had expired. */
uint64_t sl_snapshot_expired_dropped(const sl_snapshot *s);

/* Ends the view (on the runtime's thread). */
void sl_snapshot_end(sl_snapshot *s);

/* Checks a snapshot file (magic, structure, CRC) without loading it. Returns 0 when it is intact;
 * SL_SNAPSHOT_CORRUPT with the reason when it is proven bad (missing, truncated, bad magic, CRC mismatch,
 * malformed records); -1 with the reason when it cannot be read now (ENOMEM mapping it, EIO, EACCES): a
 * caller must not treat that file as corrupt. */
#define SL_SNAPSHOT_CORRUPT 1
int sl_snapshot_verify(const char *path, char *err, size_t errlen);

/* Decides, while loading, whether a "states" registration (op uid, state name) is kept. Entries of a state
 * that is not kept are dropped with it. NULL keeps everything. */
typedef int (*sl_snapshot_keep_fn)(const char *op_uid, const char *state_name, void *arg);

/* Replaces the environment in dir by the snapshot's content (verified first; the old state.mdb is removed
 * only once the snapshot is known to be good). Returns 0, or -1 with the reason. */
int sl_snapshot_load(const char *dir, const char *path, sl_snapshot_keep_fn keep, void *arg, char *err,
                     size_t errlen);

/* Removes the environment files in dir (a fresh start). */
void sl_snapshot_remove_env(const char *dir);

uint32_t sl_crc32(uint32_t crc, const void *p, size_t n);

/* Writing and reading the file format record by record (deltas use it). create opens the file and writes
 * the magic; finish writes the trailer, fsyncs, closes and frees (0, or -1 with err). */
typedef struct sl_snapfile sl_snapfile;
sl_snapfile *sl_snapfile_create(const char *path, char *err, size_t errlen);
void sl_snapfile_put(sl_snapfile *f, uint8_t tag, const void *k, size_t kl, const void *v, size_t vl);
int sl_snapfile_finish(sl_snapfile *f, uint64_t *bytes, uint64_t *entries, char *err, size_t errlen);
/* Verifies the file, then calls fn for every record in order; fn returns 0 or an LMDB error, which stops
 * the visit. 0, or -1 with err. */
typedef int (*sl_snapfile_fn)(void *arg, uint8_t tag, const void *k, size_t kl, const void *v, size_t vl);
int sl_snapfile_visit(const char *path, sl_snapfile_fn fn, void *arg, char *err, size_t errlen);

#endif
