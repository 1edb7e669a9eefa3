/* list_state.h — ListState: a list of opaque byte values per (state, current key).
 *
 * Each element is its own LMDB entry, under the composite key's sub key = its sequence number (uint64
 * big-endian, so key order is insertion order); the next sequence number lives in a header entry with an
 * empty sub key (8 bytes, big-endian). So add is two cached writes whatever the list's length, never a
 * rewrite, and iteration streams with a cursor: a list is never loaded whole.
 * TTL (state_ttl.h) applies per element: ttl NULL = none. */
#ifndef SLUICE_LIST_STATE_H
#define SLUICE_LIST_STATE_H

#include "state/state_ttl.h"

#define SL_LIST_SEQ_LEN 8u

/* Appends one element. */
int sl_list_add(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *val, size_t len);
/* Removes every element (and the header). */
int sl_list_clear(sl_keyed_scope *s, uint32_t state_id);

/* Streams the elements in insertion order. The iterator is bound to the key current at open; elements
 * added while it is open may or may not be returned. With a ttl, expired elements are skipped (or returned,
 * per its visibility) and deleted: cleanup on read. */
typedef struct sl_list_iter sl_list_iter;
int sl_list_iter_open(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, sl_list_iter **it);
/* OK with the element (valid until the next call on the iterator), NOTFOUND at the end. */
int sl_list_iter_next(sl_list_iter *it, const void **val, size_t *len);
void sl_list_iter_close(sl_list_iter *it);

/* OK if the list has no (live) element, NOTFOUND if it has one. */
int sl_list_is_empty(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl);

#endif
