/* metrics_report.c — the registry in words (see metrics_report.h). */
#include "core/metrics_report.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct totals {
  uint64_t in, out, errors, rate_in, rate_out;
  int have_wm;
  int64_t wm; /* the lowest subtask watermark: what the job as a whole has passed */
} totals;

static void sum(const sl_metrics *m, totals *t) {
  memset(t, 0, sizeof *t);
  for (unsigned i = 0; i < m->ntasks; i++) {
    const sl_metrics_task *k = &m->tasks[i];
    t->in += sl_mget(&k->records_in);
    t->out += sl_mget(&k->records_out);
    t->errors += sl_mget(&k->errors);
    t->rate_in += sl_mget(&k->rate_in);
    t->rate_out += sl_mget(&k->rate_out);
    uint64_t w = sl_mget(&k->watermark);
    if (w != SL_METRICS_NO_WATERMARK && (!t->have_wm || (int64_t)w < t->wm)) {
      t->wm = (int64_t)w;
      t->have_wm = 1;
    }
  }
}

static void putf(sl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(sl_buf *b, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0)
    sl_buf_put(b, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void when(int64_t ms, char *out, size_t len) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t w = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + w, len - w, ".%03dZ", (int)(ms % 1000 < 0 ? 0 : ms % 1000));
}

static double mib(uint64_t bytes) {
  return (double)bytes / (1024.0 * 1024.0);
}

/* Input s summed over its readers: records, and bytes read of the readers' shares. */
static void source_sum(const sl_metrics *m, int s, uint64_t *records, uint64_t *errors, uint64_t *done,
                       uint64_t *share, uint64_t *size, uint64_t *lag) {
  *records = *errors = *done = *share = *size = *lag = 0;
  for (unsigned i = 0; i < m->ntasks; i++) {
    const sl_metrics_source *src = &m->tasks[i].sources[s];
    if (!sl_mget(&src->present))
      continue;
    *records += sl_mget(&src->records_in);
    *errors += sl_mget(&src->errors);
    *done += sl_mget(&src->done);
    *share += sl_mget(&src->share);
    *lag += sl_mget(&src->lag);
    if (sl_mget(&src->size) > *size)
      *size = sl_mget(&src->size);
  }
}

/* A partitioned input's partitions, one line each: "  partition 3: offset 1234, end 1300, lag 66". */
static void partition_lines(const sl_metrics *m, int s, sl_buf *b) {
  for (unsigned i = 0; i < m->ntasks; i++) {
    const sl_metrics_source *src = &m->tasks[i].sources[s];
    const sl_metrics_partition *parts;
    int n = sl_mget(&src->present) ? sl_metrics_partitions(src, &parts) : 0;
    for (int p = 0; p < n; p++) {
      uint64_t next = sl_mget(&parts[p].next), high = sl_mget(&parts[p].high);
      int64_t lag = sl_metrics_lag(next, high);
      putf(b, "  partition %d: ", p);
      if (next == SL_METRICS_NO_OFFSET)
        putf(b, "nothing read");
      else
        putf(b, "offset %llu", (unsigned long long)next);
      if (high == SL_METRICS_NO_OFFSET)
        putf(b, ", end not known yet");
      else
        putf(b, ", end %llu", (unsigned long long)high);
      if (lag >= 0)
        putf(b, ", lag %lld", (long long)lag);
      if (m->ntasks > 1)
        putf(b, " (subtask %u)", i);
      sl_buf_putc(b, '\n');
    }
  }
}

void sl_metrics_render_status(const sl_metrics *m, sl_buf *b, unsigned long long rss,
                              unsigned long long now_ms) {
  totals t;
  sum(m, &t);
  const sl_metrics_job *j = &m->job;
  uint64_t start = sl_mget(&j->start_ms);
  putf(b, "job %s: running for %.1f s, parallelism %u, memory %.1f MiB\n", m->job_name,
       (double)(now_ms > start ? now_ms - start : 0) / 1000.0, m->ntasks, mib(rss));
  putf(b, "records: %llu in (%llu/s), %llu out (%llu/s) to %s, %llu rejected\n", (unsigned long long)t.in,
       (unsigned long long)t.rate_in, (unsigned long long)t.out, (unsigned long long)t.rate_out, m->sink_name,
       (unsigned long long)t.errors);
  putf(b, "checkpoints: %llu complete, %llu failed, %llu skipped", (unsigned long long)sl_mget(&j->completed),
       (unsigned long long)sl_mget(&j->failed), (unsigned long long)sl_mget(&j->skipped));
  uint64_t last = sl_mget(&j->last_id), at = sl_mget(&j->last_time_ms);
  if (last)
    putf(b, "; last %llu: %llu ms, %llu bytes, %.1f s ago", (unsigned long long)last,
         (unsigned long long)sl_mget(&j->last_duration_ms), (unsigned long long)sl_mget(&j->last_bytes),
         (double)(now_ms > at ? now_ms - at : 0) / 1000.0);
  sl_buf_putc(b, '\n');
  if (m->event_time) {
    char w[64];
    if (t.have_wm) {
      when(t.wm, w, sizeof w);
      putf(b, "watermark: %s (%.1f s behind now)\n", w, (double)((int64_t)now_ms - t.wm) / 1000.0);
    } else {
      putf(b, "watermark: none yet\n");
    }
  }
  for (unsigned i = 0; m->ntasks > 1 && i < m->ntasks; i++) {
    const sl_metrics_task *k = &m->tasks[i];
    putf(b, "subtask %u: %llu in, %llu out, %llu rejected, busy %llu ms/s, back-pressured %llu ms/s\n", i,
         (unsigned long long)sl_mget(&k->records_in), (unsigned long long)sl_mget(&k->records_out),
         (unsigned long long)sl_mget(&k->errors), (unsigned long long)sl_mget(&k->busy_ms_per_s),
         (unsigned long long)sl_mget(&k->backpressured_ms_per_s));
  }
  for (int s = 0; s < m->nsources; s++) {
    uint64_t rec, err, done, share, size, lag;
    source_sum(m, s, &rec, &err, &done, &share, &size, &lag);
    putf(b, "input %s: %llu records, %llu rejected", m->source_names[s], (unsigned long long)rec,
         (unsigned long long)err);
    if (share)
      putf(b, ", %.1f%% read (%llu of %llu bytes), %llu bytes behind", 100.0 * (double)done / (double)share,
           (unsigned long long)done, (unsigned long long)share, (unsigned long long)lag);
    for (unsigned i = 0; i < m->ntasks; i++) {
      const sl_metrics_source *src = &m->tasks[i].sources[s];
      const sl_metrics_partition *parts;
      if (sl_mget(&src->present) && m->ntasks == 1 && !sl_metrics_partitions(src, &parts))
        putf(b, ", offset %llu", (unsigned long long)sl_mget(&src->offset));
    }
    sl_buf_putc(b, '\n');
    partition_lines(m, s, b);
  }
}

void sl_metrics_render_progress(const sl_metrics *m, sl_buf *b, unsigned long long now_ms) {
  totals t;
  sum(m, &t);
  putf(b, "sluice: %llu rec/s, %llu in, %llu out", (unsigned long long)t.rate_in, (unsigned long long)t.in,
       (unsigned long long)t.out);
  for (int s = 0; s < m->nsources; s++) {
    uint64_t rec, err, done, share, size, lag;
    source_sum(m, s, &rec, &err, &done, &share, &size, &lag);
    const char *name = strrchr(m->source_names[s], '/');
    name = name ? name + 1 : m->source_names[s];
    if (share)
      putf(b, " | %s %.0f%%", name, 100.0 * (double)done / (double)share);
  }
  putf(b, " | %llu errors", (unsigned long long)t.errors);
  const sl_metrics_job *j = &m->job;
  uint64_t last = sl_mget(&j->last_id), at = sl_mget(&j->last_time_ms);
  if (last)
    putf(b, " | checkpoint %llu %.0fs ago", (unsigned long long)last,
         (double)(now_ms > at ? now_ms - at : 0) / 1000.0);
  if (m->event_time && t.have_wm) {
    char w[64];
    when(t.wm, w, sizeof w);
    putf(b, " | watermark %s", w);
  }
}
