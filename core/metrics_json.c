/* metrics_json.c — the registry as JSON (see metrics_json.h). Keys are written in a fixed order; numbers
 * are integers (ms, bytes, counts), a watermark not known yet is null. */
#include "core/metrics_json.h"

#include <stdio.h>
#include <string.h>

static void key(sl_buf *b, int *first, const char *k) {
  if (!*first)
    sl_buf_put(b, ", ", 2);
  *first = 0;
  sl_buf_put_json_string(b, k, strlen(k));
  sl_buf_put(b, ": ", 2);
}

static void num(sl_buf *b, int *first, const char *k, uint64_t v) {
  key(b, first, k);
  sl_buf_put_int64(b, (int64_t)v);
}

static void str(sl_buf *b, int *first, const char *k, const char *v) {
  key(b, first, k);
  sl_buf_put_json_string(b, v, strlen(v));
}

static void checkpoints(const sl_metrics *m, sl_buf *b, unsigned long long now_ms) {
  const sl_metrics_job *j = &m->job;
  int f = 1;
  sl_buf_putc(b, '{');
  num(b, &f, "completed", sl_mget(&j->completed));
  num(b, &f, "failed", sl_mget(&j->failed));
  num(b, &f, "skipped", sl_mget(&j->skipped));
  num(b, &f, "last_id", sl_mget(&j->last_id));
  num(b, &f, "last_duration_ms", sl_mget(&j->last_duration_ms));
  num(b, &f, "last_bytes", sl_mget(&j->last_bytes));
  num(b, &f, "last_alignment_ms", sl_mget(&j->last_alignment_ms));
  num(b, &f, "last_stall_ms", sl_mget(&j->last_stall_ms));
  uint64_t at = sl_mget(&j->last_time_ms);
  num(b, &f, "last_age_ms", at && now_ms > at ? now_ms - at : 0);
  key(b, &f, "history");
  sl_buf_putc(b, '[');
  uint64_t n = sl_mget(&j->history_n), k0 = n > SL_METRICS_HISTORY ? n - SL_METRICS_HISTORY : 0;
  for (uint64_t k = k0; k < n; k++) {
    int g = 1;
    sl_buf_put(b, k > k0 ? ", {" : "{", k > k0 ? 3 : 1);
    num(b, &g, "id", sl_mget(&j->hist_id[k % SL_METRICS_HISTORY]));
    num(b, &g, "duration_ms", sl_mget(&j->hist_duration_ms[k % SL_METRICS_HISTORY]));
    num(b, &g, "bytes", sl_mget(&j->hist_bytes[k % SL_METRICS_HISTORY]));
    num(b, &g, "stall_ms", sl_mget(&j->hist_stall_ms[k % SL_METRICS_HISTORY]));
    sl_buf_putc(b, '}');
  }
  sl_buf_put(b, "]}", 2);
}

static void task(const sl_metrics *m, unsigned i, sl_buf *b, unsigned long long now_ms) {
  const sl_metrics_task *t = &m->tasks[i];
  int f = 1;
  sl_buf_putc(b, '{');
  num(b, &f, "subtask", i);
  num(b, &f, "records_in", sl_mget(&t->records_in));
  num(b, &f, "records_out", sl_mget(&t->records_out));
  num(b, &f, "errors", sl_mget(&t->errors));
  num(b, &f, "records_in_per_s", sl_mget(&t->rate_in));
  num(b, &f, "records_out_per_s", sl_mget(&t->rate_out));
  num(b, &f, "busy_ms_per_s", sl_mget(&t->busy_ms_per_s));
  num(b, &f, "backpressured_ms_per_s", sl_mget(&t->backpressured_ms_per_s));
  num(b, &f, "lua_bytes", sl_mget(&t->lua_bytes));
  num(b, &f, "cache_hits", sl_mget(&t->cache_hits));
  num(b, &f, "cache_misses", sl_mget(&t->cache_misses));
  num(b, &f, "late", sl_mget(&t->late));
  uint64_t w = sl_mget(&t->watermark);
  key(b, &f, "watermark");
  if (w == SL_METRICS_NO_WATERMARK)
    sl_buf_put(b, "null", 4);
  else
    sl_buf_put_int64(b, (int64_t)w);
  key(b, &f, "operators_in");
  sl_buf_putc(b, '[');
  for (int k = 0; t->op_in && k < m->noperators; k++) {
    if (k)
      sl_buf_put(b, ", ", 2);
    sl_buf_put_int64(b, (int64_t)sl_mget(&t->op_in[k]));
  }
  sl_buf_putc(b, ']');
  uint64_t at = sl_mget(&t->published_ms);
  num(b, &f, "age_ms", at && now_ms > at ? now_ms - at : 0);
  sl_buf_putc(b, '}');
}

static void offset_or_null(sl_buf *b, int64_t v) {
  if (v < 0)
    sl_buf_put(b, "null", 4);
  else
    sl_buf_put_int64(b, v);
}

/* A partitioned input's "partitions": [{"partition", "offset", "high_watermark", "lag"}] (null: not known).
 */
static void partitions(sl_buf *b, int *f, const sl_metrics_source *src) {
  const sl_metrics_partition *parts;
  int n = sl_metrics_partitions(src, &parts);
  if (!n)
    return;
  key(b, f, "partitions");
  sl_buf_putc(b, '[');
  for (int p = 0; p < n; p++) {
    uint64_t next = sl_mget(&parts[p].next), high = sl_mget(&parts[p].high);
    sl_buf_put(b, p ? ", {\"partition\": " : "{\"partition\": ", p ? 16 : 14);
    sl_buf_put_int64(b, p);
    sl_buf_put(b, ", \"offset\": ", 12);
    offset_or_null(b, next == SL_METRICS_NO_OFFSET ? -1 : (int64_t)next);
    sl_buf_put(b, ", \"high_watermark\": ", 20);
    offset_or_null(b, high == SL_METRICS_NO_OFFSET ? -1 : (int64_t)high);
    sl_buf_put(b, ", \"lag\": ", 9);
    offset_or_null(b, sl_metrics_lag(next, high));
    sl_buf_putc(b, '}');
  }
  sl_buf_putc(b, ']');
}

static void sources(const sl_metrics *m, sl_buf *b) {
  int any = 0;
  sl_buf_putc(b, '[');
  for (int s = 0; s < m->nsources; s++)
    for (unsigned i = 0; i < m->ntasks; i++) {
      const sl_metrics_source *src = &m->tasks[i].sources[s];
      if (!sl_mget(&src->present))
        continue;
      int f = 1;
      sl_buf_put(b, any ? ", {" : "{", any ? 3 : 1);
      any = 1;
      str(b, &f, "name", m->source_names[s]);
      num(b, &f, "subtask", i);
      num(b, &f, "records_in", sl_mget(&src->records_in));
      num(b, &f, "errors", sl_mget(&src->errors));
      num(b, &f, "bytes_read", sl_mget(&src->bytes_read));
      num(b, &f, "offset", sl_mget(&src->offset));
      num(b, &f, "size", sl_mget(&src->size));
      num(b, &f, "lag", sl_mget(&src->lag));
      num(b, &f, "done", sl_mget(&src->done));
      num(b, &f, "share", sl_mget(&src->share));
      partitions(b, &f, src);
      sl_buf_putc(b, '}');
    }
  sl_buf_putc(b, ']');
}

void sl_metrics_render_json(const sl_metrics *m, sl_buf *b, unsigned long long rss,
                            unsigned long long now_ms) {
  int f = 1;
  sl_buf_putc(b, '{');
  str(b, &f, "job", m->job_name);
  str(b, &f, "sink", m->sink_name);
  key(b, &f, "event_time");
  sl_buf_put(b, m->event_time ? "true" : "false", m->event_time ? 4 : 5);
  num(b, &f, "parallelism", m->ntasks);
  key(b, &f, "operators");
  sl_buf_putc(b, '[');
  for (int i = 0; i < m->noperators; i++) {
    if (i)
      sl_buf_put(b, ", ", 2);
    sl_buf_put_json_string(b, m->operators[i], strlen(m->operators[i]));
  }
  sl_buf_putc(b, ']');
  uint64_t start = sl_mget(&m->job.start_ms);
  num(b, &f, "uptime_ms", now_ms > start ? now_ms - start : 0);
  num(b, &f, "rss_bytes", rss);
  num(b, &f, "now_ms", now_ms);
  num(b, &f, "reloads_ok", sl_mget(&m->job.reloads_ok));
  num(b, &f, "reloads_failed", sl_mget(&m->job.reloads_failed));
  key(b, &f, "checkpoints");
  checkpoints(m, b, now_ms);
  key(b, &f, "subtasks");
  sl_buf_putc(b, '[');
  for (unsigned i = 0; i < m->ntasks; i++) {
    if (i)
      sl_buf_put(b, ", ", 2);
    task(m, i, b, now_ms);
  }
  sl_buf_putc(b, ']');
  key(b, &f, "sources");
  sources(m, b);
  sl_buf_put(b, "}\n", 2);
}
