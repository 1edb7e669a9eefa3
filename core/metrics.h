/* metrics.h — the running job's figures, as the status endpoints (core/metrics_http.h), the progress line
 * (core/progress.h) and `sluice status` read them.
 *
 * Why a registry of published copies, not the live counters. The runtime counts on its loop thread in plain
 * fields (rt->stats, the checkpointer's, the backend's; each operator's records in an FFI array of its Lua
 * VM, lua/sluice/pipeline.lua), and the hot path must not pay for anyone reading them. So each loop thread publishes a copy of its figures into its own slot of this registry a few times a
 * second (core/metrics_publish.c, on a uv_timer of that loop), and readers on other threads (the HTTP
 * server's) read the slots. Every value is an _Atomic uint64_t written by exactly one thread with relaxed
 * stores and read with relaxed loads: no lock, no read-modify-write, no torn values; a reader may see one
 * slot's figures from two consecutive publishes (metrics, not a consistent cut — checkpoints are that).
 *
 * Layout. One job slot (checkpoints, reloads: published by the thread that coordinates checkpoints), and
 * one task slot per subtask (one at --parallelism 1), each with one source slot per source of the job
 * (present when that subtask reads it). Names and shapes are fixed at sl_metrics_new, before any reader
 * starts. Owner: whoever calls sl_metrics_new frees it with sl_metrics_free after every reader and writer
 * has stopped. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/checkpoint_meta.h"

typedef _Atomic uint64_t sl_mval;

static inline void sl_mset(sl_mval *v, uint64_t x) {
  atomic_store_explicit(v, x, memory_order_relaxed);
}
static inline uint64_t sl_mget(const sl_mval *v) {
  return atomic_load_explicit((sl_mval *)v, memory_order_relaxed);
}

/* One input as one subtask reads it. done/share: the bytes of this reader's share of the input read so far
 * and the share's size (the whole file, or the splits this subtask owns), for "% read"; offset: the resume
 * point a checkpoint now would record; size: the file's size now (0 for a stream). */
/* One partition of a partitioned input (Kafka): its next offset and its end (the high watermark), as int64
 * bits, SL_METRICS_NO_OFFSET when not known. */
#define SL_METRICS_NO_OFFSET UINT64_MAX
typedef struct sl_metrics_partition {
  sl_mval next, high;
} sl_metrics_partition;

typedef struct sl_metrics_source {
  sl_mval present, records_in, errors, bytes_read, offset, size, lag, done, share;
  /* A partitioned input's partitions: the reading thread allocates the array at its first publish (the
   * count is known only once the source opened), then stores nparts; a reader loads nparts first, and the
   * array after it (acquire/release): it never moves nor shrinks, and sl_metrics_free frees it. */
  _Atomic(sl_metrics_partition *) parts;
  _Atomic int nparts;
} sl_metrics_source;

/* The partitions of src a reader may read, and their array (both NULL/0 for an unpartitioned input). */
static inline int sl_metrics_partitions(const sl_metrics_source *src, const sl_metrics_partition **parts) {
  int n = atomic_load_explicit((_Atomic int *)&src->nparts, memory_order_acquire);
  *parts =
      n ? atomic_load_explicit((_Atomic(sl_metrics_partition *) *)&src->parts, memory_order_acquire) : NULL;
  return n;
}
/* A partition's lag from its next offset and end (its end less its next offset; 0 when the end seen is
 * older than what was read), or -1 when not known: nothing read yet from a partition that is not empty, or
 * no end seen yet. */
static inline int64_t sl_metrics_lag(uint64_t next, uint64_t high) {
  if (high == SL_METRICS_NO_OFFSET || (next == SL_METRICS_NO_OFFSET && high != 0))
    return -1;
  int64_t lag = (int64_t)high - (next == SL_METRICS_NO_OFFSET ? 0 : (int64_t)next);
  return lag > 0 ? lag : 0;
}
static inline int64_t sl_metrics_partition_lag(const sl_metrics_partition *p) {
  return sl_metrics_lag(sl_mget(&p->next), sl_mget(&p->high));
}

#define SL_METRICS_NO_WATERMARK UINT64_MAX

typedef struct sl_metrics_task {
  sl_mval records_in, records_out, errors, late;
  sl_mval rate_in, rate_out;      /* records/s over the last second or so */
  sl_mval busy_ms_per_s;          /* loop time not spent waiting for events, per second */
  sl_mval backpressured_ms_per_s; /* time its reads were paused for a full channel, per second */
  sl_mval lua_bytes;              /* its Lua VM's memory (collectgarbage "count") */
  sl_mval watermark;              /* event time: the watermark as epoch ms (int64 bits), or NO_WATERMARK */
  sl_mval cache_hits, cache_misses, cache_bytes, state_commits;
  sl_mval last_alignment_ms;  /* barrier alignment of its last checkpoint (exactly-once, parallel) */
  sl_mval published_ms;       /* when this slot was last written (epoch ms; 0: never) */
  sl_metrics_source *sources; /* [nsources] */
  sl_mval *op_in;             /* [noperators]: the records each operator was handed */
} sl_metrics_task;

#define SL_METRICS_HISTORY 16

typedef struct sl_metrics_job {
  sl_mval completed, failed, skipped;
  sl_mval last_id, last_duration_ms, last_bytes, last_alignment_ms, last_stall_ms, last_time_ms;
  /* the last SL_METRICS_HISTORY completed checkpoints: entry k % HISTORY is the k-th (k < history_n) */
  sl_mval history_n, hist_id[SL_METRICS_HISTORY], hist_duration_ms[SL_METRICS_HISTORY],
      hist_bytes[SL_METRICS_HISTORY], hist_stall_ms[SL_METRICS_HISTORY];
  sl_mval reloads_ok, reloads_failed;
  sl_mval start_ms;
} sl_metrics_job;

typedef struct sl_metrics {
  char *job_name;
  char *sink_name;
  int event_time;
  unsigned ntasks;
  int nsources;
  char **source_names; /* [nsources] */
  char **operators;    /* [noperators]: the job's operator uids in graph order (the status page) */
  int noperators;
  sl_metrics_job job;
  sl_metrics_task *tasks; /* [ntasks] */
} sl_metrics;

/* A registry for ntasks subtasks reading the named sources (copied). NULL when out of memory. */
sl_metrics *sl_metrics_new(const char *job_name, const char *sink_name, int event_time, unsigned ntasks,
                           const char *const *source_names, int nsources);
void sl_metrics_free(sl_metrics *m);
/* Names the job's operators (copied; before any reader starts). 0, or -1 when out of memory. */
int sl_metrics_set_operators(sl_metrics *m, char *const *uids, int n);

/* Called by the coordinating thread when a checkpoint completed, with its metadata (id, duration, bytes,
 * alignment, barrier stall). m NULL: nothing. */
void sl_metrics_checkpoint_done(sl_metrics *m, const sl_checkpoint_meta *c, uint64_t now_ms);

/* Epoch milliseconds (the clock the figures are stamped with). */
uint64_t sl_metrics_now_ms(void);
/* The process's resident memory in bytes (from /proc/self/statm), or 0. Any thread. */
uint64_t sl_metrics_rss_bytes(void);

#endif
