/* metrics_publish.h — copies one runtime's figures into its slot of the registry (core/metrics.h) a few
 * times a second, from a uv_timer on the runtime's own loop: the counters stay plain fields written by
 * that thread, and nothing on the per-record path knows about metrics (sl_runtime_consume adds each read's
 * records to its source once per read, sl_metrics_count_input).
 *
 * Rates and busy time are taken over the last second or so; a publisher also publishes once more at stop,
 * so the slot ends with the run's final counts. Lifecycle: start (before the loop runs) -> stop (closes the
 * timer, from sl_runtime_stop; publishes a last time) -> free (after the loop ended). The runtime owns it. */
#ifndef SLUICE_METRICS_PUBLISH_H
#define SLUICE_METRICS_PUBLISH_H

#include <stdint.h>
#include <uv.h>

#include "core/metrics.h"

struct sl_runtime;

#define SL_METRICS_PUBLISH_MS 200

typedef struct sl_metrics_publisher {
  uv_timer_t timer;
  int started;
  struct sl_runtime *rt;
  sl_metrics *m;
  sl_metrics_task *slot;
  int job_side; /* the runtime runs alone: it also publishes the job's checkpoint counters */
  uint64_t *src_records, *src_errors; /* [nsources], by the job's source index */
  uint64_t *src_read;                 /* the last read position seen, for bytes read */
  uint64_t *src_bytes;
  uint64_t *op_in;                   /* [noperators]: asked of the Lua VM at each publish */
  struct sl_source_partition *parts; /* scratch for a partitioned source's partitions */
  int parts_cap;
  /* the window the rates and busy time are taken over */
  uint64_t win_ns, win_in, win_out, win_idle_ns, win_bp_ns;
} sl_metrics_publisher;

/* Starts publishing rt's figures into m's slot `task` (job_side: and the job's checkpoint counters). 0, or
 * -1 with err (out of memory). */
int sl_metrics_publisher_start(sl_metrics_publisher *p, struct sl_runtime *rt, sl_metrics *m, unsigned task,
                               int job_side, char *err, size_t errlen);
/* Publishes now (any time on the runtime's loop thread). */
void sl_metrics_publish(sl_metrics_publisher *p);
/* Publishes a last time and closes the timer (idempotent). */
void sl_metrics_publisher_stop(sl_metrics_publisher *p);
/* Frees what start allocated (after the loop ran the timer's close). */
void sl_metrics_publisher_free(sl_metrics_publisher *p);

/* One read's records and rejects for source `source` (the runtime, once per read, not per record). */
static inline void sl_metrics_count_input(sl_metrics_publisher *p, int source, uint64_t records,
                                          uint64_t errors) {
  if (p && p->src_records && source >= 0 && source < p->m->nsources) {
    p->src_records[source] += records;
    p->src_errors[source] += errors;
  }
}

#endif
