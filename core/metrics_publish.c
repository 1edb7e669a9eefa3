/* metrics_publish.c — a runtime's figures into its registry slot (see metrics_publish.h). */
#include "core/metrics_publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel/task.h"
#include "core/runtime.h"
#include "core/source.h"

#define WINDOW_NS 1000000000ull /* rates over about a second */

static void on_publish_timer(uv_timer_t *t) {
  sl_metrics_publish(t->data);
}

/* Time the subtask's reads were paused for a full channel, in ns so far (0 for a job alone). */
static uint64_t backpressured_ns(const sl_runtime *rt, uint64_t now) {
  const sl_task *t = rt->task;
  if (!t)
    return 0;
  return t->backpressure_ns + (t->backlogged ? now - t->backpressure_since : 0);
}

/* A partitioned source's partitions into its slot s (the array made at the first publish: see metrics.h). */
static void publish_partitions(sl_metrics_publisher *p, sl_source *src, sl_metrics_source *s) {
  int n = sl_source_get_partitions(src, p->parts, p->parts_cap);
  if (n > p->parts_cap) {
    sl_source_partition *g = realloc(p->parts, (size_t)n * sizeof *g);
    if (!g)
      return; /* metrics only: the next publish tries again */
    p->parts = g;
    p->parts_cap = n;
    n = sl_source_get_partitions(src, p->parts, p->parts_cap);
  }
  int have = atomic_load_explicit(&s->nparts, memory_order_relaxed);
  if (!have && n > 0) {
    sl_metrics_partition *a = calloc((size_t)n, sizeof *a);
    if (!a)
      return;
    atomic_store_explicit(&s->parts, a, memory_order_release);
    atomic_store_explicit(&s->nparts, n, memory_order_release);
    have = n;
  }
  sl_metrics_partition *a = atomic_load_explicit(&s->parts, memory_order_relaxed);
  for (int i = 0; i < n && i < have; i++) {
    sl_mset(&a[i].next, p->parts[i].next >= 0 ? (uint64_t)p->parts[i].next : SL_METRICS_NO_OFFSET);
    sl_mset(&a[i].high, p->parts[i].high >= 0 ? (uint64_t)p->parts[i].high : SL_METRICS_NO_OFFSET);
  }
}

static void publish_sources(sl_metrics_publisher *p) {
  sl_runtime *rt = p->rt;
  for (int k = 0; k < rt->nsources; k++) {
    int i = sl_source_index(rt->sources[k]);
    if (i < 0 || i >= p->m->nsources)
      continue;
    sl_source_progress pr;
    sl_source_get_progress(rt->sources[k], &pr);
    /* bytes read: the position's growth (a rotated or truncated file starts again from 0) */
    p->src_bytes[i] += pr.read >= p->src_read[i] ? pr.read - p->src_read[i] : pr.read;
    p->src_read[i] = pr.read;
    sl_metrics_source *s = &p->slot->sources[i];
    sl_mset(&s->offset, pr.offset);
    sl_mset(&s->size, pr.size);
    sl_mset(&s->lag, pr.share > pr.done ? pr.share - pr.done : 0);
    sl_mset(&s->done, pr.done);
    sl_mset(&s->share, pr.share);
    sl_mset(&s->bytes_read, p->src_bytes[i]);
    publish_partitions(p, rt->sources[k], s);
    sl_mset(&s->present, 1);
  }
  for (int i = 0; i < p->m->nsources; i++) {
    sl_mset(&p->slot->sources[i].records_in, p->src_records[i]);
    sl_mset(&p->slot->sources[i].errors, p->src_errors[i]);
  }
}

static void publish_job_side(sl_metrics_publisher *p) {
  const sl_checkpointer *c = &p->rt->ckpt;
  sl_metrics_job *j = &p->m->job;
  sl_mset(&j->completed, c->completed);
  sl_mset(&j->failed, c->failed);
  sl_mset(&j->skipped, c->skipped + c->unchanged);
  sl_mset(&j->reloads_ok, p->rt->reload.reloads_ok);
  sl_mset(&j->reloads_failed, p->rt->reload.reloads_failed);
}

void sl_metrics_publish(sl_metrics_publisher *p) {
  if (!p || !p->rt)
    return;
  sl_runtime *rt = p->rt;
  sl_metrics_task *s = p->slot;
  uint64_t now = uv_hrtime();
  uint64_t idle = uv_metrics_idle_time(rt->loop), bp = backpressured_ns(rt, now);
  sl_mset(&s->records_in, rt->stats.records_in);
  sl_mset(&s->records_out, rt->stats.records_out);
  sl_mset(&s->errors, rt->stats.errors);
  sl_mset(&s->late, rt->timers.late);
  uint64_t dt = now - p->win_ns;
  if (dt >= WINDOW_NS) { /* a window ended: its rates, and the next starts */
    sl_mset(&s->rate_in, (rt->stats.records_in - p->win_in) * 1000000000ull / dt);
    sl_mset(&s->rate_out, (rt->stats.records_out - p->win_out) * 1000000000ull / dt);
    uint64_t idle_ns = idle - p->win_idle_ns;
    sl_mset(&s->busy_ms_per_s, idle_ns >= dt ? 0 : (dt - idle_ns) * 1000u / dt);
    uint64_t bp_ns = bp - p->win_bp_ns;
    sl_mset(&s->backpressured_ms_per_s, bp_ns >= dt ? 1000 : bp_ns * 1000u / dt);
    p->win_ns = now;
    p->win_in = rt->stats.records_in;
    p->win_out = rt->stats.records_out;
    p->win_idle_ns = idle;
    p->win_bp_ns = bp;
  }
  sl_mset(&s->lua_bytes, sl_lua_host_memory(&rt->lua));
  int64_t wm;
  if (sl_lua_host_watermark(&rt->lua, &wm) == 1)
    sl_mset(&s->watermark, (uint64_t)wm);
  if (rt->backend) {
    sl_backend_stats bs;
    sl_backend_get_stats(rt->backend, &bs);
    sl_mset(&s->cache_hits, bs.cache_hits);
    sl_mset(&s->cache_misses, bs.cache_misses);
    sl_mset(&s->cache_bytes, bs.cache_bytes);
    sl_mset(&s->state_commits, bs.commits);
  }
  if (rt->task)
    sl_mset(&s->last_alignment_ms, rt->task->last_alignment_ms);
  if (s->op_in && sl_lua_host_operator_counts(&rt->lua, p->m->operators, p->op_in, p->m->noperators) == 0)
    for (int i = 0; i < p->m->noperators; i++)
      sl_mset(&s->op_in[i], p->op_in[i]);
  publish_sources(p);
  if (p->job_side)
    publish_job_side(p);
  sl_mset(&s->published_ms, sl_metrics_now_ms());
}

int sl_metrics_publisher_start(sl_metrics_publisher *p, sl_runtime *rt, sl_metrics *m, unsigned task,
                               int job_side, char *err, size_t errlen) {
  memset(p, 0, sizeof *p);
  p->rt = rt;
  p->m = m;
  p->slot = &m->tasks[task];
  p->job_side = job_side;
  size_t n = (size_t)m->nsources + 1;
  p->src_records = calloc(n, sizeof *p->src_records);
  p->src_errors = calloc(n, sizeof *p->src_errors);
  p->src_read = calloc(n, sizeof *p->src_read);
  p->src_bytes = calloc(n, sizeof *p->src_bytes);
  p->op_in = calloc((size_t)m->noperators + 1, sizeof *p->op_in);
  if (!p->src_records || !p->src_errors || !p->src_read || !p->src_bytes || !p->op_in) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* Busy time is the loop's time outside its wait for events (libuv counts the wait from now on). */
  uv_loop_configure(rt->loop, UV_METRICS_IDLE_TIME);
  p->win_ns = uv_hrtime();
  p->win_idle_ns = uv_metrics_idle_time(rt->loop);
  uv_timer_init(rt->loop, &p->timer);
  p->timer.data = p;
  int rc = uv_timer_start(&p->timer, on_publish_timer, SL_METRICS_PUBLISH_MS, SL_METRICS_PUBLISH_MS);
  if (rc) {
    snprintf(err, errlen, "cannot start the metrics timer: %s", uv_strerror(rc));
    uv_close((uv_handle_t *)&p->timer, NULL);
    return -1;
  }
  uv_unref((uv_handle_t *)&p->timer); /* it must not keep a finished job's loop alive */
  p->started = 1;
  sl_metrics_publish(p);
  return 0;
}

void sl_metrics_publisher_stop(sl_metrics_publisher *p) {
  if (!p->started)
    return;
  p->started = 0;
  sl_metrics_publish(p);
  uv_close((uv_handle_t *)&p->timer, NULL);
}

void sl_metrics_publisher_free(sl_metrics_publisher *p) {
  free(p->src_records);
  free(p->src_errors);
  free(p->src_read);
  free(p->src_bytes);
  free(p->op_in);
  free(p->parts);
  p->parts = NULL;
  p->parts_cap = 0;
  p->src_records = p->src_errors = p->src_read = p->src_bytes = p->op_in = NULL;
}
