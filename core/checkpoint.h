/* checkpoint.h — the checkpoint coordinator: barriers, asynchronous snapshots, completion, retention, and
 * recovery at start.
 *
 * The barrier. The runtime runs every operator synchronously on one thread, so between two batches no
 * record is in flight anywhere in the graph: a checkpoint taken there has the barrier at every source and
 * every operator at once — inputs are aligned by construction (alignment time 0), and no record read after
 * the barrier can reach the snapshot, whichever input it came from. Checkpoint N at that point: the sink's
 * pending part is closed (pre-commit), source offsets are written into the state, the state is committed to
 * the working LMDB environment, and a read view of it is opened. The commit is the worker's: at the barrier
 * the dirty state is only copied (state_flush.h), so the stall is a memory copy, not an LMDB flush.
 *
 * The snapshot. The checkpoint thread (core/bg_worker.h) streams that view into checkpoints/chk-N/state.snap,
 * fsyncs it and the sink's pending parts, and writes _metadata durably: only then is N complete. Processing
 * goes on meanwhile (LMDB's MVCC keeps the view frozen). Back on the loop thread the sink commits (the parts
 * are appended to the output file) and checkpoints beyond the retained ones are deleted. One checkpoint is in
 * flight at a time; a trigger while one runs is skipped and counted, and one that finds nothing changed since
 * the last complete checkpoint is skipped too ("unchanged": an idle job writes nothing). By default a
 * checkpoint is a delta of what changed (a full one every FULL_EVERY-th, for savepoints and final ones).
 *
 * Recovery (core/recovery.c). At start the newest complete checkpoint whose metadata, snapshot and pending
 * output verify is loaded into a fresh working environment: an incomplete one is removed, a corrupt one set
 * aside (renamed, never deleted) and the previous one used, one that cannot be read now stops the start;
 * sources seek to its offsets, the output file is put back to its committed content. */
#ifndef SLUICE_CHECKPOINT_H
#define SLUICE_CHECKPOINT_H

#include <stdint.h>
#include <uv.h>

#include "core/bg_worker.h"
#include "core/checkpoint_meta.h"
#include "state/state_flush.h"
#include "state/state_snapshot.h"

struct sl_runtime;

typedef struct sl_checkpoint_job {
  uint64_t id;
  uint64_t started_ms;
  uint64_t part_first, part_last, part_len;
  sl_snapshot *snap;
  sl_frozen *frozen; /* the barrier's state, for the worker to write into LMDB (state_flush.h) */
  int incremental;   /* write only the frozen batch (delta.snap), chained to c->last_full_id */
  char dir[4096];
  char savepoint[4096]; /* non-empty: also copy the checkpoint there as a savepoint */
  int ok;
  char err[512];
  sl_checkpoint_meta meta;
} sl_checkpoint_job;

typedef struct sl_checkpointer {
  struct sl_runtime *rt;
  char dir[4096]; /* STATE-DIR/checkpoints */
  uint64_t next_id;
  uint64_t carry_first; /* first sink part not yet covered by a complete checkpoint */
  int retain;
  int in_flight;
  sl_bg_worker worker; /* the thread that writes snapshots (core/bg_worker.h) */
  sl_checkpoint_job job;
  char pending_savepoint[4096];
  sl_frozen *settling;   /* the last checkpoint's frozen state, marked clean a slice per batch */
  int incremental;       /* deltas between full checkpoints (the default; not with --full-checkpoints) */
  uint64_t last_full_id; /* the base of the current chain of deltas (0: none yet) */
  int force_full;        /* the next checkpoint must be full: a checkpoint failed, or we just restored */
  int last_complete; /* the last checkpoint attempted completed (or we restored one): it holds the state */
  uint64_t completed, failed, skipped;
  uint64_t unchanged; /* skipped because nothing changed since the last complete one */
  uint64_t last_duration_ms, last_bytes;
  uint64_t last_barrier_ms; /* loop time of the last barrier, for the cache-pressure one's spacing */
  uint64_t early;           /* checkpoints taken before their interval because of cache pressure */
  /* A subtask of a parallel job (core/parallel/): its snapshot is its own file of the checkpoint (named
   * task_snapshot, "task-3.snap") and the job, not this checkpointer, writes the metadata, commits the
   * output and prunes. task_done runs on the loop thread once this subtask's share is durable (j->ok) or
   * has failed; the job's verdict comes back through sl_checkpoint_task_resolved. */
  /* Recovery of a parallel job at the parallelism its checkpoint was taken at (set by the job before
   * recovery): the subtasks' chains are not merged into STATE-DIR's environment; tasks_deferred says so, and
   * the job loads each chain into its subtask's own (sl_checkpoint_load_task). */
  unsigned defer_parallelism;
  int tasks_deferred;
  const char *task_snapshot; /* NULL: the job runs alone, and this checkpointer does everything */
  const char *task_delta;    /* its delta's name in a checkpoint ("task-3.delta") */
  void (*task_done)(void *arg, const sl_checkpoint_job *j);
  void *task_arg;
} sl_checkpointer;

/* Recovery, before the backend opens: picks the checkpoint to restore (or the savepoint at from, if given),
 * loads it into STATE-DIR's working environment, and fills *restored (or leaves *have = 0 on a fresh
 * start). keep/arg decide which operators' state is restored (see sl_snapshot_load). 0, or -1 logged. */
int sl_checkpoint_recover(sl_checkpointer *c, const char *state_dir, const char *pending_dir,
                          const char *from_savepoint, sl_snapshot_keep_fn keep, void *arg,
                          sl_checkpoint_meta *restored, int *have);

/* Loads subtask t's chain of the restored checkpoint m into the environment in env_dir (a deferred
 * restore: see defer_parallelism). 0, or -1 logged. */
int sl_checkpoint_load_task(const sl_checkpointer *c, const sl_checkpoint_meta *m, const char *from_savepoint,
                            unsigned t, const char *env_dir, sl_snapshot_keep_fn keep, void *arg);

/* After each batch: settles a slice of the last checkpoint's frozen entries (see sl_frozen_settle). */
void sl_checkpoint_after_batch(sl_checkpointer *c);
/* Frees what the checkpointer still holds (at teardown). */
void sl_checkpoint_close(sl_checkpointer *c);

/* How sl_checkpoint_trigger runs a checkpoint. */
enum {
  SL_CHECKPOINT_ASYNC = 0, /* on the worker thread; the job goes on meanwhile */
  SL_CHECKPOINT_SYNC = 1,  /* waited for (a reload's) */
  /* waited for, and the run's last use of the state (a graceful stop, the end of the input): a delta then
   * leaves LMDB unwritten and seals the backend (sl_frozen_for_delta_only) */
  SL_CHECKPOINT_FINAL = 2,
};

/* Takes checkpoint next_id now (we are between batches). Returns 0 when started, 1 when skipped (one is in
 * flight), -1 when it failed at the barrier (logged, counted; the job goes on). mode: SL_CHECKPOINT_*. */
int sl_checkpoint_trigger(sl_checkpointer *c, int mode);

/* A subtask's checkpointer: the job's verdict on the last checkpoint (ok: every subtask's share was durable
 * and the metadata is written; the job committed the output). */
void sl_checkpoint_task_resolved(sl_checkpointer *c, int ok);

/* Deletes the checkpoints of checkpoints_dir beyond the newest `retain` complete ones (keeping what an
 * incremental checkpoint among them needs), and incomplete ones older than newest. */
void sl_checkpoint_prune(const char *checkpoints_dir, int retain, uint64_t newest);

#endif
