/* job.h — a parallel job (--parallelism N > 1): the coordinator on the main thread and N subtasks
 * (core/parallel/task.h) on their own threads.
 *
 * The job owns what is one per job: the state dir and its lock, recovery, the checkpoint coordinator (the
 * interval timer, ids, completion, retention), the output file's commits, and the signals. Its loop sees the
 * subtasks only through their reports (ready, a checkpoint share done, input drained, failed), which come
 * through one mailbox and one uv_async_t.
 *
 * A checkpoint C: the job asks every subtask to inject barrier C; each reports its share (its snapshot
 * task-<k>.snap in chk-C, its pending output parts) once durable; when all N have, the job gathers the
 * parts into its own pending part C (subtask 0's first), writes chk-C/_metadata (version 3, with the
 * parallelism) durably — C is complete — and commits the part to the output file, as a job that runs alone
 * does. A share that failed fails C: its directory is removed, the parts carry over to C + 1.
 *
 * Restore and rescaling. Recovery (core/recovery.c) puts the whole state of the chosen checkpoint, whatever
 * parallelism wrote it, into STATE-DIR's working environment; the job then fills each subtask's environment
 * with its key groups (state/state_rescale.h): keyed state and timers follow their key group, operator
 * lists are redistributed by mode, source offsets go with the source. So a job stopped (or killed) at
 * parallelism P starts at any N. */
#ifndef SLUICE_JOB_H
#define SLUICE_JOB_H

#include <stdint.h>

#include "core/cli.h"

/* Runs the job described by opts (opts->parallelism > 1) to completion. Returns the exit status. */
int sl_job_run(const sl_run_options *opts);

struct sl_job;
struct sl_checkpoint_job;
struct sl_task;
/* Subtask i of the job (a subtask wakes its peers through their uv_async_t). */
struct sl_task *sl_job_peer(struct sl_job *job, unsigned i);
/* Reports from subtask threads. */
void sl_job_task_ready(struct sl_job *job, unsigned task, int ok);
void sl_job_wait_go(struct sl_job *job, int *go);
void sl_job_task_share(struct sl_job *job, unsigned task, const struct sl_checkpoint_job *j,
                       uint64_t alignment_ms);
void sl_job_task_drained(struct sl_job *job, unsigned task);
void sl_job_task_failed(struct sl_job *job, unsigned task);

#endif
