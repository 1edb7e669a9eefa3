/* progress.c — the one-line status on a terminal (see progress.h). */
#include "core/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics_report.h"

#define PROGRESS_MS 1000

static void on_tick(uv_timer_t *t) {
  sl_progress *p = t->data;
  sl_buf b;
  sl_buf_init(&b);
  sl_buf_putc(&b, '\r');
  sl_metrics_render_progress(p->m, &b, sl_metrics_now_ms());
  sl_buf_put(&b, "\033[K", 3); /* erase what a longer line before left */
  if (!b.oom)
    fwrite(b.data, 1, b.len, stderr); /* one write: a log line from another thread does not split it */
  fflush(stderr);
  sl_buf_free(&b);
}

void sl_progress_start(sl_progress *p, uv_loop_t *loop, const sl_metrics *m, int quiet) {
  p->on = 0;
  if (quiet || !isatty(STDERR_FILENO))
    return;
  p->m = m;
  uv_timer_init(loop, &p->timer);
  p->timer.data = p;
  if (uv_timer_start(&p->timer, on_tick, PROGRESS_MS, PROGRESS_MS)) {
    uv_close((uv_handle_t *)&p->timer, NULL);
    return;
  }
  uv_unref((uv_handle_t *)&p->timer); /* a status line must not keep a finished job running */
  p->on = 1;
  sl_log_set_status_line(1);
}

void sl_progress_stop(sl_progress *p) {
  if (!p->on)
    return;
  p->on = 0;
  uv_close((uv_handle_t *)&p->timer, NULL);
  sl_log_set_status_line(0);
  fputs("\r\033[K", stderr);
}
