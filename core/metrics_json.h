/* metrics_json.h — the registry (core/metrics.h) as one JSON object, for the status page and `sluice
 * status`: what /metrics holds, shaped by job, checkpoints (with the last few), subtasks and sources. */
#ifndef SLUICE_METRICS_JSON_H
#define SLUICE_METRICS_JSON_H

#include "core/metrics.h"
#include "core/record/json_write.h"

/* Appends the object to b (b->oom says whether it fit). rss in bytes, now_ms the time of reading. */
void sl_metrics_render_json(const sl_metrics *m, sl_buf *b, unsigned long long rss,
                            unsigned long long now_ms);

#endif
