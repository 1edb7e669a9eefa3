/* value_state.h — ValueState: one value (opaque bytes) per (state, current key). */
#ifndef SLUICE_VALUE_STATE_H
#define SLUICE_VALUE_STATE_H

#include "state/keyed_scope.h"

/* OK with *val and *len (valid until the next mutating backend call), or NOTFOUND. */
int sl_value_get(sl_keyed_scope *s, uint32_t state_id, const void **val, size_t *len);
int sl_value_put(sl_keyed_scope *s, uint32_t state_id, const void *val, size_t len);
int sl_value_clear(sl_keyed_scope *s, uint32_t state_id);

#endif
