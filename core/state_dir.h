/* state_dir.h — the layout of a state dir, in one place: every path sluice builds inside STATE-DIR comes from
 * here, so a name is spelled once.
 *
 *   STATE-DIR/                      0700 (state/file_modes.h)
 *     lock                          one job per state dir (core/state_dir_lock.c owns it)
 *     state.mdb, state.mdb-lock     the working LMDB environment (state/state_backend.h)
 *     checkpoints/chk-<id>/         a checkpoint, id as 20 digits so names sort as numbers:
 *       _metadata                     written last; the checkpoint is complete exactly when it exists
 *       state.snap | delta.snap       the full snapshot, or an incremental one's delta
 *       task-<k>.snap | task-<k>.delta  a parallel job's: subtask k's full snapshot, or its delta chained to
 *                                     its own last full one (instead of state.snap)
 *     checkpoints/chk-<id>.corrupt  a checkpoint recovery proved corrupt and set aside (never deleted)
 *     pending/part-<id>             the file sink's pending output of checkpoint <id> (core/output.h)
 *     savepoints/sp-<epoch ms>/     default savepoint targets (`sluice savepoint STATE-DIR`)
 *     savepoint-requests/           the savepoint request/answer files (core/savepoint.h)
 *     reload/                       hot reload's scratch environment when it drops removed operators' state
 *     reload.result                 the last hot reload's outcome (`sluice reload`)
 *     status.sock                   while a job runs: its status endpoints (core/metrics_service.h)
 *     metrics.addr                  while a job with --metrics runs: the address /metrics is served on
 *     task-<k>/                     a parallel job's subtask k: its working environment (state.mdb) and
 *       pending/part-<id>             its own pending output, gathered into pending/ by the job
 *     restore/<k>/                  recovery's scratch environments while it merges subtask snapshots
 *
 * Every function writes a NUL-terminated path into out (cut to len, as snprintf does). */
#ifndef SLUICE_STATE_DIR_H
#define SLUICE_STATE_DIR_H

#include <stddef.h>
#include <stdint.h>

/* The files of one checkpoint (or savepoint) directory. */
#define SL_CHECKPOINT_METADATA "_metadata"
#define SL_CHECKPOINT_SNAPSHOT "state.snap"
#define SL_CHECKPOINT_DELTA "delta.snap"
/* The prefix of checkpoint directory names, and the suffix recovery gives a corrupt one. */
#define SL_CHECKPOINT_PREFIX "chk-"
#define SL_CHECKPOINT_CORRUPT_SUFFIX ".corrupt"

#define SL_STATE_DIR_STATUS_SOCKET "status.sock"
#define SL_STATE_DIR_METRICS_ADDR "metrics.addr"

/* STATE-DIR/<name> for one of the entries above without an id ("checkpoints", "pending", "savepoints",
 * "savepoint-requests", "reload", "reload.result"). */
void sl_state_dir_path(const char *state_dir, const char *name, char *out, size_t len);
/* CHECKPOINTS-DIR/chk-<id>. */
void sl_checkpoint_dir(const char *checkpoints_dir, uint64_t id, char *out, size_t len);
/* DIR/<file>: a file of a checkpoint or savepoint directory (SL_CHECKPOINT_METADATA, ...). */
void sl_checkpoint_file(const char *dir, const char *file, char *out, size_t len);
/* DIR/task-<k>.snap: subtask k's snapshot in a parallel job's checkpoint. */
void sl_checkpoint_task_file(const char *dir, unsigned task, char *out, size_t len);
/* The file name alone ("task-<k>.snap"), into out. */
void sl_checkpoint_task_name(unsigned task, char *out, size_t len);
/* DIR/task-<k>.delta, and the name alone. */
void sl_checkpoint_task_delta_file(const char *dir, unsigned task, char *out, size_t len);
void sl_checkpoint_task_delta_name(unsigned task, char *out, size_t len);
/* STATE-DIR/task-<k>: subtask k's directory (its working environment, and pending/ inside it). */
void sl_task_dir(const char *state_dir, unsigned task, char *out, size_t len);
/* PENDING-DIR/part-<id>. */
void sl_pending_part(const char *pending_dir, uint64_t id, char *out, size_t len);

#endif
