/* metrics.c — the registry of published figures (see metrics.h): its shape, and the few figures written
 * by events rather than by a loop's publisher (a checkpoint's completion). */
#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t sl_metrics_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sl_metrics_rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "re");
  unsigned long long size = 0, resident = 0;
  if (!f)
    return 0;
  int n = fscanf(f, "%llu %llu", &size, &resident);
  fclose(f);
  long page = sysconf(_SC_PAGESIZE);
  return n == 2 && page > 0 ? resident * (uint64_t)page : 0;
}

sl_metrics *sl_metrics_new(const char *job_name, const char *sink_name, int event_time, unsigned ntasks,
                           const char *const *source_names, int nsources) {
  sl_metrics *m = calloc(1, sizeof *m);
  if (!m)
    return NULL;
  m->ntasks = ntasks;
  m->nsources = nsources;
  m->event_time = event_time;
  m->job_name = strdup(job_name ? job_name : "");
  m->sink_name = strdup(sink_name ? sink_name : "");
  m->source_names = calloc((size_t)nsources + 1, sizeof *m->source_names);
  m->tasks = calloc(ntasks, sizeof *m->tasks);
  int ok = m->job_name && m->sink_name && m->source_names && m->tasks;
  for (int i = 0; ok && i < nsources; i++)
    ok = (m->source_names[i] = strdup(source_names[i])) != NULL;
  for (unsigned t = 0; ok && t < ntasks; t++) {
    ok = (m->tasks[t].sources = calloc((size_t)nsources + 1, sizeof *m->tasks[t].sources)) != NULL;
    if (ok)
      sl_mset(&m->tasks[t].watermark, SL_METRICS_NO_WATERMARK);
  }
  if (!ok) {
    sl_metrics_free(m);
    return NULL;
  }
  sl_mset(&m->job.start_ms, sl_metrics_now_ms());
  return m;
}

int sl_metrics_set_operators(sl_metrics *m, char *const *uids, int n) {
  if (!(m->operators = calloc((size_t)n + 1, sizeof *m->operators)))
    return -1;
  for (unsigned t = 0; t < m->ntasks; t++)
    if (!(m->tasks[t].op_in = calloc((size_t)n + 1, sizeof *m->tasks[t].op_in)))
      return -1;
  for (; m->noperators < n; m->noperators++)
    if (!(m->operators[m->noperators] = strdup(uids[m->noperators])))
      return -1;
  return 0;
}

void sl_metrics_free(sl_metrics *m) {
  if (!m)
    return;
  for (int i = 0; m->operators && i < m->noperators; i++)
    free(m->operators[i]);
  free(m->operators);
  for (int i = 0; m->source_names && i < m->nsources; i++)
    free(m->source_names[i]);
  for (unsigned t = 0; m->tasks && t < m->ntasks; t++) {
    for (int i = 0; m->tasks[t].sources && i < m->nsources; i++)
      free(atomic_load(&m->tasks[t].sources[i].parts));
    free(m->tasks[t].sources);
    free(m->tasks[t].op_in);
  }
  free(m->source_names);
  free(m->tasks);
  free(m->job_name);
  free(m->sink_name);
  free(m);
}

void sl_metrics_checkpoint_done(sl_metrics *m, const sl_checkpoint_meta *c, uint64_t now_ms) {
  if (!m)
    return;
  sl_metrics_job *j = &m->job;
  uint64_t k = sl_mget(&j->history_n);
  sl_mset(&j->hist_id[k % SL_METRICS_HISTORY], c->id);
  sl_mset(&j->hist_duration_ms[k % SL_METRICS_HISTORY], c->duration_ms);
  sl_mset(&j->hist_bytes[k % SL_METRICS_HISTORY], c->snapshot_bytes);
  sl_mset(&j->hist_stall_ms[k % SL_METRICS_HISTORY], c->barrier_ms);
  sl_mset(&j->history_n, k + 1);
  sl_mset(&j->last_id, c->id);
  sl_mset(&j->last_duration_ms, c->duration_ms);
  sl_mset(&j->last_bytes, c->snapshot_bytes);
  sl_mset(&j->last_alignment_ms, c->alignment_ms);
  sl_mset(&j->last_stall_ms, c->barrier_ms);
  sl_mset(&j->last_time_ms, now_ms);
}
