/* keyed_scope.h — "the current key": what makes keyed state keyed.
 *
 * The runtime sets the key of the record being processed once (sl_scope_set_key); every ValueState and
 * MapState call then works on that key's entries without the caller building keys. A scope with no key
 * set refuses keyed access with SL_STATE_EINVAL (keyed state used outside a keyed context).
 * The scope also carries the processing-time clock of state TTL (zeroed = wall clock; tests inject one) and a
 * value scratch buffer that TTL-enabled writes use to prefix the expiry, grown on demand.
 * Ownership: the scope borrows the backend (which must outlive it) and owns its key buffer and value scratch
 * (freed by sl_scope_close; a scope that never wrote a TTL value holds none). */
#ifndef SLUICE_KEYED_SCOPE_H
#define SLUICE_KEYED_SCOPE_H

#include <stddef.h>
#include <stdint.h>

#include "state/state_backend.h"
#include "state/state_clock.h"
#include "state/state_key.h"

/* The longest user key a scope takes (room is left in the composite key for map keys and list indexes). */
#define SL_SCOPE_MAX_KEY (SL_KEY_MAX_LEN - SL_KEY_HEADER_LEN - 64u)

typedef struct sl_keyed_scope {
  sl_backend *backend;
  uint16_t max_parallelism;
  uint16_t key_group;
  int has_key;
  sl_clock clock; /* processing time for TTL; zeroed = wall clock */
  uint8_t *vbuf;  /* value scratch for TTL-prefixed values (owned) */
  size_t vcap;
  size_t key_len;
  int key_is_token; /* the key is a number's or a boolean's JSON text in the record (key_by of such a
                       field), not a string's bytes: sluice.KEY writes it as it stands */
  uint8_t key[SL_KEY_MAX_LEN];      /* the current user key */
  uint8_t buf[SL_KEY_MAX_LEN + 16]; /* scratch for composite keys */
} sl_keyed_scope;

void sl_scope_init(sl_keyed_scope *s, sl_backend *b, uint16_t max_parallelism);
/* EINVAL if the key is longer than SL_KEY_MAX_LEN - SL_KEY_HEADER_LEN - 64 (room for a map sub key). */
int sl_scope_set_key(sl_keyed_scope *s, const void *key, size_t len);
void sl_scope_clear_key(sl_keyed_scope *s);
/* Frees the value scratch; the scope can be used again afterwards. NULL is allowed. */
void sl_scope_close(sl_keyed_scope *s);
/* Sets the TTL clock (fn NULL = wall clock); arg is borrowed. */
void sl_scope_set_clock(sl_keyed_scope *s, sl_clock_fn fn, void *arg);
/* The scope's processing time in ms. */
int64_t sl_scope_now(const sl_keyed_scope *s);

#endif
