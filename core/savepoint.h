/* savepoint.h — savepoints on request, and the `sluice checkpoints` listing.
 *
 * `sluice savepoint STATE-DIR [PATH]` asks the job running on STATE-DIR for a savepoint at PATH (default
 * STATE-DIR/savepoints/sp-<ms>): the job takes a checkpoint of its own and copies it there (snapshot and
 * metadata, kept until deleted; the directory is mode 0700, its files 0600). A savepoint never overwrites
 * anything: PATH must not exist, or be an empty directory, and its parent directory must exist.
 *
 * Finding the job. The command asks the kernel which process holds STATE-DIR/lock (state_dir_lock.h); a
 * pid written in a file is never trusted, so a stale lock whose pid was reused signals nothing.
 *
 * The protocol, in STATE-DIR/savepoint-requests/ (mode 0700), one request per command, named by an id
 * unique to it (its creation time in ns and its pid: names sort oldest first):
 *   ID.req     created by the command with O_EXCL, holding PATH (absolute) and a newline; then the command
 *              sends SIGUSR1 to the lock holder, once it catches that signal (sl_state_dir_lock_signal: a
 *              job that is stopping would be killed by it).
 *   ID.taken   the job renamed ID.req: the request is being served.
 *   ID.result  the job's answer, one line "written PATH" or "failed: REASON" (written under a temporary
 *              name and renamed, so it is read whole or not at all).
 * The command waits for ID.result, reports it (exit 0 only for "written") and removes its files. While it
 * waits it probes the lock, so a job that stops or dies without answering is seen at once, and a request the
 * job has not taken within SL_SAVEPOINT_TAKE_S seconds (nothing ahead of it) is given up.
 *
 * The job serves requests one at a time, oldest first, each with a checkpoint of its own started after the
 * one in flight (if any) completes: concurrent commands each get their own savepoint, and two requests for
 * one PATH give one savepoint and one refusal. A request pending when the job stops goes with the final
 * checkpoint. */
#ifndef SLUICE_SAVEPOINT_H
#define SLUICE_SAVEPOINT_H

#include <stddef.h>

#include "core/checkpoint_meta.h"

#define SL_SAVEPOINT_TAKE_S 10    /* a live job takes a request this fast unless others are ahead */
#define SL_SAVEPOINT_ANSWER_S 600 /* the longest a taken request waits for its answer */

struct sl_runtime;

/* The `sluice savepoint` command. Returns the exit status: 0 written, 1 the job failed or stopped before
 * answering, 2 bad usage, no job running, or PATH refused. */
int sl_savepoint_command(int argc, char **argv);
/* The `sluice checkpoints` command. Returns the exit status. */
int sl_checkpoints_command(int argc, char **argv);

/* In the job (core/savepoint_job.c). ---------------------------------------------------------------- */

/* On SIGUSR1, on the loop thread: serves the waiting requests, oldest first, one checkpoint each (a timer
 * that waits for the checkpoint in flight; it ends when no request is left or the job stops). */
void sl_savepoint_serve(struct sl_runtime *rt);

/* On the loop thread, once the savepoint at target is written (failure NULL) or has failed (failure says
 * why): writes the answer of the request(s) for target. 0 (also when nobody waits any more), or -1 with
 * errno when the answer cannot be written. */
int sl_savepoint_answer(const char *state_dir, const char *target, const char *failure);

/* On the checkpoint worker thread: writes the savepoint at target from a complete checkpoint's snapshot
 * file and metadata (marked as a savepoint). target must be new or an empty directory; it is removed
 * again on failure if this call created it. 0, or -1 with the reason in err. */
int sl_savepoint_write(const char *target, const char *snapshot, const sl_checkpoint_meta *m, char *err,
                       size_t errlen);

/* The same for any set of files: from[i] copied as names[i] (a parallel job's task-K.snap files). */
int sl_savepoint_write_files(const char *target, const char *const *from, const char *const *names, int n,
                             const sl_checkpoint_meta *m, char *err, size_t errlen);

/* Claims the oldest complete request (ID.req -> ID.taken): 0 with its target, 1 when none is waiting. A
 * request that names no absolute path is answered as failed and skipped. */
int sl_savepoint_take(const char *state_dir, char *target, size_t len);

/* Shared by the command and the job (core/savepoint*.c). --------------------------------------------- */

/* Makes target the savepoint's directory: creates it (0700, *made = 1), or accepts an empty directory
 * (*made = 0). 0, or -1 with the reason in err: it exists and is not an empty directory, or its parent is
 * missing. */
int sl_savepoint_claim_dir(const char *target, int *made, char *err, size_t errlen);

/* STATE-DIR/savepoint-requests/<name> into out. */
void sl_savepoint_request_path(const char *state_dir, const char *name, char *out, size_t len);

#endif
