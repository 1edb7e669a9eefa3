/* reload_swap.c — hot reload's load, check and switch (see reload.h): a fresh VM for the new code, the
 * comparison of its graph with the running one, the switch at a checkpoint, and the dropping of state
 * that belonged to removed operators. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/reload.h"
#include "core/runtime.h"
#include "core/state_dir.h"
#include "core/timer_service.h"
#include "state/file_modes.h"

int sl_reload_hash_files(char *const *files, int n, uint32_t *out, char *err, size_t errlen) {
  char buf[1 << 14];
  uint32_t crc = 0;
  for (int i = 0; i < n; i++) {
    FILE *f = fopen(files[i], "rbe");
    if (!f) {
      snprintf(err, errlen, "cannot read %s: %s", files[i], strerror(errno));
      return -1;
    }
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
      crc = sl_crc32(crc, buf, k);
    fclose(f);
  }
  *out = crc;
  return 0;
}

static int same_str(const char *a, const char *b) {
  return a == b || (a && b && !strcmp(a, b));
}

static int same_strings(char *const *a, int na, char *const *b, int nb);

static int same_endpoint(const sl_endpoint *a, const sl_endpoint *b) {
  return a->kind == b->kind && same_str(a->path, b->path) && same_str(a->host, b->host) && a->port == b->port &&
         same_str(a->topic, b->topic) && same_str(a->group, b->group) &&
         same_str(a->partitions, b->partitions) && a->start_latest == b->start_latest &&
         same_strings(a->options, a->noptions, b->options, b->noptions) && same_str(a->key, b->key) &&
         a->at_least_once == b->at_least_once && a->timeout_ms == b->timeout_ms;
}

static int same_strings(char *const *a, int na, char *const *b, int nb) {
  if (na != nb)
    return 0;
  for (int i = 0; i < na; i++)
    if (strcmp(a[i], b[i]))
      return 0;
  return 1;
}

/* The name, the sources and the sink are fixed for the life of a run: they were opened at start. */
static int same_io(const sl_job_desc *a, const sl_job_desc *b, char *err, size_t errlen) {
  const char *what = NULL;
  if (strcmp(a->name, b->name))
    what = "the job name (it names the state dir)";
  else if (a->nsources != b->nsources)
    what = "the sources";
  for (int i = 0; !what && i < a->nsources; i++)
    if (!same_endpoint(&a->sources[i], &b->sources[i]))
      what = "the sources";
  if (!what && !same_endpoint(&a->sink, &b->sink))
    what = "the sink";
  if (what)
    snprintf(err, errlen, "the new code changes %s, which a reload cannot; restart the job to apply it",
             what);
  return what ? -1 : 0;
}

int sl_reload_prepare(sl_reloader *r, char *err, size_t errlen) {
  sl_runtime *rt = r->rt;
  uint32_t now;
  if (sl_reload_hash_files(rt->lua.job.files, rt->lua.job.nfiles, &now, err, errlen))
    return -1;
  if (now == r->version && !r->requested)
    return 1;
  sl_host_config hc;
  sl_runtime_host_config(rt, &hc);
  sl_lua_host *next = calloc(1, sizeof *next);
  if (!next) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = sl_lua_host_open(next, &hc, err, errlen) || same_io(&rt->lua.job, &next->job, err, errlen);
  /* The version is the content hashed before the load: were the files changed since, the next change event
   * finds a different hash and reloads again. A new set of files is hashed as it is now. */
  r->next_version = now;
  if (!rc && !same_strings(rt->lua.job.files, rt->lua.job.nfiles, next->job.files, next->job.nfiles))
    rc = sl_reload_hash_files(next->job.files, next->job.nfiles, &r->next_version, err, errlen);
  if (rc) {
    sl_lua_host_close(next);
    free(next);
    return -1;
  }
  r->next = next;
  return 0;
}

static int has_uid(const sl_job_desc *job, const char *uid) {
  for (int i = 0; i < job->nuids; i++)
    if (!strcmp(job->uids[i], uid))
      return 1;
  return 0;
}

/* Appends s to the bounded list out ("a, b, c"). */
static void append(char *out, size_t len, const char *s) {
  size_t n = strlen(out);
  snprintf(out + n, len - n, "%s%s", n ? ", " : "", s);
}

/* Logs how the graph changes, if it does. Returns how many operators the new code removes. */
int sl_reload_graph_changes(const sl_job_desc *old, const sl_job_desc *new) {
  char added[512] = "", removed[512] = "";
  int nremoved = 0;
  if (same_strings(old->uids, old->nuids, new->uids, new->nuids) &&
      same_strings(old->kinds, old->nkinds, new->kinds, new->nkinds))
    return 0;
  for (int i = 0; i < new->nuids; i++)
    if (!has_uid(old, new->uids[i]))
      append(added, sizeof added, new->uids[i]);
  for (int i = 0; i < old->nuids; i++)
    if (!has_uid(new, old->uids[i])) {
      append(removed, sizeof removed, old->uids[i]);
      nremoved++;
    }
  sl_info("the new code changes the job's graph (operators added: %s; removed: %s); state stays with its "
          "operator uid",
          added[0] ? added : "none", removed[0] ? removed : "none");
  return nremoved;
}

/* Sources and the output keep pointers into the running job's endpoint strings (sl_source.ep is a copy of
 * the struct): the new job, whose endpoints are equal (same_io), takes the running job's over, and hands
 * its own to the old VM to free. */
static void take_endpoints(sl_job_desc *to, sl_job_desc *from) {
  sl_endpoint *sources = to->sources, sink = to->sink;
  int n = to->nsources;
  to->sources = from->sources;
  to->nsources = from->nsources;
  to->sink = from->sink;
  from->sources = sources;
  from->nsources = n;
  from->sink = sink;
}

/* Replaces the running VM by next, which starts on the same backend and output buffer. The new VM starts
 * first, so that a failing start (an initialize hook that throws) leaves the old one running. */
int sl_reload_start_and_swap(sl_runtime *rt, sl_lua_host *next, char *err, size_t errlen) {
  if (sl_lua_host_start(next, rt->backend, &rt->out_buf, (unsigned)rt->opts->max_parallelism, err, errlen))
    return -1;
  take_endpoints(&next->job, &rt->lua.job);
  sl_lua_host_close(&rt->lua); /* its key scopes are freed by its GC; the backend outlives them */
  rt->lua = *next;
  free(next);
  /* The new pipeline's processing-time timers: fire what is due and re-arm the loop's timer now, not at
   * the next batch. */
  sl_timer_service_after_batch(rt);
  sl_runtime_flush_output(rt);
  return 0;
}

/* While loading the checkpoint's snapshot: keeps the state of operators the new code has. */
typedef struct drop_probe {
  const sl_job_desc *job;
  int allow, dropped;
  char names[1024];
} drop_probe;

static int keep_in_new(const char *op_uid, const char *state_name, void *arg) {
  drop_probe *p = arg;
  char name[600];
  if (has_uid(p->job, op_uid))
    return 1;
  p->dropped++;
  snprintf(name, sizeof name, "'%s' of operator '%s'", state_name, op_uid);
  append(p->names, sizeof p->names, name);
  if (p->allow)
    sl_warn("dropping state %s: the new code has no such operator", name);
  return 0;
}

static void remove_probe(const char *dir) {
  sl_snapshot_remove_env(dir);
  rmdir(dir);
}

/* The new code removes operators. Their state, if they had any, is refused, or (allowed) dropped: the
 * checkpoint just taken is loaded without it into STATE-DIR/reload, which then replaces the working state.
 * Nothing was read past that checkpoint, so sources and output are where it left them. Returns 1 when no
 * removed operator had state (nothing to do), 0 when dropped and switched (next consumed), -1 with err;
 * *fatal when the old VM was already closed. */
static int drop_removed_state(sl_runtime *rt, sl_lua_host *next, int *fatal, char *err, size_t errlen) {
  char dir[4200], snap[4200], from[4300], to[4300];
  drop_probe p = {&next->job, rt->opts->allow_non_restored, 0, ""};
  sl_state_dir_path(rt->state_dir, "reload", dir, sizeof dir);
  sl_checkpoint_file(rt->ckpt.job.dir, SL_CHECKPOINT_SNAPSHOT, snap, sizeof snap);
  if (mkdir(dir, SL_STATE_DIR_MODE) && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  if (sl_snapshot_load(dir, snap, keep_in_new, &p, err, errlen) || !p.dropped || !p.allow) {
    if (p.dropped && !p.allow)
      snprintf(err, errlen,
               "the new code has no operator for state %s (rename it back, or run the job with "
               "--allow-non-restored-state to drop it)",
               p.names);
    remove_probe(dir);
    return p.dropped ? -1 : 1;
  }
  /* The state the new code would run on is in the probe: check its kinds now, while the old code can still
   * go on running when they do not fit. */
  sl_backend *probe = NULL;
  char why[512];
  sl_backend_options bo = {0, sl_backend_map_reserve()};
  int refused = sl_backend_open(&probe, dir, &bo, why, sizeof why) != SL_STATE_OK;
  if (refused)
    snprintf(err, errlen, "cannot open the state the new code would run on: %s", why);
  else
    refused = sl_lua_host_check_states(next, probe, err, errlen) != 0;
  sl_backend_close(probe);
  if (refused) {
    remove_probe(dir);
    return -1;
  }
  /* From here on the old VM is gone: a failure leaves no code to run, and stops the job (its last
   * checkpoint is intact, so a restart continues from it). */
  *fatal = 1;
  take_endpoints(&next->job, &rt->lua.job);
  sl_lua_host_close(&rt->lua);
  sl_checkpoint_close(&rt->ckpt); /* it may still point into the backend */
  sl_backend_close(rt->backend);
  rt->backend = NULL;
  snprintf(from, sizeof from, "%s/state.mdb", dir);
  snprintf(to, sizeof to, "%s/state.mdb", rt->state_dir);
  sl_snapshot_remove_env(rt->state_dir);
  int rc = rename(from, to);
  if (rc)
    snprintf(err, errlen, "cannot install %s: %s", to, strerror(errno));
  remove_probe(dir);
  rt->lua = *next;
  free(next);
  if (rc || sl_runtime_open_backend(rt, err, errlen) ||
      sl_lua_host_start(&rt->lua, rt->backend, &rt->out_buf, (unsigned)rt->opts->max_parallelism, err,
                        errlen))
    return -1;
  *fatal = 0;
  /* The checkpoint history gets the state without the dropped operators right away, whole (a delta would
   * chain it to a snapshot that still holds them). */
  rt->ckpt.force_full = 1;
  sl_checkpoint_trigger(&rt->ckpt, SL_CHECKPOINT_SYNC);
  return 0;
}

int sl_reload_switch(sl_reloader *r, int *fatal, char *err, size_t errlen) {
  sl_runtime *rt = r->rt;
  sl_lua_host *next = r->next;
  int rc = -1;
  r->next = NULL;
  *fatal = 0;
  int removed = sl_reload_graph_changes(&rt->lua.job, &next->job);
  /* The cut is recorded: the checkpoint ends the old code's part of the stream (and runs its snapshot
   * hooks, so its operator state is in the backend for the new code's initialize hooks). */
  rt->ckpt.force_full = 1; /* whole: a removed operator's state is dropped by reloading its snapshot */
  if (sl_checkpoint_trigger(&rt->ckpt, SL_CHECKPOINT_SYNC) != 0) {
    snprintf(err, errlen, "the checkpoint before the switch failed");
    goto out;
  }
  if (removed) {
    rc = drop_removed_state(rt, next, fatal, err, errlen);
    if (rc == 0 || *fatal)
      return rc; /* next was consumed */
    if (rc < 0)
      goto out;
  }
  rc = sl_reload_start_and_swap(rt, next, err, errlen);
  if (rc == 0)
    return 0;
out:
  sl_lua_host_close(next);
  free(next);
  return -1;
}
