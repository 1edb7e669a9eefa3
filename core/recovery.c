/* recovery.c — at start: choose the checkpoint (or savepoint) to restore and load it (see checkpoint.h). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/checkpoint.h"
#include "core/log.h"
#include "core/output.h"
#include "core/state_dir.h"
#include "state/file_modes.h"
#include "state/state_delta.h"
#include "state/state_key.h"
#include "state/state_rescale.h"

/* What recovery found in one checkpoint directory. */
enum usability { USABLE, INCOMPLETE, CORRUPT, BROKEN_CHAIN, UNREADABLE };

/* Checks that dir holds a complete, intact checkpoint whose own file (state.snap, or delta.snap for an
 * incremental one) verifies, and whose pending output, if still in pending_dir (NULL: not checked), is
 * intact; fills *m. The reason is in err for every answer but USABLE. */
static enum usability usable(const char *dir, const char *pending_dir, sl_checkpoint_meta *m, char *err,
                             size_t errlen) {
  char snap[4200];
  int rc = sl_checkpoint_meta_read(dir, m, err, errlen);
  if (rc == SL_META_MISSING)
    return INCOMPLETE;
  if (rc == SL_META_CORRUPT)
    return CORRUPT;
  if (rc != SL_META_OK)
    return UNREADABLE;
  if (m->parallelism > 1) { /* a parallel job's: one snapshot or delta per subtask */
    rc = 0;
    for (uint64_t t = 0; t < m->parallelism && rc == 0; t++) {
      sl_checkpoint_task_file(dir, (unsigned)t, snap, sizeof snap);
      if (access(snap, F_OK) != 0 && m->base_id != m->id)
        sl_checkpoint_task_delta_file(dir, (unsigned)t, snap, sizeof snap);
      rc = sl_snapshot_verify(snap, err, errlen);
    }
  } else {
    sl_checkpoint_file(dir, m->base_id == m->id ? SL_CHECKPOINT_SNAPSHOT : SL_CHECKPOINT_DELTA, snap,
                       sizeof snap);
    rc = sl_snapshot_verify(snap, err, errlen);
  }
  if (rc == 0 && pending_dir)
    rc = sl_output_check_pending(pending_dir, m, err, errlen);
  return rc == 0 ? USABLE : rc == SL_SNAPSHOT_CORRUPT || rc == SL_META_CORRUPT ? CORRUPT : UNREADABLE;
}

/* For an incremental checkpoint: every checkpoint of its chain, from the base, is there and intact. A link
 * that is not gives BROKEN_CHAIN: the top itself is intact (the link is set aside when the walk reaches it).
 */
static enum usability chain_usable(const sl_checkpointer *c, const sl_checkpoint_meta *top, char *err,
                                   size_t errlen) {
  char dir[4200];
  for (uint64_t id = top->base_id; id < top->id; id++) {
    sl_checkpoint_meta m;
    sl_checkpoint_dir(c->dir, id, dir, sizeof dir);
    enum usability u = usable(dir, NULL, &m, err, errlen);
    if (u == UNREADABLE)
      return u;
    if (u != USABLE) {
      char why[512];
      snprintf(why, sizeof why, "checkpoint %" PRIu64 " of its chain: %s", id, err);
      snprintf(err, errlen, "%s", why);
      return BROKEN_CHAIN;
    }
    if (m.base_id != top->base_id) {
      snprintf(err, errlen, "checkpoint %" PRIu64 " of its chain belongs to another chain", id);
      return BROKEN_CHAIN;
    }
  }
  return USABLE;
}

/* Sets a corrupt checkpoint aside: chk-N becomes chk-N.corrupt (or .corrupt-2, ...), which no listing
 * takes for a checkpoint and nothing deletes. The user decides what to do with it. 0, or -1. */
static int set_aside(const char *dir, char *aside, size_t len) {
  for (int i = 1; i < 1000; i++) {
    if (i == 1)
      snprintf(aside, len, "%s" SL_CHECKPOINT_CORRUPT_SUFFIX, dir);
    else
      snprintf(aside, len, "%s" SL_CHECKPOINT_CORRUPT_SUFFIX "-%d", dir, i);
    if (access(aside, F_OK) != 0 && errno == ENOENT)
      return rename(dir, aside);
  }
  errno = EEXIST;
  return -1;
}

/* Whether checkpoints_dir holds a checkpoint set aside as corrupt by an earlier start. */
static int has_set_aside(const char *checkpoints_dir, char *name, size_t len) {
  DIR *d = opendir(checkpoints_dir);
  struct dirent *e;
  int found = 0;
  while (d && !found && (e = readdir(d)))
    if (!strncmp(e->d_name, SL_CHECKPOINT_PREFIX, sizeof SL_CHECKPOINT_PREFIX - 1) &&
        strstr(e->d_name, SL_CHECKPOINT_CORRUPT_SUFFIX)) {
      snprintf(name, len, "%s/%s", checkpoints_dir, e->d_name);
      found = 1;
    }
  if (d)
    closedir(d);
  return found;
}

/* A parallel job's checkpoint: each subtask's snapshot is loaded into an environment of its own under
 * STATE-DIR/restore/, and the working environment is filled from all of them (state/state_rescale.h: keyed
 * state whole, every subtask's operator lists, the union of the metadata). Whoever runs next splits it by
 * key group again, at whatever parallelism it runs. */
/* Removes recovery's scratch environments (STATE-DIR/restore/<k>, then restore/ itself): ours alone. */
static void remove_scratch(const char *scratch) {
  char dir[4300];
  DIR *d = opendir(scratch);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') {
      snprintf(dir, sizeof dir, "%s/%s", scratch, e->d_name);
      sl_remove_tree(dir);
    }
  if (d)
    closedir(d);
  sl_remove_tree(scratch);
}

/* Subtask t's state at checkpoint m (in checkpoints_dir; NULL: m is the savepoint at dir, whole): its full
 * snapshot at the newest checkpoint of m's chain that has one, then its deltas after it, into env. */
static int load_task_chain(const char *env, const char *checkpoints_dir, const char *dir,
                           const sl_checkpoint_meta *m, unsigned t, sl_snapshot_keep_fn keep, void *arg,
                           char *err, size_t errlen) {
  char link[4200], snap[4300];
  uint64_t base = m->id;
  for (; checkpoints_dir && base > m->base_id; base--) {
    sl_checkpoint_dir(checkpoints_dir, base, link, sizeof link);
    sl_checkpoint_task_file(link, t, snap, sizeof snap);
    if (access(snap, F_OK) == 0)
      break;
  }
  if (checkpoints_dir)
    sl_checkpoint_dir(checkpoints_dir, base, link, sizeof link);
  else
    snprintf(link, sizeof link, "%s", dir);
  sl_checkpoint_task_file(link, t, snap, sizeof snap);
  if (sl_snapshot_load(env, snap, keep, arg, err, errlen))
    return -1;
  for (uint64_t id = base + 1; checkpoints_dir && id <= m->id; id++) {
    sl_checkpoint_dir(checkpoints_dir, id, link, sizeof link);
    sl_checkpoint_task_delta_file(link, t, snap, sizeof snap);
    if (sl_snapshot_apply_delta(env, snap, keep, arg, err, errlen))
      return -1;
  }
  return 0;
}

static int load_tasks(const char *state_dir, const char *checkpoints_dir, const char *dir,
                      const sl_checkpoint_meta *m, sl_snapshot_keep_fn keep, void *arg) {
  unsigned parallelism = (unsigned)m->parallelism;
  unsigned max_parallelism = m->max_parallelism ? (unsigned)m->max_parallelism : SL_DEFAULT_MAX_PARALLELISM;
  char err[512], scratch[4200];
  char **srcs = calloc(parallelism, sizeof *srcs);
  int rc = srcs ? 0 : -1;
  if (!srcs)
    snprintf(err, sizeof err, "out of memory");
  sl_state_dir_path(state_dir, "restore", scratch, sizeof scratch);
  remove_scratch(scratch);
  if (rc == 0 && mkdir(scratch, SL_STATE_DIR_MODE) != 0) {
    snprintf(err, sizeof err, "cannot create %s: %s", scratch, strerror(errno));
    rc = -1;
  }
  for (unsigned t = 0; rc == 0 && t < parallelism; t++) {
    size_t n = strlen(scratch) + 16;
    if (!(srcs[t] = malloc(n))) {
      snprintf(err, sizeof err, "out of memory");
      rc = -1;
      break;
    }
    snprintf(srcs[t], n, "%s/%u", scratch, t);
    if (mkdir(srcs[t], SL_STATE_DIR_MODE) != 0) {
      snprintf(err, sizeof err, "cannot create %s: %s", srcs[t], strerror(errno));
      rc = -1;
      break;
    }
    rc = load_task_chain(srcs[t], checkpoints_dir, dir, m, t, keep, arg, err, sizeof err);
  }
  sl_backend *b = NULL;
  if (rc == 0) {
    sl_snapshot_remove_env(state_dir);
    sl_backend_options bo = {0, sl_backend_map_reserve()};
    char why[512];
    if (sl_backend_open(&b, state_dir, &bo, why, sizeof why) != SL_STATE_OK) {
      snprintf(err, sizeof err, "opening %s: %s", state_dir, why);
      rc = -1;
    }
  }
  if (rc == 0)
    rc = sl_rescale_fill(b, (const char *const *)srcs, (int)parallelism, 0, 1, max_parallelism, err,
                         sizeof err);
  sl_backend_close(b);
  for (unsigned t = 0; srcs && t < parallelism; t++)
    free(srcs[t]);
  free(srcs);
  remove_scratch(scratch);
  if (rc)
    sl_error("restoring %s failed: %s", dir, err);
  return rc ? -1 : 0;
}

static int load(const char *state_dir, const char *dir, sl_snapshot_keep_fn keep, void *arg) {
  char snap[4200], err[512];
  sl_checkpoint_file(dir, SL_CHECKPOINT_SNAPSHOT, snap, sizeof snap);
  if (sl_snapshot_load(state_dir, snap, keep, arg, err, sizeof err)) {
    sl_error("restoring %s failed: %s", dir, err);
    return -1;
  }
  return 0;
}

/* Loads checkpoint m: its base's full snapshot, then the deltas after it in order. */
static int load_chain(const sl_checkpointer *c, const char *state_dir, const sl_checkpoint_meta *m,
                      sl_snapshot_keep_fn keep, void *arg) {
  char dir[4200], delta[4300], err[512];
  sl_checkpoint_dir(c->dir, m->base_id, dir, sizeof dir);
  if (m->parallelism > 1) { /* each subtask's own chain, then merged (or, at the same parallelism, later) */
    sl_checkpoint_dir(c->dir, m->id, dir, sizeof dir);
    if (c->defer_parallelism == m->parallelism) {
      ((sl_checkpointer *)c)->tasks_deferred = 1;
      return 0;
    }
    return load_tasks(state_dir, c->dir, dir, m, keep, arg);
  }
  if (load(state_dir, dir, keep, arg))
    return -1;
  for (uint64_t id = m->base_id + 1; id <= m->id; id++) {
    sl_checkpoint_dir(c->dir, id, dir, sizeof dir);
    sl_checkpoint_file(dir, SL_CHECKPOINT_DELTA, delta, sizeof delta);
    if (sl_snapshot_apply_delta(state_dir, delta, keep, arg, err, sizeof err)) {
      sl_error("restoring checkpoint %" PRIu64 " failed: %s", m->id, err);
      return -1;
    }
  }
  return 0;
}

static int restore_savepoint(sl_checkpointer *c, const char *state_dir, const char *from, sl_snapshot_keep_fn keep,
                             void *arg, sl_checkpoint_meta *restored) {
  char err[512];
  enum usability u = usable(from, NULL, restored, err, sizeof err);
  if (u == USABLE && restored->base_id != restored->id) {
    u = CORRUPT;
    snprintf(err, sizeof err, "it is an incremental checkpoint, not a savepoint");
  }
  if (u != USABLE) {
    sl_error("cannot use savepoint %s: %s", from, err);
    return -1;
  }
  if (restored->parallelism > 1 && restored->parallelism == c->defer_parallelism)
    c->tasks_deferred = 1;
  else if (restored->parallelism > 1 ? load_tasks(state_dir, NULL, from, restored, keep, arg)
                                      : load(state_dir, from, keep, arg))
    return -1;
  sl_info("restored savepoint %s (checkpoint %" PRIu64 ")", from, restored->id);
  /* The savepoint's output belongs to another run: this job's output file is not provably its own. */
  restored->sink_committed = restored->sink_part = 0;
  restored->sink_path[0] = '\0';
  restored->sink_dev = restored->sink_ino = 0;
  return 0;
}

/* The newest usable checkpoint, loaded: newest first; an incomplete one (a crash before its metadata) is
 * removed, a corrupt one set aside, and the one before it tried. A checkpoint that cannot be read now
 * (EIO, ENOMEM) stops the start: falling back past it would silently lose what it committed. */
static int restore_newest(sl_checkpointer *c, const char *state_dir, const char *pending_dir,
                          const uint64_t *ids, int n, sl_snapshot_keep_fn keep, void *arg,
                          sl_checkpoint_meta *restored, int *have) {
  char dir[4200], aside[4300], err[512];
  for (int i = n - 1; i >= 0; i--) {
    sl_checkpoint_dir(c->dir, ids[i], dir, sizeof dir);
    enum usability u = usable(dir, pending_dir, restored, err, sizeof err);
    if (u == USABLE && restored->base_id != restored->id)
      u = chain_usable(c, restored, err, sizeof err);
    if (u == UNREADABLE) {
      sl_error("checkpoint %" PRIu64 " cannot be read now (%s); not starting, and nothing was changed: fix "
               "the cause and start again",
               ids[i], err);
      return -1;
    }
    if (u == INCOMPLETE) {
      sl_remove_tree(dir); /* ours and never completed (no metadata): nothing refers to it */
      continue;
    }
    if (u == CORRUPT || u == BROKEN_CHAIN) {
      int own = u == CORRUPT;
      if (own && set_aside(dir, aside, sizeof aside)) {
        sl_error("checkpoint %" PRIu64 " is corrupt (%s) and cannot be set aside: %s", ids[i], err,
                 strerror(errno));
        return -1;
      }
      sl_warn("checkpoint %" PRIu64 " is corrupt (%s)%s%s; falling back to the one before", ids[i], err,
              own ? ": set aside as " : "", own ? aside : "");
      continue;
    }
    if (load_chain(c, state_dir, restored, keep, arg))
      return -1;
    *have = 1;
    if (restored->base_id == restored->id)
      sl_info("restored checkpoint %" PRIu64 " from %s", restored->id, dir);
    else
      sl_info("restored checkpoint %" PRIu64 " from %s (full checkpoint %" PRIu64 " and %" PRIu64 " deltas)",
              restored->id, dir, restored->base_id, restored->id - restored->base_id);
    return 0;
  }
  return 0;
}

int sl_checkpoint_load_task(const sl_checkpointer *c, const sl_checkpoint_meta *m, const char *from_savepoint,
                            unsigned t, const char *env_dir, sl_snapshot_keep_fn keep, void *arg) {
  char dir[4200], err[512];
  if (from_savepoint)
    snprintf(dir, sizeof dir, "%s", from_savepoint);
  else
    sl_checkpoint_dir(c->dir, m->id, dir, sizeof dir);
  if (load_task_chain(env_dir, from_savepoint ? NULL : c->dir, dir, m, t, keep, arg, err, sizeof err)) {
    sl_error("restoring subtask %u of %s failed: %s", t, dir, err);
    return -1;
  }
  return 0;
}

int sl_checkpoint_recover(sl_checkpointer *c, const char *state_dir, const char *pending_dir,
                          const char *from_savepoint, sl_snapshot_keep_fn keep, void *arg,
                          sl_checkpoint_meta *restored, int *have) {
  uint64_t *ids = NULL;
  char aside[4300];
  *have = 0;
  sl_state_dir_path(state_dir, "checkpoints", c->dir, sizeof c->dir);
  if (mkdir(c->dir, SL_STATE_DIR_MODE) && errno != EEXIST) {
    sl_error("cannot create %s: %s", c->dir, strerror(errno));
    return -1;
  }
  int n = sl_checkpoint_list(c->dir, &ids);
  if (n < 0) {
    sl_error("cannot list %s: %s", c->dir, strerror(errno));
    return -1;
  }
  c->next_id = n > 0 ? ids[n - 1] + 1 : 1;
  int rc;
  if (from_savepoint) {
    rc = restore_savepoint(c, state_dir, from_savepoint, keep, arg, restored);
    *have = rc == 0;
  } else {
    rc = restore_newest(c, state_dir, pending_dir, ids, n, keep, arg, restored, have);
  }
  if (rc == 0 && !*have && !from_savepoint && has_set_aside(c->dir, aside, sizeof aside)) {
    /* Starting from empty state here would silently drop everything those checkpoints committed. */
    sl_error("state dir '%s' has no usable checkpoint, only corrupt ones set aside (%s); to start this job "
             "from empty state, move them out of %s",
             state_dir, aside, c->dir);
    rc = -1;
  }
  if (rc == 0 && !*have)
    sl_snapshot_remove_env(state_dir); /* no checkpoint at all: the working state starts empty */
  c->carry_first = c->next_id;
  c->force_full = 1; /* ids may skip after a recovery: a new chain starts with a full checkpoint */
  /* A checkpoint of this state dir holds the working state now; a savepoint is elsewhere, so the first
   * checkpoint after it is always taken. */
  c->last_complete = *have && !from_savepoint;
  free(ids);
  return rc;
}
