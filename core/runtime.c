/* runtime.c — sets a job up, runs its loop, commits, and tears it down (see runtime.h).
 *
 * Start-up order matters: the script runs first (it names the job, hence the default state dir, and its
 * sources and sink), then the state backend opens, then the output is cut back to its committed size and
 * the sources seek to their committed offsets — all from the same committed LMDB snapshot. */
#include "core/runtime.h"
#include "core/state_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics_publish.h"
#include "core/metrics_service.h"
#include "core/output.h"
#include "core/parallel/task.h"
#include "core/savepoint.h"
#include "core/source.h"
#include "core/state_dir_lock.h"
#include "state/file_modes.h"
#include "state/state_key.h"

#define BATCH_RECORDS 4096
#define EXIT_RUNTIME 1
#define EXIT_SETUP 2

static void on_commit_timer(uv_timer_t *t) {
  sl_runtime *rt = t->data;
  sl_checkpoint_trigger(&rt->ckpt, SL_CHECKPOINT_ASYNC);
}

/* Closes a handle of the runtime's that start() may or may not have initialised (it was zeroed before:
 * libuv sets its loop on a successful init). */
static void close_if_initialised(uv_handle_t *h) {
  if (h->loop && !uv_is_closing(h))
    uv_close(h, NULL);
}

void sl_runtime_stop(sl_runtime *rt) {
  if (rt->stopping)
    return;
  rt->stopping = 1;
  for (int i = 0; i < rt->nsources; i++)
    sl_source_close(rt->sources[i]);
  close_if_initialised((uv_handle_t *)&rt->commit_timer);
  close_if_initialised((uv_handle_t *)&rt->sigint);
  close_if_initialised((uv_handle_t *)&rt->sigterm);
  close_if_initialised((uv_handle_t *)&rt->sigusr1);
  sl_bg_worker_stop(&rt->ckpt.worker); /* once a checkpoint in flight is done */
  sl_reload_stop(&rt->reload);         /* hot reload: its timer, SIGHUP and file watches */
  sl_timer_service_stop(rt); /* timers: the processing-time uv_timer (pending timers stay in the state) */
  if (rt->publisher)
    sl_metrics_publisher_stop(rt->publisher); /* metrics: a last publish, and its timer closes */
  if (rt->on_stop)
    rt->on_stop(rt);
}

void sl_runtime_fail(sl_runtime *rt, const char *fmt, ...) {
  if (!rt->failed) {
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sl_error("%s; the job stops (a restart resumes from the last complete checkpoint)", msg);
  }
  rt->failed = 1;
  sl_runtime_stop(rt);
  if (rt->task)
    sl_task_failed(rt->task);
}

void sl_runtime_source_done(sl_runtime *rt) {
  if (rt->task) { /* a subtask: the job decides when the job's input has ended */
    if (++rt->sources_done == rt->nsources)
      sl_task_sources_done(rt->task);
    return;
  }
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

/* SIGUSR1: `sluice savepoint` left a request in STATE-DIR/savepoint-requests (core/savepoint.h). */
static void on_savepoint_signal(uv_signal_t *h, int signum) {
  (void)signum;
  sl_savepoint_serve(h->data);
}

/* Restore filter: state of an operator the job no longer has is refused, or dropped when allowed. */
int sl_runtime_keep_state(const char *op_uid, const char *state_name, void *arg) {
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

/* One job per state dir: STATE-DIR/lock, held for the job's life (core/state_dir_lock.h). */
static int lock_state_dir(sl_runtime *rt) {
  long holder = 0;
  rt->lock_fd = sl_state_dir_lock_take(rt->state_dir, &holder);
  if (rt->lock_fd >= 0)
    return 0;
  if (errno != EWOULDBLOCK)
    sl_error("cannot lock state dir '%s': %s", rt->state_dir, strerror(errno));
  else if (holder > 0)
    sl_error("state dir '%s' is in use by another sluice job (pid %ld)", rt->state_dir, holder);
  else
    sl_error("state dir '%s' is in use by another sluice job (locked)", rt->state_dir);
  return -1;
}

int sl_runtime_open_backend(sl_runtime *rt, char *err, size_t errlen) {
  /* The map is only address space (the file grows as needed); it is large because LMDB cannot resize it
   * while a snapshot's read view is open — and smaller under an address-space limit. */
  sl_backend_options bo = {(size_t)rt->opts->state_cache_mb << 20, sl_backend_map_reserve()};
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
    if ((rt->state_dir = malloc(n)))
      snprintf(rt->state_dir, n, "./sluice-state/%s", rt->lua.job.name);
  }
  if (!rt->state_dir) {
    sl_error("out of memory");
    return -1;
  }
  int mk = sl_make_dirs(rt->state_dir);
  if (mk) {
    sl_error("cannot create state dir '%s': %s", rt->state_dir, strerror(mk));
    return -1;
  }
  /* Owner only, whatever the umask or an older sluice left (it holds users' records). */
  if (chmod(rt->state_dir, SL_STATE_DIR_MODE) != 0) {
    sl_error("cannot make state dir '%s' private (chmod 0700): %s", rt->state_dir, strerror(errno));
    return -1;
  }
  if (lock_state_dir(rt))
    return -1;
  rt->ckpt.rt = rt;
  rt->ckpt.retain = (int)rt->opts->retain_checkpoints;
  rt->ckpt.incremental = rt->opts->incremental;
  sl_state_dir_path(rt->state_dir, "pending", rt->pending_dir, sizeof rt->pending_dir);
  if (sl_checkpoint_recover(&rt->ckpt, rt->state_dir, rt->pending_dir, rt->opts->from_savepoint, sl_runtime_keep_state,
                            rt, &rt->restored, &rt->have_restored))
    return -1;
  if (rt->non_restored)
    return -1;
  if (rt->have_restored) {
    /* Keyed state is stored under hash(key) % max_parallelism: another M would look every key up in
     * another key group, and find nothing. Version 1 metadata predates the option: the default then. */
    uint64_t m = rt->restored.max_parallelism ? rt->restored.max_parallelism : SL_DEFAULT_MAX_PARALLELISM;
    if (m != (uint64_t)rt->opts->max_parallelism) {
      sl_error(
          "%s %llu was taken with --max-parallelism %llu, and this run asks for %ld: keyed state is stored "
          "by key group (hash %% max parallelism), so it is fixed for the life of the state; run with "
          "--max-parallelism %llu",
          rt->opts->from_savepoint ? "savepoint of checkpoint" : "checkpoint",
          (unsigned long long)rt->restored.id, (unsigned long long)m, rt->opts->max_parallelism,
          (unsigned long long)m);
      return -1;
    }
  }
  if (sl_runtime_open_backend(rt, err, sizeof err)) {
    sl_error("%s", err);
    return -1;
  }
  return 0;
}

/* The directories this start may have created (the state dir, its checkpoints and pending dirs) are made
 * durable before any checkpoint relies on them: after a power loss, a complete checkpoint's _metadata must
 * still be reachable by name. 0, or -1 with the reason in err. */
static int sync_state_dir_names(const sl_runtime *rt, char *err, size_t errlen) {
  const char *dirs[] = {rt->ckpt.dir, rt->pending_dir, rt->state_dir};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
    if (sl_fsync_dir(dirs[i]) != 0 && !(errno == ENOENT && dirs[i] == rt->pending_dir)) {
      snprintf(err, errlen, "cannot sync directory '%s': %s", dirs[i], strerror(errno));
      return -1;
    }
  if (sl_fsync_parent(rt->state_dir) != 0) {
    snprintf(err, errlen, "cannot sync the directory of '%s': %s", rt->state_dir, strerror(errno));
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

int sl_runtime_setup_job_side(sl_runtime *rt) {
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
  if (sl_output_open(&rt->out, &rt->lua.job.sink, rt->pending_dir, err, sizeof err) ||
      sl_output_recover(&rt->out, rt->have_restored ? &rt->restored : NULL, rt->ckpt.next_id,
                        rt->opts->overwrite_output, err, sizeof err) ||
      sync_state_dir_names(rt, err, sizeof err)) {
    sl_error("%s", err);
    return -1;
  }
  return 0;
}

static int setup(sl_runtime *rt) {
  char err[4096];
  const sl_run_options *o = rt->opts;
  if (sl_runtime_setup_job_side(rt))
    return -1;
  rt->sources = calloc((size_t)rt->lua.job.nsources + 1, sizeof *rt->sources);
  if (!rt->sources) {
    sl_error("out of memory");
    return -1;
  }
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
  if (sl_lua_host_start(&rt->lua, rt->backend, &rt->out_buf, (unsigned)o->max_parallelism, err, sizeof err)) {
    sl_error("%s", err);
    return -1;
  }
  return 0;
}

int sl_runtime_task_setup(sl_runtime *rt, uv_loop_t *loop, const char *task_dir, unsigned index, unsigned n,
                          char *err, size_t errlen) {
  const sl_run_options *o = rt->opts;
  sl_host_config hc;
  char pending[4200];
  rt->loop = loop;
  rt->dead_letter_fd = -1;
  rt->out.fd = -1;
  rt->out.part_fd = -1;
  rt->lock_fd = -1;
  sl_buf_init(&rt->out_buf);
  sl_runtime_host_config(rt, &hc);
  if (sl_lua_host_open(&rt->lua, &hc, err, errlen))
    return -1;
  rt->lua.subtask = index;
  rt->lua.parallelism = n;
  if (!(rt->state_dir = strdup(task_dir))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (sl_runtime_open_backend(rt, err, errlen))
    return -1;
  const sl_job_desc *d = &rt->lua.job;
  if (o->dead_letter) {
    rt->dead_letter_fd = open(o->dead_letter, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (rt->dead_letter_fd < 0) {
      snprintf(err, errlen, "cannot open dead-letter file '%s': %s", o->dead_letter, strerror(errno));
      return -1;
    }
  }
  sl_state_dir_path(task_dir, "pending", pending, sizeof pending);
  if (sl_output_open(&rt->out, &d->sink, pending, err, errlen) ||
      sl_output_start_parts(&rt->out, rt->ckpt.next_id, err, errlen))
    return -1;
  rt->ckpt.rt = rt;
  rt->ckpt.carry_first = rt->ckpt.next_id;
  rt->ckpt.incremental = o->incremental; /* each subtask's deltas chain to its own last full snapshot */
  rt->ckpt.force_full = 1;                /* the first after a start is full */
  if (!(rt->sources = calloc((size_t)d->nsources + 1, sizeof *rt->sources))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* Every subtask opens every file: the file source decides which part is its own (core/source_splits.h);
   * stdin, TCP and Kafka are read by subtask i % n. */
  for (int i = 0; i < d->nsources; i++) {
    if (d->sources[i].kind != SL_EP_FILE && (unsigned)i % n != index) {
      /* A Kafka source's offsets are its reader's: a copy the restore gave this subtask is marked. */
      if (sl_source_forget_offset(rt->backend, &d->sources[i]) != SL_STATE_OK) {
        snprintf(err, errlen, "the state backend failed: %s", sl_backend_last_error(rt->backend));
        return -1;
      }
      continue;
    }
    if (!(rt->sources[rt->nsources] = sl_source_open(rt, i, &d->sources[i], err, errlen)))
      return -1;
    rt->nsources++;
  }
  if (sl_batch_init(&rt->batch, BATCH_RECORDS)) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return sl_lua_host_start(&rt->lua, rt->backend, &rt->out_buf, (unsigned)o->max_parallelism, err, errlen);
}

/* Metrics (core/metrics_publish.h): the runtime's figures into its slot of the job's registry. */
static int start_publisher(sl_runtime *rt, char *err, size_t errlen) {
  if (!rt->metrics)
    return 0;
  if (!(rt->publisher = calloc(1, sizeof *rt->publisher))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return sl_metrics_publisher_start(rt->publisher, rt, rt->metrics, rt->metrics_task, !rt->task, err, errlen);
}

int sl_runtime_task_start(sl_runtime *rt, char *err, size_t errlen) {
  if (sl_bg_worker_start(&rt->ckpt.worker, rt->loop, err, errlen) || start_publisher(rt, err, errlen))
    return -1;
  sl_timer_service_start(rt);
  for (int i = 0; i < rt->nsources; i++)
    if (sl_source_start(rt->sources[i], err, errlen))
      return -1;
  if (rt->nsources == 0)
    sl_task_sources_done(rt->task);
  return 0;
}

static int start_signal(sl_runtime *rt, uv_signal_t *h, uv_signal_cb cb, int signum) {
  int rc = uv_signal_init(rt->loop, h);
  h->data = rt;
  return rc ? rc : uv_signal_start(h, cb, signum);
}

/* Starts the loop's handles and the sources. 0, or -1 with the reason in err (exit status 2). */
static int start(sl_runtime *rt, char *err, size_t errlen) {
  int rc = 0;
  uv_timer_init(rt->loop, &rt->commit_timer); /* a timer's init cannot fail */
  rt->commit_timer.data = rt;
  if (rt->opts->checkpoint_interval_ms > 0)
    rc = uv_timer_start(&rt->commit_timer, on_commit_timer, (uint64_t)rt->opts->checkpoint_interval_ms,
                        (uint64_t)rt->opts->checkpoint_interval_ms);
  if (!rc)
    rc = start_signal(rt, &rt->sigint, on_signal, SIGINT);
  if (!rc)
    rc = start_signal(rt, &rt->sigterm, on_signal, SIGTERM);
  if (!rc)
    rc = start_signal(rt, &rt->sigusr1, on_savepoint_signal, SIGUSR1);
  if (rc) {
    snprintf(err, errlen, "cannot set up the event loop: %s", uv_strerror(rc));
    return -1;
  }
  if (sl_bg_worker_start(&rt->ckpt.worker, rt->loop, err, errlen) || start_publisher(rt, err, errlen))
    return -1;
  /* hot reload: SIGHUP and (unless --no-watch) the script's files */
  if (sl_reload_start(&rt->reload, rt, err, errlen))
    return -1;
  sl_timer_service_start(rt); /* timers: fires restored due timers, then arms for the next one */
  for (int i = 0; i < rt->nsources; i++)
    if (sl_source_start(rt->sources[i], err, errlen))
      return -1;
  if (rt->nsources == 0)
    sl_runtime_stop(rt);
  return 0;
}

/* libuv aborts the process when it cannot get the descriptors of its signal pipes, and every input, the
 * output, LMDB and each checkpoint need one: so a start under a tiny `ulimit -n` raises the soft limit up
 * to the hard one, and refuses with a clear message below what a job needs. */
#define MIN_OPEN_FILES 64

int sl_runtime_ensure_open_files(char *err, size_t errlen) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= MIN_OPEN_FILES)
    return 0;
  rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= MIN_OPEN_FILES ? MIN_OPEN_FILES : rl.rlim_max;
  rl.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && want >= MIN_OPEN_FILES)
    return 0;
  snprintf(err, errlen,
           "too few open files allowed (ulimit -n %llu, hard limit %llu): sluice needs at least %d",
           (unsigned long long)want, (unsigned long long)rl.rlim_max, MIN_OPEN_FILES);
  return -1;
}

void sl_runtime_teardown(sl_runtime *rt) {
  if (rt->publisher) /* its timer closed at stop, and the loop ran since */
    sl_metrics_publisher_free(rt->publisher);
  free(rt->publisher);
  rt->publisher = NULL;
  for (int i = 0; i < rt->nsources; i++)
    sl_source_free(rt->sources[i]);
  free(rt->sources);
  sl_output_close(&rt->out);
  if (rt->dead_letter_fd > 0)
    close(rt->dead_letter_fd);
  sl_lua_host_close(&rt->lua);          /* before the backend: Lua's GC frees key scopes that point into it */
  sl_bg_worker_close(&rt->ckpt.worker); /* idle: the loop ran every checkpoint's after_work */
  sl_checkpoint_close(&rt->ckpt);       /* it may still point into the backend */
  sl_backend_close(rt->backend);
  sl_batch_free(&rt->batch);
  sl_buf_free(&rt->out_buf);
  free(rt->state_dir);
  rt->state_dir = NULL;
  rt->sources = NULL;
  rt->nsources = 0;
  rt->backend = NULL;
  if (rt->lock_fd > 0)
    close(rt->lock_fd);
  rt->lock_fd = -1;
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
  char err[4096];
  if (sl_runtime_ensure_open_files(err, sizeof err)) {
    sl_error("%s", err);
    return EXIT_SETUP;
  }
  rt.loop = uv_default_loop();
  if (!rt.loop) {
    sl_error("cannot create the event loop (%s)", strerror(errno));
    return EXIT_SETUP;
  }
  sl_metrics_service svc; /* status.sock, and --metrics (core/metrics_service.h) */
  memset(&svc, 0, sizeof svc);
  int ok = setup(&rt) == 0;
  if (ok && sl_metrics_service_start(&svc, &rt.lua.job, 1, opts->metrics, rt.state_dir, rt.loop,
                                     opts->quiet, err, sizeof err) == 0)
    rt.metrics = svc.m;
  else if (ok)
    sl_error("%s", err);
  ok = ok && rt.metrics;
  if (ok && start(&rt, err, sizeof err)) {
    sl_error("%s", err);
    ok = 0;
  }
  if (!ok) {
    sl_runtime_stop(&rt);
    uv_run(rt.loop, UV_RUN_DEFAULT); /* runs the close callbacks of what was started */
    sl_runtime_teardown(&rt);
    sl_metrics_service_stop(&svc);
    uv_run(rt.loop, UV_RUN_NOWAIT);
    uv_loop_close(rt.loop);
    return EXIT_SETUP;
  }
  uv_run(rt.loop, UV_RUN_DEFAULT);
  /* Processing-time timers not yet due when the input ended (or the job was stopped) do not fire now:
   * they go into the final checkpoint and fire when the job runs again on this state dir. Counted before
   * it: the final checkpoint is the state's last use (SL_CHECKPOINT_FINAL). */
  uint64_t pending = 0;
  char timers[96] = "";
  if (!rt.failed && sl_lua_host_pending_timers(&rt.lua, &pending, err, sizeof err) != 0) {
    sl_error("%s", err);
    status = EXIT_RUNTIME;
  }
  /* The final checkpoint: everything read is in it, and the file output is committed. */
  if (!rt.failed && sl_checkpoint_trigger(&rt.ckpt, SL_CHECKPOINT_FINAL) != 0)
    rt.failed = 1;
  if (rt.failed)
    status = EXIT_RUNTIME;
  sl_metrics_publish(rt.publisher); /* the final checkpoint's figures (its timer has closed) */
  if (pending)
    snprintf(timers, sizeof timers,
             "; %llu processing-time timers pending (they fire when the job runs again)",
             (unsigned long long)pending);
  if (!opts->quiet)
    sl_info("done: %llu records in, %llu out, %llu rejected%s; checkpoints: %llu complete, %llu failed, %llu "
            "skipped, %llu unchanged%s",
            (unsigned long long)rt.stats.records_in, (unsigned long long)rt.stats.records_out,
            (unsigned long long)rt.stats.errors, timers, (unsigned long long)rt.ckpt.completed,
            (unsigned long long)rt.ckpt.failed, (unsigned long long)rt.ckpt.skipped,
            (unsigned long long)rt.ckpt.unchanged, status ? " (failed)" : "");
  if (rt.backend) { /* what the state cost: cache pressure shows as commits on the record thread */
    sl_backend_stats st;
    sl_backend_get_stats(rt.backend, &st);
    sl_log(SL_LOG_DEBUG,
           "state: %llu cache hits, %llu misses, %llu evictions; %llu commits writing %llu entries on the "
           "record thread; %llu checkpoints taken early under cache pressure",
           (unsigned long long)st.cache_hits, (unsigned long long)st.cache_misses,
           (unsigned long long)st.evictions, (unsigned long long)st.commits,
           (unsigned long long)st.entries_written, (unsigned long long)rt.ckpt.early);
  }
  sl_runtime_teardown(&rt);
  sl_metrics_service_stop(&svc);
  uv_run(rt.loop, UV_RUN_NOWAIT); /* the progress line's timer closes */
  uv_loop_close(rt.loop);
  return status;
}
