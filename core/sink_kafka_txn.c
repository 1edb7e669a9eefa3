/* sink_kafka_txn.c — exactly-once delivery to Kafka (the default): one Kafka transaction per checkpoint,
 * committed when the checkpoint is complete.
 *
 * Records first go where the file sink puts them (sink_file.c's ops, reused): a pending part per
 * checkpoint, STATE-DIR/pending/part-<id>, closed at the barrier, fsynced and checksummed into the
 * checkpoint's metadata by the checkpoint thread. Once the checkpoint is complete, its parts are produced
 * in ONE transaction (begin, the records, a marker, commit), and deleted only after the commit succeeded.
 * Consumers that read with isolation.level=read_committed see a checkpoint's records all at once, or none.
 *
 * The marker makes a redo safe (Kafka Streams' trick): the transaction also commits, through
 * rd_kafka_send_offsets_to_transaction, the offset "checkpoint id" of the topic's partition 0 for the
 * consumer group "<transactional id>-commits". It is committed atomically with the records, so on a restart
 * it says whether the last checkpoint's transaction committed before the crash.
 *
 * Recovery (txn_recover): init_transactions with the same transactional id fences the previous process's
 * producer and completes or aborts its open transaction, so its state is settled. Then, when the restored
 * checkpoint's parts are all still pending (its commit may not have finished), the marker is read: if it
 * holds the checkpoint's id the transaction committed and the parts are dropped; else they are produced
 * again in a new transaction. Parts of later, incomplete checkpoints are discarded (their records are read
 * again from the sources).
 *
 * A failure anywhere in a transaction aborts it and fails the job (a restart delivers the checkpoint's
 * output again). A broker that refuses transactions, or does not answer init_transactions within the
 * timeout, stops the start with a clear error: never a silent fall-back to at-least-once.
 *
 * Every wait (init, the marker read, a full queue, sending the marker, commit, abort) is bounded by the
 * sink's timeout_ms. The commit runs on the loop thread after the checkpoint completed, as the file sink's
 * append does: records wait meanwhile. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/kafka_close.h"
#include "core/kafka_log.h"
#include "core/log.h"
#include "core/sink_kafka.h"
#include "core/state_dir.h"

static sl_kafka_sink *sink_of(const sl_output *o) {
  return o->sink_state;
}

/* The marker's consumer group. */
static void marker_group(const sl_kafka_sink *k, char *out, size_t len) {
  snprintf(out, len, "%s-commits", k->txn_id);
}

/* Produces part `id` of pending_dir, one message per line; *records counts them. 0, or -1 with err. */
static int produce_part(sl_kafka_sink *k, const char *pending_dir, uint64_t id, uint64_t *records, char *err,
                        size_t errlen) {
  char path[4200];
  sl_pending_part(pending_dir, id, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    snprintf(err, errlen, "cannot read pending output %s: %s", path, strerror(errno));
    if (fd >= 0)
      close(fd);
    return -1;
  }
  if (st.st_size == 0) {
    close(fd);
    return 0;
  }
  char *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (data == MAP_FAILED) {
    snprintf(err, errlen, "cannot map pending output %s: %s", path, strerror(errno));
    return -1;
  }
  int rc = sl_kafka_sink_produce_lines(k, data, (size_t)st.st_size, records, err, errlen);
  munmap(data, (size_t)st.st_size);
  return rc;
}

/* Takes a transaction call's error into err ("what: reason"), frees it, and says whether it was fatal. */
static int take_error(sl_kafka_sink *k, rd_kafka_error_t *e, const char *what, char *err, size_t errlen) {
  snprintf(err, errlen, "kafka sink %s: %s: %s", k->topic, what, rd_kafka_error_string(e));
  int fatal = rd_kafka_error_is_fatal(e);
  rd_kafka_error_destroy(e);
  return fatal;
}

/* The marker "checkpoint `id` committed", inside the open transaction. */
static rd_kafka_error_t *send_marker(sl_kafka_sink *k, uint64_t id) {
  char group[300];
  marker_group(k, group, sizeof group);
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, k->topic, 0)->offset = (int64_t)id;
  rd_kafka_consumer_group_metadata_t *g = rd_kafka_consumer_group_metadata_new(group);
  rd_kafka_error_t *e = rd_kafka_send_offsets_to_transaction(k->rk, l, g, k->timeout_ms);
  rd_kafka_consumer_group_metadata_destroy(g);
  rd_kafka_topic_partition_list_destroy(l);
  return e;
}

/* Produces parts first..last of pending_dir as checkpoint `last`'s one transaction, with its marker, and
 * commits it. 0, or -1 with err (the transaction was aborted, or could not be). */
static int deliver(sl_kafka_sink *k, const char *pending_dir, uint64_t first, uint64_t last, char *err,
                   size_t errlen) {
  uint64_t records = 0;
  char what[600];
  rd_kafka_error_t *e = rd_kafka_begin_transaction(k->rk);
  if (e) {
    take_error(k, e, "cannot begin a transaction", err, errlen);
    return -1;
  }
  sl_log(SL_LOG_DEBUG,
         "kafka sink %s: checkpoint %" PRIu64 ": transaction begun (pending parts %" PRIu64 "-%" PRIu64 ")",
         k->topic, last, first, last);
  int rc = 0;
  for (uint64_t id = first; id <= last && rc == 0; id++)
    rc = produce_part(k, pending_dir, id, &records, what, sizeof what);
  int fatal = 0;
  if (rc == 0 && (e = send_marker(k, last))) {
    fatal = take_error(k, e, "sending the transaction's marker", what, sizeof what);
    rc = -1;
  }
  if (rc == 0 && (e = rd_kafka_commit_transaction(k->rk, k->timeout_ms))) {
    fatal = take_error(k, e, "committing the transaction", what, sizeof what);
    rc = -1;
  }
  if (rc == 0) {
    sl_log(SL_LOG_DEBUG, "kafka sink %s: checkpoint %" PRIu64 ": transaction committed, %" PRIu64 " records",
           k->topic, last, records);
    return 0;
  }
  /* A fatal error leaves nothing to abort with (the producer is fenced or broken): the next process's
   * init_transactions aborts the transaction. */
  const char *outcome = "it was aborted";
  if (fatal) {
    outcome = "the producer cannot go on (the next start aborts the transaction)";
  } else if ((e = rd_kafka_abort_transaction(k->rk, k->timeout_ms))) {
    outcome = "aborting it failed too (the next start aborts it)";
    sl_warn("kafka sink %s: checkpoint %" PRIu64 ": aborting the transaction: %s", k->topic, last,
            rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  } else {
    sl_log(SL_LOG_DEBUG, "kafka sink %s: checkpoint %" PRIu64 ": transaction aborted", k->topic, last);
  }
  /* The caller names the checkpoint. */
  snprintf(err, errlen, "delivering its output in a Kafka transaction failed: %s; %s", what, outcome);
  return -1;
}

static int txn_commit(sl_output *o, uint64_t first, uint64_t last, uint64_t len, char *err, size_t errlen) {
  /* Checkpoints without output need no transaction. */
  if (len > 0 && deliver(sink_of(o), o->pending_dir, first, last, err, errlen))
    return -1;
  sl_sink_delete_parts(o->pending_dir, first, last);
  return 0;
}

/* The last checkpoint id whose transaction committed, read from the marker group: -1 when it holds none.
 * 0, or -1 with err. */
static int read_marker(sl_kafka_sink *k, int64_t *done, char *err, size_t errlen) {
  char group[300], why[512];
  marker_group(k, group, sizeof group);
  rd_kafka_conf_t *conf = rd_kafka_conf_dup(k->base);
  rd_kafka_conf_set_log_cb(conf, sl_kafka_log_quiet_conf_cb);
  if (rd_kafka_conf_set(conf, "group.id", group, why, sizeof why) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "isolation.level", "read_committed", why, sizeof why) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "enable.auto.commit", "false", why, sizeof why) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    snprintf(err, errlen, "kafka sink %s: configuring the marker reader: %s", k->topic, why);
    return -1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    snprintf(err, errlen, "kafka sink %s: cannot create the marker reader: %s", k->topic, why);
    return -1;
  }
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, k->topic, 0);
  rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, k->timeout_ms);
  if (!e)
    e = l->elems[0].err;
  *done = l->elems[0].offset >= 0 ? l->elems[0].offset : -1;
  rd_kafka_topic_partition_list_destroy(l);
  /* It never joined the group: nothing to leave. Its destroy is bounded as every handle's is. */
  char who[300];
  snprintf(who, sizeof who, "kafka sink %s: the marker reader", k->topic);
  sl_kafka_end(rk, 1, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE, SL_KAFKA_END_TIMEOUT_MS, who);
  if (e)
    snprintf(err, errlen, "kafka sink %s: reading the transaction marker of group '%s' within %d s: %s",
             k->topic, group, k->timeout_ms / 1000, rd_kafka_err2str(e));
  return e ? -1 : 0;
}

/* Checkpoint m's pending output, when its commit may not have finished: delivered unless the marker says it
 * was. 0, or -1 with err. */
static int redo(sl_output *o, const sl_checkpoint_meta *m, int overwrite, char *err, size_t errlen) {
  sl_kafka_sink *k = sink_of(o);
  /* The commit deletes the parts only once the transaction committed: if any is gone, it did. */
  if (!m || m->sink_part == 0 || !sl_sink_parts_present(o->pending_dir, m->sink_first_part, m->id))
    return 0;
  if (strcmp(m->sink_path, o->real_path) != 0) {
    if (overwrite) {
      sl_warn("checkpoint %" PRIu64 "'s pending output was for '%s', not %s: dropped (--overwrite-output)",
              m->id, m->sink_path[0] ? m->sink_path : "stdout", o->real_path);
      return 0;
    }
    snprintf(err, errlen,
             "checkpoint %" PRIu64 " has %" PRIu64 " bytes of output for '%s' still to deliver, and this run "
             "writes to %s; sluice does not send one sink's records to another. Run it once more with that "
             "output, or pass --overwrite-output to drop them",
             m->id, m->sink_part, m->sink_path[0] ? m->sink_path : "stdout", o->real_path);
    return -1;
  }
  int64_t done;
  if (read_marker(k, &done, err, errlen))
    return -1;
  if (done >= (int64_t)m->id) {
    sl_info("kafka sink %s: checkpoint %" PRIu64
            "'s transaction committed before the restart (its marker says "
            "so): not delivered again",
            k->topic, m->id);
    return 0;
  }
  sl_info("kafka sink %s: delivering checkpoint %" PRIu64 "'s pending output (%" PRIu64 " bytes): its "
          "transaction had not committed",
          k->topic, m->id, m->sink_part);
  return deliver(k, o->pending_dir, m->sink_first_part, m->id, err, errlen);
}

static int txn_recover(sl_output *o, const sl_checkpoint_meta *m, uint64_t next_id, int overwrite, char *err,
                       size_t errlen) {
  sl_kafka_sink *k = sink_of(o);
  if (sl_kafka_sink_start(k, err, errlen))
    return -1;
  rd_kafka_error_t *e = rd_kafka_init_transactions(k->rk, k->timeout_ms);
  if (e) {
    snprintf(err, errlen,
             "--output kafka:%s: the brokers at %s did not set up transactions for transactional id '%s' "
             "(waited at most %d s): %s. delivery=exactly-once needs Kafka transactions (a transaction "
             "coordinator, and the right to use that id); delivery=at-least-once does without them",
             k->topic, k->brokers, k->txn_id, k->timeout_ms / 1000, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return -1;
  }
  sl_log(SL_LOG_DEBUG,
         "kafka sink %s: transactions initialised for '%s' (an earlier producer with this id is "
         "fenced, its open transaction settled)",
         k->topic, k->txn_id);
  if (redo(o, m, overwrite, err, errlen))
    return -1;
  /* Discards every pending part and opens part next_id. */
  return sl_sink_file_ops.start_parts(o, next_id, err, errlen);
}

static void txn_close(sl_output *o) {
  sl_sink_file_ops.close(o); /* the open part (o->fd is -1) */
  sl_kafka_sink_free(sink_of(o));
  o->sink_state = NULL;
}

/* Records, barriers and durability are the file sink's pending parts (its ops: C cannot put another table's
 * members in a constant initialiser). */
static int txn_write(sl_output *o, const sl_buf *buf, char *err, size_t errlen) {
  return sl_sink_file_ops.write(o, buf, err, errlen);
}

static int txn_precommit(sl_output *o, uint64_t next_id, char *err, size_t errlen) {
  return sl_sink_file_ops.precommit(o, next_id, err, errlen);
}

static int txn_sync(const sl_output *o, uint64_t first, uint64_t last, uint32_t *crc) {
  return sl_sink_file_ops.sync(o, first, last, crc);
}

/* A parallel job's subtask only writes parts (the job delivers them): it makes no producer. */
static int txn_start_parts(sl_output *o, uint64_t next_id, char *err, size_t errlen) {
  return sl_sink_file_ops.start_parts(o, next_id, err, errlen);
}

const sl_sink_ops sl_sink_kafka_txn_ops = {
    .write = txn_write,
    .precommit = txn_precommit,
    .sync = txn_sync,
    .commit = txn_commit,
    .recover = txn_recover,
    .close = txn_close,
    .start_parts = txn_start_parts,
};
