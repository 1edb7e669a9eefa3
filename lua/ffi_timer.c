/* ffi_timer.c — FFI entry points for timers (see ffi_timer.h). */
#include "lua/ffi_timer.h"

#include <stdlib.h>

sl_timer_queue *sl_timer_queue_new(sl_backend *b, uint32_t state_id) {
  sl_timer_queue *q = malloc(sizeof *q);
  if (q)
    sl_timer_queue_init(q, b, state_id);
  return q;
}

void sl_timer_queue_free(sl_timer_queue *q) {
  sl_timer_queue_close(q);
  free(q);
}

int sl_timer_add_current(sl_timer_queue *q, const sl_keyed_scope *s, int64_t ts) {
  if (!s || !s->has_key)
    return SL_STATE_EINVAL;
  return sl_timer_queue_add(q, ts, s->key, s->key_len, s->key_group);
}

int sl_timer_delete_current(sl_timer_queue *q, const sl_keyed_scope *s, int64_t ts) {
  if (!s || !s->has_key)
    return SL_STATE_EINVAL;
  return sl_timer_queue_delete(q, ts, s->key, s->key_len);
}
