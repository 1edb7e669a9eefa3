/* metrics_report.h — the registry (core/metrics.h) in words, for people: the report `sluice status` prints
 * and the one-line progress on a terminal (core/progress.h). Figures are summed over subtasks; an input
 * file's "% read" is the bytes its readers have read of their shares over the shares' sizes. */
#ifndef SLUICE_METRICS_REPORT_H
#define SLUICE_METRICS_REPORT_H

#include "core/metrics.h"
#include "core/record/json_write.h"

/* Several lines, each ending in '\n'. */
void sl_metrics_render_status(const sl_metrics *m, sl_buf *b, unsigned long long rss,
                              unsigned long long now_ms);
/* One line without newline, meant to be rewritten in place. */
void sl_metrics_render_progress(const sl_metrics *m, sl_buf *b, unsigned long long now_ms);

#endif
