/* sink_kafka.h — the Kafka sink's own state, shared by its two files: sink_kafka.c (configuration, the
 * producer, at-least-once delivery) and sink_kafka_txn.c (exactly-once: one transaction per checkpoint).
 * Only those files and output.c include it. */
#ifndef SLUICE_SINK_KAFKA_H
#define SLUICE_SINK_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "core/sink_kind.h"

typedef struct sl_kafka_sink {
  rd_kafka_conf_t *base; /* brokers and the user's properties: the producer's and the marker reader's */
  rd_kafka_t *rk;        /* the producer, made by start (NULL before, and in a parallel job's EOS subtask) */
  rd_kafka_topic_t *rkt; /* the topic's handle in it */
  char *brokers, *topic;
  char *key; /* the output records' field that keys the messages, or NULL */
  size_t key_len;
  int timeout_ms; /* the bound of every wait on the brokers */
  int transactional;
  char txn_id[256];
  char *scratch; /* a decoded key */
  size_t scratch_cap;
  /* Filled by librdkafka's callbacks, which run on the thread that polls the producer (the loop's). */
  uint64_t undelivered; /* messages whose delivery report carried an error */
  char why[512];        /* the first such error */
  char fatal[512];      /* a fatal producer error */
} sl_kafka_sink;

/* Opens an --output kafka:// (ep->kind SL_EP_KAFKA): checks the configuration (an unknown librdkafka
 * property is refused here, at start) and chooses the ops by delivery: sl_sink_kafka_txn_ops (exactly-once,
 * pending parts in pending_dir) or sl_sink_kafka_ops (at-least-once). Nothing connects yet. 0, or -1 with
 * err. */
int sl_kafka_sink_open(sl_output *o, const sl_endpoint *ep, const char *pending_dir, char *err,
                       size_t errlen);

/* Makes the producer (idempotent; transactional with k->txn_id when k->transactional) and reads the topic's
 * metadata (within the timeout: brokers that do not answer, or have no such topic, stop the start here
 * rather than at the first checkpoint). 0, or -1 with err. */
int sl_kafka_sink_start(sl_kafka_sink *k, char *err, size_t errlen);
/* Produces one record line[0..len) (no newline), keyed when the sink has a key field; waits out a full
 * producer queue for up to the timeout. 0, or -1 with err. */
int sl_kafka_sink_produce(sl_kafka_sink *k, const char *line, size_t len, char *err, size_t errlen);
/* Produces each non-empty line of data (len bytes), serving delivery reports every 4096 records; *records
 * counts them. 0, or -1 with err. */
int sl_kafka_sink_produce_lines(sl_kafka_sink *k, const char *data, size_t len, uint64_t *records, char *err,
                                size_t errlen);
/* What went wrong with delivery so far (an undelivered message or a fatal error): 0, or -1 with err. */
int sl_kafka_sink_check(sl_kafka_sink *k, char *err, size_t errlen);
/* Frees the sink (the producer first: its callbacks use k). */
void sl_kafka_sink_free(sl_kafka_sink *k);

extern const sl_sink_ops sl_sink_kafka_ops; /* at-least-once: produced as written, flushed at barriers */
extern const sl_sink_ops
    sl_sink_kafka_txn_ops; /* exactly-once: pending parts, a transaction per checkpoint */

#endif
