/* map_state.h — MapState: a map of opaque byte keys to opaque byte values per (state, current key).
 * Each entry is one LMDB entry (map key in the composite key's sub key), so iteration streams with a cursor
 * and never loads the whole map. */
#ifndef SLUICE_MAP_STATE_H
#define SLUICE_MAP_STATE_H

#include "state/state_ttl.h"

int sl_map_get(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen, const void **val,
               size_t *vlen);
int sl_map_put(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen, const void *val,
               size_t vlen);
int sl_map_remove(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen);
/* OK if present, NOTFOUND if not. */
int sl_map_contains(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen);
/* OK if the map has no entry, NOTFOUND if it has one or more. */
int sl_map_is_empty(sl_keyed_scope *s, uint32_t state_id);
int sl_map_clear(sl_keyed_scope *s, uint32_t state_id);

/* get/put with TTL per map entry (state_ttl.h); ttl NULL behaves as the plain calls. Iterators return the
 * stored bytes: pass each value through sl_ttl_unwrap. */
int sl_map_get_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *mkey, size_t mklen,
                   const void **val, size_t *vlen);
int sl_map_put_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *mkey, size_t mklen,
                   const void *val, size_t vlen);

/* Streams the map's entries in map-key byte order. The iterator is bound to the key current at open. */
typedef struct sl_map_iter sl_map_iter;
int sl_map_iter_open(sl_keyed_scope *s, uint32_t state_id, sl_map_iter **it);
/* OK with the entry, NOTFOUND at the end. */
int sl_map_iter_next(sl_map_iter *it, const void **mkey, size_t *mklen, const void **val, size_t *vlen);
void sl_map_iter_close(sl_map_iter *it);

#endif
