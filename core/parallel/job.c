/* job.c — a parallel job's coordinator (see job.h). */
#include "core/parallel/job.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "core/log.h"
#include "core/metrics_service.h"
#include "core/output.h"
#include "core/parallel/task.h"
#include "core/savepoint.h"
#include "core/source.h"
#include "core/state_dir.h"
#include "state/file_modes.h"
#include "state/state_rescale.h"
#include "state/state_snapshot.h"

#define EXIT_RUNTIME 1
#define EXIT_SETUP 2
#define CHANNEL_PACKETS 8

/* A subtask's share of the checkpoint in flight, as it reported it. */
typedef struct sl_share {
  int have, ok;
  uint64_t id, base_id, part_first, part_last, part_len, bytes, entries, alignment_ms, barrier_ms;
  char err[512];
} sl_share;

typedef struct sl_job {
  const sl_run_options *opts;
  unsigned n;
  sl_runtime base; /* the job side: script, state dir and lock, recovery, the output and its commits */
  sl_task *tasks;
  sl_channel **channels; /* [i * n + j]: from subtask i to subtask j */
  uv_loop_t *loop;
  uv_async_t mail;
  uv_timer_t timer;
  uv_signal_t sigint, sigterm, sigusr1; /* SIGHUP is the reloader's */
  /* under mu: what subtask threads report */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned ready, ready_ok;
  int go_decided, go;
  sl_share *shares;
  unsigned drained;
  int task_failed;
  /* the loop thread's */
  uint64_t in_flight; /* the checkpoint whose shares are awaited (0: none) */
  uint64_t started_ms;
  int final_asked, finishing, failed, stopping;
  uv_timer_t *serving;      /* serves savepoint requests, one checkpoint each (NULL: none waiting) */
  char savepoint[4096];     /* the target of the savepoint the checkpoint in flight writes, or "" */
  sl_lua_host *reload_next; /* validated new code the subtasks switch to at checkpoint reload_id */
  uint64_t reload_id;
  uint32_t reload_version;
  uint64_t completed, failed_ckpts, skipped;
  sl_metrics_service metrics; /* the registry the subtasks publish into, and its endpoints */
} sl_job;

/* Metrics: the job's own counters into the registry (the subtasks publish theirs). */
static void publish_job(sl_job *job) {
  if (!job->metrics.m)
    return;
  sl_metrics_job *j = &job->metrics.m->job;
  sl_mset(&j->completed, job->completed);
  sl_mset(&j->failed, job->failed_ckpts);
  sl_mset(&j->skipped, job->skipped);
  sl_mset(&j->reloads_ok, job->base.reload.reloads_ok);
  sl_mset(&j->reloads_failed, job->base.reload.reloads_failed);
}

sl_task *sl_job_peer(sl_job *job, unsigned i) {
  return &job->tasks[i];
}

void sl_job_task_ready(sl_job *job, unsigned task, int ok) {
  (void)task;
  pthread_mutex_lock(&job->mu);
  job->ready++;
  job->ready_ok += ok != 0;
  pthread_cond_broadcast(&job->cv);
  pthread_mutex_unlock(&job->mu);
}

void sl_job_wait_go(sl_job *job, int *go) {
  pthread_mutex_lock(&job->mu);
  while (!job->go_decided)
    pthread_cond_wait(&job->cv, &job->mu);
  *go = job->go;
  pthread_mutex_unlock(&job->mu);
}

void sl_job_task_share(sl_job *job, unsigned task, const sl_checkpoint_job *j, uint64_t alignment_ms) {
  pthread_mutex_lock(&job->mu);
  sl_share *s = &job->shares[task];
  s->have = 1;
  s->ok = j->ok;
  s->id = j->id;
  s->base_id = j->meta.base_id ? j->meta.base_id : j->id;
  s->part_first = j->part_first;
  s->part_last = j->part_last;
  s->part_len = j->part_len;
  s->bytes = j->meta.snapshot_bytes;
  s->entries = j->meta.snapshot_entries;
  s->alignment_ms = alignment_ms;
  s->barrier_ms = j->meta.barrier_ms;
  snprintf(s->err, sizeof s->err, "%s", j->err);
  pthread_mutex_unlock(&job->mu);
  uv_async_send(&job->mail);
}

void sl_job_task_drained(sl_job *job, unsigned task) {
  (void)task;
  pthread_mutex_lock(&job->mu);
  job->drained++;
  pthread_mutex_unlock(&job->mu);
  uv_async_send(&job->mail);
}

void sl_job_task_failed(sl_job *job, unsigned task) {
  (void)task;
  pthread_mutex_lock(&job->mu);
  job->task_failed = 1;
  pthread_mutex_unlock(&job->mu);
  uv_async_send(&job->mail);
}

static void free_timer(uv_handle_t *h) {
  free(h);
}

static void close_handle(uv_handle_t *h) {
  if (h->loop && !uv_is_closing(h))
    uv_close(h, NULL);
}

/* The job's own handles close; the loop ends once the subtasks' reports stop mattering. */
static void close_job_handles(sl_job *job) {
  close_handle((uv_handle_t *)&job->timer);
  close_handle((uv_handle_t *)&job->sigint);
  close_handle((uv_handle_t *)&job->sigterm);
  close_handle((uv_handle_t *)&job->sigusr1);
  close_handle((uv_handle_t *)&job->mail);
  sl_reload_stop(&job->base.reload);
  if (job->serving) {
    uv_close((uv_handle_t *)job->serving, free_timer);
    job->serving = NULL;
  }
}

static void abort_tasks(sl_job *job) {
  for (unsigned i = 0; i < job->n; i++)
    sl_task_flag(&job->tasks[i], &job->tasks[i].abort_req);
  close_job_handles(job);
}

static int make_checkpoint_dir(sl_job *job, uint64_t id, char *dir, size_t len) {
  sl_checkpoint_dir(job->base.ckpt.dir, id, dir, len);
  if (mkdir(dir, SL_STATE_DIR_MODE) && errno != EEXIST) {
    sl_error("cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  return 0;
}

/* Starts checkpoint next_id: every subtask injects its barrier (and, when reload, switches to the new code
 * at it). 0, or -1 when its directory cannot be made. */
/* The checkpoint that was to write the savepoint failed: its request is answered so. */
static void fail_savepoint(sl_job *job, uint64_t id, const char *why) {
  if (!job->savepoint[0])
    return;
  char msg[1200];
  snprintf(msg, sizeof msg, "checkpoint %" PRIu64 " failed: %s", id, why);
  if (sl_savepoint_answer(job->base.state_dir, job->savepoint, msg))
    sl_warn("cannot answer the request for savepoint %s: %s", job->savepoint, strerror(errno));
  job->savepoint[0] = '\0';
}

static int start_checkpoint(sl_job *job, int reload) {
  char dir[4200];
  uint64_t id = job->base.ckpt.next_id++;
  if (make_checkpoint_dir(job, id, dir, sizeof dir)) {
    job->failed_ckpts++;
    return -1;
  }
  memset(job->shares, 0, job->n * sizeof *job->shares);
  job->in_flight = id;
  job->started_ms = sl_now_ms();
  for (unsigned i = 0; i < job->n; i++) {
    if (reload)
      atomic_store(&job->tasks[i].reload_req, id);
    if (job->savepoint[0]) /* a savepoint holds whole snapshots */
      atomic_store(&job->tasks[i].full_req, id);
    sl_task_request(&job->tasks[i], &job->tasks[i].inject_req, id);
  }
  if (reload)
    job->reload_id = id;
  return 0;
}

static void on_timer(uv_timer_t *h) {
  sl_job *job = h->data;
  if (job->in_flight) {
    job->skipped++;
    publish_job(job);
    return;
  }
  if (job->final_asked || job->stopping || job->failed)
    return;
  start_checkpoint(job, 0);
}

static void drop_host(sl_lua_host *h) {
  if (h) {
    sl_lua_host_close(h);
    free(h);
  }
}

static int same_str(const char *a, const char *b) {
  return (!a && !b) || (a && b && !strcmp(a, b));
}

/* Hot reload (core/reload.h): the reloader validated new code; every subtask switches to it at the barrier
 * of one checkpoint, so each subtask's records before the barrier ran the old code and the rest the new. */
static int on_reload_handoff(sl_reloader *r, char *err, size_t errlen) {
  sl_job *job = r->handoff_arg;
  if (job->in_flight || job->reload_next)
    return 1;
  sl_lua_host *next = r->next;
  r->next = NULL;
  const sl_job_desc *old = &job->base.lua.job, *nw = &next->job;
  int rc = 0;
  if (job->final_asked || job->stopping || job->failed) {
    snprintf(err, errlen, "the job is stopping");
    rc = -1;
  } else if (nw->exchange != old->exchange || !same_str(nw->key_field, old->key_field)) {
    snprintf(err, errlen, "the new code routes records to subtasks differently (its first key_by changed): "
                          "keyed state would be in the wrong subtask; stop the job and start the new code");
    rc = -1;
  } else if (sl_reload_graph_changes(old, nw) > 0) {
    snprintf(err, errlen, "the new code removes operators, whose state a parallel job cannot drop while it "
                          "runs; stop the job and start the new code with --allow-non-restored-state");
    rc = -1;
  }
  if (rc) {
    drop_host(next);
    return -1;
  }
  job->reload_next = next;
  job->reload_version = r->next_version;
  if (start_checkpoint(job, 1)) {
    job->reload_next = NULL;
    drop_host(next);
    snprintf(err, errlen, "the checkpoint of the switch could not start");
    return -1;
  }
  return 0;
}

/* The switch's checkpoint came back: every subtask that did not fail runs the new code. */
static void reload_done(sl_job *job) {
  sl_lua_host *next = job->reload_next;
  job->reload_next = NULL;
  job->reload_id = 0;
  if (job->failed) {
    sl_reload_finish(&job->base.reload, job->reload_version, "a subtask failed to switch");
    drop_host(next);
    return;
  }
  sl_lua_host_close(&job->base.lua); /* the job's own copy of the code follows, for the next comparison */
  job->base.lua = *next;
  free(next);
  sl_reload_finish(&job->base.reload, job->reload_version, NULL);
}

static void resolve(sl_job *job, int ok) {
  for (unsigned i = 0; i < job->n; i++) {
    atomic_store(&job->tasks[i].resolved_ok, ok);
    sl_task_request(&job->tasks[i], &job->tasks[i].resolved_req, job->in_flight);
  }
}

/* Copies complete checkpoint dir (every subtask's snapshot, then its metadata) to the savepoint target
 * the request named, and answers the request. */
static void write_savepoint(sl_job *job, const char *dir, const sl_checkpoint_meta *m) {
  char from[SL_MAX_PARALLELISM][4300], name[SL_MAX_PARALLELISM][32], err[1024];
  const char *fromp[SL_MAX_PARALLELISM], *namep[SL_MAX_PARALLELISM];
  for (unsigned i = 0; i < job->n; i++) {
    sl_checkpoint_task_file(dir, i, from[i], sizeof from[i]);
    sl_checkpoint_task_name(i, name[i], sizeof name[i]);
    fromp[i] = from[i];
    namep[i] = name[i];
  }
  int rc = sl_savepoint_write_files(job->savepoint, fromp, namep, (int)job->n, m, err, sizeof err);
  if (rc)
    sl_error("savepoint %s failed: %s", job->savepoint, err);
  else
    sl_info("savepoint written to %s (checkpoint %" PRIu64 ", %u subtasks)", job->savepoint, m->id, job->n);
  if (sl_savepoint_answer(job->base.state_dir, job->savepoint, rc ? err : NULL))
    sl_warn("cannot answer the request for savepoint %s: %s", job->savepoint, strerror(errno));
  job->savepoint[0] = '\0';
}

/* Every share of checkpoint id is durable: gather the output, write the metadata (the checkpoint is then
 * complete), commit the output, prune. 0, or -1 when the checkpoint failed (logged). */
static int complete(sl_job *job, uint64_t id, const sl_share *sh) {
  sl_runtime *b = &job->base;
  char dir[4200], err[4400];
  sl_checkpoint_dir(b->ckpt.dir, id, dir, sizeof dir);
  sl_checkpoint_meta m;
  memset(&m, 0, sizeof m);
  m.id = m.base_id = id;
  for (unsigned i = 0; i < job->n; i++) /* the oldest full snapshot a subtask's delta chains to */
    if (sh[i].base_id < m.base_id)
      m.base_id = sh[i].base_id;
  m.time_ms = job->started_ms;
  m.parallelism = job->n;
  m.max_parallelism = (uint64_t)job->opts->max_parallelism;
  for (unsigned i = 0; i < job->n; i++) {
    m.snapshot_bytes += sh[i].bytes;
    m.snapshot_entries += sh[i].entries;
    if (sh[i].alignment_ms > m.alignment_ms)
      m.alignment_ms = sh[i].alignment_ms;
    if (sh[i].barrier_ms > m.barrier_ms)
      m.barrier_ms = sh[i].barrier_ms;
  }
  m.sink_committed = b->out.committed;
  snprintf(m.sink_path, sizeof m.sink_path, "%s", b->out.real_path ? b->out.real_path : "");
  m.sink_dev = b->out.dev;
  m.sink_ino = b->out.ino;
  m.sink_first_part = id;
  const char *dirs[SL_MAX_PARALLELISM];
  uint64_t first[SL_MAX_PARALLELISM], last[SL_MAX_PARALLELISM];
  char pend[SL_MAX_PARALLELISM][4200];
  for (unsigned i = 0; i < job->n; i++) {
    sl_state_dir_path(job->tasks[i].dir, "pending", pend[i], sizeof pend[i]);
    dirs[i] = pend[i];
    first[i] = sh[i].part_first;
    last[i] = sh[i].part_last;
  }
  uint64_t len = 0;
  uint32_t crc = 0;
  if (sl_output_exactly_once(&b->out)) {
    if (sl_output_gather_parts(&b->out, id, dirs, first, last, (int)job->n, &len, &crc, err, sizeof err))
      goto failed;
  }
  m.sink_part = len;
  m.sink_crc = crc;
  m.duration_ms = sl_now_ms() - job->started_ms;
  if (sl_checkpoint_meta_write(dir, &m, err, sizeof err))
    goto failed;
  job->completed++;
  sl_metrics_checkpoint_done(job->metrics.m, &m, sl_now_ms());
  if (job->savepoint[0])
    write_savepoint(job, dir, &m);
  if (sl_output_commit_parts(&b->out, id, id, len, err, sizeof err)) {
    /* Complete, so its output is owed: a restart commits it again (recovery appends the part). */
    sl_error("checkpoint %" PRIu64 ": %s; the job stops (a restart resumes from the last complete "
             "checkpoint)",
             id, err);
    job->failed = 1;
    return 0;
  }
  for (unsigned i = 0; i < job->n; i++) /* gathered and committed: the subtasks' parts are done */
    for (uint64_t p = first[i]; sl_output_exactly_once(&b->out) && p <= last[i]; p++) {
      char path[4300];
      sl_pending_part(dirs[i], p, path, sizeof path);
      unlink(path);
    }
  sl_checkpoint_prune(b->ckpt.dir, (int)job->opts->retain_checkpoints, id);
  sl_log(SL_LOG_DEBUG, "checkpoint %" PRIu64 " complete (%u subtasks, alignment %" PRIu64 " ms)", id, job->n,
         m.alignment_ms);
  return 0;
failed:
  sl_error("checkpoint %" PRIu64 " failed: %s; the job goes on and the next checkpoint retries", id, err);
  fail_savepoint(job, id, err);
  sl_remove_tree(dir);
  job->failed_ckpts++;
  return -1;
}

static void finish(sl_job *job) {
  job->finishing = 1;
  for (unsigned i = 0; i < job->n; i++)
    sl_task_flag(&job->tasks[i], &job->tasks[i].finish_req);
  close_job_handles(job);
}

static void handle_mail(sl_job *job) {
  sl_share sh[SL_MAX_PARALLELISM];
  pthread_mutex_lock(&job->mu);
  int task_failed = job->task_failed;
  unsigned drained = job->drained;
  memcpy(sh, job->shares, job->n * sizeof *sh);
  pthread_mutex_unlock(&job->mu);
  if (job->finishing)
    return;
  if (task_failed || job->failed) {
    job->failed = 1;
    abort_tasks(job);
    return;
  }
  if (job->in_flight) {
    unsigned have = 0, ok = 0;
    for (unsigned i = 0; i < job->n; i++)
      if (sh[i].have && sh[i].id == job->in_flight) {
        have++;
        ok += sh[i].ok != 0;
      }
    if (have < job->n)
      return;
    int done = 0;
    if (ok == job->n) {
      done = complete(job, job->in_flight, sh) == 0;
    } else {
      char dir[4200];
      for (unsigned i = 0; i < job->n; i++)
        if (!sh[i].ok)
          sl_error("checkpoint %" PRIu64 " failed in subtask %u: %s; the job goes on", job->in_flight, i,
                   sh[i].err);
      sl_checkpoint_dir(job->base.ckpt.dir, job->in_flight, dir, sizeof dir);
      sl_remove_tree(dir);
      job->failed_ckpts++;
      fail_savepoint(job, job->in_flight, "a subtask's share failed");
    }
    resolve(job, done);
    uint64_t was = job->in_flight;
    job->in_flight = 0;
    if (job->reload_next && was == job->reload_id)
      reload_done(job);
    if (job->failed) {
      abort_tasks(job);
      return;
    }
    if (job->final_asked) {
      if (!done) {
        sl_error("the final checkpoint %" PRIu64 " failed", was);
        job->failed = 1;
        abort_tasks(job);
        return;
      }
      finish(job);
      return;
    }
  }
  if (drained == job->n && !job->final_asked && !job->in_flight) {
    /* Every subtask's input ended and nothing is in flight: the final checkpoint, taken with no barrier
     * alignment to do (each subtask snapshots at once). */
    char dir[4200];
    job->final_asked = 1;
    uint64_t id = job->base.ckpt.next_id++;
    if (make_checkpoint_dir(job, id, dir, sizeof dir)) {
      job->failed = 1;
      abort_tasks(job);
      return;
    }
    memset(job->shares, 0, job->n * sizeof *job->shares);
    job->in_flight = id;
    job->started_ms = sl_now_ms();
    for (unsigned i = 0; i < job->n; i++)
      sl_task_request(&job->tasks[i], &job->tasks[i].final_req, id);
  }
}

static void on_mail(uv_async_t *h) {
  handle_mail(h->data);
  publish_job(h->data);
}

/* `sluice savepoint` (core/savepoint.h): one request at a time, each with a checkpoint of its own once none
 * is in flight; the serving timer re-arms itself until no request is left. A request pending when the job
 * stops goes with the final checkpoint. */
static void on_serve(uv_timer_t *t) {
  sl_job *job = t->data;
  if (job->stopping || job->final_asked || job->failed || job->finishing) {
    if (!job->savepoint[0])
      job->serving = NULL, uv_close((uv_handle_t *)t, free_timer);
    else if (!job->finishing && !job->failed)
      uv_timer_start(t, on_serve, 20, 0);
    else
      job->serving = NULL, uv_close((uv_handle_t *)t, free_timer);
    return;
  }
  if (job->in_flight || job->savepoint[0]) {
    uv_timer_start(t, on_serve, 20, 0);
    return;
  }
  if (sl_savepoint_take(job->base.state_dir, job->savepoint, sizeof job->savepoint)) {
    job->savepoint[0] = '\0';
    job->serving = NULL;
    uv_close((uv_handle_t *)t, free_timer);
    return;
  }
  sl_info("savepoint requested: %s", job->savepoint);
  if (start_checkpoint(job, 0))
    fail_savepoint(job, job->base.ckpt.next_id - 1, "its directory could not be made");
  uv_timer_start(t, on_serve, 20, 0);
}

static void serve_savepoints(sl_job *job) {
  if (job->serving)
    return;
  uv_timer_t *t = malloc(sizeof *t);
  if (!t || uv_timer_init(job->loop, t) != 0) {
    free(t);
    sl_warn("cannot serve a savepoint request: out of memory");
    return;
  }
  t->data = job;
  job->serving = t;
  uv_timer_start(t, on_serve, 0, 0);
}

static void on_signal(uv_signal_t *h, int signum) {
  sl_job *job = h->data;
  if (signum == SIGUSR1) {
    serve_savepoints(job);
    return;
  }
  if (job->stopping)
    return;
  job->stopping = 1;
  sl_info("signal %d: stopping after a final checkpoint", signum);
  for (unsigned i = 0; i < job->n; i++)
    sl_task_flag(&job->tasks[i], &job->tasks[i].stop_req);
}

/* Fills each subtask's working environment with its key groups from the merged working environment
 * recovery left in STATE-DIR (empty on a fresh start). 0, or -1 logged. */
static int split_state(sl_job *job) {
  const char *src = job->base.state_dir;
  char err[1024], why[512];
  for (unsigned i = 0; i < job->n; i++) {
    sl_task *t = &job->tasks[i];
    sl_task_dir(src, i, t->dir, sizeof t->dir);
    int mk = sl_make_dirs(t->dir);
    if (mk) {
      sl_error("cannot create %s: %s", t->dir, strerror(mk));
      return -1;
    }
    sl_snapshot_remove_env(t->dir);
    if (job->base.ckpt.tasks_deferred) {
      /* The checkpoint was taken at this parallelism: each subtask's chain goes into its own environment,
       * with no merge and no split (a quarter of the copying). */
      if (sl_checkpoint_load_task(&job->base.ckpt, &job->base.restored, job->opts->from_savepoint, i, t->dir,
                                  sl_runtime_keep_state, &job->base))
        return -1;
      if (job->base.non_restored)
        return -1;
      continue;
    }
    sl_backend *b = NULL;
    sl_backend_options bo = {0, sl_backend_map_reserve()};
    if (sl_backend_open(&b, t->dir, &bo, why, sizeof why) != SL_STATE_OK) {
      sl_error("cannot open %s: %s", t->dir, why);
      return -1;
    }
    int rc = job->base.have_restored ? sl_rescale_fill(b, &src, 1, (int)i, (int)job->n,
                                                       (unsigned)job->opts->max_parallelism, err, sizeof err)
                                     : 0;
    if (rc == 0 && sl_backend_commit(b, 1) != SL_STATE_OK) {
      snprintf(err, sizeof err, "%s", sl_backend_last_error(b));
      rc = -1;
    }
    sl_backend_close(b);
    if (rc) {
      sl_error("restoring subtask %u's state into %s failed: %s", i, t->dir, err);
      return -1;
    }
  }
  return 0;
}

/* The job's shape must allow parallel subtasks: refused with the reason, else 0. */
static int check_shape(const sl_job *job) {
  const sl_job_desc *d = &job->base.lua.job;
  if (d->exchange == SL_EXCHANGE_UNSUPPORTED) {
    sl_error("job '%s' cannot run at --parallelism %u yet: %s (a parallel job has at most one key_by, with "
             "only filters before it); run it with --parallelism 1",
             d->name, job->n, d->exchange_why ? d->exchange_why : "?");
    return -1;
  }
  if (d->event_time && d->nsources > 1) {
    /* Each subtask's watermark follows the records it sees; from two inputs they interleave, and one
     * input's progress would make the other's records late. One input, read whole, keeps them in order. */
    sl_error("job '%s' uses event time and reads %d inputs: at --parallelism %u it takes one input yet (its "
             "watermark is per subtask, not per input); run it with --parallelism 1, or concatenate the inputs",
             d->name, d->nsources, job->n);
    return -1;
  }
  for (int i = 0; i < d->nsources; i++)
    if (!sl_source_can_pause(&d->sources[i])) {
      sl_error("job '%s' cannot run at --parallelism %u yet: a source of it cannot be paused by parallel "
               "subtasks; run it with --parallelism 1",
               d->name, job->n);
      return -1;
    }
  return 0;
}

static int start_signal(sl_job *job, uv_signal_t *h, int signum) {
  int rc = uv_signal_init(job->loop, h);
  h->data = job;
  return rc ? rc : uv_signal_start(h, on_signal, signum);
}

static int setup(sl_job *job, char *err, size_t errlen) {
  job->base.ckpt.defer_parallelism = job->n;
  if (sl_runtime_setup_job_side(&job->base))
    return -1;
  if (check_shape(job))
    return -1;
  /* The merged working environment is only the source of the subtasks' own: closed before they open. */
  sl_backend_close(job->base.backend);
  job->base.backend = NULL;
  if (job->base.out.part_fd >= 0) { /* the job writes its parts itself (gathered) */
    close(job->base.out.part_fd);
    job->base.out.part_fd = -1;
  }
  size_t nn = (size_t)job->n * job->n;
  job->channels = calloc(nn, sizeof *job->channels);
  job->tasks = calloc(job->n, sizeof *job->tasks);
  job->shares = calloc(job->n, sizeof *job->shares);
  if (!job->channels || !job->tasks || !job->shares) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (size_t k = 0; k < nn; k++)
    if (k / job->n != k % job->n && !(job->channels[k] = sl_channel_new(CHANNEL_PACKETS))) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
  for (unsigned i = 0; i < job->n; i++) {
    sl_task *t = &job->tasks[i];
    if (sl_task_init(t, job, i, job->n, err, errlen))
      return -1;
    t->in = calloc(job->n, sizeof *t->in);
    t->out = calloc(job->n, sizeof *t->out);
    if (!t->in || !t->out) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    for (unsigned j = 0; j < job->n; j++) {
      t->in[j] = job->channels[j * job->n + i];
      t->out[j] = job->channels[i * job->n + j];
    }
    t->rt.opts = job->opts;
    snprintf(t->rt.ckpt.dir, sizeof t->rt.ckpt.dir, "%s", job->base.ckpt.dir);
    t->rt.ckpt.next_id = job->base.ckpt.next_id;
    sl_checkpoint_task_name(i, t->snap_name, sizeof t->snap_name);
    sl_checkpoint_task_delta_name(i, t->delta_name, sizeof t->delta_name);
    t->rt.ckpt.task_snapshot = t->snap_name;
    t->rt.ckpt.task_delta = t->delta_name;
  }
  if (split_state(job))
    return -1;
  return 0;
}

/* Starts every subtask's thread and waits until each has set itself up; then tells them all to go (or, when
 * one could not, all to end). 0 when they run, -1 otherwise. */
static int spawn(sl_job *job, char *err, size_t errlen) {
  unsigned spawned = 0;
  int rc = 0;
  for (unsigned i = 0; i < job->n && rc == 0; i++) {
    rc = sl_task_spawn(&job->tasks[i], err, errlen);
    spawned += rc == 0;
  }
  pthread_mutex_lock(&job->mu);
  while (job->ready < spawned)
    pthread_cond_wait(&job->cv, &job->mu);
  job->go = rc == 0 && job->ready_ok == job->n;
  job->go_decided = 1;
  pthread_cond_broadcast(&job->cv);
  pthread_mutex_unlock(&job->mu);
  if (rc == 0 && !job->go)
    snprintf(err, errlen, "a subtask could not start");
  return job->go ? 0 : -1;
}

static int start_loop(sl_job *job, char *err, size_t errlen) {
  int rc = uv_async_init(job->loop, &job->mail, on_mail);
  job->mail.data = job;
  uv_timer_init(job->loop, &job->timer);
  job->timer.data = job;
  if (!rc && job->opts->checkpoint_interval_ms > 0)
    rc = uv_timer_start(&job->timer, on_timer, (uint64_t)job->opts->checkpoint_interval_ms,
                        (uint64_t)job->opts->checkpoint_interval_ms);
  if (!rc)
    rc = start_signal(job, &job->sigint, SIGINT);
  if (!rc)
    rc = start_signal(job, &job->sigterm, SIGTERM);
  if (!rc)
    rc = start_signal(job, &job->sigusr1, SIGUSR1);
  if (rc) {
    snprintf(err, errlen, "cannot set up the event loop: %s", uv_strerror(rc));
    return -1;
  }
  return 0;
}

int sl_job_run(const sl_run_options *opts) {
  sl_job job;
  char err[4096];
  memset(&job, 0, sizeof job);
  job.opts = opts;
  job.n = (unsigned)opts->parallelism;
  job.base.opts = opts;
  job.base.dead_letter_fd = -1;
  job.base.out.fd = -1;
  job.base.out.part_fd = -1;
  job.base.lock_fd = -1;
  pthread_mutex_init(&job.mu, NULL);
  pthread_cond_init(&job.cv, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (sl_runtime_ensure_open_files(err, sizeof err)) {
    sl_error("%s", err);
    return EXIT_SETUP;
  }
  job.loop = uv_default_loop();
  job.base.loop = job.loop;
  int status = 0;
  err[0] = '\0';
  int ok = start_loop(&job, err, sizeof err) == 0 && setup(&job, err, sizeof err) == 0;
  if (ok && (ok = sl_metrics_service_start(&job.metrics, &job.base.lua.job, job.n, opts->metrics,
                                           job.base.state_dir, job.loop, opts->quiet, err, sizeof err) == 0))
    for (unsigned i = 0; i < job.n; i++) {
      job.tasks[i].rt.metrics = job.metrics.m;
      job.tasks[i].rt.metrics_task = i;
    }
  if (ok && spawn(&job, err, sizeof err))
    ok = 0;
  if (ok && sl_reload_start(&job.base.reload, &job.base, err, sizeof err) == 0) {
    job.base.reload.handoff = on_reload_handoff;
    job.base.reload.handoff_arg = &job;
  } else if (ok) {
    ok = 0;
    for (unsigned i = 0; i < job.n; i++)
      sl_task_flag(&job.tasks[i], &job.tasks[i].abort_req);
    close_job_handles(&job);
    sl_error("%s", err);
    status = EXIT_SETUP;
  }
  if (!ok && !status) {
    if (err[0])
      sl_error("%s", err);
    status = EXIT_SETUP;
    for (unsigned i = 0; job.tasks && i < job.n; i++)
      if (job.tasks[i].thread_started)
        sl_task_flag(&job.tasks[i], &job.tasks[i].abort_req);
    close_job_handles(&job);
  }
  uv_run(job.loop, UV_RUN_DEFAULT);
  sl_stats st = {0, 0, 0};
  for (unsigned i = 0; job.tasks && i < job.n; i++) {
    if (job.tasks[i].thread_started)
      pthread_join(job.tasks[i].thread, NULL);
    st.records_in += job.tasks[i].rt.stats.records_in;
    st.records_out += job.tasks[i].rt.stats.records_out;
    st.errors += job.tasks[i].rt.stats.errors;
    if (job.tasks[i].rt.failed)
      job.failed = 1;
  }
  if (ok && (job.failed || !job.finishing))
    status = EXIT_RUNTIME;
  /* Each subtask's share of the output: how evenly the key groups spread the work. */
  char shares[512] = "";
  for (unsigned i = 0; job.tasks && i < job.n && strlen(shares) < sizeof shares - 32; i++)
    snprintf(shares + strlen(shares), sizeof shares - strlen(shares), "%s%llu", i ? " + " : "",
             (unsigned long long)job.tasks[i].rt.stats.records_out);
  if (ok && !opts->quiet)
    sl_info("done: %llu records in, %llu out (%s by subtask), %llu rejected; %u subtasks; checkpoints: %llu "
            "complete, %llu failed, %llu skipped%s",
            (unsigned long long)st.records_in, (unsigned long long)st.records_out, shares,
            (unsigned long long)st.errors, job.n, (unsigned long long)job.completed,
            (unsigned long long)job.failed_ckpts, (unsigned long long)job.skipped, status ? " (failed)" : "");
  for (unsigned i = 0; job.tasks && i < job.n; i++) {
    sl_task_free(&job.tasks[i]);
    free(job.tasks[i].in);
    free(job.tasks[i].out);
  }
  for (size_t k = 0; job.channels && k < (size_t)job.n * job.n; k++)
    sl_channel_free(job.channels[k]);
  free(job.channels);
  free(job.tasks);
  free(job.shares);
  drop_host(job.reload_next);
  sl_runtime_teardown(&job.base);
  sl_metrics_service_stop(&job.metrics);
  uv_run(job.loop, UV_RUN_NOWAIT);
  uv_loop_close(job.loop);
  return status;
}
