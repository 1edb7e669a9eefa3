/* value_state.c — ValueState: one opaque value per (state, current key), stored under the composite key with
 * an empty sub key. The codec of the value (number, string, serialized table) belongs to the caller. */
#include "state/value_state.h"

/* Builds the entry's composite key in the scope's scratch buffer; 0 when there is no current key. */
static size_t value_key(sl_keyed_scope *s, uint32_t state_id) {
  if (!s || !s->has_key)
    return 0;
  return sl_key_prefix(s->buf, sizeof(s->buf), s->key_group, state_id, s->key, s->key_len);
}

int sl_value_get(sl_keyed_scope *s, uint32_t state_id, const void **val, size_t *len) {
  size_t klen = value_key(s, state_id);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_backend_get(s->backend, s->buf, klen, val, len);
}

int sl_value_put(sl_keyed_scope *s, uint32_t state_id, const void *val, size_t len) {
  size_t klen = value_key(s, state_id);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_backend_put(s->backend, s->buf, klen, val, len);
}

int sl_value_clear(sl_keyed_scope *s, uint32_t state_id) {
  size_t klen = value_key(s, state_id);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_backend_delete(s->backend, s->buf, klen);
}

int sl_value_get_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void **val, size_t *len) {
  size_t klen = value_key(s, state_id);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_ttl_get(s, ttl, s->buf, klen, val, len);
}

int sl_value_put_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *val, size_t len) {
  size_t klen = value_key(s, state_id);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_ttl_put(s, ttl, s->buf, klen, val, len);
}
