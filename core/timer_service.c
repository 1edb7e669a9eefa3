/* timer_service.c — when the runtime calls into Lua to fire timers (see timer_service.h).
 *
 * The uv_timer is re-armed after every call into Lua, from the earliest pending processing-time timer that
 * Lua reports: a timer registered during a batch or an on_timer is seen at the end of that call. Arming
 * early is harmless (the call finds nothing due and re-arms), so Lua may report a lower bound. */
#include "core/timer_service.h"

#include "core/log.h"
#include "core/runtime.h"
#include "state/state_clock.h"

static void on_timer_error(void *arg, const char *msg) {
  sl_runtime *rt = arg;
  rt->stats.errors++;
  sl_error("%s", msg);
}

static void on_uv_timer(uv_timer_t *t);

static void arm(sl_runtime *rt, int64_t next_ms, int64_t now) {
  sl_timer_service *ts = &rt->timers;
  if (!ts->started || rt->stopping)
    return;
  if (next_ms < 0) {
    uv_timer_stop(&ts->timer);
    return;
  }
  uv_timer_start(&ts->timer, on_uv_timer, next_ms > now ? (uint64_t)(next_ms - now) : 0, 0);
}

/* One call into Lua; 0, or -1 after failing the job (the timer machinery itself failed). */
static int fire(sl_runtime *rt, int end_of_input) {
  char err[4096];
  int64_t next, now = sl_clock_now(NULL);
  if (rt->failed)
    return -1;
  if (sl_lua_host_fire_timers(&rt->lua, now, end_of_input, &next, &rt->timers.late, on_timer_error, rt, err,
                              sizeof err)) {
    sl_runtime_fail(rt, "%s", err);
    return -1;
  }
  arm(rt, next, now);
  return 0;
}

static void on_uv_timer(uv_timer_t *t) {
  sl_runtime *rt = t->data;
  if (fire(rt, 0) == 0)
    sl_runtime_flush_output(rt);
}

void sl_timer_service_start(sl_runtime *rt) {
  sl_timer_service *ts = &rt->timers;
  uv_timer_init(rt->loop, &ts->timer);
  ts->timer.data = rt;
  ts->started = 1;
  uv_timer_start(&ts->timer, on_uv_timer, 0, 0);
}

void sl_timer_service_after_batch(sl_runtime *rt) {
  fire(rt, 0);
}

void sl_timer_service_end_of_input(sl_runtime *rt) {
  if (fire(rt, 1) != 0)
    return;
  sl_runtime_flush_output(rt);
  if (rt->timers.late && !rt->opts->quiet)
    sl_info("event time: %llu records arrived at or behind the watermark (late)",
            (unsigned long long)rt->timers.late);
}

void sl_timer_service_stop(sl_runtime *rt) {
  sl_timer_service *ts = &rt->timers;
  if (!ts->started)
    return;
  ts->started = 0;
  uv_timer_stop(&ts->timer);
  uv_close((uv_handle_t *)&ts->timer, NULL);
}
