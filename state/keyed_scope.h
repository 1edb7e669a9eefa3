/* keyed_scope.h — "the current key": what makes keyed state keyed.
 *
 * The runtime sets the key of the record being processed once (sl_scope_set_key); every ValueState and
 * MapState call then works on that key's entries without the caller building keys. A scope with no key
 * set refuses keyed access with SL_STATE_EINVAL (keyed state used outside a keyed context).
 * Ownership: the scope borrows the backend (which must outlive it) and owns its key buffer. */
#ifndef SLUICE_KEYED_SCOPE_H
#define SLUICE_KEYED_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#include "state/state_backend.h"
#include "state/state_key.h"

typedef struct sl_keyed_scope {
  sl_backend *backend;
  uint16_t max_parallelism;
  uint16_t key_group;
  int has_key;
  size_t key_len;
  uint8_t key[SL_KEY_MAX_LEN];   /* the current user key */
  uint8_t buf[SL_KEY_MAX_LEN + 16]; /* scratch for composite keys */
} sl_keyed_scope;

void sl_scope_init(sl_keyed_scope *s, sl_backend *b, uint16_t max_parallelism);
/* EINVAL if the key is longer than SL_KEY_MAX_LEN - SL_KEY_HEADER_LEN - 64 (room for a map sub key). */
int sl_scope_set_key(sl_keyed_scope *s, const void *key, size_t len);
void sl_scope_clear_key(sl_keyed_scope *s);

#endif
