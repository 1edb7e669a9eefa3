/* kafka_close.h — closing a Kafka consumer (the source's, `sluice group`'s member) within a bound.
 *
 * librdkafka bounds a consumer's close only by session.timeout.ms (45 s by default) when it waits for the
 * group coordinator, and rd_kafka_destroy of a consumer that did not close waits as long. Nothing of a job's
 * outcome waits on either (its checkpoint is complete, the group's offsets are for lag tools), so sluice
 * gives them a bound and, past it, leaves the handle to the process's exit. */
#ifndef SLUICE_KAFKA_CLOSE_H
#define SLUICE_KAFKA_CLOSE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

typedef enum sl_kafka_close_result {
  SL_KAFKA_CLOSED = 0,        /* closed: the handle may be destroyed */
  SL_KAFKA_CLOSE_NO_QUEUE,    /* no queue to close it on (out of memory) */
  SL_KAFKA_CLOSE_REFUSED,     /* librdkafka refused the close: why says why */
  SL_KAFKA_CLOSE_COMMIT_LATE, /* the commit did not finish in time (the close was not begun) */
  SL_KAFKA_CLOSE_LATE,        /* the close did not finish in time */
} sl_kafka_close_result;

/* Each event on the close's queue, before sl_kafka_consumer_close destroys it: a rebalance, which the caller
 * must answer (the close revokes its partitions). */
typedef void (*sl_kafka_close_event_fn)(rd_kafka_event_t *ev, void *opaque);

/* Commits `offsets` (when not NULL) to the group, then closes the consumer, both within timeout_ms on the
 * monotonic clock; on_event (may be NULL) sees every event meanwhile. *commit_err gets the commit's outcome
 * (RD_KAFKA_RESP_ERR_NO_ERROR until it is known). Unless it returns SL_KAFKA_CLOSED the handle must not be
 * destroyed, only kept reachable until exit. */
sl_kafka_close_result sl_kafka_consumer_close(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *offsets,
                                              int timeout_ms, sl_kafka_close_event_fn on_event, void *opaque,
                                              rd_kafka_resp_err_t *commit_err, char *why, size_t whylen);

/* Ends a handle (consumer or producer) once nothing of the job's outcome depends on it: when `closed`, by
 * rd_kafka_destroy_flags(rk, destroy_flags) on a thread of its own, waited for at most timeout_ms
 * (librdkafka's destroy joins its threads, which may wait on a broker); otherwise, or past that bound, the
 * handle is left to the process's exit, kept reachable so that a leak checker does not count it. `who` names
 * it in the warning, which is given when the destroy did not finish in time. */
void sl_kafka_end(rd_kafka_t *rk, int closed, int destroy_flags, int timeout_ms, const char *who);

/* The bound every handle's end gets in sluice (the source's and the group's consumer, the sink's producer,
 * its marker reader): ten seconds, past which the job's outcome is long settled. */
#define SL_KAFKA_END_TIMEOUT_MS 10000

#endif
