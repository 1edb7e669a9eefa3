/* sink_kafka.c — a Kafka topic as the sink (--output kafka://BROKERS/TOPIC, sluice.sink.kafka { ... }):
 * its configuration, the producer, and at-least-once delivery. Exactly-once delivery, the default, is in
 * sink_kafka_txn.c and shares the producer made here.
 *
 * Each output record is one message: the value is the record's JSON line without its newline, the key the
 * value of the record's `key` field when one is named (so one key's messages land on one partition, in
 * order). The producer is idempotent (enable.idempotence: librdkafka's retries neither reorder nor double a
 * message within a session).
 *
 * At-least-once: records are produced as the job writes them; a checkpoint's barrier (the pre-commit)
 * flushes the producer and waits for every delivery report, so a checkpoint completes only once every
 * record before it is in Kafka. A delivery that failed (librdkafka gave up: message.timeout.ms, a refused
 * write) fails the job, and so does a flush that has not finished within timeout_ms: the job never goes past
 * records the topic does not hold. After a crash the records since the last complete checkpoint are
 * produced again: every record at least once.
 *
 * The producer's callbacks (delivery reports, errors) are served by rd_kafka_poll and rd_kafka_flush, which
 * only the loop thread calls: they need no lock. */
#include "core/sink_kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checkpoint_meta.h"
#include "core/kafka_close.h"
#include "core/kafka_conf.h"
#include "core/kafka_log.h"
#include "core/kafka_record.h"
#include "core/log.h"
#include "state/file_modes.h"
#include "state/state_clock.h"

#define DEFAULT_TIMEOUT_MS 60000

static sl_kafka_sink *sink_of(const sl_output *o) {
  return o->sink_state;
}

/* The value the user's options give librdkafka property `name`, or NULL. */
static const char *user_value(const sl_endpoint *ep, const char *name) {
  for (int i = 0; i + 1 < ep->noptions; i += 2)
    if (!strcmp(ep->options[i], name))
      return ep->options[i + 1];
  return NULL;
}

static char *dup_or_null(const char *s, int *oom) {
  char *d = s ? strdup(s) : NULL;
  *oom |= s && !d;
  return d;
}

/* The brokers, the user's librdkafka properties, then what sluice's model sets on the producer unless the
 * user set it: records fail (and the job with them) within the sink's timeout, not librdkafka's default of
 * five minutes; a transaction may last as long. NULL with err when a property is refused. */
static rd_kafka_conf_t *producer_conf(const sl_kafka_sink *k, const sl_endpoint *ep, char *err,
                                      size_t errlen) {
  char ms[32], why[512];
  snprintf(ms, sizeof ms, "%d", k->timeout_ms);
  sl_kafka_prop model[4] = {{"enable.idempotence", "true"}};
  size_t n = 1;
  if (!user_value(ep, "message.timeout.ms"))
    model[n++] = (sl_kafka_prop){"message.timeout.ms", ms};
  if (k->transactional && !user_value(ep, "transaction.timeout.ms") && k->timeout_ms > DEFAULT_TIMEOUT_MS)
    model[n++] = (sl_kafka_prop){"transaction.timeout.ms", ms};
  if (k->transactional)
    model[n++] = (sl_kafka_prop){"transactional.id", k->txn_id};
  const char *bad = NULL;
  rd_kafka_conf_t *conf =
      sl_kafka_conf_new(ep->host, ep->options, ep->noptions, model, n, &bad, why, sizeof why);
  if (!conf)
    snprintf(err, errlen, "--output kafka:%s: librdkafka property '%s': %s", k->topic, bad, why);
  return conf;
}

/* The transactional id: the user's transactional.id, else one derived from the state dir and the topic. */
static int choose_txn_id(sl_kafka_sink *k, const sl_endpoint *ep, const char *pending_dir, char *err,
                         size_t errlen) {
  const char *user = user_value(ep, "transactional.id");
  if (user) {
    snprintf(k->txn_id, sizeof k->txn_id, "%s", user);
    return 0;
  }
  char *real = realpath(pending_dir, NULL);
  if (!real) {
    snprintf(err, errlen, "cannot resolve %s: %s", pending_dir, strerror(errno));
    return -1;
  }
  sl_kafka_txn_id(real, k->topic, k->txn_id, sizeof k->txn_id);
  free(real);
  return 0;
}

int sl_kafka_sink_open(sl_output *o, const sl_endpoint *ep, const char *pending_dir, char *err,
                       size_t errlen) {
  sl_kafka_sink *k = calloc(1, sizeof *k);
  int oom = !k;
  o->fd = -1;
  o->sink_state = k;
  o->ops = ep->at_least_once ? &sl_sink_kafka_ops : &sl_sink_kafka_txn_ops;
  if (k) {
    k->transactional = !ep->at_least_once;
    k->timeout_ms = ep->timeout_ms > 0 ? ep->timeout_ms : DEFAULT_TIMEOUT_MS;
    k->brokers = dup_or_null(ep->host, &oom);
    k->topic = dup_or_null(ep->topic, &oom);
    k->key = dup_or_null(ep->key, &oom);
    k->key_len = ep->key ? strlen(ep->key) : 0;
  }
  /* The sink's name in messages and its identity in checkpoints (their sink_path): a checkpoint's pending
   * output is delivered only to the topic it was written for. */
  size_t n = (ep->topic ? strlen(ep->topic) : 0) + 8;
  if (!oom && (o->path = malloc(n)) && (o->real_path = malloc(n))) {
    snprintf(o->path, n, "kafka:%s", ep->topic);
    snprintf(o->real_path, n, "kafka:%s", ep->topic);
  }
  if (oom || !o->path || !o->real_path || !(o->pending_dir = strdup(pending_dir))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (k->transactional && mkdir(pending_dir, SL_STATE_DIR_MODE) && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", pending_dir, strerror(errno));
    return -1;
  }
  if ((k->transactional && choose_txn_id(k, ep, pending_dir, err, errlen)) ||
      !(k->base = producer_conf(k, ep, err, errlen)))
    return -1;
  return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  sl_kafka_sink *k = opaque;
  if (!m->err)
    return;
  if (!k->undelivered++)
    snprintf(k->why, sizeof k->why, "partition %" PRId32 ": %s", m->partition, rd_kafka_err2str(m->err));
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  sl_kafka_sink *k = opaque;
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char why[400];
    rd_kafka_fatal_error(rk, why, sizeof why);
    if (!k->fatal[0])
      snprintf(k->fatal, sizeof k->fatal, "a fatal producer error: %s", why);
  } else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    sl_warn("kafka sink %s: all brokers are down (%s); waiting for them, at most %d s at the next checkpoint",
            k->topic, reason, k->timeout_ms / 1000);
  } else {
    sl_warn("kafka sink %s: %s (%s); librdkafka retries", k->topic, rd_kafka_err2name(err), reason);
  }
}

int sl_kafka_sink_start(sl_kafka_sink *k, char *err, size_t errlen) {
  char why[512];
  rd_kafka_conf_t *conf = k->base;
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_log_cb(conf, sl_kafka_log_cb);
  rd_kafka_conf_set_opaque(conf, k);
  /* rd_kafka_new takes the configuration only when it succeeds; a copy stays for the marker reader. */
  rd_kafka_conf_t *copy = rd_kafka_conf_dup(conf);
  if (!(k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, copy, why, sizeof why))) {
    rd_kafka_conf_destroy(copy);
    snprintf(err, errlen, "--output kafka:%s: cannot create the Kafka producer: %s", k->topic, why);
    return -1;
  }
  if (!(k->rkt = rd_kafka_topic_new(k->rk, k->topic, NULL))) {
    snprintf(err, errlen, "--output kafka:%s: %s", k->topic, rd_kafka_err2str(rd_kafka_last_error()));
    return -1;
  }
  /* Asked now, the topic's partitions are known when the first record comes (else librdkafka learns them
   * on its next metadata scan, up to a second later, and the first checkpoint waits for that). */
  const rd_kafka_metadata_t *md = NULL;
  rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, k->rkt, &md, k->timeout_ms);
  if (!e)
    e = md->topic_cnt != 1 ? RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC : md->topics[0].err;
  if (md)
    rd_kafka_metadata_destroy(md);
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
    snprintf(err, errlen, "--output kafka:%s: the brokers at %s have no topic '%s'", k->topic, k->brokers,
             k->topic);
  else if (e)
    snprintf(err, errlen, "--output kafka:%s: cannot read the topic's metadata from %s within %d s: %s",
             k->topic, k->brokers, k->timeout_ms / 1000, rd_kafka_err2str(e));
  return e ? -1 : 0;
}

int sl_kafka_sink_check(sl_kafka_sink *k, char *err, size_t errlen) {
  if (k->fatal[0]) {
    snprintf(err, errlen, "kafka sink %s: %s", k->topic, k->fatal);
    return -1;
  }
  if (k->undelivered) {
    snprintf(err, errlen, "kafka sink %s: %" PRIu64 " records were not delivered (the first: %s)", k->topic,
             k->undelivered, k->why);
    return -1;
  }
  return 0;
}

int sl_kafka_sink_produce(sl_kafka_sink *k, const char *line, size_t len, char *err, size_t errlen) {
  const char *key = NULL;
  size_t klen = 0;
  if (k->key &&
      sl_kafka_record_key(line, len, k->key, k->key_len, &k->scratch, &k->scratch_cap, &key, &klen) < 0) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  uint64_t deadline = 0;
  for (;;) {
    rd_kafka_resp_err_t e = rd_kafka_producev(k->rk, RD_KAFKA_V_RKT(k->rkt),
                                              RD_KAFKA_V_VALUE((void *)line, len), RD_KAFKA_V_KEY(key, klen),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
      return 0;
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      /* A transaction that failed refuses records with a state error; its reason is librdkafka's error
       * line (TXNERR), which the API gives back only to the next transaction call. */
      snprintf(err, errlen, "kafka sink %s: producing a record failed: %s%s", k->topic, rd_kafka_err2str(e),
               e == RD_KAFKA_RESP_ERR__STATE && k->transactional
                   ? " (the transaction failed: librdkafka's TXNERR line says why)"
                   : "");
      return -1;
    }
    /* librdkafka's queue is full (queue.buffering.max.messages/kbytes): the brokers take records slower
     * than the job makes them. Wait for room, which is the backpressure, but not forever. */
    uint64_t now = sl_monotonic_ms();
    if (!deadline)
      deadline = now + (uint64_t)k->timeout_ms;
    else if (now >= deadline) {
      snprintf(err, errlen,
               "kafka sink %s: the producer's queue stayed full for %d s: the brokers at %s take no "
               "records",
               k->topic, k->timeout_ms / 1000, k->brokers);
      return -1;
    }
    rd_kafka_poll(k->rk, 10);
    if (sl_kafka_sink_check(k, err, errlen))
      return -1;
  }
}

int sl_kafka_sink_produce_lines(sl_kafka_sink *k, const char *data, size_t len, uint64_t *records, char *err,
                                size_t errlen) {
  const char *p = data, *end = data + len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *stop = nl ? nl : end;
    if (stop > p) {
      if (sl_kafka_sink_produce(k, p, (size_t)(stop - p), err, errlen))
        return -1;
      if (++*records % 4096 == 0)
        rd_kafka_poll(k->rk, 0);
    }
    p = stop + 1;
  }
  return 0;
}

void sl_kafka_sink_free(sl_kafka_sink *k) {
  if (!k)
    return;
  if (k->rk) {
    /* A job that failed leaves records queued: they are dropped (a restart produces them again), not
     * waited for. */
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(k->rk, 0);
    if (k->rkt)
      rd_kafka_topic_destroy(k->rkt);
    char who[300];
    snprintf(who, sizeof who, "kafka sink %s", k->topic);
    sl_kafka_end(k->rk, 1, 0, SL_KAFKA_END_TIMEOUT_MS, who);
  }
  if (k->base)
    rd_kafka_conf_destroy(k->base);
  free(k->brokers);
  free(k->topic);
  free(k->key);
  free(k->scratch);
  free(k);
}

/* At-least-once -------------------------------------------------------------------------------------- */

static int alo_write(sl_output *o, const sl_buf *buf, char *err, size_t errlen) {
  sl_kafka_sink *k = sink_of(o);
  uint64_t records = 0;
  if (sl_kafka_sink_produce_lines(k, buf->data, buf->len, &records, err, errlen))
    return -1;
  rd_kafka_poll(k->rk, 0); /* delivery reports of earlier records */
  return sl_kafka_sink_check(k, err, errlen);
}

/* The barrier: every record before it delivered, or the job fails. */
static int alo_precommit(sl_output *o, uint64_t next_id, char *err, size_t errlen) {
  sl_kafka_sink *k = sink_of(o);
  rd_kafka_resp_err_t e = rd_kafka_flush(k->rk, k->timeout_ms);
  if (sl_kafka_sink_check(k, err, errlen))
    return -1;
  if (e) {
    snprintf(err, errlen,
             "kafka sink %s: %d records were not delivered within %d s (the brokers at %s do not "
             "answer): %s",
             k->topic, rd_kafka_outq_len(k->rk), k->timeout_ms / 1000, k->brokers, rd_kafka_err2str(e));
    return -1;
  }
  o->part_id = next_id;
  o->part_len = 0;
  return 0;
}

static int alo_recover(sl_output *o, const sl_checkpoint_meta *m, uint64_t next_id, int overwrite, char *err,
                       size_t errlen) {
  /* A checkpoint whose two-phase output (a file's, or exactly-once Kafka's) was not delivered yet: this
   * sink would never deliver it. */
  if (m && m->sink_part > 0 && !overwrite &&
      sl_sink_parts_present(o->pending_dir, m->sink_first_part, m->id)) {
    snprintf(
        err, errlen,
        "checkpoint %" PRIu64 " has %" PRIu64 " bytes of output for '%s' still to deliver, which an "
        "at-least-once Kafka sink does not deliver. Run it once more with the sink it was written for, or "
        "pass --overwrite-output to drop them",
        m->id, m->sink_part, m->sink_path[0] ? m->sink_path : "stdout");
    return -1;
  }
  o->part_id = next_id;
  return sink_of(o)->rk ? 0 : sl_kafka_sink_start(sink_of(o), err, errlen);
}

static int alo_start_parts(sl_output *o, uint64_t next_id, char *err, size_t errlen) {
  return alo_recover(o, NULL, next_id, 0, err, errlen);
}

static void kafka_close(sl_output *o) {
  sl_kafka_sink_free(sink_of(o));
  o->sink_state = NULL;
}

const sl_sink_ops sl_sink_kafka_ops = {
    .write = alo_write,
    .precommit = alo_precommit,
    .recover = alo_recover,
    .close = kafka_close,
    .start_parts = alo_start_parts,
};
