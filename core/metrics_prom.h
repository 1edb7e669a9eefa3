/* metrics_prom.h — the registry (core/metrics.h) in the Prometheus text exposition format (version 0.0.4):
 * `# HELP` and `# TYPE` lines, then one `name{label="value",...} number` line per sample. Names follow
 * Flink's metric names where Flink has one, prefixed `sluice_`; durations are milliseconds, as Flink's.
 * The `subtask` label is there only at --parallelism > 1 (one subtask needs no label). */
#ifndef SLUICE_METRICS_PROM_H
#define SLUICE_METRICS_PROM_H

#include <stddef.h>

#include "core/metrics.h"
#include "core/record/json_write.h"

/* A label value as the format wants it between its quotes: '\' -> "\\", '"' -> "\"", newline -> "\n";
 * every other byte as it is (the format is UTF-8; a value is never cut). */
void sl_prom_put_label_value(sl_buf *b, const char *v);
/* Help text: '\' -> "\\", newline -> "\n" (quotes stay). */
void sl_prom_put_help(sl_buf *b, const char *text);

/* One sample line: name, then the labels (nlabels pairs of name and value; none: no braces), then the
 * value. */
void sl_prom_put_sample(sl_buf *b, const char *name, const char *const *labels, int nlabels, double value);

/* The whole registry, appended to b (b->oom says whether it all fit in memory). rss: the process's
 * resident memory in bytes; now_ms: the time the figures are read at. */
void sl_metrics_render_prom(const sl_metrics *m, sl_buf *b, unsigned long long rss,
                            unsigned long long now_ms);

#endif
