/* test_harness.c — a job script run by hand for users' unit tests (see test_harness.h).
 *
 * Each step is the one core/ takes in a run, in the same order: a batch goes through
 * sl_lua_host_run_batch with a failing record rejected and the batch resumed after it (core/record_path.c),
 * then the timers fire (core/timer_service.c); a checkpoint runs the snapshot hooks, commits and writes a
 * full snapshot (core/checkpoint.c); a restart loads that snapshot into a fresh working environment
 * (core/recovery.c) and starts a fresh VM on it. */
#include "lua/test_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/record/record_batch.h"
#include "lua/lua_host.h"
#include "state/state_snapshot.h"

struct sl_harness {
  sl_lua_host host;
  int host_open;
  sl_backend *backend;
  sl_buf out, rejects;
  int64_t now;
  uint64_t line_no, checkpoints;
  uint64_t last_bytes, last_entries; /* what the last checkpoint's snapshot holds */
  unsigned max_parallelism;
  char *script, **args;
  int nargs;
  char dir[4096], state_dir[4200];
  char *failed; /* the job's failure: every later call fails with it */
};

static void set_err(char *err, size_t errlen, const char *msg) {
  snprintf(err, errlen, "%s", msg);
}

/* Records the job's failure (once) and returns -1 with it in err. */
static int fail(sl_harness *h, const char *msg, char *err, size_t errlen) {
  if (!h->failed)
    h->failed = strdup(msg);
  set_err(err, errlen, h->failed ? h->failed : msg);
  return -1;
}

static int check_failed(sl_harness *h, char *err, size_t errlen) {
  if (!h->failed)
    return 0;
  set_err(err, errlen, h->failed);
  return -1;
}

static void put_reject(sl_harness *h, uint64_t line_no, const char *reason, const char *text, size_t len) {
  sl_buf *b = &h->rejects;
  if (text) {
    sl_buf_put(b, "{\"line\": ", 9);
    sl_buf_put_int64(b, (int64_t)line_no);
    sl_buf_put(b, ", \"error\": ", 11);
  } else {
    sl_buf_put(b, "{\"error\": ", 10);
  }
  sl_buf_put_json_string(b, reason, strlen(reason));
  if (text) {
    sl_buf_put(b, ", \"record\": ", 12);
    sl_buf_put_json_string(b, text, len);
  }
  sl_buf_put(b, "}\n", 2);
}

static void on_timer_error(void *arg, const char *msg) {
  put_reject(arg, 0, msg, NULL, 0);
}

static int fire(sl_harness *h, int end_of_input, char *err, size_t errlen) {
  int64_t next;
  uint64_t late;
  char why[4096];
  if (sl_lua_host_fire_timers(&h->host, h->now, end_of_input, &next, &late, on_timer_error, h, why,
                              sizeof why))
    return fail(h, why, err, errlen);
  return 0;
}

static int open_backend(sl_harness *h, char *err, size_t errlen) {
  sl_backend_options bo = {0, sl_backend_map_reserve()};
  char why[512];
  if (sl_backend_open(&h->backend, h->state_dir, &bo, why, sizeof why) != SL_STATE_OK) {
    h->backend = NULL;
    snprintf(err, errlen, "cannot open state dir '%s': %s", h->state_dir, why);
    return -1;
  }
  return 0;
}

/* A fresh VM on the script, started on h->backend. */
static int start_job(sl_harness *h, char *err, size_t errlen) {
  sl_host_config hc = {h->script, NULL, 0, NULL, h->state_dir, h->args, h->nargs};
  if (sl_lua_host_open(&h->host, &hc, err, errlen)) {
    sl_lua_host_close(&h->host);
    return -1;
  }
  h->host_open = 1;
  h->host.clock.fn = sl_clock_manual;
  h->host.clock.arg = &h->now;
  return sl_lua_host_start(&h->host, h->backend, &h->out, h->max_parallelism, err, errlen);
}

sl_harness *sl_harness_open(const char *script, const char *const *args, int nargs, const char *dir,
                            unsigned max_parallelism, int64_t start_ms, char *err, size_t errlen) {
  sl_harness *h = calloc(1, sizeof *h);
  if (!h) {
    set_err(err, errlen, "out of memory");
    return NULL;
  }
  sl_buf_init(&h->out);
  sl_buf_init(&h->rejects);
  h->now = start_ms;
  h->max_parallelism = max_parallelism ? max_parallelism : 128;
  snprintf(h->dir, sizeof h->dir, "%s", dir);
  snprintf(h->state_dir, sizeof h->state_dir, "%s/state", dir);
  h->script = strdup(script);
  h->args = calloc((size_t)nargs + 1, sizeof *h->args);
  int oom = !h->script || !h->args;
  for (int i = 0; !oom && i < nargs; i++, h->nargs++)
    oom = !(h->args[i] = strdup(args[i]));
  if (oom) {
    set_err(err, errlen, "out of memory");
    sl_harness_close(h);
    return NULL;
  }
  int mk = sl_make_dirs(h->state_dir);
  if (mk) {
    snprintf(err, errlen, "cannot create '%s': %s", h->state_dir, strerror(mk));
    sl_harness_close(h);
    return NULL;
  }
  if (open_backend(h, err, errlen) || start_job(h, err, errlen)) {
    sl_harness_close(h);
    return NULL;
  }
  return h;
}

static int blank(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
      return 0;
  return 1;
}

/* Runs the batch as core/record_path.c does: a failing record is rejected and the batch goes on. */
static int run_batch(sl_harness *h, sl_batch *b, char *err, size_t errlen) {
  char why[4096];
  while (b->cursor < b->n) {
    int rc = sl_lua_host_run_batch(&h->host, b, &h->out, why, sizeof why);
    if (rc == 0)
      break;
    const sl_rec *r = &b->recs[b->cursor];
    if (rc < 0) {
      char msg[4200];
      snprintf(msg, sizeof msg, "line %llu: %s", (unsigned long long)r->line_no, why);
      return fail(h, msg, err, errlen);
    }
    put_reject(h, r->line_no, why, r->line, r->len);
    b->cursor++;
  }
  return fire(h, 0, err, errlen);
}

int sl_harness_push(sl_harness *h, const char *const *lines, const size_t *lens, int n, char *err,
                    size_t errlen) {
  return sl_harness_push_meta(h, lines, lens, NULL, n, err, errlen);
}

int sl_harness_push_meta(sl_harness *h, const char *const *lines, const size_t *lens,
                         const sl_rec_meta *metas, int n, char *err, size_t errlen) {
  if (check_failed(h, err, errlen))
    return -1;
  sl_batch b;
  if (sl_batch_init(&b, n > 0 ? (uint32_t)n : 1))
    return fail(h, "out of memory", err, errlen);
  sl_json_error jerr;
  char reason[256];
  for (int i = 0; i < n; i++) {
    uint64_t line_no = ++h->line_no;
    if (blank(lines[i], lens[i]))
      continue;
    if (sl_batch_add(&b, lines[i], lens[i], line_no, 0, &jerr)) {
      snprintf(reason, sizeof reason, "invalid JSON at byte %zu: %s", jerr.offset, jerr.reason);
      put_reject(h, line_no, reason, lines[i], lens[i]);
    } else if (metas) {
      b.recs[b.n - 1].meta = &metas[i]; /* as a Kafka source's sl_input hands it over */
    }
  }
  int rc = run_batch(h, &b, err, errlen);
  sl_batch_free(&b);
  if (rc == 0 && (h->out.oom || h->rejects.oom))
    return fail(h, "out of memory", err, errlen);
  return rc;
}

int sl_harness_set_time(sl_harness *h, int64_t now_ms, char *err, size_t errlen) {
  if (check_failed(h, err, errlen))
    return -1;
  if (now_ms < h->now) {
    snprintf(err, errlen, "processing time cannot go back (from %lld to %lld)", (long long)h->now,
             (long long)now_ms);
    return -1;
  }
  h->now = now_ms;
  return fire(h, 0, err, errlen);
}

int sl_harness_advance_watermark(sl_harness *h, int64_t ts, char *err, size_t errlen) {
  char why[4096];
  if (check_failed(h, err, errlen))
    return -1;
  if (sl_lua_host_set_watermark(&h->host, ts, why, sizeof why))
    return fail(h, why, err, errlen);
  return fire(h, 0, err, errlen);
}

int sl_harness_end_input(sl_harness *h, char *err, size_t errlen) {
  if (check_failed(h, err, errlen))
    return -1;
  return fire(h, 1, err, errlen);
}

static void snap_path(const sl_harness *h, uint64_t id, char *out, size_t len) {
  snprintf(out, len, "%s/chk-%llu.snap", h->dir, (unsigned long long)id);
}

int sl_harness_checkpoint(sl_harness *h, uint64_t *id, char *err, size_t errlen) {
  char why[4096], path[4200];
  if (check_failed(h, err, errlen))
    return -1;
  int hooks = sl_lua_host_snapshot_hooks(&h->host, why, sizeof why);
  if (hooks == -2)
    return fail(h, why, err, errlen);
  if (hooks) { /* a hook's error: a run logs it and takes no checkpoint */
    set_err(err, errlen, why);
    return -1;
  }
  int st = sl_backend_commit(h->backend, 0);
  if (st != SL_STATE_OK) {
    snprintf(why, sizeof why, "state commit failed: %s: %s", sl_state_strerror(st),
             sl_backend_last_error(h->backend));
    return fail(h, why, err, errlen);
  }
  sl_snapshot *s;
  if ((st = sl_snapshot_begin(h->backend, &s)) != SL_STATE_OK) {
    snprintf(why, sizeof why, "cannot open a snapshot: %s", sl_state_strerror(st));
    return fail(h, why, err, errlen);
  }
  uint64_t bytes, entries;
  snap_path(h, h->checkpoints + 1, path, sizeof path);
  snprintf(why, sizeof why, "out of memory listing the TTL states for the snapshot");
  int rc =
      sl_snapshot_drop_expired(s, h->now) || sl_snapshot_write(s, path, &bytes, &entries, why, sizeof why);
  sl_snapshot_end(s);
  if (rc)
    return fail(h, why, err, errlen);
  *id = ++h->checkpoints;
  h->last_bytes = bytes;
  h->last_entries = entries;
  return 0;
}

int sl_harness_last_snapshot(const sl_harness *h, char *path, size_t len, uint64_t *bytes,
                             uint64_t *entries) {
  if (!h->checkpoints)
    return -1;
  snap_path(h, h->checkpoints, path, len);
  *bytes = h->last_bytes;
  *entries = h->last_entries;
  return 0;
}

int sl_harness_restart(sl_harness *h, uint64_t id, char *err, size_t errlen) {
  char path[4200], why[4096];
  if (check_failed(h, err, errlen))
    return -1;
  if (id == 0 || id > h->checkpoints) {
    snprintf(err, errlen, "no checkpoint %llu (this harness took %llu)", (unsigned long long)id,
             (unsigned long long)h->checkpoints);
    return -1;
  }
  sl_lua_host_close(&h->host); /* before the backend: its GC frees key scopes that point into it */
  h->host_open = 0;
  sl_backend_close(h->backend);
  h->backend = NULL;
  sl_buf_reset(&h->out);
  sl_buf_reset(&h->rejects);
  snap_path(h, id, path, sizeof path);
  if (sl_snapshot_load(h->state_dir, path, NULL, NULL, why, sizeof why) || open_backend(h, why, sizeof why) ||
      start_job(h, why, sizeof why))
    return fail(h, why, err, errlen);
  return 0;
}

sl_buf *sl_harness_output(sl_harness *h) {
  return &h->out;
}

sl_buf *sl_harness_rejects(sl_harness *h) {
  return &h->rejects;
}

sl_backend *sl_harness_backend(sl_harness *h) {
  return h->backend;
}

int64_t *sl_harness_clock(sl_harness *h) {
  return &h->now;
}

void sl_harness_close(sl_harness *h) {
  if (!h)
    return;
  if (h->host_open)
    sl_lua_host_close(&h->host);
  if (h->backend)
    sl_backend_close(h->backend);
  sl_buf_free(&h->out);
  sl_buf_free(&h->rejects);
  for (int i = 0; i < h->nargs; i++)
    free(h->args[i]);
  free(h->args);
  free(h->script);
  free(h->failed);
  free(h);
}
