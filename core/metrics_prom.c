/* metrics_prom.c — the Prometheus text format of the registry (see metrics_prom.h). A scrape reads each
 * value once with a relaxed load: figures of one slot may come from two consecutive publishes. */
#include "core/metrics_prom.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_prom_put_label_value(sl_buf *b, const char *v) {
  for (const char *p = v; *p; p++) {
    if (*p == '\\')
      sl_buf_put(b, "\\\\", 2);
    else if (*p == '"')
      sl_buf_put(b, "\\\"", 2);
    else if (*p == '\n')
      sl_buf_put(b, "\\n", 2);
    else
      sl_buf_putc(b, *p);
  }
}

void sl_prom_put_help(sl_buf *b, const char *text) {
  for (const char *p = text; *p; p++) {
    if (*p == '\\')
      sl_buf_put(b, "\\\\", 2);
    else if (*p == '\n')
      sl_buf_put(b, "\\n", 2);
    else
      sl_buf_putc(b, *p);
  }
}

static void put_str(sl_buf *b, const char *s) {
  sl_buf_put(b, s, strlen(s));
}

void sl_prom_put_sample(sl_buf *b, const char *name, const char *const *labels, int nlabels, double value) {
  char num[64];
  put_str(b, name);
  for (int i = 0; i < nlabels; i++) {
    sl_buf_putc(b, i ? ',' : '{');
    put_str(b, labels[2 * i]);
    sl_buf_put(b, "=\"", 2);
    sl_prom_put_label_value(b, labels[2 * i + 1]);
    sl_buf_putc(b, '"');
  }
  if (nlabels)
    sl_buf_putc(b, '}');
  if (isnan(value))
    snprintf(num, sizeof num, " NaN\n");
  else if (value == floor(value) && fabs(value) < 9.007199254740992e15)
    snprintf(num, sizeof num, " %.0f\n", value);
  else { /* the shortest form that reads back to the same double */
    snprintf(num, sizeof num, " %.15g\n", value);
    if (strtod(num, NULL) != value)
      snprintf(num, sizeof num, " %.17g\n", value);
  }
  put_str(b, num);
}

static void family(sl_buf *b, const char *name, const char *type, const char *help) {
  put_str(b, "# HELP ");
  put_str(b, name);
  sl_buf_putc(b, ' ');
  sl_prom_put_help(b, help);
  put_str(b, "\n# TYPE ");
  put_str(b, name);
  sl_buf_putc(b, ' ');
  put_str(b, type);
  sl_buf_putc(b, '\n');
}

static void job_sample(sl_buf *b, const char *name, const char *type, const char *help, double v) {
  family(b, name, type, help);
  sl_prom_put_sample(b, name, NULL, 0, v);
}

/* A task-level family: one sample per subtask (the subtask label only at parallelism > 1). get reads the
 * figure off a task slot; extra labels (one pair, or none) go first. */
typedef double (*task_get)(const sl_metrics *m, const sl_metrics_task *t, unsigned long long now_ms);

static void task_family(const sl_metrics *m, sl_buf *b, const char *name, const char *type, const char *help,
                        const char *label, const char *value, task_get get, unsigned long long now_ms) {
  family(b, name, type, help);
  for (unsigned i = 0; i < m->ntasks; i++) {
    char sub[16];
    const char *labels[4];
    int n = 0;
    double v = get(m, &m->tasks[i], now_ms);
    if (isnan(v))
      continue; /* not known (yet): no sample */
    if (label) {
      labels[2 * n] = label;
      labels[2 * n++ + 1] = value;
    }
    if (m->ntasks > 1) {
      snprintf(sub, sizeof sub, "%u", i);
      labels[2 * n] = "subtask";
      labels[2 * n++ + 1] = sub;
    }
    sl_prom_put_sample(b, name, labels, n, v);
  }
}

#define GETTER(fn, expr)                                                                                     \
  static double fn(const sl_metrics *m, const sl_metrics_task *t, unsigned long long now_ms) {               \
    (void)m;                                                                                                 \
    (void)now_ms;                                                                                            \
    return (double)(expr);                                                                                   \
  }
GETTER(get_out, sl_mget(&t->records_out))
GETTER(get_errors, sl_mget(&t->errors))
GETTER(get_rate_in, sl_mget(&t->rate_in))
GETTER(get_rate_out, sl_mget(&t->rate_out))
GETTER(get_busy, sl_mget(&t->busy_ms_per_s))
GETTER(get_bp, sl_mget(&t->backpressured_ms_per_s))
GETTER(get_lua, sl_mget(&t->lua_bytes))
GETTER(get_late, sl_mget(&t->late))
GETTER(get_hits, sl_mget(&t->cache_hits))
GETTER(get_misses, sl_mget(&t->cache_misses))
GETTER(get_cache_bytes, sl_mget(&t->cache_bytes))
GETTER(get_commits, sl_mget(&t->state_commits))
GETTER(get_align, sl_mget(&t->last_alignment_ms))

static double get_hit_ratio(const sl_metrics *m, const sl_metrics_task *t, unsigned long long now_ms) {
  (void)m;
  (void)now_ms;
  double h = (double)sl_mget(&t->cache_hits), n = h + (double)sl_mget(&t->cache_misses);
  return n > 0 ? h / n : NAN;
}

static double get_watermark(const sl_metrics *m, const sl_metrics_task *t, unsigned long long now_ms) {
  (void)m;
  (void)now_ms;
  uint64_t w = sl_mget(&t->watermark);
  return w == SL_METRICS_NO_WATERMARK ? NAN : (double)(int64_t)w;
}

static double get_watermark_lag(const sl_metrics *m, const sl_metrics_task *t, unsigned long long now_ms) {
  double w = get_watermark(m, t, now_ms);
  return isnan(w) ? NAN : (double)now_ms - w;
}

/* A source-level figure: one sample per (source, subtask that reads it). */
static void source_family(const sl_metrics *m, sl_buf *b, const char *name, const char *type,
                          const char *help, size_t field) {
  family(b, name, type, help);
  for (int s = 0; s < m->nsources; s++)
    for (unsigned i = 0; i < m->ntasks; i++) {
      const sl_metrics_source *src = &m->tasks[i].sources[s];
      if (!sl_mget(&src->present))
        continue;
      char sub[16];
      snprintf(sub, sizeof sub, "%u", i);
      const char *labels[] = {"source", m->source_names[s], "subtask", sub};
      const sl_mval *v = (const sl_mval *)((const char *)src + field);
      sl_prom_put_sample(b, name, labels, m->ntasks > 1 ? 2 : 1, (double)sl_mget(v));
    }
}

/* A partitioned input's figure per partition (Kafka): which = 0 next offset, 1 end, 2 lag; a value not
 * known has no sample. Labelled by source, topic and partition (and subtask at parallelism > 1). */
static void partition_family(const sl_metrics *m, sl_buf *b, const char *name, const char *help, int which) {
  int any = 0;
  for (int s = 0; s < m->nsources; s++)
    for (unsigned i = 0; i < m->ntasks; i++) {
      const sl_metrics_source *src = &m->tasks[i].sources[s];
      const sl_metrics_partition *parts;
      int n = sl_mget(&src->present) ? sl_metrics_partitions(src, &parts) : 0;
      const char *topic =
          strncmp(m->source_names[s], "kafka:", 6) ? m->source_names[s] : m->source_names[s] + 6;
      for (int p = 0; p < n; p++) {
        uint64_t raw = which == 0 ? sl_mget(&parts[p].next) : sl_mget(&parts[p].high);
        int64_t v = which == 2                    ? sl_metrics_partition_lag(&parts[p])
                    : raw == SL_METRICS_NO_OFFSET ? -1
                                                  : (int64_t)raw;
        if (v < 0)
          continue;
        if (!any++)
          family(b, name, "gauge", help);
        char part[16], sub[16];
        snprintf(part, sizeof part, "%d", p);
        snprintf(sub, sizeof sub, "%u", i);
        const char *labels[] = {"source", m->source_names[s], "topic", topic, "partition",
                                part,     "subtask",          sub};
        sl_prom_put_sample(b, name, labels, m->ntasks > 1 ? 4 : 3, (double)v);
      }
    }
}

/* The largest partition lag of each partitioned input (Flink's Kafka connector's records-lag-max). */
static void lag_max_family(const sl_metrics *m, sl_buf *b) {
  int any = 0;
  for (int s = 0; s < m->nsources; s++) {
    int64_t max = -1;
    for (unsigned i = 0; i < m->ntasks; i++) {
      const sl_metrics_source *src = &m->tasks[i].sources[s];
      const sl_metrics_partition *parts;
      int n = sl_mget(&src->present) ? sl_metrics_partitions(src, &parts) : 0;
      for (int p = 0; p < n; p++) {
        int64_t lag = sl_metrics_partition_lag(&parts[p]);
        if (lag > max)
          max = lag;
      }
    }
    if (max < 0)
      continue;
    if (!any++)
      family(b, "sluice_source_kafka_records_lag_max", "gauge",
             "The largest lag (records behind the end) of the input's partitions.");
    const char *labels[] = {"source", m->source_names[s]};
    sl_prom_put_sample(b, "sluice_source_kafka_records_lag_max", labels, 1, (double)max);
  }
}

static void render_sources(const sl_metrics *m, sl_buf *b) {
  source_family(m, b, "sluice_numRecordsIn", "counter",
                "Records read from the source (lines, blank ones aside).",
                offsetof(sl_metrics_source, records_in));
  source_family(m, b, "sluice_numRecordsInErrors", "counter",
                "Records from the source rejected (invalid JSON, too long, an operator threw).",
                offsetof(sl_metrics_source, errors));
  source_family(m, b, "sluice_numBytesIn", "counter", "Bytes read from the source by this run.",
                offsetof(sl_metrics_source, bytes_read));
  source_family(m, b, "sluice_source_offset_bytes", "gauge",
                "The source's resume point: the byte offset after the last line handed on.",
                offsetof(sl_metrics_source, offset));
  source_family(m, b, "sluice_source_size_bytes", "gauge", "The input file's size now (0 for a stream).",
                offsetof(sl_metrics_source, size));
  source_family(m, b, "sluice_pendingBytes", "gauge",
                "Bytes of the input file not read yet by this reader (its size less its offset; of its own "
                "splits for a split file).",
                offsetof(sl_metrics_source, lag));
  partition_family(m, b, "sluice_source_kafka_offset",
                   "The partition's next offset: where a checkpoint now would resume it.", 0);
  partition_family(m, b, "sluice_source_kafka_high_watermark",
                   "The partition's end (high watermark) as the consumer last saw it.", 1);
  partition_family(m, b, "sluice_source_kafka_records_lag",
                   "Records of the partition not read yet: its end less its next offset.", 2);
  lag_max_family(m, b);
}

/* Operator k's records in, and out: what operator k + 1 was handed (the sink's records for the last). */
static void render_operators(const sl_metrics *m, sl_buf *b) {
  static const char *names[] = {"sluice_operator_numRecordsIn", "sluice_operator_numRecordsOut"};
  static const char *helps[] = {
      "Records the operator was handed.",
      "Records the operator emitted (those the next operator, or the sink, was handed)."};
  for (int out = 0; out < 2; out++) {
    family(b, names[out], "counter", helps[out]);
    for (int k = 0; k < m->noperators; k++)
      for (unsigned i = 0; i < m->ntasks; i++) {
        const sl_metrics_task *t = &m->tasks[i];
        char sub[16];
        snprintf(sub, sizeof sub, "%u", i);
        const char *labels[] = {"operator", m->operators[k], "subtask", sub};
        uint64_t v = !out                    ? sl_mget(&t->op_in[k])
                     : k + 1 < m->noperators ? sl_mget(&t->op_in[k + 1])
                                             : sl_mget(&t->records_out);
        sl_prom_put_sample(b, names[out], labels, m->ntasks > 1 ? 2 : 1, (double)v);
      }
  }
}

static void render_tasks(const sl_metrics *m, sl_buf *b, unsigned long long now) {
  task_family(m, b, "sluice_numRecordsOut", "counter", "Records written to the sink.", "sink", m->sink_name,
              get_out, now);
  task_family(m, b, "sluice_numRecordsInErrorsTotal", "counter",
              "Records rejected by the subtask (from any source, and on_timer errors).", NULL, NULL,
              get_errors, now);
  task_family(m, b, "sluice_numRecordsInPerSecond", "gauge",
              "Records read per second (over the last second).", NULL, NULL, get_rate_in, now);
  task_family(m, b, "sluice_numRecordsOutPerSecond", "gauge", "Records written per second.", NULL, NULL,
              get_rate_out, now);
  task_family(m, b, "sluice_busyTimeMsPerSecond", "gauge",
              "Milliseconds per second the subtask's loop was working, not waiting for input.", NULL, NULL,
              get_busy, now);
  task_family(m, b, "sluice_backPressuredTimeMsPerSecond", "gauge",
              "Milliseconds per second the subtask's reads were paused because a channel to another subtask "
              "was full.",
              NULL, NULL, get_bp, now);
  task_family(m, b, "sluice_checkpointAlignmentTime", "gauge",
              "Milliseconds the subtask's last checkpoint barrier waited for alignment.", NULL, NULL,
              get_align, now);
  task_family(m, b, "sluice_lua_memory_bytes", "gauge", "Memory of the subtask's Lua VM.", NULL, NULL,
              get_lua, now);
  task_family(m, b, "sluice_state_cache_hits", "counter", "State reads served by the state cache.", NULL,
              NULL, get_hits, now);
  task_family(m, b, "sluice_state_cache_misses", "counter", "State reads that went to LMDB.", NULL, NULL,
              get_misses, now);
  task_family(m, b, "sluice_state_cache_hit_ratio", "gauge", "Hits / (hits + misses) of the state cache.",
              NULL, NULL, get_hit_ratio, now);
  task_family(m, b, "sluice_state_cache_bytes", "gauge", "Memory the state cache holds.", NULL, NULL,
              get_cache_bytes, now);
  task_family(m, b, "sluice_state_commits", "counter", "Commits of the state backend's LMDB environment.",
              NULL, NULL, get_commits, now);
  if (m->event_time) {
    task_family(m, b, "sluice_currentWatermark", "gauge", "The subtask's event-time watermark (epoch ms).",
                NULL, NULL, get_watermark, now);
    task_family(m, b, "sluice_watermarkLag", "gauge", "Now less the watermark, in ms.", NULL, NULL,
                get_watermark_lag, now);
    task_family(m, b, "sluice_numLateRecords", "counter", "Records at or behind the watermark.", NULL, NULL,
                get_late, now);
  }
}

void sl_metrics_render_prom(const sl_metrics *m, sl_buf *b, unsigned long long rss,
                            unsigned long long now_ms) {
  const sl_metrics_job *j = &m->job;
  family(b, "sluice_job_info", "gauge", "The running job (value 1).");
  const char *info[] = {"job_name", m->job_name, "sink", m->sink_name};
  sl_prom_put_sample(b, "sluice_job_info", info, 2, 1);
  uint64_t start = sl_mget(&j->start_ms);
  job_sample(b, "sluice_uptime", "gauge", "Milliseconds since the job started.",
             (double)(now_ms > start ? now_ms - start : 0));
  render_sources(m, b);
  render_operators(m, b);
  render_tasks(m, b, now_ms);
  job_sample(b, "sluice_numberOfCompletedCheckpoints", "counter", "Checkpoints completed by this run.",
             (double)sl_mget(&j->completed));
  job_sample(b, "sluice_numberOfFailedCheckpoints", "counter", "Checkpoints that failed in this run.",
             (double)sl_mget(&j->failed));
  job_sample(b, "sluice_numberOfSkippedCheckpoints", "counter",
             "Checkpoint triggers skipped (one was in flight, or nothing changed).",
             (double)sl_mget(&j->skipped));
  job_sample(b, "sluice_lastCompletedCheckpointId", "gauge",
             "Id of the last completed checkpoint (0: none yet).", (double)sl_mget(&j->last_id));
  job_sample(b, "sluice_lastCheckpointDuration", "gauge", "Milliseconds the last completed checkpoint took.",
             (double)sl_mget(&j->last_duration_ms));
  job_sample(b, "sluice_lastCheckpointSize", "gauge", "Bytes the last completed checkpoint wrote.",
             (double)sl_mget(&j->last_bytes));
  job_sample(b, "sluice_lastCheckpointAlignmentTime", "gauge",
             "Longest barrier alignment of the last completed checkpoint, in ms.",
             (double)sl_mget(&j->last_alignment_ms));
  job_sample(b, "sluice_lastCheckpointBarrierStall", "gauge",
             "Milliseconds the stream stood still at the last completed checkpoint's barrier.",
             (double)sl_mget(&j->last_stall_ms));
  family(b, "sluice_reloads", "counter", "Hot reloads of the job's code, by outcome.");
  const char *ok[] = {"outcome", "ok"}, *failed[] = {"outcome", "failed"};
  sl_prom_put_sample(b, "sluice_reloads", ok, 1, (double)sl_mget(&j->reloads_ok));
  sl_prom_put_sample(b, "sluice_reloads", failed, 1, (double)sl_mget(&j->reloads_failed));
  job_sample(b, "sluice_process_resident_memory_bytes", "gauge", "Resident memory of the sluice process.",
             (double)rss);
}
