/* task.h — one subtask of a parallel job: a worker thread with its own libuv loop, Lua VM, state backend
 * (STATE-DIR/task-<k>), pending output and checkpointer — an sl_runtime of its own — plus its ends of the
 * exchange and the barrier alignment.
 *
 * The exchange. A job whose first operator is key_by(FIELD) is split in C before any Lua runs: the subtask
 * that reads a record takes its key (the same bytes the keyed scope is set to), its key group
 * kg = XXH64(key) % max_parallelism, and its owner kg * N / max_parallelism; a record it does not own goes
 * into a packet for the owner (core/parallel/packet.h) and over a bounded channel (channel.h). So each key
 * is processed by one subtask, in the order it was read: per-key order holds; order across keys does not.
 * A job without key_by keeps every record on the subtask that read it. Sources are spread over subtasks
 * (source i is read by subtask i % N).
 *
 * Backpressure. A channel that is full keeps the packet in the sender's backlog, and the sender pauses its
 * sources until the receiver makes room (it wakes the sender): memory stays bounded by the channels plus
 * one read's worth, and a slow subtask slows its senders, never the other way round.
 *
 * Barriers flow in-band. The job asks every subtask to inject barrier C; a subtask then saves its sources'
 * offsets, sends the barrier on every output channel after the records read before it, and counts its own
 * input as having delivered it. A subtask snapshots once every input that has not ended delivered barrier
 * C: in exactly-once mode an input that delivered it is not read on (nor are the subtask's own sources)
 * until then — alignment — so the snapshot holds exactly the records before the barrier of every input; in
 * at-least-once mode nothing is held, so records after the barrier on one input may be in the snapshot and
 * are read again after a restore (duplicates, never loss). The snapshot is this subtask's file of checkpoint
 * C; the job completes C when every subtask's share is durable. */
#ifndef SLUICE_TASK_H
#define SLUICE_TASK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "core/parallel/channel.h"
#include "core/runtime.h"

struct sl_job;

typedef struct sl_task {
  unsigned index, n;
  struct sl_job *job;
  sl_runtime rt;
  uv_loop_t loop;
  uv_async_t wake; /* the job and the other subtasks wake this loop: packets, room, requests */
  pthread_t thread;
  int thread_started;
  char dir[4096];        /* STATE-DIR/task-<k> */
  char snap_name[32];    /* its file in a checkpoint: task-<k>.snap */
  char delta_name[32];   /* or, for a delta, task-<k>.delta */
  sl_channel **in, **out; /* in[i] from subtask i, out[j] to subtask j (NULL at [index]); the job owns them */
  sl_packet **filling;    /* per destination: the records packet being filled */
  sl_packet **backlog;    /* per destination: packets its channel had no room for yet (a list, oldest first) */
  unsigned backlogged;
  uint64_t backpressure_since, backpressure_ns; /* metrics: when the backlog began (uv_hrtime), and its total */
  atomic_int want_room; /* backlogged: a receiver that pops from our channel wakes us */
  /* alignment of checkpoint `aligning` (0: none) */
  uint64_t aligning;
  unsigned char *held; /* per input: delivered the barrier (exactly-once: not read until aligned) */
  int local_barrier;   /* this subtask injected it */
  uint64_t align_start_ms, last_alignment_ms;
  /* end of input */
  unsigned char *ended; /* per input: its END came */
  int sources_done, drained, stopped_reading;
  /* requests from the job: set, then uv_async_send(&wake) */
  atomic_ullong inject_req, final_req, resolved_req;
  atomic_ullong reload_req; /* switch to the script's new code at this checkpoint's barrier */
  atomic_ullong full_req;   /* this checkpoint must be a full snapshot (a savepoint's) */
  atomic_int resolved_ok, stop_req, finish_req, abort_req;
  uint64_t inject_seen, final_seen, resolved_seen;
  char **names; /* every source's name, by source index (error lines for records from other subtasks) */
  uint16_t owners[4096]; /* exchange "lua": each batch record's owner (a batch holds BATCH_RECORDS) */
} sl_task;

/* In the job's thread, before any subtask thread runs: the task's loop and wake handle. 0 or -1. */
int sl_task_init(sl_task *t, struct sl_job *job, unsigned index, unsigned n, char *err, size_t errlen);
/* Starts the thread: it sets the subtask up (sl_job_task_ready reports how that went), waits for the job's
 * go, then runs its loop to the end. 0, or -1 with err. */
int sl_task_spawn(sl_task *t, char *err, size_t errlen);
/* After the thread ended (joined): frees what the task holds. */
void sl_task_free(sl_task *t);

/* From the subtask's own thread (core/record_path.c, runtime.c). */
/* Routes the batch's last record: 1 when it went to another subtask (it left the batch), 0 when it stays. */
int sl_task_route(sl_task *t, sl_batch *b, int source);
/* Exchange "lua" (sluice.pipeline's router): where Lua writes each record's owner, and the move of the
 * batch's records to their owners (SL_ROUTE_DROP: filtered out); the records this subtask owns stay. */
#define SL_ROUTE_DROP 0xFFFFu
uint16_t *sl_task_owners(sl_task *t);
void sl_task_distribute(sl_task *t, sl_batch *b, const uint16_t *owners, int source);
/* Sends the packets filled so far (after each read). */
void sl_task_flush_routed(sl_task *t);
/* Every source of this subtask is done. */
void sl_task_sources_done(sl_task *t);
/* The runtime failed (sl_runtime_fail): the job stops every subtask. */
void sl_task_failed(sl_task *t);

/* From the job's thread: requests (each wakes the subtask). */
void sl_task_request(sl_task *t, atomic_ullong *req, uint64_t id);
void sl_task_flag(sl_task *t, atomic_int *flag);

#endif
