/* kafka_close.c — a Kafka consumer's bounded close (see kafka_close.h). */
#include "core/kafka_close.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "state/state_clock.h"

#define POLL_MS 100

sl_kafka_close_result sl_kafka_consumer_close(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *offsets,
                                              int timeout_ms, sl_kafka_close_event_fn on_event, void *opaque,
                                              rd_kafka_resp_err_t *commit_err, char *why, size_t whylen) {
  const uint64_t deadline = sl_monotonic_ms() + (uint64_t)timeout_ms;
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  if (!q)
    return SL_KAFKA_CLOSE_NO_QUEUE;
  int committing = 0, closing = 0;
  sl_kafka_close_result r = SL_KAFKA_CLOSED;
  *commit_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (offsets) { /* a refused commit does not stop the close */
    *commit_err = rd_kafka_commit_queue(rk, offsets, q, NULL, NULL);
    committing = !*commit_err;
  }
  for (;;) {
    if (!committing && !closing) {
      rd_kafka_error_t *e = rd_kafka_consumer_close_queue(rk, q);
      if (e) {
        snprintf(why, whylen, "%s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        r = SL_KAFKA_CLOSE_REFUSED;
        break;
      }
      closing = 1;
    }
    if (closing && rd_kafka_consumer_closed(rk))
      break;
    uint64_t now = sl_monotonic_ms();
    if (now >= deadline) {
      r = committing ? SL_KAFKA_CLOSE_COMMIT_LATE : SL_KAFKA_CLOSE_LATE;
      break;
    }
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int)(deadline - now < POLL_MS ? deadline - now : POLL_MS));
    if (!ev)
      continue;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
      committing = 0;
      *commit_err = rd_kafka_event_error(ev);
    }
    if (on_event)
      on_event(ev, opaque);
    rd_kafka_event_destroy(ev);
  }
  rd_kafka_queue_destroy(q);
  return r;
}

/* Handles left to the process's exit: reachable from here. A fixed few: a process has at most a source's
 * consumer, a sink's producer and a group member; past that, the handle is still left, only not listed. */
static rd_kafka_t *left_to_exit[8];
static int nleft;

static void leave_to_exit(rd_kafka_t *rk) {
  if (nleft < (int)(sizeof left_to_exit / sizeof left_to_exit[0]))
    left_to_exit[nleft++] = rk;
}

/* One destroy on its own thread; whichever of it and the waiter is last frees it. */
typedef struct destroy_job {
  rd_kafka_t *rk;
  int flags; /* rd_kafka_destroy_flags' */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, abandoned;
} destroy_job;

static void *destroy_main(void *arg) {
  destroy_job *j = arg;
  rd_kafka_destroy_flags(j->rk, j->flags);
  pthread_mutex_lock(&j->mu);
  j->done = 1;
  int last = j->abandoned;
  pthread_cond_signal(&j->cv);
  pthread_mutex_unlock(&j->mu);
  if (last) {
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
  }
  return NULL;
}

void sl_kafka_end(rd_kafka_t *rk, int closed, int destroy_flags, int timeout_ms, const char *who) {
  if (!rk)
    return;
  if (!closed) {
    leave_to_exit(rk);
    return;
  }
  destroy_job *j = calloc(1, sizeof *j);
  pthread_condattr_t ca;
  pthread_t t;
  if (!j || pthread_condattr_init(&ca)) {
    free(j);
    rd_kafka_destroy_flags(rk, destroy_flags); /* no memory for a thread's bookkeeping: waited for here */
    return;
  }
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&j->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&j->mu, NULL);
  j->rk = rk;
  j->flags = destroy_flags;
  if (pthread_create(&t, NULL, destroy_main, j)) {
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
    rd_kafka_destroy_flags(rk, destroy_flags);
    return;
  }
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L)
    until.tv_sec++, until.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&j->mu);
  while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &until) == 0)
    ;
  int done = j->done;
  j->abandoned = !done;
  pthread_mutex_unlock(&j->mu);
  if (done) {
    pthread_join(t, NULL);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j);
    return;
  }
  pthread_detach(t);
  leave_to_exit(rk);
  sl_warn("%s: librdkafka's handle did not shut down within %d s (its destroy waits for its threads); sluice "
          "exits without waiting longer",
          who, timeout_ms / 1000);
}
