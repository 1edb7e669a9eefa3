/* timer_state.h — timers as state: a time-ordered queue of (time, key) per operator and time domain,
 * stored in the backend like every other state, so pending timers are in every checkpoint and survive a
 * restart or a crash.
 *
 * Layout: under the non-keyed group SL_OP_STATE_GROUP (never a keyed group, see operator_state.h), with the
 * queue's own state id (one backend state per operator and time domain), the empty user key, and the sub key
 *   [time: u64 BE of (int64 time with its sign bit flipped)][user key bytes]
 * so that one cursor over the queue's prefix yields timers in time order (then key order), and registering
 * the same (time, key) twice writes the same entry: timers are deduplicated per (key, time) for free. The
 * value is the key group (u16 BE) of the timer's key, kept for redistribution when rescaling.
 * The queue also keeps a watermark (int64) under the user key "w", outside the timers' cursor range: the
 * event time this operator had reached, restored with its timers.
 *
 * Why a cached lower bound: peeking opens a backend iterator, which scans the dirty cache; a queue that knows
 * its earliest time (or a lower bound of it) answers "anything due by T?" without touching the backend, so
 * polling once per batch costs nothing until a timer is actually due.
 * Ownership: the queue borrows the backend (which must outlive it) and owns its poll buffer (freed by
 * sl_timer_queue_close). Key pointers handed out stay valid until the next call on the queue. */
#ifndef SLUICE_TIMER_STATE_H
#define SLUICE_TIMER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "state/state_backend.h"
#include "state/state_key.h"

/* Longest user key a timer can hold (the key layout's limit minus the time). */
#define SL_TIMER_MAX_KEY (SL_KEY_MAX_LEN - SL_KEY_HEADER_LEN - 8u)
/* Timers handed out per backend cursor walk by sl_timer_queue_poll. */
#define SL_TIMER_POLL_BATCH 256u

typedef struct sl_timer_queue {
  sl_backend *backend;
  uint32_t state_id;
  int next_known; /* next is a valid lower bound of the earliest pending time */
  int64_t next;   /* when next_known: no pending timer is earlier (INT64_MAX = queue empty) */
  /* Due timers copied out of one cursor walk, handed out one by one by poll. */
  int64_t *due_ts;
  uint32_t *due_off, *due_len;
  uint8_t *due_keys;
  size_t due_n, due_pos, due_cap, keys_cap;
  uint8_t last_key[SL_KEY_MAX_LEN]; /* the key poll returned last */
} sl_timer_queue;

/* Binds q to state `state_id` of b (from sl_backend_state_id). Nothing is read until first use. */
void sl_timer_queue_init(sl_timer_queue *q, sl_backend *b, uint32_t state_id);
/* Frees the poll buffer. NULL is allowed; the queue can be initialised again afterwards. */
void sl_timer_queue_close(sl_timer_queue *q);

/* Registers a timer at `ts` for `key` (with its key group). Registering an existing (ts, key) is a no-op
 * that still returns OK. EINVAL if the key is longer than SL_TIMER_MAX_KEY. Cached write: durable at the
 * next commit. */
int sl_timer_queue_add(sl_timer_queue *q, int64_t ts, const void *key, size_t klen, uint16_t key_group);

/* Deletes the timer (ts, key); an absent one is OK. */
int sl_timer_queue_delete(sl_timer_queue *q, int64_t ts, const void *key, size_t klen);

/* The earliest pending time: OK and *ts, or NOTFOUND when the queue is empty. May return a time whose timers
 * were all deleted since (a lower bound): callers poll, find nothing due, and ask again. */
int sl_timer_queue_next(sl_timer_queue *q, int64_t *ts);

/* Removes and returns the earliest timer with time <= upto: OK with *ts, *key, *klen (the key is valid until
 * the next call on q), or NOTFOUND when none is due. Timers registered or deleted between polls are seen:
 * polling again after registering an earlier due timer returns that one next. */
int sl_timer_queue_poll(sl_timer_queue *q, int64_t upto, int64_t *ts, const void **key, size_t *klen);

/* The stored watermark: OK and *wm, or NOTFOUND if never set. */
int sl_timer_queue_watermark(sl_timer_queue *q, int64_t *wm);
/* Counts the pending timers (one cursor walk: for reports, not for every batch). OK and *n, or an error. */
int sl_timer_queue_count(sl_timer_queue *q, uint64_t *n);
int sl_timer_queue_set_watermark(sl_timer_queue *q, int64_t wm);

#endif
