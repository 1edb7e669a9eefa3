/* task.c — a parallel job's subtask: its thread, the exchange and the barrier alignment (see task.h). */
#include "core/parallel/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/reload.h"
#include "core/parallel/job.h"
#include "core/source.h"
#include "lua/ffi_record.h"
#include "state/state_key.h"

#define PACKET_RECORDS 4096 /* a packet fills one batch of the receiver */
#define LOCAL UINT32_MAX    /* the subtask's own sources, as an input of the alignment */

void sl_task_request(sl_task *t, atomic_ullong *req, uint64_t id) {
  atomic_store(req, id);
  uv_async_send(&t->wake);
}

void sl_task_flag(sl_task *t, atomic_int *flag) {
  atomic_store(flag, 1);
  uv_async_send(&t->wake);
}

/* Whether the subtask's own sources should read now: not while packets wait for room, and not while an
 * exactly-once barrier of its own waits for alignment (a stopped subtask has closed its sources). */
static void update_sources(sl_task *t) {
  sl_runtime *rt = &t->rt;
  int pause = t->backlogged > 0 || (t->aligning && t->local_barrier && !rt->opts->at_least_once);
  for (int i = 0; i < rt->nsources; i++) {
    if (pause)
      sl_source_pause(rt->sources[i]);
    else
      sl_source_resume(rt->sources[i]);
  }
}

/* Queues a packet for subtask j: on its channel, or in the backlog when the channel is full. */
static void send_packet(sl_task *t, unsigned j, sl_packet *p) {
  if (!t->backlog[j] && sl_channel_push(t->out[j], p) == 0) {
    uv_async_send(&sl_job_peer(t->job, j)->wake);
    return;
  }
  p->next = NULL;
  sl_packet **tail = &t->backlog[j];
  while (*tail)
    tail = &(*tail)->next;
  *tail = p;
  if (t->backlogged++ == 0) {
    t->backpressure_since = uv_hrtime();
    atomic_store(&t->want_room, 1);
    update_sources(t);
  }
}

/* Moves backlogged packets into channels that have room again. */
static void flush_backlog(sl_task *t) {
  if (!t->backlogged)
    return;
  for (unsigned j = 0; j < t->n; j++) {
    int sent = 0;
    while (t->backlog[j] && sl_channel_push(t->out[j], t->backlog[j]) == 0) {
      t->backlog[j] = t->backlog[j]->next;
      t->backlogged--;
      sent = 1;
    }
    if (sent)
      uv_async_send(&sl_job_peer(t->job, j)->wake);
  }
  if (!t->backlogged) {
    t->backpressure_ns += uv_hrtime() - t->backpressure_since;
    atomic_store(&t->want_room, 0);
    update_sources(t);
  }
}

static int send_control(sl_task *t, sl_packet_kind kind, uint64_t id) {
  for (unsigned j = 0; j < t->n; j++) {
    if (j == t->index)
      continue;
    sl_packet *p = sl_packet_new(kind, 0);
    if (!p) {
      sl_runtime_fail(&t->rt, "subtask %u: out of memory", t->index);
      return -1;
    }
    p->checkpoint_id = id;
    send_packet(t, j, p);
  }
  return 0;
}

void sl_task_flush_routed(sl_task *t) {
  for (unsigned j = 0; j < t->n; j++)
    if (t->filling[j] && t->filling[j]->n) {
      sl_packet *p = t->filling[j];
      t->filling[j] = NULL;
      send_packet(t, j, p);
    }
}

/* Appends record r to the packet for subtask owner (sent when full). 0, or -1 when memory ran out (the job
 * has failed). */
static int to_packet(sl_task *t, unsigned owner, const sl_rec *r, int source) {
  sl_packet *p = t->filling[owner];
  if (p && p->source != source) { /* a packet holds one source's records */
    t->filling[owner] = NULL;
    send_packet(t, owner, p);
    p = NULL;
  }
  if (!p) {
    if (!(p = sl_channel_take_spare(t->out[owner])) && !(p = sl_packet_new(SL_PACKET_RECORDS, PACKET_RECORDS))) {
      sl_runtime_fail(&t->rt, "subtask %u: out of memory", t->index);
      return -1;
    }
    p->source = source;
    t->filling[owner] = p;
  }
  const char *key = t->rt.lua.job.key_field_interned;
  int32_t key_index = key && r->memo_key == key ? r->memo_index : -1;
  if (sl_packet_add(p, r->line, r->len, r->line_no, r->fields, r->nfields, key_index, r->meta)) {
    sl_runtime_fail(&t->rt, "subtask %u: out of memory", t->index);
    return -1;
  }
  if (sl_packet_full(p)) {
    t->filling[owner] = NULL;
    send_packet(t, owner, p);
  }
  return 0;
}

uint16_t *sl_task_owners(sl_task *t) {
  return t->owners;
}

void sl_task_distribute(sl_task *t, sl_batch *b, const uint16_t *owners, int source) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < b->n && !t->rt.failed; i++) {
    unsigned o = owners[i];
    if (o == SL_ROUTE_DROP)
      continue;
    if (o == t->index || o >= t->n) {
      b->recs[kept++] = b->recs[i]; /* its fields stay in slot i: nothing is added before the batch runs */
      continue;
    }
    to_packet(t, o, &b->recs[i], source);
  }
  b->n = kept;
}

int sl_task_route(sl_task *t, sl_batch *b, int source) {
  const sl_job_desc *d = &t->rt.lua.job;
  if (d->exchange != SL_EXCHANGE_FIELD)
    return 0;
  const sl_rec *r = &b->recs[b->n - 1];
  const char *key;
  size_t len;
  int rc = sl_rec_field_key(r, d->key_field_interned, d->key_field_len, &key, &len);
  if (rc > 0)
    return 0; /* no key: the keyed operator rejects it here, naming the line */
  if (rc < 0) {
    sl_runtime_fail(&t->rt, "subtask %u: out of memory routing a record", t->index);
    return 0;
  }
  unsigned m = (unsigned)t->rt.opts->max_parallelism;
  unsigned kg = sl_key_group(key, len, (uint16_t)m);
  unsigned owner = (unsigned)((uint64_t)kg * t->n / m);
  if (owner == t->index)
    return 0;
  if (to_packet(t, owner, r, source))
    return 0;
  b->n--; /* it left this subtask's batch */
  return 1;
}

/* Every input that has not ended delivered barrier `aligning`, and so did the subtask's own sources. */
static int aligned(const sl_task *t) {
  if (!t->local_barrier)
    return 0;
  for (unsigned i = 0; i < t->n; i++)
    if (i != t->index && !t->held[i] && !t->ended[i])
      return 0;
  return 1;
}

/* Hot reload at the barrier: the new code (validated by the job) starts on this subtask's backend, after the
 * old code's snapshot hooks ran at the barrier; a failure fails the job (a restart resumes from the last
 * complete checkpoint, whatever code is then on disk), so subtasks never run different code. */
static void switch_code(sl_task *t) {
  sl_runtime *rt = &t->rt;
  char err[4096];
  sl_host_config hc;
  sl_lua_host *next = calloc(1, sizeof *next);
  if (!next) {
    sl_runtime_fail(rt, "reload: out of memory");
    return;
  }
  sl_runtime_host_config(rt, &hc);
  int rc = sl_lua_host_open(next, &hc, err, sizeof err);
  next->subtask = t->index;
  next->parallelism = t->n;
  if (rc == 0)
    rc = sl_lua_host_check_states(next, rt->backend, err, sizeof err);
  if (rc == 0)
    rc = sl_reload_start_and_swap(rt, next, err, sizeof err);
  if (rc) {
    sl_lua_host_close(next);
    free(next);
    sl_runtime_fail(rt, "subtask %u: reload failed at its barrier: %s", t->index, err);
  }
}

/* The snapshot of checkpoint `aligning`: the checkpointer's barrier (flush, hooks, commit, pending part)
 * and its asynchronous write; its share is reported from the checkpointer's task_done. */
static void take_snapshot(sl_task *t) {
  uint64_t id = t->aligning;
  t->last_alignment_ms = sl_now_ms() - t->align_start_ms;
  t->rt.ckpt.next_id = id;
  if (atomic_load(&t->full_req) == id)
    t->rt.ckpt.force_full = 1;
  sl_checkpoint_trigger(&t->rt.ckpt, SL_CHECKPOINT_ASYNC);
  if (atomic_load(&t->reload_req) == id && !t->rt.failed)
    switch_code(t);
  t->aligning = 0;
  t->local_barrier = 0;
  memset(t->held, 0, t->n);
  update_sources(t);
  uv_async_send(&t->wake); /* held inputs have records waiting */
}

static void barrier_arrived(sl_task *t, unsigned from, uint64_t id) {
  if (t->aligning && t->aligning != id) {
    sl_runtime_fail(&t->rt, "subtask %u: barrier %llu arrived while aligning %llu", t->index,
                    (unsigned long long)id, (unsigned long long)t->aligning);
    return;
  }
  if (!t->aligning) {
    t->aligning = id;
    t->align_start_ms = sl_now_ms();
  }
  if (from == LOCAL)
    t->local_barrier = 1;
  else
    t->held[from] = 1;
  if (aligned(t))
    take_snapshot(t);
}

/* The job asked for barrier id: offsets first (the records read so far are before it), then the barrier
 * after them on every channel, then this subtask's own input counts as having delivered it. */
static void inject(sl_task *t, uint64_t id) {
  sl_runtime *rt = &t->rt;
  sl_task_flush_routed(t);
  for (int i = 0; i < rt->nsources; i++)
    if (sl_source_save_offset(rt->sources[i]) != SL_STATE_OK) {
      sl_runtime_fail(rt, "checkpoint %llu: saving source offsets failed: %s", (unsigned long long)id,
                      sl_backend_last_error(rt->backend));
      return;
    }
  if (send_control(t, SL_PACKET_BARRIER, id))
    return;
  barrier_arrived(t, LOCAL, id);
  update_sources(t);
}

static void check_drained(sl_task *t) {
  if (t->drained || !t->sources_done)
    return;
  for (unsigned i = 0; i < t->n; i++)
    if (i != t->index && !t->ended[i])
      return;
  t->drained = 1;
  /* The end of the input (not a stop): every event-time timer fires, as for a job that runs alone. */
  if (!t->stopped_reading && !t->rt.failed)
    sl_timer_service_end_of_input(&t->rt);
  if (!t->rt.failed)
    sl_runtime_flush_output(&t->rt);
  sl_job_task_drained(t->job, t->index);
}

void sl_task_sources_done(sl_task *t) {
  if (t->sources_done)
    return;
  t->sources_done = 1;
  sl_task_flush_routed(t);
  send_control(t, SL_PACKET_END, 0);
  check_drained(t);
}

void sl_task_failed(sl_task *t) {
  sl_job_task_failed(t->job, t->index);
}

/* Reads the inputs that are not held, packet by packet: a few packets from each, then back to the loop (it
 * wakes itself when there are more), so that a busy input never keeps this subtask from its own sources or
 * from the job's requests — a barrier asked for is injected within a few packets, not when the input
 * pauses. */
#define PACKETS_PER_TURN 1

static void drain_inputs(sl_task *t) {
  sl_runtime *rt = &t->rt;
  int more = 0;
  for (unsigned i = 0; i < t->n && !rt->failed; i++) {
    if (i == t->index)
      continue;
    for (int taken = 0; !t->ended[i] && !(t->held[i] && !rt->opts->at_least_once) && !rt->failed; taken++) {
      if (taken == PACKETS_PER_TURN) {
        more = 1;
        break;
      }
      sl_packet *p = sl_channel_pop(t->in[i]);
      if (!p)
        break;
      sl_task *peer = sl_job_peer(t->job, i);
      if (atomic_load(&peer->want_room))
        uv_async_send(&peer->wake);
      if (p->kind == SL_PACKET_RECORDS)
        sl_runtime_run_packet(rt, t->names[p->source], p);
      else if (p->kind == SL_PACKET_BARRIER)
        barrier_arrived(t, i, p->checkpoint_id);
      else
        t->ended[i] = 1;
      if (p->kind == SL_PACKET_RECORDS)
        sl_channel_give_back(t->in[i], p); /* its records ran: nothing points into it any more */
      else
        sl_packet_free(p);
      if (t->ended[i] && t->aligning && aligned(t))
        take_snapshot(t);
    }
  }
  if (more && !rt->failed)
    uv_async_send(&t->wake);
  check_drained(t);
}

/* A checkpoint share finished (the checkpointer's task_done, on this loop). */
static void on_share(void *arg, const sl_checkpoint_job *j) {
  sl_task *t = arg;
  sl_job_task_share(t->job, t->index, j, t->last_alignment_ms);
}

static void on_wake(uv_async_t *h) {
  sl_task *t = h->data;
  sl_runtime *rt = &t->rt;
  if (atomic_load(&t->abort_req) || rt->stopping) {
    sl_runtime_stop(rt);
    return;
  }
  uint64_t r = atomic_load(&t->resolved_req);
  if (r > t->resolved_seen) {
    t->resolved_seen = r;
    sl_checkpoint_task_resolved(&rt->ckpt, atomic_load(&t->resolved_ok));
  }
  if (atomic_load(&t->finish_req)) {
    sl_runtime_stop(rt);
    return;
  }
  if (atomic_load(&t->stop_req) && !t->stopped_reading) {
    t->stopped_reading = 1;
    for (int i = 0; i < rt->nsources; i++)
      sl_source_close(rt->sources[i]);
    sl_task_sources_done(t);
  }
  uint64_t f = atomic_load(&t->final_req);
  if (f > t->final_seen) {
    t->final_seen = f;
    rt->ckpt.next_id = f;
    /* Everything is drained: the offsets now are where every record read so far is in the state. */
    for (int i = 0; i < rt->nsources; i++)
      if (sl_source_save_offset(rt->sources[i]) != SL_STATE_OK) {
        sl_runtime_fail(rt, "final checkpoint: saving source offsets failed: %s",
                        sl_backend_last_error(rt->backend));
        return;
      }
    if (sl_checkpoint_trigger(&rt->ckpt, SL_CHECKPOINT_FINAL) != 0 && !rt->failed && rt->ckpt.in_flight)
      sl_runtime_fail(rt, "final checkpoint %llu could not start", (unsigned long long)f);
    return;
  }
  uint64_t c = atomic_load(&t->inject_req);
  if (c > t->inject_seen) {
    t->inject_seen = c;
    inject(t, c);
  }
  flush_backlog(t);
  drain_inputs(t);
}

static void on_stop_handle(sl_runtime *rt) {
  sl_task *t = (sl_task *)((char *)rt - offsetof(sl_task, rt));
  if (!uv_is_closing((uv_handle_t *)&t->wake))
    uv_close((uv_handle_t *)&t->wake, NULL);
}

int sl_task_init(sl_task *t, struct sl_job *job, unsigned index, unsigned n, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  t->index = index;
  t->n = n;
  t->job = job;
  t->held = calloc(n, 1);
  t->ended = calloc(n, 1);
  t->filling = calloc(n, sizeof *t->filling);
  t->backlog = calloc(n, sizeof *t->backlog);
  int rc = !t->held || !t->ended || !t->filling || !t->backlog ? UV_ENOMEM : uv_loop_init(&t->loop);
  if (!rc) {
    rc = uv_async_init(&t->loop, &t->wake, on_wake);
    t->wake.data = t;
  }
  if (rc) {
    snprintf(err, errlen, "subtask %u: cannot set up its loop: %s", index, uv_strerror(rc));
    return -1;
  }
  t->rt.task = t;
  t->rt.on_stop = on_stop_handle;
  t->rt.ckpt.task_done = on_share;
  t->rt.ckpt.task_arg = t;
  return 0;
}

static void *task_main(void *arg) {
  sl_task *t = arg;
  char err[4096];
  int ok = sl_runtime_task_setup(&t->rt, &t->loop, t->dir, t->index, t->n, err, sizeof err) == 0;
  if (!ok)
    sl_error("subtask %u: %s", t->index, err);
  const sl_job_desc *d = &t->rt.lua.job;
  if (ok && !(t->names = calloc((size_t)d->nsources + 1, sizeof *t->names))) {
    sl_error("subtask %u: out of memory", t->index);
    ok = 0;
  }
  for (int i = 0; ok && i < d->nsources; i++)
    t->names[i] = d->sources[i].kind == SL_EP_STDIN   ? "stdin"
                  : d->sources[i].kind == SL_EP_KAFKA ? "kafka" /* its records name their partition */
                  : d->sources[i].path                ? d->sources[i].path
                                                      : "tcp";
  sl_job_task_ready(t->job, t->index, ok);
  int go = 0;
  sl_job_wait_go(t->job, &go);
  if (ok && go && sl_runtime_task_start(&t->rt, err, sizeof err)) {
    sl_error("subtask %u: %s", t->index, err);
    sl_runtime_fail(&t->rt, "subtask %u could not start", t->index);
  }
  if (!ok || !go)
    sl_runtime_stop(&t->rt);
  uv_run(&t->loop, UV_RUN_DEFAULT);
  /* On this thread: the backend's write transaction and the Lua VM were this thread's. */
  sl_runtime_teardown(&t->rt);
  uv_run(&t->loop, UV_RUN_NOWAIT);
  return NULL;
}

int sl_task_spawn(sl_task *t, char *err, size_t errlen) {
  int rc = pthread_create(&t->thread, NULL, task_main, t);
  if (rc) {
    snprintf(err, errlen, "cannot start subtask %u's thread: %s", t->index, strerror(rc));
    return -1;
  }
  t->thread_started = 1;
  return 0;
}

void sl_task_free(sl_task *t) {
  if (!t->thread_started) /* its thread never ran: the handles made by sl_task_init close here */
    sl_runtime_teardown(&t->rt);
  if (t->wake.loop && !uv_is_closing((uv_handle_t *)&t->wake))
    uv_close((uv_handle_t *)&t->wake, NULL);
  uv_run(&t->loop, UV_RUN_NOWAIT);
  uv_loop_close(&t->loop);
  free(t->names);
  for (unsigned j = 0; t->filling && j < t->n; j++) {
    sl_packet_free(t->filling[j]);
    for (sl_packet *p = t->backlog[j], *next; p; p = next) {
      next = p->next;
      sl_packet_free(p);
    }
  }
  free(t->filling);
  free(t->backlog);
  free(t->held);
  free(t->ended);
}
