/* reload.c — hot reload triggers: file watches, SIGHUP, the debounce, the outcome (log line and
 * STATE-DIR/reload.result), and the `sluice reload` command. The load, check and switch are in
 * reload_swap.c (see reload.h). */
#include "core/reload.h"
#include "core/state_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/runtime.h"
#include "core/state_dir_lock.h"

/* One watched directory and the names in it that belong to the job's code. */
struct sl_reload_watch {
  uv_fs_event_t ev;
  sl_reloader *r;
  char *dir;
  char **names;
  int nnames;
  sl_reload_watch *next;
};

static void free_watch(uv_handle_t *h) {
  sl_reload_watch *w = h->data;
  for (int i = 0; i < w->nnames; i++)
    free(w->names[i]);
  free(w->names);
  free(w->dir);
  free(w);
}

static void unwatch(sl_reloader *r) {
  while (r->watches) {
    sl_reload_watch *w = r->watches;
    r->watches = w->next;
    uv_close((uv_handle_t *)&w->ev, free_watch);
  }
}

static void on_timer(uv_timer_t *t);

/* Drops a validated VM that has not switched yet (the content changed again, or we stop). */
static void drop_next(sl_reloader *r) {
  if (!r->next)
    return;
  sl_lua_host_close(r->next);
  free(r->next);
  r->next = NULL;
}

static void changed(sl_reloader *r, uint64_t delay_ms) {
  drop_next(r);
  if (!r->change_ms)
    r->change_ms = sl_now_ms();
  uv_timer_start(&r->timer, on_timer, delay_ms, 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  sl_reload_watch *w = h->data;
  (void)events;
  if (status < 0)
    return;
  int ours = filename == NULL; /* no name given: it may be ours */
  for (int i = 0; i < w->nnames && !ours; i++)
    ours = !strcmp(w->names[i], filename);
  if (ours)
    changed(w->r, SL_RELOAD_DEBOUNCE_MS);
}

static sl_reload_watch *watch_for(sl_reloader *r, const char *dir) {
  for (sl_reload_watch *w = r->watches; w; w = w->next)
    if (!strcmp(w->dir, dir))
      return w;
  sl_reload_watch *w = calloc(1, sizeof *w);
  if (!w || !(w->dir = strdup(dir))) {
    free(w);
    return NULL;
  }
  w->r = r;
  uv_fs_event_init(r->rt->loop, &w->ev); /* only sets the handle up: cannot fail */
  w->ev.data = w;
  w->next = r->watches;
  r->watches = w;
  return w;
}

/* Watches the directories of the running code's files (after a reload the set may have changed). */
static void watch(sl_reloader *r) {
  const sl_job_desc *job = &r->rt->lua.job;
  unwatch(r);
  if (r->rt->opts->no_watch)
    return;
  for (int i = 0; i < job->nfiles; i++) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", job->files[i]);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : job->files[i];
    if (slash)
      *slash = '\0';
    sl_reload_watch *w = watch_for(r, slash ? (dir[0] ? dir : "/") : ".");
    char **names = w ? realloc(w->names, (size_t)(w->nnames + 1) * sizeof *names) : NULL;
    char *name = names ? strdup(base) : NULL;
    if (!name) {
      if (names)
        w->names = names;
      sl_warn("out of memory watching '%s' for changes; reload with SIGHUP or `sluice reload`",
              job->files[i]);
      continue;
    }
    w->names = names;
    w->names[w->nnames++] = name;
  }
  for (sl_reload_watch *w = r->watches; w; w = w->next) {
    int rc = uv_fs_event_start(&w->ev, on_fs_event, w->dir, 0);
    if (rc)
      sl_warn("cannot watch '%s' for script changes (%s); reload with SIGHUP or `sluice reload`", w->dir,
              uv_strerror(rc));
  }
}

/* The outcome for `sluice reload`: one line in STATE-DIR/reload.result, replaced atomically. */
static void write_result(sl_reloader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_result(sl_reloader *r, const char *fmt, ...) {
  char path[4200], tmp[4300];
  /* Every reload's outcome passes here once: counted for metrics (core/metrics.h). */
  r->reloads_ok += !strncmp(fmt, "reloaded", 8);
  r->reloads_failed += !strncmp(fmt, "failed", 6);
  sl_state_dir_path(r->rt->state_dir, "reload.result", path, sizeof path);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "we");
  if (!f)
    return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fputc('\n', f);
  if (fclose(f) == 0)
    rename(tmp, path);
}

static void on_sighup(uv_signal_t *h, int signum) {
  sl_reloader *r = h->data;
  (void)signum;
  sl_info("SIGHUP: reloading %s", r->rt->opts->script);
  r->requested = 1;
  changed(r, 0);
}

static void finish(sl_reloader *r) {
  r->change_ms = 0;
  r->requested = 0;
}

/* Between two batches (a loop callback): validate, wait for a checkpoint in flight, switch. */
static void on_timer(uv_timer_t *t) {
  sl_reloader *r = t->data;
  sl_runtime *rt = r->rt;
  const char *script = rt->opts->script;
  char err[4096];
  int rc, fatal = 0;
  if (rt->stopping)
    return;
  if (!r->next) {
    uint64_t t0 = sl_now_ms();
    rc = sl_reload_prepare(r, err, sizeof err);
    r->prepare_ms = sl_now_ms() - t0;
    if (rc == 1) {
      sl_log(SL_LOG_DEBUG, "%s is unchanged (version %07x); nothing to reload", script, r->version >> 4);
      write_result(r, "unchanged version %07x", r->version >> 4);
      finish(r);
      return;
    }
    if (rc) {
      sl_error("reload of %s failed, the old code keeps running: %s", script, err);
      write_result(r, "failed: %s", err);
      finish(r);
      return;
    }
  }
  if (r->handoff) { /* a parallel job: its subtasks switch at one barrier */
    rc = r->handoff(r, err, sizeof err);
    if (rc == 1) {
      uv_timer_start(&r->timer, on_timer, 20, 0);
    } else if (rc < 0) {
      sl_error("reload of %s failed, the old code keeps running: %s", script, err);
      write_result(r, "failed: %s", err);
      finish(r);
    }
    return;
  }
  /* The switch takes a checkpoint of its own: let the one in flight complete first. */
  if (rt->ckpt.in_flight) {
    uv_timer_start(&r->timer, on_timer, 2, 0);
    return;
  }
  uint32_t version = r->next_version;
  uint64_t t0 = sl_now_ms();
  if (sl_reload_switch(r, &fatal, err, sizeof err)) {
    sl_error("reload of %s failed, %s: %s", script, fatal ? "stopping the job" : "the old code keeps running",
             err);
    write_result(r, "failed: %s", err);
    finish(r);
    if (fatal)
      sl_runtime_fail(rt, "the reload's switch failed");
    return;
  }
  r->version = version;
  uint64_t now = sl_now_ms();
  sl_info(
      "reloaded %s (version %07x) %llu ms after the first change (load and check %llu ms, switch %llu ms)",
      script, version >> 4, (unsigned long long)(now - r->change_ms), (unsigned long long)r->prepare_ms,
      (unsigned long long)(now - t0));
  write_result(r, "reloaded version %07x", version >> 4);
  finish(r);
  watch(r);
}

void sl_reload_finish(sl_reloader *r, uint32_t version, const char *failure) {
  const char *script = r->rt->opts->script;
  if (failure) {
    sl_error("reload of %s failed: %s", script, failure);
    write_result(r, "failed: %s", failure);
  } else {
    r->version = version;
    sl_info("reloaded %s (version %07x) in every subtask, %llu ms after the first change", script,
            version >> 4, (unsigned long long)(sl_now_ms() - r->change_ms));
    write_result(r, "reloaded version %07x", version >> 4);
  }
  finish(r);
  if (!failure)
    watch(r);
}

int sl_reload_start(sl_reloader *r, sl_runtime *rt, char *errbuf, size_t errlen) {
  char err[512];
  memset(r, 0, sizeof *r);
  r->rt = rt;
  if (sl_reload_hash_files(rt->lua.job.files, rt->lua.job.nfiles, &r->version, err, sizeof err))
    sl_warn("%s", err);
  if (!rt->opts->quiet)
    sl_info("running %s (version %07x)%s", rt->opts->script, r->version >> 4,
            rt->opts->no_watch ? "" : "; it reloads when it changes");
  uv_timer_init(rt->loop, &r->timer); /* cannot fail */
  r->timer.data = r;
  r->started = 1;
  int rc = uv_signal_init(rt->loop, &r->sighup);
  if (rc == 0) {
    r->sighup.data = r;
    r->sighup_open = 1;
    rc = uv_signal_start(&r->sighup, on_sighup, SIGHUP);
  }
  if (rc) {
    snprintf(errbuf, errlen, "cannot watch for SIGHUP (hot reload): %s", uv_strerror(rc));
    return -1;
  }
  watch(r);
  return 0;
}

void sl_reload_stop(sl_reloader *r) {
  if (!r->started)
    return;
  r->started = 0;
  uv_timer_stop(&r->timer);
  uv_close((uv_handle_t *)&r->timer, NULL);
  if (r->sighup_open)
    uv_close((uv_handle_t *)&r->sighup, NULL);
  unwatch(r);
  drop_next(r);
}

int sl_reload_command(int argc, char **argv) {
  if (argc != 1) {
    fputs("usage: sluice reload STATE-DIR\n", stderr);
    return 2;
  }
  const char *state_dir = argv[0];
  char path[4200], line[4096];
  long pid = 0;
  if (sl_state_dir_lock_probe(state_dir, &pid) != 1) { /* the kernel's holder of the lock, not a pid file */
    fprintf(stderr, "sluice: no job is running on '%s'\n", state_dir);
    return 2;
  }
  sl_state_dir_path(state_dir, "reload.result", path, sizeof path);
  unlink(path);
  /* Only while the job catches SIGHUP: before it runs or once it stops, the signal would kill it. */
  int sent = sl_state_dir_lock_signal(state_dir, pid, SIGHUP);
  if (sent != 0) {
    fprintf(stderr, "sluice: the job on '%s' (pid %ld) %s\n", state_dir, pid,
            sent > 0 ? "is starting or stopping: it takes no reload now" : "is not running any more");
    return sent > 0 ? 1 : 2;
  }
  for (int i = 0; i < 3000; i++) { /* up to 30 s */
    FILE *f = fopen(path, "re");
    if (f) {
      int ok = fgets(line, sizeof line, f) != NULL;
      fclose(f);
      if (ok) {
        fputs(line, strncmp(line, "failed", 6) ? stdout : stderr);
        return strncmp(line, "failed", 6) ? 0 : 1;
      }
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "sluice: the job did not report a reload within 30 s\n");
  return 1;
}
