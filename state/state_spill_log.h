/* state_spill_log.h — an append-only file of the writes a cache spill committed to LMDB between two
 * barriers: the delta log.
 *
 * Why: under cache pressure the backend commits dirty entries to LMDB before the next barrier (bounding the
 * write transaction, state_txn.c), so the barrier's frozen batch no longer holds them; an incremental
 * checkpoint would miss them. They are appended here instead (sequential writes to an unlinked temporary
 * file in the state directory); the next freeze takes the file over, and its delta starts with these
 * entries (state_flush.c). A barrier falls back to a full checkpoint only when this log cannot be written.
 * It is never read after a restart: recovery loads checkpoints, not the working environment.
 * Ownership: the log owns its file; the backend owns the current log, a frozen batch the one it took. */
#ifndef SLUICE_STATE_SPILL_LOG_H
#define SLUICE_STATE_SPILL_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { SL_SPILL_PUT = 'P', SL_SPILL_DEL = 'D', SL_SPILL_DELPFX = 'X' };

typedef struct sl_spill_log {
  FILE *f; /* NULL until the first append */
  uint64_t records;
  char *dir; /* where the temporary file is created */
} sl_spill_log;

/* Returns 0 or -1 (out of memory). Creates no file yet. */
int sl_spill_init(sl_spill_log *l, const char *dir);
void sl_spill_close(sl_spill_log *l);

/* Appends one record (v NULL/0 for deletes). Returns 0 or an errno value. */
int sl_spill_append(sl_spill_log *l, int op, const void *k, size_t klen, const void *v, size_t vlen);

/* Calls fn for every record in order, stopping at the first non-zero return, which it returns; returns an
 * errno value (negated, so it cannot be mistaken for fn's) if the file cannot be read. Appends may follow. */
typedef int (*sl_spill_fn)(void *arg, int op, const void *k, size_t klen, const void *v, size_t vlen);
int sl_spill_replay(sl_spill_log *l, sl_spill_fn fn, void *arg);

/* Empties the log (after a successful commit). */
void sl_spill_reset(sl_spill_log *l);

#endif
