/* runtime.c — sets a job up, runs its loop, commits, and tears it down (see runtime.h).
 *
 * Start-up order matters: the script runs first (it names the job, hence the default state dir, and its
 * sources and sink), then the state backend opens, then the output is cut back to its committed size and
 * the sources seek to their committed offsets — all from the same committed LMDB snapshot. */
#include "core/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/output.h"
#include "core/source.h"

#define BATCH_RECORDS 4096
#define EXIT_RUNTIME 1
#define EXIT_SETUP 2

int sl_runtime_commit(sl_runtime *rt, int durable) {
  int rc = sl_output_prepare_commit(&rt->out, rt->backend, durable);
  for (int i = 0; rc == 0 && i < rt->nsources; i++)
    if (sl_source_save_offset(rt->sources[i]) != SL_STATE_OK)
      rc = -1;
  if (rc == 0) {
    int st = sl_backend_commit(rt->backend, durable);
    if (st != SL_STATE_OK) {
      sl_error("commit of state and offsets failed (%s: %s); the job goes on and retries at the next commit",
               sl_state_strerror(st), sl_backend_last_error(rt->backend));
      rc = -1;
    }
  }
  if (rc == 0)
    rt->stats.commits++;
  else
    rt->stats.commit_failures++;
  return rc;
}

static void on_commit_timer(uv_timer_t *t) {
  sl_runtime_commit(t->data, 1);
}

void sl_runtime_stop(sl_runtime *rt) {
  if (rt->stopping)
    return;
  rt->stopping = 1;
  for (int i = 0; i < rt->nsources; i++)
    sl_source_close(rt->sources[i]);
  uv_timer_stop(&rt->commit_timer);
  uv_close((uv_handle_t *)&rt->commit_timer, NULL);
  uv_close((uv_handle_t *)&rt->sigint, NULL);
  uv_close((uv_handle_t *)&rt->sigterm, NULL);
}

void sl_runtime_source_done(sl_runtime *rt) {
  if (++rt->sources_done == rt->nsources)
    sl_runtime_stop(rt);
}

static void on_signal(uv_signal_t *h, int signum) {
  sl_runtime *rt = h->data;
  sl_info("signal %d: stopping after a final commit", signum);
  sl_runtime_stop(rt);
}

static int make_dirs(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(tmp, 0755) && errno != EEXIST)
        return -1;
      *p = '/';
    }
  }
  return mkdir(tmp, 0755) && errno != EEXIST ? -1 : 0;
}

static int open_state(sl_runtime *rt) {
  char err[512];
  if (rt->opts->state_dir) {
    rt->state_dir = strdup(rt->opts->state_dir);
  } else {
    size_t n = strlen(rt->lua.job.name) + 32;
    rt->state_dir = malloc(n);
    snprintf(rt->state_dir, n, "./sluice-state/%s", rt->lua.job.name);
  }
  if (make_dirs(rt->state_dir)) {
    sl_error("cannot create state dir '%s': %s", rt->state_dir, strerror(errno));
    return -1;
  }
  sl_backend_options bo = {0, 0};
  int rc = sl_backend_open(&rt->backend, rt->state_dir, &bo, err, sizeof err);
  if (rc != SL_STATE_OK) {
    sl_error("cannot open state dir '%s': %s", rt->state_dir, err);
    return -1;
  }
  return 0;
}

static int setup(sl_runtime *rt) {
  char err[4096];
  const sl_run_options *o = rt->opts;
  sl_host_config hc = {o->script, o->inputs, o->ninputs, o->output, o->state_dir, o->script_args,
                       o->nscript_args};
  if (access(o->script, R_OK) != 0) {
    sl_error("cannot read script '%s': %s", o->script, strerror(errno));
    return -1;
  }
  if (sl_lua_host_open(&rt->lua, &hc, err, sizeof err)) {
    sl_error("%s", err);
    return -1;
  }
  if (open_state(rt))
    return -1;
  if (o->dead_letter) {
    rt->dead_letter_fd = open(o->dead_letter, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (rt->dead_letter_fd < 0) {
      sl_error("cannot open dead-letter file '%s': %s", o->dead_letter, strerror(errno));
      return -1;
    }
  }
  if (sl_output_open(&rt->out, &rt->lua.job.sink, rt->backend, err, sizeof err)) {
    sl_error("%s", err);
    return -1;
  }
  rt->sources = calloc((size_t)rt->lua.job.nsources, sizeof *rt->sources);
  for (int i = 0; i < rt->lua.job.nsources; i++) {
    rt->sources[i] = sl_source_open(rt, i, &rt->lua.job.sources[i], err, sizeof err);
    if (!rt->sources[i]) {
      sl_error("%s", err);
      return -1;
    }
    rt->nsources++;
  }
  if (sl_batch_init(&rt->batch, BATCH_RECORDS)) {
    sl_error("out of memory");
    return -1;
  }
  if (sl_lua_host_start(&rt->lua, rt->backend, &rt->out_buf, err, sizeof err)) {
    sl_error("%s", err);
    return -1;
  }
  return 0;
}

static void start(sl_runtime *rt) {
  uv_timer_init(rt->loop, &rt->commit_timer);
  rt->commit_timer.data = rt;
  if (rt->opts->checkpoint_interval_ms > 0)
    uv_timer_start(&rt->commit_timer, on_commit_timer, (uint64_t)rt->opts->checkpoint_interval_ms,
                   (uint64_t)rt->opts->checkpoint_interval_ms);
  uv_signal_init(rt->loop, &rt->sigint);
  uv_signal_init(rt->loop, &rt->sigterm);
  rt->sigint.data = rt->sigterm.data = rt;
  uv_signal_start(&rt->sigint, on_signal, SIGINT);
  uv_signal_start(&rt->sigterm, on_signal, SIGTERM);
  for (int i = 0; i < rt->nsources; i++)
    if (sl_source_start(rt->sources[i])) {
      rt->failed = 1;
      sl_runtime_stop(rt);
      return;
    }
  if (rt->nsources == 0)
    sl_runtime_stop(rt);
}

static void teardown(sl_runtime *rt) {
  for (int i = 0; i < rt->nsources; i++)
    sl_source_free(rt->sources[i]);
  free(rt->sources);
  sl_output_close(&rt->out);
  if (rt->dead_letter_fd > 0)
    close(rt->dead_letter_fd);
  sl_lua_host_close(&rt->lua); /* before the backend: Lua's GC frees key scopes that point into it */
  sl_backend_close(rt->backend);
  sl_batch_free(&rt->batch);
  sl_buf_free(&rt->out_buf);
  free(rt->state_dir);
}

int sl_runtime_run(const sl_run_options *opts) {
  sl_runtime rt;
  int status = 0;
  memset(&rt, 0, sizeof rt);
  rt.opts = opts;
  rt.dead_letter_fd = -1;
  rt.out.fd = -1;
  sl_buf_init(&rt.out_buf);
  signal(SIGPIPE, SIG_IGN);
  rt.loop = uv_default_loop();
  if (setup(&rt)) {
    teardown(&rt);
    uv_run(rt.loop, UV_RUN_NOWAIT);
    uv_loop_close(rt.loop);
    return EXIT_SETUP;
  }
  start(&rt);
  uv_run(rt.loop, UV_RUN_DEFAULT);
  if (!rt.failed || rt.stats.records_in > 0) {
    if (sl_output_write(&rt.out, &rt.out_buf) || sl_runtime_commit(&rt, 1))
      rt.failed = 1;
  }
  if (rt.failed)
    status = EXIT_RUNTIME;
  if (!opts->quiet)
    sl_info("done: %llu records in, %llu out, %llu rejected, %llu commits%s",
            (unsigned long long)rt.stats.records_in, (unsigned long long)rt.stats.records_out,
            (unsigned long long)rt.stats.errors, (unsigned long long)rt.stats.commits,
            rt.failed ? " (failed)" : "");
  teardown(&rt);
  uv_loop_close(rt.loop);
  return status;
}
