/* value_state.h — ValueState: one value (opaque bytes) per (state, current key). */
#ifndef SLUICE_VALUE_STATE_H
#define SLUICE_VALUE_STATE_H

#include "state/state_ttl.h"

/* OK with *val and *len (valid until the next mutating backend call), or NOTFOUND. */
int sl_value_get(sl_keyed_scope *s, uint32_t state_id, const void **val, size_t *len);
int sl_value_put(sl_keyed_scope *s, uint32_t state_id, const void *val, size_t len);
int sl_value_clear(sl_keyed_scope *s, uint32_t state_id);

/* The same with TTL (state_ttl.h); ttl NULL behaves as the plain calls. The value returned by get may point
 * into the scope's value scratch: valid until the next TTL call on s or mutating backend call. */
int sl_value_get_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void **val, size_t *len);
int sl_value_put_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *val, size_t len);

#endif
