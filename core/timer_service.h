/* timer_service.h — fires the job's timers from the libuv loop (processing time) and after every batch
 * (event time), always between batches.
 *
 * The timers themselves are state (state/timer_state.c) and fire in Lua (lua/sluice/timers.lua, through
 * sl_lua_host_fire_timers); this module only decides when to call in: right after each batch (the
 * watermark may have advanced), when the one uv_timer armed for the earliest pending processing-time timer
 * goes off, and once at the end of the input (every event-time timer fires, like Flink's final
 * MAX_WATERMARK). A stop by signal is not the end of the input: pending timers stay in the state for the next
 * run. Lifecycle: start (after the Lua pipeline is built) -> after_batch / end_of_input -> stop (closes the
 * uv_timer, from sl_runtime_stop). */
#ifndef SLUICE_TIMER_SERVICE_H
#define SLUICE_TIMER_SERVICE_H

#include <stdint.h>
#include <uv.h>

struct sl_runtime;

typedef struct sl_timer_service {
  uv_timer_t timer; /* armed for the earliest pending processing-time timer */
  int started;
  uint64_t late; /* records at or behind the watermark so far (from Lua) */
} sl_timer_service;

/* Inits the uv_timer and arms it at once, so timers restored from the state that are due fire first. */
void sl_timer_service_start(struct sl_runtime *rt);
/* After a batch ran, before its output is written (the caller writes it): fires what became due. */
void sl_timer_service_after_batch(struct sl_runtime *rt);
/* When every source is done: fires every event-time timer and writes the output. */
void sl_timer_service_end_of_input(struct sl_runtime *rt);
/* Stops and closes the uv_timer (idempotent). */
void sl_timer_service_stop(struct sl_runtime *rt);

#endif
