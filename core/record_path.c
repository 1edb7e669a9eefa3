/* record_path.c — from buffered lines to output: split, validate into a batch, run the batch through
 * Lua, write the output. Bad records are rejected here, one at a time, each with one error line naming the
 * input, the line and the reason, a counter, and a dead-letter entry; the records around them go on.
 * Only a record's own fault is a reject: a failure under it (out of memory, the state backend, the output
 * or the dead-letter file failing) fails the job, so that no offset is ever committed past a record whose
 * effect is missing. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/dead_letter.h"
#include "core/log.h"
#include "core/metrics_publish.h"
#include "core/output.h"
#include "core/parallel/task.h"
#include "core/runtime.h"
#include "core/source.h"

static void reject(sl_runtime *rt, const char *input, uint64_t line_no, const char *reason, const char *text,
                   size_t len) {
  rt->stats.errors++;
  sl_error("%s:%llu: %s", input, (unsigned long long)line_no, reason);
  if (sl_dead_letter_write(rt->dead_letter_fd, input, (unsigned long long)line_no, reason, text, len))
    sl_runtime_fail(rt, "writing the dead-letter file '%s' failed: %s", rt->opts->dead_letter,
                    strerror(errno));
}

static int blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
      return 0;
  return 1;
}

/* The input to name in a record's error line: a Kafka record's own partition ("kafka:TOPIC:PARTITION", its
 * line number being its offset), which a batch run by another parallel subtask than the reader's does not
 * otherwise know; else the batch's input. */
static const char *input_of(const char *input, const sl_rec *r, char *buf, size_t len) {
  if (!r->meta)
    return input;
  snprintf(buf, len, "kafka:%s:%d", r->meta->topic, (int)r->meta->partition);
  return buf;
}

/* Runs the batch; a record whose operator throws is rejected and the batch resumes after it. input names
 * the records' source in error lines; keyed: the records were routed (by a parallel subtask that ran the
 * operators before the key_by), so they run from the key_by on. */
static void run_batch(sl_runtime *rt, const char *input, int keyed) {
  char err[4096], name[300];
  sl_batch *b = &rt->batch;
  while (b->cursor < b->n && !rt->failed) {
    int rc = keyed ? sl_lua_host_run_keyed_batch(&rt->lua, b, &rt->out_buf, err, sizeof err)
                   : sl_lua_host_run_batch(&rt->lua, b, &rt->out_buf, err, sizeof err);
    if (rc == 0)
      break;
    sl_rec *r = &b->recs[b->cursor];
    if (rc < 0) {
      sl_runtime_fail(rt, "%s:%llu: %s", input_of(input, r, name, sizeof name),
                      (unsigned long long)r->line_no, err);
      break;
    }
    reject(rt, input_of(input, r, name, sizeof name), r->line_no, err, r->line, r->len);
    b->cursor++;
  }
  if (rt->failed) {
    sl_batch_reset(b);
    return;
  }
  sl_timer_service_after_batch(rt); /* timers the batch made due (event time) fire before the output goes */
  sl_runtime_flush_output(rt);
  sl_batch_reset(b);
  sl_checkpoint_after_batch(&rt->ckpt);
}

int sl_runtime_flush_output(sl_runtime *rt) {
  char err[4200];
  if (rt->failed)
    return -1;
  size_t lines = sl_count_newlines(rt->out_buf.data, rt->out_buf.len);
  if (sl_output_write(&rt->out, &rt->out_buf, err, sizeof err)) {
    sl_runtime_fail(rt, "%s", err);
    return -1;
  }
  rt->stats.records_out += lines; /* counted once written: a failed write is not output */
  return 0;
}

/* A parallel subtask that routes in Lua: the filters before the key_by and the key, record by record (one
 * that throws is rejected), then each record goes to its owner (or is dropped), and this subtask runs its
 * own from the key_by on. */
static void route_and_run(sl_runtime *rt, sl_input *in) {
  char err[4096];
  sl_batch *b = &rt->batch;
  uint16_t *owners = sl_task_owners(rt->task);
  while (b->cursor < b->n && !rt->failed) {
    int rc = sl_lua_host_route_batch(&rt->lua, b, owners, err, sizeof err);
    if (rc == 0)
      break;
    sl_rec *r = &b->recs[b->cursor];
    if (rc < 0) {
      sl_runtime_fail(rt, "%s:%llu: %s", in->name, (unsigned long long)r->line_no, err);
      break;
    }
    reject(rt, in->name, r->line_no, err, r->line, r->len);
    owners[b->cursor++] = SL_ROUTE_DROP;
  }
  if (rt->failed) {
    sl_batch_reset(b);
    return;
  }
  b->cursor = 0;
  sl_task_distribute(rt->task, b, owners, in->source_index);
  run_batch(rt, in->name, 1);
}

static void next_batch(sl_runtime *rt, sl_input *in) {
  if (rt->task && rt->lua.job.exchange == SL_EXCHANGE_LUA)
    route_and_run(rt, in);
  else
    run_batch(rt, in->name, 0);
}

void sl_runtime_consume(sl_runtime *rt, sl_input *in, int at_eof) {
  sl_line line;
  sl_json_error jerr;
  char reason[256];
  if (rt->failed)
    return;
  uint64_t in0 = rt->stats.records_in, err0 = rt->stats.errors; /* this read's, for its source's counts */
  const sl_rec_meta *meta = in->meta; /* the next line's, when the source has metadata */
  while (!rt->failed && sl_line_reader_next(&in->reader, &line, at_eof)) {
    const sl_rec_meta *m = meta ? meta++ : NULL;
    rt->stats.records_in++;
    if (line.too_long) {
      snprintf(reason, sizeof reason, "line longer than %zu bytes (--max-line-bytes); skipped",
               rt->opts->max_line_bytes);
      reject(rt, in->name, line.line_no, reason, line.text, line.len > 256 ? 256 : line.len);
      continue;
    }
    if (blank(line.text, line.len)) {
      rt->stats.records_in--;
      continue;
    }
    if (sl_batch_add(&rt->batch, line.text, line.len, line.line_no, in->source_index, &jerr)) {
      snprintf(reason, sizeof reason, "invalid JSON at byte %zu: %s", jerr.offset, jerr.reason);
      reject(rt, in->name, line.line_no, reason, line.text, line.len);
      continue;
    }
    rt->batch.recs[rt->batch.n - 1].meta = m;
    /* A parallel subtask sends the records of keys it does not own to their subtask. */
    if (rt->task && sl_task_route(rt->task, &rt->batch, in->source_index))
      continue;
    if (sl_batch_full(&rt->batch))
      next_batch(rt, in);
  }
  if (rt->batch.n > 0 && !rt->failed)
    next_batch(rt, in);
  if (rt->task && !rt->failed)
    sl_task_flush_routed(rt->task);
  sl_line_reader_compact(&in->reader);
  sl_metrics_count_input(rt->publisher, in->source_index, rt->stats.records_in - in0,
                         rt->stats.errors - err0);
}

void sl_runtime_run_packet(sl_runtime *rt, const char *input, const sl_packet *p) {
  /* The sending subtask validated and indexed these lines: they go into the batch as they are. */
  uint64_t err0 = rt->stats.errors;
  for (uint32_t i = 0; i < p->n && !rt->failed; i++) {
    const sl_packet_rec *r = &p->recs[i];
    sl_batch_add_indexed(&rt->batch, p->bytes + r->off, r->len, r->line_no, p->source, p->fields + r->field0,
                         r->nfields, r->meta >= 0 ? &p->metas[r->meta] : NULL);
    if (r->key_index >= 0 && rt->lua.job.key_field_interned)
      sl_batch_last_memo(&rt->batch, rt->lua.job.key_field_interned, r->key_index);
    if (sl_batch_full(&rt->batch))
      run_batch(rt, input, 1);
  }
  if (rt->batch.n > 0 && !rt->failed)
    run_batch(rt, input, 1);
  sl_metrics_count_input(rt->publisher, p->source, 0, rt->stats.errors - err0); /* rejects of its source */
}
