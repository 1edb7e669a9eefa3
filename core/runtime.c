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
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/output.h"
#include "core/savepoint.h"
#include "core/source.h"

#define BATCH_RECORDS 4096
#define EXIT_RUNTIME 1
#define EXIT_SETUP 2

static void on_commit_timer(uv_timer_t *t) {
  sl_runtime *rt = t->data;
  sl_checkpoint_trigger(&rt->ckpt, 0);
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
  uv_close((uv_handle_t *)&rt->sigusr1, NULL);
  sl_reload_stop(&rt->reload); /* hot reload: its timer, SIGHUP and file watches */
  sl_timer_service_stop(rt);   /* timers: the processing-time uv_timer (pending timers stay in the state) */
}

void sl_runtime_source_done(sl_runtime *rt) {
  if (++rt->sources_done == rt->nsources) {
    sl_timer_service_end_of_input(rt); /* timers: the end of the input fires every event-time timer */
    sl_runtime_stop(rt);
  }
}

static void on_signal(uv_signal_t *h, int signum) {
  sl_runtime *rt = h->data;
  sl_info("signal %d: stopping after a final checkpoint", signum);
  sl_runtime_stop(rt);
}

/* SIGUSR1: `sluice savepoint` left its target path in STATE-DIR/savepoint.request. */
static void on_savepoint_signal(uv_signal_t *h, int signum) {
  sl_runtime *rt = h->data;
  (void)signum;
  if (sl_savepoint_take_request(rt->state_dir, rt->ckpt.pending_savepoint, sizeof rt->ckpt.pending_savepoint))
    return;
  sl_info("savepoint requested: %s", rt->ckpt.pending_savepoint);
  if (sl_checkpoint_trigger(&rt->ckpt, 0) == 1)
    sl_info("a checkpoint is in flight; the savepoint comes with the next one");
}

/* Restore filter: state of an operator the job no longer has is refused, or dropped when allowed. */
static int keep_state(const char *op_uid, const char *state_name, void *arg) {
  sl_runtime *rt = arg;
  for (int i = 0; i < rt->lua.job.nuids; i++)
    if (!strcmp(rt->lua.job.uids[i], op_uid))
      return 1;
  if (rt->opts->allow_non_restored)
    sl_warn("dropping state '%s' of operator '%s': the job has no such operator", state_name, op_uid);
  else
    rt->non_restored++;
  if (!rt->opts->allow_non_restored)
    sl_error("the restored state has state '%s' of operator '%s', which the job no longer has "
             "(rename it back, or pass --allow-non-restored-state to drop it)",
             state_name, op_uid);
  return 0;
}

/* One job per state dir: an flock held for the job's life, and the pid for `sluice savepoint`. */
static int lock_state_dir(sl_runtime *rt) {
  char path[4200], pid[32];
  snprintf(path, sizeof path, "%s/lock", rt->state_dir);
  rt->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (rt->lock_fd < 0 || flock(rt->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    sl_error("state dir '%s' is in use by another sluice job (%s)", rt->state_dir,
             rt->lock_fd < 0 ? strerror(errno) : "locked");
    return -1;
  }
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(rt->lock_fd, 0) != 0 || pwrite(rt->lock_fd, pid, (size_t)n, 0) != n)
    sl_warn("cannot record the pid in %s", path);
  return 0;
}

int sl_runtime_open_backend(sl_runtime *rt, char *err, size_t errlen) {
  /* The map is only address space (the file grows as needed); it is large because LMDB cannot resize it
   * while a snapshot's read view is open. */
  sl_backend_options bo = {0, (size_t)16 << 30};
  char why[512];
  if (sl_backend_open(&rt->backend, rt->state_dir, &bo, why, sizeof why) != SL_STATE_OK) {
    snprintf(err, errlen, "cannot open state dir '%s': %s", rt->state_dir, why);
    return -1;
  }
  return 0;
}

static int open_state(sl_runtime *rt) {
  char err[1024];
  if (rt->opts->state_dir) {
    rt->state_dir = strdup(rt->opts->state_dir);
  } else {
    size_t n = strlen(rt->lua.job.name) + 32;
    rt->state_dir = malloc(n);
    snprintf(rt->state_dir, n, "./sluice-state/%s", rt->lua.job.name);
  }
  int mk = sl_make_dirs(rt->state_dir);
  if (mk) {
    sl_error("cannot create state dir '%s': %s", rt->state_dir, strerror(mk));
    return -1;
  }
  if (lock_state_dir(rt))
    return -1;
  rt->ckpt.rt = rt;
  rt->ckpt.retain = (int)rt->opts->retain_checkpoints;
  rt->ckpt.incremental = rt->opts->incremental;
  if (sl_checkpoint_recover(&rt->ckpt, rt->state_dir, rt->opts->from_savepoint, keep_state, rt, &rt->restored,
                            &rt->have_restored))
    return -1;
  if (rt->non_restored)
    return -1;
  if (sl_runtime_open_backend(rt, err, sizeof err)) {
    sl_error("%s", err);
    return -1;
  }
  return 0;
}

void sl_runtime_host_config(const sl_runtime *rt, sl_host_config *hc) {
  const sl_run_options *o = rt->opts;
  sl_host_config c = {o->script,    o->inputs,      o->ninputs,     o->output,
                      o->state_dir, o->script_args, o->nscript_args};
  *hc = c;
}

static int setup(sl_runtime *rt) {
  char err[4096];
  const sl_run_options *o = rt->opts;
  sl_host_config hc;
  sl_runtime_host_config(rt, &hc);
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
  char pending[4200];
  snprintf(pending, sizeof pending, "%s/pending", rt->state_dir);
  if (sl_output_open(&rt->out, &rt->lua.job.sink, pending, err, sizeof err) ||
      sl_output_recover(&rt->out, rt->have_restored ? &rt->restored : NULL, rt->ckpt.next_id, err,
                        sizeof err)) {
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
  uv_signal_init(rt->loop, &rt->sigusr1);
  rt->sigusr1.data = rt;
  uv_signal_start(&rt->sigusr1, on_savepoint_signal, SIGUSR1);
  sl_reload_start(&rt->reload, rt); /* hot reload: SIGHUP and (unless --no-watch) the script's files */
  sl_timer_service_start(rt);       /* timers: fires restored due timers, then arms for the next one */
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
  sl_lua_host_close(&rt->lua);    /* before the backend: Lua's GC frees key scopes that point into it */
  sl_checkpoint_close(&rt->ckpt); /* it may still point into the backend */
  sl_backend_close(rt->backend);
  sl_batch_free(&rt->batch);
  sl_buf_free(&rt->out_buf);
  free(rt->state_dir);
  if (rt->lock_fd > 0)
    close(rt->lock_fd);
}

int sl_runtime_run(const sl_run_options *opts) {
  sl_runtime rt;
  int status = 0;
  memset(&rt, 0, sizeof rt);
  rt.opts = opts;
  rt.dead_letter_fd = -1;
  rt.out.fd = -1;
  rt.out.part_fd = -1;
  rt.lock_fd = -1;
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
  /* The final checkpoint: everything read is in it, and the file output is committed. */
  if (!rt.failed && sl_checkpoint_trigger(&rt.ckpt, 1) != 0)
    rt.failed = 1;
  if (rt.failed)
    status = EXIT_RUNTIME;
  if (!opts->quiet)
    sl_info("done: %llu records in, %llu out, %llu rejected; checkpoints: %llu complete, %llu failed, %llu "
            "skipped%s",
            (unsigned long long)rt.stats.records_in, (unsigned long long)rt.stats.records_out,
            (unsigned long long)rt.stats.errors, (unsigned long long)rt.ckpt.completed,
            (unsigned long long)rt.ckpt.failed, (unsigned long long)rt.ckpt.skipped,
            rt.failed ? " (failed)" : "");
  teardown(&rt);
  uv_loop_close(rt.loop);
  return status;
}
