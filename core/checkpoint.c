/* checkpoint.c — the checkpoint coordinator (see checkpoint.h). */
#include "core/checkpoint.h"
#include "core/state_dir.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/output.h"
#include "core/runtime.h"
#include "core/savepoint.h"
#include "core/source.h"
#include "state/file_modes.h"
#include "state/state_delta.h"

#define FULL_EVERY 10

static void chk_dir(const sl_checkpointer *c, uint64_t id, char *out, size_t len) {
  sl_checkpoint_dir(c->dir, id, out, len);
}

/* Writes a savepoint: the snapshot and metadata copied to a directory of its own (kept until deleted).
 * -1 with the reason in j->err (the checkpoint itself is complete: j->ok stays 1). */
static int write_savepoint(sl_checkpoint_job *j) {
  char from[4200];
  sl_checkpoint_file(j->dir, SL_CHECKPOINT_SNAPSHOT, from, sizeof from);
  j->err[0] = '\0';
  return sl_savepoint_write(j->savepoint, from, &j->meta, j->err, sizeof j->err);
}

/* On the worker thread: everything that waits on the disk. */
static void work(void *arg) {
  sl_checkpointer *c = arg;
  sl_checkpoint_job *j = &c->job;
  char path[4200];
  if (c->task_snapshot)
    snprintf(path, sizeof path, "%s/%s", j->dir, c->task_snapshot);
  else
    sl_checkpoint_file(j->dir, SL_CHECKPOINT_SNAPSHOT, path, sizeof path);
  j->ok = 0;
  if (j->frozen && sl_frozen_flush(j->frozen, &j->snap, j->err, sizeof j->err))
    return;
  if (j->incremental) {
    sl_checkpoint_file(j->dir, c->task_delta ? c->task_delta : SL_CHECKPOINT_DELTA, path, sizeof path);
    if (sl_frozen_write_delta(j->frozen, path, &j->meta.snapshot_bytes, &j->meta.snapshot_entries, j->err,
                              sizeof j->err))
      return;
  } else if (sl_snapshot_write(j->snap, path, &j->meta.snapshot_bytes, &j->meta.snapshot_entries, j->err,
                               sizeof j->err)) {
    return;
  }
  uint32_t crc = 0;
  /* A parallel subtask's parts need neither: the job gathers them into its own part, which it checksums
   * and syncs before the metadata. */
  if (!c->task_snapshot && sl_output_sync_parts(&c->rt->out, j->part_first, j->part_last, &crc)) {
    snprintf(j->err, sizeof j->err, "syncing pending output: %s", strerror(errno));
    return;
  }
  j->meta.sink_crc = crc;
  j->meta.duration_ms = sl_now_ms() - j->started_ms;
  if (c->task_snapshot) { /* a subtask's share: the job writes the metadata once every share is durable */
    j->ok = 1;
    return;
  }
  if (sl_checkpoint_meta_write(j->dir, &j->meta, j->err, sizeof j->err))
    return;
  j->ok = 1;
  if (j->savepoint[0])
    write_savepoint(j); /* its outcome is logged and answered on the loop thread */
}

/* Deletes complete checkpoints beyond the newest `retain`, except those an incremental one among them
 * still needs (its base and the deltas after it), and incomplete ones older than the newest. */
void sl_checkpoint_prune(const char *checkpoints_dir, int retain, uint64_t newest) {
  uint64_t *ids;
  int n = sl_checkpoint_list(checkpoints_dir, &ids);
  int kept = 0;
  uint64_t needed_from = newest;
  char dir[4200], err[64];
  for (int i = n - 1; i >= 0 && kept < retain; i--) {
    sl_checkpoint_meta m;
    sl_checkpoint_dir(checkpoints_dir, ids[i], dir, sizeof dir);
    if (ids[i] <= newest && sl_checkpoint_meta_read(dir, &m, err, sizeof err) == 0) {
      kept++;
      if (m.base_id < needed_from)
        needed_from = m.base_id;
    }
  }
  for (int i = 0; i < n; i++) {
    sl_checkpoint_meta m;
    sl_checkpoint_dir(checkpoints_dir, ids[i], dir, sizeof dir);
    int rc = sl_checkpoint_meta_read(dir, &m, err, sizeof err);
    /* Only what is provably ours to drop: complete checkpoints past retention, and incomplete ones (no
     * metadata) older than the newest. One whose metadata is damaged or unreadable is left for recovery. */
    if ((rc == SL_META_OK && ids[i] < needed_from) || (rc == SL_META_MISSING && ids[i] < newest))
      sl_remove_tree(dir);
  }
  free(ids);
}

/* Back on the loop thread. */
static void after_work(void *arg) {
  sl_checkpointer *c = arg;
  sl_checkpoint_job *j = &c->job;
  sl_runtime *rt = c->rt;
  sl_snapshot_end(j->snap);
  j->snap = NULL;
  if (j->frozen) {
    sl_frozen_finish(j->frozen);
    c->settling = j->frozen;
    j->frozen = NULL;
  }
  if (c->task_snapshot) {
    c->in_flight = 0;
    c->task_done(c->task_arg, j);
    return;
  }
  if (j->ok) {
    c->completed++;
    c->last_complete = 1;
    if (!j->incremental)
      c->last_full_id = j->id;
    c->last_duration_ms = j->meta.duration_ms;
    c->last_bytes = j->meta.snapshot_bytes;
    sl_metrics_checkpoint_done(rt->metrics, &j->meta, sl_now_ms());
    char err[4200];
    if (sl_output_commit_parts(&rt->out, j->part_first, j->part_last, j->part_len, err, sizeof err) == 0) {
      c->carry_first = j->part_last + 1;
      rt->out.uncommitted = 0;
    } else {
      /* The checkpoint is complete, so its output is owed: a restart commits it again (recovery appends
       * the parts it still finds). Going on would let the output file fall behind what was read. */
      sl_runtime_fail(rt, "checkpoint %" PRIu64 ": %s", j->id, err);
    }
    sl_checkpoint_prune(c->dir, c->retain, j->id);
    for (int i = 0; i < rt->nsources; i++)
      sl_source_checkpoint_complete(rt->sources[i]); /* Kafka: the offsets go to the consumer group */
    sl_log(SL_LOG_DEBUG,
           "checkpoint %" PRIu64 " complete: %" PRIu64 " entries, %" PRIu64 " bytes, %" PRIu64 " ms", j->id,
           j->meta.snapshot_entries, j->meta.snapshot_bytes, j->meta.duration_ms);
    if (j->savepoint[0] && j->err[0])
      sl_error("savepoint %s failed: %s", j->savepoint, j->err);
    else if (j->savepoint[0])
      sl_info("savepoint written to %s (checkpoint %" PRIu64 ")", j->savepoint, j->id);
    if (j->savepoint[0] && sl_savepoint_answer(rt->state_dir, j->savepoint, j->err[0] ? j->err : NULL))
      sl_warn("cannot answer the request for savepoint %s: %s", j->savepoint, strerror(errno));
  } else {
    c->failed++;
    c->last_complete = 0;
    c->force_full = 1; /* a chain of deltas cannot skip this one */
    sl_error("checkpoint %" PRIu64 " failed: %s%s", j->id, j->err,
             rt->stopping ? "" : "; the job goes on and the next checkpoint retries");
    sl_remove_tree(j->dir);
    if (j->savepoint[0]) {
      char why[700];
      snprintf(why, sizeof why, "checkpoint %" PRIu64 " failed: %s", j->id, j->err);
      if (sl_savepoint_answer(rt->state_dir, j->savepoint, why))
        sl_warn("cannot answer the request for savepoint %s: %s", j->savepoint, strerror(errno));
    }
  }
  c->in_flight = 0;
}

/* Whether the last complete checkpoint already holds exactly what a checkpoint now would: it completed
 * (not merely was attempted), nothing was written to the state since (sl_backend_changed, asked after the
 * barrier's own hooks and offsets), and no output waits for a commit. Then the checkpoint is skipped: an
 * idle job writes nothing, whatever the size of its state. */
static int unchanged(const sl_checkpointer *c, const sl_runtime *rt) {
  return c->last_complete && !c->pending_savepoint[0] && rt->out_buf.len == 0 && rt->out.part_len == 0 &&
         rt->out.uncommitted == 0 && !sl_backend_changed(rt->backend);
}

/* The barrier: pre-commit the sink, commit state and offsets, open the frozen view. 0 when the checkpoint
 * goes on, 1 when nothing changed since the last complete one (may_skip: it is skipped), -1 on failure. */
static int barrier(sl_checkpointer *c, sl_checkpoint_job *j, int may_skip, int final) {
  sl_runtime *rt = c->rt;
  memset(j, 0, sizeof *j);
  j->id = c->next_id; /* taken below, once the checkpoint is not skipped */
  j->started_ms = sl_now_ms();
  if (sl_runtime_flush_output(rt)) {
    /* As after a batch: output that cannot be written stops the job (a restart resumes from the last
     * complete checkpoint); this checkpoint fails with it. */
    snprintf(j->err, sizeof j->err, "the output cannot be written");
    return -1;
  }
  /* Snapshot hooks and offsets first: they are the barrier's own writes, and whether they changed anything
   * decides whether there is anything to checkpoint. */
  int hooks = sl_lua_host_snapshot_hooks(&rt->lua, j->err, sizeof j->err);
  if (hooks == -2)
    sl_runtime_fail(rt, "checkpoint %" PRIu64 ": %s", j->id, j->err);
  if (hooks)
    return -1;
  int st = SL_STATE_OK;
  /* A parallel subtask saved its offsets when it put the barrier into its output channels. */
  for (int i = 0; i < rt->nsources && st == SL_STATE_OK && !c->task_snapshot; i++)
    st = sl_source_save_offset(rt->sources[i]);
  if (st != SL_STATE_OK)
    goto state_failed;
  if (may_skip && !c->task_snapshot && unchanged(c, rt))
    return 1;
  c->next_id++;
  j->meta.id = j->id;
  j->meta.time_ms = j->started_ms;
  chk_dir(c, j->id, j->dir, sizeof j->dir);
  j->meta.sink_committed = rt->out.committed;
  snprintf(j->meta.sink_path, sizeof j->meta.sink_path, "%s", rt->out.real_path ? rt->out.real_path : "");
  j->meta.max_parallelism = (uint64_t)rt->opts->max_parallelism;
  j->meta.sink_dev = rt->out.dev;
  j->meta.sink_ino = rt->out.ino;
  if (sl_output_rotate(&rt->out, j->id + 1, &j->part_last, &j->part_len, j->err, sizeof j->err)) {
    sl_runtime_fail(rt, "checkpoint %" PRIu64 ": %s", j->id, j->err);
    return -1;
  }
  j->part_first = c->carry_first;
  /* Parts of earlier failed checkpoints are carried into this one: it covers all uncommitted bytes. */
  rt->out.uncommitted += j->part_len;
  j->part_len = sl_output_exactly_once(&rt->out) ? rt->out.uncommitted : 0;
  j->meta.sink_first_part = j->part_first;
  j->meta.sink_part = j->part_len;
  if (mkdir(j->dir, SL_STATE_DIR_MODE) && errno != EEXIST) {
    snprintf(j->err, sizeof j->err, "cannot create %s: %s", j->dir, strerror(errno));
    return -1;
  }
  /* Entries of the previous checkpoint not marked clean yet stay dirty: they are in LMDB already, and the
   * freeze takes only entries written since then, so settling them is not worth a stall here. */
  sl_frozen_free(c->settling);
  c->settling = NULL;
  st = sl_backend_freeze(rt->backend, &j->frozen);
  /* Cleanup while snapshotting: entries of TTL states expired by now stay out of the snapshot. */
  int64_t now = (int64_t)sl_now_ms();
  if (st == 1) {
    /* The write transaction holds spilled changes: commit here, on the loop thread, as a whole. */
    if ((st = sl_backend_commit(rt->backend, 0)) != SL_STATE_OK ||
        (st = sl_snapshot_begin(rt->backend, &j->snap)) != SL_STATE_OK)
      goto state_failed;
    sl_snapshot_drop_expired(j->snap, now);
  } else if (st != SL_STATE_OK) {
    goto state_failed;
  } else {
    sl_frozen_drop_expired(j->frozen, now);
  }
  j->meta.barrier_ms = sl_now_ms() - j->started_ms;
  if (c->pending_savepoint[0]) {
    snprintf(j->savepoint, sizeof j->savepoint, "%s", c->pending_savepoint);
    c->pending_savepoint[0] = '\0';
  }
  /* A delta needs the frozen batch (not a commit on this thread), an unbroken chain, and is no savepoint
   * (those are whole). Every FULL_EVERY-th checkpoint is full, which bounds the chain recovery replays. */
  j->incremental = c->incremental && j->frozen && !c->force_full && c->last_full_id &&
                   j->id - c->last_full_id < FULL_EVERY && !j->savepoint[0];
  if (j->incremental && final)
    sl_frozen_for_delta_only(j->frozen);
  j->meta.base_id = j->incremental ? c->last_full_id : j->id;
  if (!j->incremental)
    c->force_full = 0;
  return 0;
state_failed:
  /* The state backend failed under the barrier: what it holds is not known to match the stream any more,
   * so the job stops rather than take later checkpoints from it. */
  /* Not every status comes with a detail (an allocation that failed has none). */
  const char *detail = sl_backend_last_error(rt->backend);
  snprintf(j->err, sizeof j->err, "the state backend failed: %s",
           detail && detail[0] ? detail : sl_state_strerror(st));
  sl_runtime_fail(rt, "checkpoint %" PRIu64 ": %s", j->id, j->err);
  return -1;
}

#define SETTLE_PER_BATCH 16384

/* A checkpoint before its interval is due, when the cache fills with entries written since the last barrier
 * (sl_backend_wants_barrier): its flush writes them to LMDB on the checkpoint thread, where the cache's cap
 * would soon make the record thread commit them (measured: 1 M distinct keys committed 913 k entries on the
 * record thread before the first checkpoint). Spaced by a quarter interval, within 100 ms to 1 s (and never
 * while one is in flight, which is what bounds them when the checkpoint thread is the slower); none with
 * checkpoints only at the end, none in a parallel job's subtask (the job times its barriers). The
 * interval's timer starts again from it. */
static void maybe_barrier_early(sl_checkpointer *c) {
  sl_runtime *rt = c->rt;
  int64_t interval = rt->opts->checkpoint_interval_ms;
  if (interval <= 0 || rt->task || c->in_flight || !sl_backend_wants_barrier(rt->backend))
    return;
  uint64_t quarter = (uint64_t)interval / 4, gap = quarter < 100 ? 100 : quarter > 1000 ? 1000 : quarter;
  uint64_t now = uv_now(rt->loop);
  if (now - c->last_barrier_ms < gap)
    return;
  c->early++;
  sl_checkpoint_trigger(c, SL_CHECKPOINT_ASYNC);
  uv_timer_again(&rt->commit_timer);
}

void sl_checkpoint_after_batch(sl_checkpointer *c) {
  if (c->settling && sl_frozen_settle(c->settling, SETTLE_PER_BATCH)) {
    sl_frozen_free(c->settling);
    c->settling = NULL;
  }
  maybe_barrier_early(c);
}

void sl_checkpoint_task_resolved(sl_checkpointer *c, int ok) {
  sl_checkpoint_job *j = &c->job;
  if (ok) {
    for (int i = 0; i < c->rt->nsources; i++)
      sl_source_checkpoint_complete(c->rt->sources[i]); /* Kafka: the offsets go to the consumer group */
    c->completed++;
    c->last_complete = 1;
    if (!j->incremental)
      c->last_full_id = j->id;
    c->carry_first = j->part_last + 1;
    c->rt->out.uncommitted = 0;
  } else {
    c->failed++;
    c->last_complete = 0;
    c->force_full = 1;
  }
}

void sl_checkpoint_close(sl_checkpointer *c) {
  sl_frozen_free(c->settling);
  c->settling = NULL;
}

int sl_checkpoint_trigger(sl_checkpointer *c, int mode) {
  int sync = mode != SL_CHECKPOINT_ASYNC;
  if (c->in_flight) {
    c->skipped++;
    return 1;
  }
  sl_checkpoint_job *j = &c->job;
  c->last_barrier_ms = uv_now(c->rt->loop);
  /* The final checkpoint is incremental like any other (a bounded run then ends by writing what changed
   * since the last, not its whole state: 0.6 s of a 3.5 s run over 1 M distinct keys), and as the state's
   * last use it writes only the delta, not LMDB (see SL_CHECKPOINT_FINAL); a reload asks for a whole one (it
   * may reload the state from its snapshot). */
  int rc = barrier(c, j, !sync, mode == SL_CHECKPOINT_FINAL);
  if (rc == 1) {
    c->unchanged++;
    return 0;
  }
  if (rc) {
    c->failed++;
    c->force_full = 1;
    c->last_complete = 0;
    if (!c->rt->failed) /* else the job's failure was just logged: it does not go on */
      sl_error("checkpoint %" PRIu64 " failed at the barrier: %s; the job goes on", j->id, j->err);
    if (j->snap)
      sl_snapshot_end(j->snap);
    j->snap = NULL;
    if (c->task_snapshot) { /* the checkpoint's directory holds the other subtasks' shares: the job's call */
      j->ok = 0;
      c->task_done(c->task_arg, j);
      return -1;
    }
    sl_remove_tree(j->dir);
    return -1;
  }
  c->in_flight = 1;
  if (sync || sl_bg_worker_submit(&c->worker, work, after_work, c) != 0) {
    /* The final checkpoint waits for itself; without the worker (stopping) it is done inline too. */
    work(c);
    after_work(c);
    return sync && !j->ok ? -1 : 0;
  }
  return 0;
}
