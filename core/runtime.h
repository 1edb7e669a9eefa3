/* runtime.h — one running job: the libuv loop, its sources, the Lua pipeline, the state backend, the
 * output, and the commits that tie offsets, output and state together.
 *
 * Everything runs on one thread. A source reads a chunk, and the runtime splits it into lines, validates
 * them into a batch, runs the batch through Lua and writes the output before the source reads again: that
 * synchronous step is the backpressure (a slow sink blocks the reads; nothing queues without bound), and
 * it makes every point between two chunks a consistent cut of the stream, where state, source offsets and
 * the output size are committed together in one LMDB transaction. */
#ifndef SLUICE_RUNTIME_H
#define SLUICE_RUNTIME_H

#include <stdint.h>
#include <uv.h>

#include "core/checkpoint.h"
#include "core/cli.h"
#include "core/line_reader.h"
#include "core/record/json_write.h"
#include "core/record/record_batch.h"
#include "core/reload.h"
#include "core/timer_service.h"
#include "lua/lua_host.h"
#include "state/state_backend.h"

struct sl_runtime;

/* One stream of lines: a file, stdin, or one TCP connection. Sources embed it. */
typedef struct sl_input {
  struct sl_runtime *rt;
  int source_index;
  char *name; /* for messages: the path as given, "stdin", "tcp:HOST:PORT#N" */
  sl_line_reader reader;
  /* A source whose records carry metadata (Kafka): meta[i] belongs to the i-th line the reader hands out
   * from its next sl_runtime_consume on (the source refills the array after each); NULL for the others. */
  const struct sl_rec_meta *meta;
} sl_input;

typedef struct sl_source sl_source; /* core/source.h */

struct sl_sink_ops;

typedef struct sl_output {
  int fd;            /* the output file, or 1 for stdout */
  char *path;        /* NULL for stdout */
  char *real_path;   /* its resolved path: checkpoints name the file their sink fields apply to */
  char *pending_dir; /* file sink: where pending parts live */
  int part_fd;       /* file sink: the open pending part */
  uint64_t part_id, part_len;
  uint64_t committed;            /* file sink: the output file's committed size */
  uint64_t uncommitted;          /* file sink: bytes of closed parts whose checkpoint has not completed yet */
  uint64_t dev, ino;             /* file sink: the output file's identity, recorded in every checkpoint */
  const struct sl_sink_ops *ops; /* the sink's kind (core/sink_kind.h) */
  void *sink_state;              /* the kind's own, when it has any (the Kafka sink: core/sink_kafka.h) */
} sl_output;

typedef struct sl_stats {
  uint64_t records_in, records_out, errors;
} sl_stats;

typedef struct sl_runtime {
  uv_loop_t *loop;
  const sl_run_options *opts;
  sl_lua_host lua;
  sl_backend *backend;
  char *state_dir;
  char pending_dir[4200]; /* STATE-DIR/pending: the file sink's pending parts */
  sl_batch batch;
  sl_buf out_buf;
  sl_output out;
  int dead_letter_fd;
  sl_source **sources;
  int nsources, sources_done;
  uv_timer_t commit_timer;
  uv_signal_t sigint, sigterm, sigusr1;
  sl_checkpointer ckpt;
  int lock_fd;                 /* STATE-DIR/lock, held (flock) while the job runs: one job per state dir */
  sl_checkpoint_meta restored; /* the checkpoint or savepoint this run started from */
  int have_restored;
  int non_restored; /* restored state of operators the job lacks (refused unless allowed) */
  int stopping;
  int failed; /* a fatal runtime error happened: exit status 1 */
  sl_stats stats;
  sl_reloader reload;      /* hot reload of the script (core/reload.c) */
  sl_timer_service timers; /* fires the job's timers between batches (core/timer_service.c) */
  struct sl_task *task;    /* a parallel job's subtask this runtime is (core/parallel/task.h), or NULL */
  struct sl_metrics *metrics; /* the job's registry (core/metrics.h), set by the job side before start */
  unsigned metrics_task;      /* this runtime's slot in it */
  struct sl_metrics_publisher *publisher; /* publishes into it (core/metrics_publish.h), or NULL */
  void (*on_stop)(struct sl_runtime *rt); /* a subtask's: closes its own handles at sl_runtime_stop */
} sl_runtime;

/* Runs the job described by the options to completion. Returns the process exit status. */
int sl_runtime_run(const sl_run_options *opts);

/* Called by sources: processes every complete line buffered in in->reader (all of it when at_eof), then
 * compacts the reader. */
void sl_runtime_consume(sl_runtime *rt, sl_input *in, int at_eof);

/* Writes the sink's buffer (rt->out_buf) to the output and counts its records. 0, or -1 when the job has
 * failed (before, or now: a write error, or the buffer ran out of memory). For whoever ran Lua between
 * batches: record batches, timers, the checkpoint barrier (core/record_path.c). */
int sl_runtime_flush_output(sl_runtime *rt);

/* Called by a source when it will produce nothing more. */
void sl_runtime_source_done(sl_runtime *rt);

/* Stops reading, commits, and lets the loop end. */
void sl_runtime_stop(sl_runtime *rt);

/* Fails the job: an I/O, memory or state-backend failure (never a record's own fault). Logs the reason as
 * one error line (only the first failure: what follows from it is not news), marks the run failed (exit
 * status 1, no final checkpoint, so nothing after the last complete checkpoint is committed) and stops. A
 * restart redoes the work from the last complete checkpoint. */
void sl_runtime_fail(sl_runtime *rt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The restore filter (sl_snapshot_keep_fn, arg the runtime): state of an operator the job lacks is refused
 * (counted in rt->non_restored, logged) or, with --allow-non-restored-state, dropped. */
int sl_runtime_keep_state(const char *op_uid, const char *state_name, void *arg);
/* Raises the soft limit of open files to what a job needs, or refuses. 0, or -1 with err. */
int sl_runtime_ensure_open_files(char *err, size_t errlen);
/* What is one per job, for a job that runs alone and for a parallel job's coordinator (core/parallel/job.c):
 * runs the script (rt->lua), opens and locks the state dir, recovers the newest checkpoint into its working
 * environment and opens it (rt->backend), opens the dead-letter file and the output and puts the output in
 * the restored checkpoint's state. 0, or -1 logged (exit status 2). */
int sl_runtime_setup_job_side(sl_runtime *rt);
/* A parallel job's subtask (core/parallel/task.c), on its own thread and loop: the Lua VM (as operator
 * instance `index` of n), the backend in task_dir (filled by the job), the pending output in task_dir/pending,
 * the sources i with i % n == index. 0, or -1 with err. */
int sl_runtime_task_setup(sl_runtime *rt, uv_loop_t *loop, const char *task_dir, unsigned index, unsigned n,
                          char *err, size_t errlen);
/* Starts its checkpoint thread, timers and sources. 0, or -1 with err. */
int sl_runtime_task_start(sl_runtime *rt, char *err, size_t errlen);
/* Frees what setup made (after the loop ended). */
void sl_runtime_teardown(sl_runtime *rt);
/* Runs the records of a packet from another subtask through the pipeline (core/record_path.c). */
struct sl_packet;
void sl_runtime_run_packet(sl_runtime *rt, const char *input, const struct sl_packet *p);

/* For hot reload (core/reload*.c), which loads the script again and may reopen the backend. */
/* The Lua host configuration of this run (strings borrowed from the options). */
void sl_runtime_host_config(const sl_runtime *rt, sl_host_config *hc);
/* Opens the state backend in the state dir into rt->backend. 0, or -1 with the reason in err. */
int sl_runtime_open_backend(sl_runtime *rt, char *err, size_t errlen);

#endif
