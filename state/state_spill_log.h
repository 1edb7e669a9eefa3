/* state_spill_log.h — an append-only file of the writes a cache spill moved into the open write transaction.
 *
 * Why: a spill frees dirty cache entries after writing them into the transaction, and LMDB can only grow its
 * map with no transaction open, so a later MDB_MAP_FULL would abort those writes with nothing left in memory
 * to replay. The log keeps them on disk instead (sequential writes to an unlinked temporary file in the state
 * directory), so the transaction can always be aborted and rebuilt. It is emptied at every commit and never
 * read after a restart: it only ever holds uncommitted work.
 * Ownership: the log owns its file; the backend owns the log. */
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
