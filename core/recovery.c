/* recovery.c — at start: choose the checkpoint (or savepoint) to restore and load it (see checkpoint.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checkpoint.h"
#include "core/log.h"
#include "state/state_delta.h"

/* Checks that dir holds a complete, intact checkpoint whose own file (state.snap, or delta.snap for an
 * incremental one) verifies; fills *m. 0, or -1 with the reason. */
static int usable(const char *dir, sl_checkpoint_meta *m, char *err, size_t errlen) {
  char snap[4200];
  if (sl_checkpoint_meta_read(dir, m, err, errlen))
    return -1;
  snprintf(snap, sizeof snap, "%s/%s", dir, m->base_id == m->id ? "state.snap" : "delta.snap");
  return sl_snapshot_verify(snap, err, errlen);
}

/* For an incremental checkpoint: every checkpoint of its chain, from the base, is there and intact. */
static int chain_usable(const sl_checkpointer *c, const sl_checkpoint_meta *top, char *err, size_t errlen) {
  char dir[4200];
  for (uint64_t id = top->base_id; id < top->id; id++) {
    sl_checkpoint_meta m;
    snprintf(dir, sizeof dir, "%s/chk-%020" PRIu64, c->dir, id);
    if (usable(dir, &m, err, errlen))
      return -1;
    if (m.base_id != top->base_id) {
      snprintf(err, errlen, "checkpoint %" PRIu64 " of its chain belongs to another chain", id);
      return -1;
    }
  }
  return 0;
}

static int load(const char *state_dir, const char *dir, sl_snapshot_keep_fn keep, void *arg) {
  char snap[4200], err[512];
  snprintf(snap, sizeof snap, "%s/state.snap", dir);
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
  snprintf(dir, sizeof dir, "%s/chk-%020" PRIu64, c->dir, m->base_id);
  if (load(state_dir, dir, keep, arg))
    return -1;
  for (uint64_t id = m->base_id + 1; id <= m->id; id++) {
    snprintf(delta, sizeof delta, "%s/chk-%020" PRIu64 "/delta.snap", c->dir, id);
    if (sl_snapshot_apply_delta(state_dir, delta, keep, arg, err, sizeof err)) {
      sl_error("restoring checkpoint %" PRIu64 " failed: %s", m->id, err);
      return -1;
    }
  }
  return 0;
}

int sl_checkpoint_recover(sl_checkpointer *c, const char *state_dir, const char *from_savepoint,
                          sl_snapshot_keep_fn keep, void *arg, sl_checkpoint_meta *restored, int *have) {
  uint64_t *ids = NULL;
  char dir[4200], err[512];
  *have = 0;
  snprintf(c->dir, sizeof c->dir, "%s/checkpoints", state_dir);
  if (mkdir(c->dir, 0755) && errno != EEXIST) {
    sl_error("cannot create %s: %s", c->dir, strerror(errno));
    return -1;
  }
  int n = sl_checkpoint_list(c->dir, &ids);
  if (n < 0) {
    sl_error("cannot list %s", c->dir);
    return -1;
  }
  c->next_id = n > 0 ? ids[n - 1] + 1 : 1;
  int rc = 0;
  if (from_savepoint) {
    if (usable(from_savepoint, restored, err, sizeof err)) {
      sl_error("cannot use savepoint %s: %s", from_savepoint, err);
      rc = -1;
    } else if ((rc = load(state_dir, from_savepoint, keep, arg)) == 0) {
      *have = 1;
      sl_info("restored savepoint %s (checkpoint %" PRIu64 ")", from_savepoint, restored->id);
      /* The savepoint's pending output belongs to another run: start this output from nothing. */
      restored->sink_committed = restored->sink_part = 0;
    }
  } else {
    for (int i = n - 1; i >= 0 && !*have; i--) {
      snprintf(dir, sizeof dir, "%s/chk-%020" PRIu64, c->dir, ids[i]);
      if (usable(dir, restored, err, sizeof err) ||
          (restored->base_id != restored->id && chain_usable(c, restored, err, sizeof err))) {
        if (strncmp(err, "no metadata", 11) != 0)
          sl_warn("checkpoint %" PRIu64 " is unusable (%s); falling back to the one before", ids[i], err);
        sl_remove_tree(dir); /* incomplete or corrupt, and newer than what we restore: never used again */
        continue;
      }
      if (load_chain(c, state_dir, restored, keep, arg)) {
        rc = -1;
        break;
      }
      *have = 1;
      if (restored->base_id == restored->id)
        sl_info("restored checkpoint %" PRIu64 " from %s", restored->id, dir);
      else
        sl_info("restored checkpoint %" PRIu64 " from %s (full checkpoint %" PRIu64 " and %" PRIu64 " deltas)",
                restored->id, dir, restored->base_id, restored->id - restored->base_id);
    }
  }
  if (rc == 0 && !*have)
    sl_snapshot_remove_env(state_dir); /* nothing to restore: the working state starts empty */
  c->carry_first = c->next_id;
  c->force_full = 1; /* ids may skip after a recovery: a new chain starts with a full checkpoint */
  free(ids);
  return rc;
}
