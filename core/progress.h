/* progress.h — the live one-line status on a terminal: when stderr is a tty (and not --quiet), about once
 * a second the line is rewritten in place ("\r", the figures, erase to the end of the line) from the
 * metrics registry (core/metrics_report.h: records/s, % of each input read, errors, the last checkpoint
 * and its age, the watermark). Nothing of it reaches a pipe or a file. A log message clears the line
 * first (core/log.h), and the next tick draws it again below the message. Lifecycle: start (on the
 * coordinating loop, before it runs) -> stop (clears the line, closes the timer; a loop turn runs the
 * close). */
#ifndef SLUICE_PROGRESS_H
#define SLUICE_PROGRESS_H

#include <uv.h>

#include "core/metrics.h"

typedef struct sl_progress {
  uv_timer_t timer;
  const sl_metrics *m;
  int on;
} sl_progress;

/* Starts the line if stderr is a terminal and !quiet (else does nothing). */
void sl_progress_start(sl_progress *p, uv_loop_t *loop, const sl_metrics *m, int quiet);
void sl_progress_stop(sl_progress *p);

#endif
