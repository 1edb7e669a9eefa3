/* state_ttl.h — time-to-live of keyed state entries: the stored format and the read/write rules.
 *
 * A TTL-enabled state stores each entry (a ValueState value, a MapState value, a ListState element) as
 *   [SL_TTL_TAG: 1 byte][expiry: int64 ms, big-endian][the value's bytes]
 * Only TTL-enabled states carry the 9-byte header, so states without TTL cost nothing. The expiry is
 * "last write (or read) + ttl" in processing time, taken from the scope's clock (state_clock.h).
 *
 * Rules, as Flink's StateTtlConfig defines them:
 *   update      SL_TTL_ON_CREATE_AND_WRITE: a write restarts the ttl; SL_TTL_ON_READ_AND_WRITE: a read too.
 *   visibility  SL_TTL_NEVER_RETURN_EXPIRED: an expired entry reads as absent;
 *               SL_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP: it is returned (once: reading it cleans it up).
 *   cleanup     on read: an expired entry that a get meets is deleted; in the background: sl_ttl_cleaner
 *               (state_ttl_cleanup.h) checks a bounded number of entries per step; while snapshotting: the
 *               snapshot writer may drop entries for which sl_ttl_check says SL_TTL_EXPIRED (a hook left
 *               to state_snapshot.c, not done yet).
 * Ownership: an sl_ttl is owned by its caller and borrowed by every call. */
#ifndef SLUICE_STATE_TTL_H
#define SLUICE_STATE_TTL_H

#include "state/keyed_scope.h"

#define SL_TTL_TAG 0xE7u
#define SL_TTL_HEADER_LEN 9u

enum sl_ttl_update { SL_TTL_ON_CREATE_AND_WRITE = 0, SL_TTL_ON_READ_AND_WRITE = 1 };
enum sl_ttl_visibility { SL_TTL_NEVER_RETURN_EXPIRED = 0, SL_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP = 1 };

typedef struct sl_ttl {
  int64_t ttl_ms;     /* > 0 */
  int32_t update;     /* enum sl_ttl_update */
  int32_t visibility; /* enum sl_ttl_visibility */
} sl_ttl;

/* What sl_ttl_check found. */
enum sl_ttl_verdict { SL_TTL_LIVE = 0, SL_TTL_EXPIRED = 1, SL_TTL_UNWRAPPED = 2 };

/* Classifies a stored entry at time now and points *val and *len at the value after the header. Returns
 * SL_TTL_LIVE, SL_TTL_EXPIRED, or SL_TTL_UNWRAPPED when raw carries no TTL header (written before TTL was
 * enabled: treated as live, *val = raw). */
int sl_ttl_check(int64_t now, const void *raw, size_t rawlen, const void **val, size_t *len);

/* Reads the entry at composite key key[0..klen) through the backend, applying t (t NULL = plain get).
 * OK with *val and *len (valid until the next mutating call on the backend or a TTL call on s), or NOTFOUND
 * (absent, or expired and not visible). An expired entry is deleted (cleanup on read); with
 * SL_TTL_ON_READ_AND_WRITE a live entry's expiry is moved to now + ttl. key must not point into s->vbuf. */
int sl_ttl_get(sl_keyed_scope *s, const sl_ttl *t, const void *key, size_t klen, const void **val,
               size_t *len);

/* Writes val[0..len) at key with expiry now + ttl (t NULL = plain put). Uses s->vbuf (ENOMEM if it cannot
 * grow). key must not point into s->vbuf. */
int sl_ttl_put(sl_keyed_scope *s, const sl_ttl *t, const void *key, size_t klen, const void *val, size_t len);

/* What a caller iterating raw entries (map, list) does with one: LIVE or visible-expired -> OK with the
 * value; expired and not visible -> NOTFOUND (skip it). t NULL = always OK with raw. */
int sl_ttl_unwrap(const sl_keyed_scope *s, const sl_ttl *t, const void *raw, size_t rawlen, const void **val,
                  size_t *len);

/* Copies val[0..len) into the scope's value scratch and points *out at the copy (valid until the next TTL
 * call on s): for a value that must survive a delete of its entry. */
int sl_ttl_keep(sl_keyed_scope *s, const void *val, size_t len, const void **out);

#endif
