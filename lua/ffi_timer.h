/* ffi_timer.h — FFI entry points for timers (lua/sluice/timers.lua): heap-allocated timer queues and
 * registration for the current key of a key scope, so Lua never builds keys or key groups itself.
 * Ownership: a queue from sl_timer_queue_new is freed by sl_timer_queue_free (Lua attaches it with ffi.gc);
 * it borrows the backend, which must outlive it. */
#ifndef SLUICE_FFI_TIMER_H
#define SLUICE_FFI_TIMER_H

#include <stdint.h>

#include "state/keyed_scope.h"
#include "state/timer_state.h"

/* A queue on state `state_id` of b, or NULL when out of memory. */
sl_timer_queue *sl_timer_queue_new(sl_backend *b, uint32_t state_id);
/* Closes and frees; NULL is allowed. */
void sl_timer_queue_free(sl_timer_queue *q);
/* Registers / deletes the timer at ts for the scope's current key. EINVAL when the scope has no key. */
int sl_timer_add_current(sl_timer_queue *q, const sl_keyed_scope *s, int64_t ts);
int sl_timer_delete_current(sl_timer_queue *q, const sl_keyed_scope *s, int64_t ts);

#endif
