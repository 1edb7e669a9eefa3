/* state_ttl_cleanup.h — background (incremental) cleanup of expired state entries.
 *
 * Cleanup on read only removes what is read again; keys that are never seen again would keep their expired
 * entries forever. The cleaner walks the whole "kv" database a few entries at a time (a bounded number per
 * step, e.g. per commit or per N records), deleting entries of TTL-enabled states whose expiry has passed.
 * It remembers the last key it checked and resumes after it at the next step (a fresh iterator each step,
 * so nothing of it outlives the step), and starts over from the first key after reaching the end. The
 * cleaner must be freed before the backend is closed only if a step could still run; it holds no LMDB
 * resource between steps.
 * Ownership: the cleaner borrows the backend (which must outlive it) and copies the sl_ttl it is given. */
#ifndef SLUICE_STATE_TTL_CLEANUP_H
#define SLUICE_STATE_TTL_CLEANUP_H

#include "state/state_ttl.h"

typedef struct sl_ttl_cleaner sl_ttl_cleaner;

/* NULL on out of memory. */
sl_ttl_cleaner *sl_ttl_cleaner_new(sl_backend *b);
void sl_ttl_cleaner_free(sl_ttl_cleaner *c);

/* Registers a TTL-enabled state; its expired entries will be deleted. EINVAL on a bad argument. */
int sl_ttl_cleaner_add(sl_ttl_cleaner *c, uint32_t state_id, const sl_ttl *ttl);

/* Checks up to max_entries entries at time now; *removed (may be NULL) gets how many were deleted.
 * Returns OK or a backend error. A step with no registered state does nothing. */
int sl_ttl_cleaner_step(sl_ttl_cleaner *c, int64_t now, size_t max_entries, size_t *removed);

#endif
