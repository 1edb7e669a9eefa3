/* state_dir_lock.h — STATE-DIR/lock: one job per state dir, and how a command (`sluice savepoint`, `sluice
 * reload`) finds the job running on a state dir without trusting a pid written in a file.
 *
 * The job holds two locks on STATE-DIR/lock for its whole life, through one descriptor:
 *   - a POSIX record lock (fcntl F_SETLK, write, whole file). Another process asks the kernel who holds it
 *     (F_GETLK) and gets the holder's pid: a pid left in the file by a job that died, and since reused by an
 *     unrelated process, is never taken for a running job — and never signalled.
 *   - an flock, so a job of an older sluice (which takes only the flock) and a new one still exclude each
 *     other.
 * The file also holds the pid as text, for people (`cat STATE-DIR/lock`); nothing here reads it. A probe
 * asks only for the POSIX lock, so it does not see a job of an older sluice (flock only): the commands then
 * say no job is running, and signal nothing.
 *
 * A POSIX lock is released when its process closes any descriptor of the file, so nothing else in the job
 * may open STATE-DIR/lock; this module is the only code that names it. */
#ifndef SLUICE_STATE_DIR_LOCK_H
#define SLUICE_STATE_DIR_LOCK_H

/* Takes STATE-DIR/lock for this process (creating the file, mode 0600) and writes the pid into it.
 * Returns the open descriptor, which holds the lock until the caller closes it; or -1 with errno set:
 * EWOULDBLOCK when another job holds the lock (its pid in *holder when known, else 0), or the error of
 * open/fcntl/flock. The pid text is best effort (a failure to write it is not an error). */
int sl_state_dir_lock_take(const char *state_dir, long *holder);

/* Whether a job holds STATE-DIR/lock now: 1 with its pid in *pid (from the kernel), 0 when none does (no
 * lock file, or one nobody holds), -1 with errno when the file cannot be opened or probed. Takes no lock
 * itself, so a probe never gets in the way of a job starting. */
int sl_state_dir_lock_probe(const char *state_dir, long *pid);

/* Sends sig to the job with pid `pid` if it still holds STATE-DIR/lock and catches sig now. A job installs
 * its handlers only once it runs, and libuv puts the default action back when the job stops (for SIGUSR1
 * and SIGHUP: terminate), so a signal outside that window would kill the job instead of asking it
 * something; catching is read from /proc/PID/status (SigCgt) and, without /proc, assumed. Returns 0 when
 * sent, 1 when the job does not catch sig (starting or stopping: try again later), -1 when it no longer
 * holds the lock (or kill failed, errno set). */
int sl_state_dir_lock_signal(const char *state_dir, long pid, int sig);

#endif
