/* kafka_close.c — a Kafka consumer's bounded close (see kafka_close.h). */
#include "core/kafka_close.h"

#include <stdint.h>
#include <stdio.h>

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
