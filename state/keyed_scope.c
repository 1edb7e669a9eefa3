/* keyed_scope.c — the current key of a keyed operator (see keyed_scope.h).
 *
 * The key group is computed once per key here, not once per state access, because every ValueState and
 * MapState call of the record reuses it. Composite keys are built into the scope's scratch buffer, so a state
 * access allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "state/keyed_scope.h"

void sl_scope_init(sl_keyed_scope *s, sl_backend *b, uint16_t max_parallelism) {
  memset(s, 0, offsetof(sl_keyed_scope, key));
  s->backend = b;
  s->max_parallelism = max_parallelism ? max_parallelism : SL_DEFAULT_MAX_PARALLELISM;
}

int sl_scope_set_key(sl_keyed_scope *s, const void *key, size_t len) {
  if (!s || (len && !key) || len > SL_SCOPE_MAX_KEY)
    return SL_STATE_EINVAL;
  if (len)
    memcpy(s->key, key, len);
  s->key_len = len;
  s->key_is_token = 0;
  s->key_group = sl_key_group(s->key, len, s->max_parallelism);
  s->has_key = 1;
  return SL_STATE_OK;
}

void sl_scope_clear_key(sl_keyed_scope *s) {
  if (!s)
    return;
  s->has_key = 0;
  s->key_len = 0;
}

void sl_scope_close(sl_keyed_scope *s) {
  if (!s)
    return;
  free(s->vbuf);
  s->vbuf = NULL;
  s->vcap = 0;
}

void sl_scope_set_clock(sl_keyed_scope *s, sl_clock_fn fn, void *arg) {
  if (!s)
    return;
  s->clock.fn = fn;
  s->clock.arg = arg;
}

int64_t sl_scope_now(const sl_keyed_scope *s) {
  return sl_clock_now(s ? &s->clock : NULL);
}
