/* reload.h — hot reload: a running job switches to a new version of its script without a restart.
 *
 * Triggers. A change of the script, or of a module it required from its own directory (one uv_fs_event
 * per directory, filtered by file name: watching the directory, not the file, survives editors that save
 * through a temporary file and a rename, which replaces the inode a file watch would be bound to); SIGHUP;
 * `sluice reload STATE-DIR` (which sends SIGHUP to the pid in STATE-DIR/lock and waits for the outcome in
 * STATE-DIR/reload.result). `--no-watch` turns the file watch off; SIGHUP still works.
 *
 * Debounce. Every change restarts a SL_RELOAD_DEBOUNCE_MS timer; the reload runs when it fires, on the
 * content as it is then, so a burst of saves gives one reload of the settled content. A half-written or
 * missing file simply fails validation: one error line, the old code keeps running, and the next save is
 * tried again.
 *
 * Validation. The script is loaded into a fresh Lua VM (sl_lua_host_open with the job's configuration):
 * it must parse, run and return a job with the same name, sources and sink. A failure logs one line (with
 * the script's file:line) and changes nothing.
 *
 * The switch. It runs in a loop callback, and the runtime handles every batch synchronously inside one
 * source callback, so a callback is always between two batches: nothing is in flight. A synchronous
 * checkpoint records the cut (waiting first for one in flight), the new VM starts on the same backend and
 * output buffer, and the old VM closes. Sources, their offsets, the state and the output are untouched, so
 * no record is lost, repeated or reordered. When operators were added they start with empty state; when
 * operators were removed and had state, the reload is refused unless --allow-non-restored-state, and then
 * their state is dropped by reloading the working state from the checkpoint's snapshot without it.
 *
 * Ownership: the reloader is part of the runtime (sl_runtime.reload); it owns its handles, its watches
 * and a validated VM waiting for its switch. */
#ifndef SLUICE_RELOAD_H
#define SLUICE_RELOAD_H

#include <stdint.h>
#include <uv.h>

#include "lua/lua_host.h"

#define SL_RELOAD_DEBOUNCE_MS 50

struct sl_runtime;
typedef struct sl_reload_watch sl_reload_watch;

typedef struct sl_reloader {
  struct sl_runtime *rt;
  uv_timer_t timer; /* the debounce; then retries while a checkpoint is in flight */
  uv_signal_t sighup;
  sl_reload_watch *watches; /* one per watched directory (a list) */
  int started;
  int sighup_open;    /* sighup was initialised (it must be closed) */
  int requested;      /* SIGHUP: reload even when the content is unchanged */
  uint64_t change_ms; /* when the first change of this burst was seen: the latency we report */
  uint32_t version;   /* content hash of the running code's files */
  sl_lua_host *next;  /* validated, waiting for its switch */
  uint32_t next_version;
  uint64_t prepare_ms; /* how long loading and checking the new code took */
  uint64_t reloads_ok, reloads_failed; /* outcomes so far (metrics) */
  /* A parallel job's coordinator (core/parallel/job.c): takes the validated r->next instead of switching
   * here, because its subtasks switch at one barrier. 0 when the switch is under way (its outcome comes
   * back through sl_reload_finish), 1 to be asked again shortly (a checkpoint is in flight), -1 with the
   * reason in err. Set after sl_reload_start. */
  int (*handoff)(struct sl_reloader *r, char *err, size_t errlen);
  void *handoff_arg;
} sl_reloader;

/* Logs the running version, installs the SIGHUP handler and (unless --no-watch) the file watches. 0, or -1
 * with the reason in err (the job cannot start); sl_reload_stop closes what was opened either way. */
int sl_reload_start(sl_reloader *r, struct sl_runtime *rt, char *err, size_t errlen);

/* Closes the handles and drops a VM waiting for its switch (the runtime is stopping). Idempotent. */
void sl_reload_stop(sl_reloader *r);

/* The outcome of a handed-off switch: NULL failure when every subtask runs version now. Logs it, answers
 * `sluice reload` and watches the new code's files. */
void sl_reload_finish(sl_reloader *r, uint32_t version, const char *failure);

/* The `sluice reload STATE-DIR` command. Returns the exit status. */
int sl_reload_command(int argc, char **argv);

/* Internal to core/reload*.c. ---------------------------------------------------------------------- */

/* CRC-32 over the content of the files, in order. 0, or -1 with the reason in err (a missing file). */
int sl_reload_hash_files(char *const *files, int n, uint32_t *out, char *err, size_t errlen);

/* Loads the new code into a fresh VM and checks it (r->next, r->next_version). Returns 0 when it is ready
 * to switch, 1 when the content is unchanged and no reload was requested, -1 with the reason in err. */
int sl_reload_prepare(sl_reloader *r, char *err, size_t errlen);

/* How the graph changes from old to new (logged); the number of operators new removes. */
int sl_reload_graph_changes(const sl_job_desc *old, const sl_job_desc *new);

/* Replaces rt's running VM by next, started on the same backend and output buffer (a failing start leaves
 * the old one running: -1 with err, next not consumed). */
struct sl_runtime;
int sl_reload_start_and_swap(struct sl_runtime *rt, sl_lua_host *next, char *err, size_t errlen);

/* Switches to r->next (between batches, no checkpoint in flight). 0, or -1 with the reason in err; then
 * the old code still runs, unless *fatal (the state could not be reopened). r->next is consumed. */
int sl_reload_switch(sl_reloader *r, int *fatal, char *err, size_t errlen);

#endif
