/* savepoint.h — savepoints on request: `sluice savepoint STATE-DIR [PATH]` writes the target path into
 * STATE-DIR/savepoint.request and sends SIGUSR1 to the job holding STATE-DIR/lock (its pid is in that file);
 * the job takes a checkpoint and copies it to PATH as a savepoint (snapshot + metadata, kept until deleted).
 * The command waits until PATH/_metadata exists. */
#ifndef SLUICE_SAVEPOINT_H
#define SLUICE_SAVEPOINT_H

#include <stddef.h>

/* The `sluice savepoint` command. Returns the exit status. */
int sl_savepoint_command(int argc, char **argv);
/* The `sluice checkpoints` command. Returns the exit status. */
int sl_checkpoints_command(int argc, char **argv);
/* The pid recorded in STATE-DIR/lock by the job that holds (or last held) it, or 0. */
long sl_state_dir_job_pid(const char *state_dir);
/* In the job: reads and removes the request. 0 with the target in path, or -1. */
int sl_savepoint_take_request(const char *state_dir, char *path, size_t len);

#endif
