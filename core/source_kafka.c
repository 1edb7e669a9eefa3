/* source_kafka.c — a Kafka topic as a source (librdkafka), in Flink's model: the source assigns itself every
 * partition of the topic (or those its `partitions` filter names: a `sluice group` child reads one), and
 * the offsets it resumes from live in sluice's checkpoints, never in the group's committed offsets; after
 * each complete checkpoint the offsets are also committed to the consumer group (when one is named), so
 * that lag tools show the job's progress.
 *
 * Records are the message values, one JSON record each, validated like every input's lines. Each partition
 * is its own sl_input named "kafka:TOPIC:PARTITION" whose line numbers are the messages' offsets, so that a
 * rejected record is reported as "kafka:access:3:1234: reason" (topic, partition, offset). A newline inside
 * a value is turned into '\r' as it is copied in: outside a JSON string both are white space, inside one
 * both are invalid, so the record means what it meant and stays one record.
 *
 * Each message's metadata (topic, partition, offset, key, timestamp: sluice.meta(rec)) goes into an array
 * beside its partition's reader, one entry per line, which the partition's sl_input hands to the runtime
 * (sl_input.meta): the i-th line consumed is the i-th entry. The keys' bytes are copied into a buffer of the
 * partition's. Both are emptied after each consume, so they are filled at most META_CAP entries (or
 * KEYS_SIZE bytes of keys) before the partition's lines are processed; neither moves while records point
 * into it.
 *
 * The consumer runs on librdkafka's threads; its messages reach the libuv loop without blocking it: the
 * consumer queue writes a byte to a pipe when it becomes non-empty (rd_kafka_queue_io_event_enable), a
 * uv_poll on the pipe wakes the loop, and the callback takes the queued messages without waiting
 * (rd_kafka_consumer_poll with timeout 0, one message at a time: librdkafka 2.0's release notes list known
 * issues of its batch API, rd_kafka_consume_batch_queue, with pause, resume and rebalances, which sharing
 * a topic through the group will need), at most a budget per loop turn (an idle handle picks up
 * what is left, so checkpoints and signals are served in between). Each turn's messages are processed
 * before the callback returns, so between two turns every message taken is in the state: the next offsets
 * kept per partition are then the exact resume point a checkpoint records.
 *
 * Errors: a fatal librdkafka error, an offset no longer (or not yet) in a partition (auto.offset.reset is
 * "error": a checkpoint's offset is never silently replaced by another), a missing topic or a refused
 * authorisation fail the job; other broker errors are logged and waited out while librdkafka retries. The
 * source never ends by itself: the job runs until SIGTERM or SIGINT, which take a final checkpoint. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/kafka_close.h"
#include "core/kafka_conf.h"
#include "core/kafka_log.h"
#include "core/kafka_offsets.h"
#include "core/log.h"
#include "core/source_kind.h"

/* Messages at most per loop turn; the partitions' lines are processed at its end (a partition's reader that
 * fills up, sooner), so each partition's records go through the pipeline in batches as large as a turn
 * gives them. */
#define TURN_BUDGET 32768
#define READ_SIZE (64u * 1024)
#define META_CAP 1024u
#define KEYS_SIZE (64u * 1024)
#define METADATA_TIMEOUT_MS 30000
/* How long the final commit and closing the consumer may take. librdkafka bounds a close only by
 * session.timeout.ms (45 s by default) when it waits for the group coordinator; the group's offsets are
 * for lag tools alone (recovery uses the checkpoint's), so the process does not wait that long for them. */
#define CLOSE_TIMEOUT_MS 10000

typedef struct sl_kafka_part {
  sl_input in;        /* "kafka:TOPIC:P"; its reader's line numbers are the messages' offsets */
  int64_t next;       /* the offset after the last message taken, or SL_KAFKA_NO_OFFSET */
  int64_t restored;   /* the checkpoint's next offset, or SL_KAFKA_NO_OFFSET */
  int dirty;          /* holds lines not consumed yet */
  int read;           /* the endpoint's partitions filter selects it (every partition without one) */
  sl_rec_meta *metas; /* [META_CAP] (made at the first message), one per line not consumed yet */
  uint32_t nmetas;
  char *keys; /* the keys of those lines' messages */
  size_t keys_len, keys_cap;
} sl_kafka_part;

typedef struct sl_kafka_source {
  sl_source base; /* first (source_kind.h) */
  rd_kafka_t *rk;
  rd_kafka_queue_t *queue;
  int wake[2]; /* the pipe the consumer queue writes to when it becomes non-empty */
  uv_poll_t poll;
  uv_idle_t idle; /* more messages queued than one turn's budget */
  int handles;    /* poll and idle were initialised: they must be closed */
  sl_kafka_part *parts;
  int nparts;
  char *meta_key; /* "source/kafka:TOPIC" */
  /* The offsets of the checkpoint whose barrier was the last (committed to the group when it completes). */
  rd_kafka_topic_partition_list_t *barrier;
  int final_complete; /* the final checkpoint (taken after the source closed) completed: commit k->barrier */
  char fatal[512];    /* a fatal error seen by a librdkafka callback, reported by the loop */
} sl_kafka_source;

static sl_kafka_source *kafka_src(sl_source *s) {
  return (sl_kafka_source *)s;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  sl_kafka_source *k = opaque;
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char why[400];
    rd_kafka_fatal_error(rk, why, sizeof why);
    snprintf(k->fatal, sizeof k->fatal, "a fatal Kafka error: %s", why);
  } else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
    sl_warn("%s: all brokers are down (%s); waiting for them", k->base.in.name, reason);
  } else {
    sl_warn("%s: %s (%s); librdkafka retries", k->base.in.name, rd_kafka_err2name(err), reason);
  }
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *offsets,
                      void *opaque) {
  (void)rk, (void)offsets;
  /* Only lag tools read the group's offsets; recovery uses the checkpoint's. A failed commit is news, not
   * a failure: the next checkpoint commits again. */
  if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
    sl_warn("%s: committing offsets to the group failed: %s", ((sl_kafka_source *)opaque)->base.in.name,
            rd_kafka_err2str(err));
}

/* Whether an error on a partition's message means the job cannot go on as it should. */
static int fatal_error(rd_kafka_resp_err_t e) {
  switch (e) {
  case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
  case RD_KAFKA_RESP_ERR__FATAL:
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
  case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
  case RD_KAFKA_RESP_ERR__AUTHENTICATION:
  case RD_KAFKA_RESP_ERR__SSL:
    return 1;
  default:
    return 0;
  }
}

/* Processes the partition's buffered lines; their metadata is done with then. */
static void consume_part(sl_kafka_source *k, sl_kafka_part *p) {
  p->dirty = 0;
  sl_runtime_consume(k->base.in.rt, &p->in, 0);
  p->nmetas = 0;
  p->keys_len = 0;
}

static void consume_dirty(sl_kafka_source *k) {
  for (int p = 0; p < k->nparts && !k->base.in.rt->failed; p++)
    if (k->parts[p].dirty)
      consume_part(k, &k->parts[p]);
}

/* Room for one more message's metadata and key of klen bytes, in a partition consumed first if need be.
 * 0, or -1 (out of memory, or the job failed consuming). */
static int meta_room(sl_kafka_source *k, sl_kafka_part *p, size_t klen) {
  if (!p->metas && !(p->metas = malloc(META_CAP * sizeof *p->metas)))
    return -1;
  p->in.meta = p->metas;
  if (p->nmetas == META_CAP || p->keys_cap - p->keys_len < klen) {
    consume_part(k, p);
    if (k->base.in.rt->failed)
      return -1;
  }
  if (p->keys_cap - p->keys_len < klen) { /* empty now: it may move */
    size_t cap = klen > KEYS_SIZE ? klen : KEYS_SIZE;
    char *b = realloc(p->keys, cap);
    if (!b)
      return -1;
    p->keys = b;
    p->keys_cap = cap;
  }
  return 0;
}

/* The message's metadata, for the line take() adds next. */
static void add_meta(sl_kafka_source *k, sl_kafka_part *p, const rd_kafka_message_t *m) {
  sl_rec_meta *e = &p->metas[p->nmetas++];
  rd_kafka_timestamp_type_t type;
  e->topic = k->base.ep.topic;
  e->key_bound = k->base.ep.partitions != NULL;
  e->partition = m->partition;
  e->offset = m->offset;
  e->timestamp = rd_kafka_message_timestamp(m, &type);
  e->timestamp_type = e->timestamp < 0                             ? 0
                      : type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? 2
                      : type == RD_KAFKA_TIMESTAMP_CREATE_TIME     ? 1
                                                                   : 0;
  if (e->timestamp < 0)
    e->timestamp = SL_REC_NO_TIMESTAMP;
  e->key = NULL;
  e->key_len = 0;
  if (m->key && !m->key_len) {
    e->key = ""; /* an empty key is a key (Kafka tells it from none), and p->keys may not exist yet */
  } else if (m->key) {
    e->key = p->keys + p->keys_len;
    e->key_len = (uint32_t)m->key_len;
    memcpy(p->keys + p->keys_len, m->key, m->key_len);
    p->keys_len += m->key_len;
  }
}

/* Copies one message's value into its partition's reader as one line (see the top of the file). */
static int take(sl_kafka_source *k, const rd_kafka_message_t *m) {
  sl_kafka_part *p = &k->parts[m->partition];
  sl_line_reader *r = &p->in.reader;
  size_t n = m->len, max = k->base.in.rt->opts->max_line_bytes;
  if (n > max + 1)
    n = max + 1; /* enough to be reported as over-long, without holding the rest */
  /* Line numbers are offsets: a gap in them (compaction, transaction markers), or a value that would not
   * fit, first processes what is buffered. */
  if ((p->next != m->offset && r->len > r->start) || r->cap - r->len < n + 1) {
    consume_part(k, p);
    if (k->base.in.rt->failed)
      return -1;
  }
  if (m->key_len > UINT32_MAX || meta_room(k, p, m->key ? m->key_len : 0)) {
    if (!k->base.in.rt->failed)
      sl_runtime_fail(k->base.in.rt, "%s: out of memory", p->in.name);
    return -1;
  }
  if (p->next != m->offset)
    r->line_no = (uint64_t)m->offset - 1; /* the next line handed out is numbered m->offset (wraps at 0) */
  char *dst;
  size_t room;
  if (sl_line_reader_space(r, &dst, &room) || room < n + 1) {
    sl_runtime_fail(k->base.in.rt, "%s: out of memory", p->in.name);
    return -1;
  }
  if (n)
    memcpy(dst, m->payload, n);
  for (char *c = dst; (c = memchr(c, '\n', n - (size_t)(c - dst))); c++)
    *c = '\r';
  dst[n] = '\n';
  sl_line_reader_commit(r, n + 1);
  add_meta(k, p, m);
  p->next = m->offset + 1;
  p->dirty = 1;
  return 0;
}

/* A message that carries an error instead of a record. */
static int message_error(sl_kafka_source *k, const rd_kafka_message_t *m) {
  const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : k->base.ep.topic;
  if (!fatal_error(m->err)) {
    sl_warn("%s: %s [%" PRId32 "]: %s; librdkafka retries", k->base.in.name, topic, m->partition,
            rd_kafka_message_errstr(m));
    return 0;
  }
  if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
    sl_runtime_fail(k->base.in.rt,
                    "%s: partition %" PRId32 ": %s (the offset to resume from is not in the partition: its "
                    "records were deleted by retention, or the topic was recreated); nothing is skipped "
                    "silently: start with a fresh state dir to read the topic afresh",
                    k->base.in.name, m->partition, rd_kafka_message_errstr(m));
  else
    sl_runtime_fail(k->base.in.rt, "%s: partition %" PRId32 ": %s", k->base.in.name, m->partition,
                    rd_kafka_message_errstr(m));
  return -1;
}

static void on_idle(uv_idle_t *h);

/* Takes and processes what is queued, up to a turn's budget; more left is picked up by the idle handle. */
static void drain(sl_kafka_source *k) {
  size_t taken = 0;
  int more = 0;
  while (!k->base.closed && !k->base.in.rt->failed) {
    if (taken == TURN_BUDGET) {
      more = 1;
      break;
    }
    rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 0);
    if (!m)
      break;
    int bad = 0;
    if (m->err)
      bad = message_error(k, m);
    else if (m->partition < 0 || m->partition >= k->nparts)
      sl_warn("%s: a message of partition %" PRId32 ", which the topic did not have at start, is left for a "
              "restart to read (the checkpoint holds no offset of that partition)",
              k->base.in.name, m->partition);
    else
      bad = take(k, m);
    rd_kafka_message_destroy(m);
    if (bad)
      break;
    taken++;
  }
  consume_dirty(k);
  if (k->fatal[0] && !k->base.in.rt->failed)
    sl_runtime_fail(k->base.in.rt, "%s: %s", k->base.in.name, k->fatal);
  if (k->base.closed || k->base.in.rt->failed)
    return;
  if (more)
    uv_idle_start(&k->idle, on_idle);
  else
    uv_idle_stop(&k->idle);
}

static void on_idle(uv_idle_t *h) {
  drain(h->data);
}

static void on_wake(uv_poll_t *h, int status, int events) {
  sl_kafka_source *k = h->data;
  char buf[256];
  (void)events;
  if (status < 0) {
    sl_runtime_fail(k->base.in.rt, "%s: polling the consumer queue failed: %s", k->base.in.name,
                    uv_strerror(status));
    return;
  }
  while (read(k->wake[0], buf, sizeof buf) > 0)
    ;
  /* The turn is the idle handle's, not this callback's: libuv runs idle callbacks before polling, so a
   * drain here as well would take two turns in one loop iteration, and the timers (checkpoints, metrics)
   * would wait for both. */
  if (uv_idle_start(&k->idle, on_idle))
    sl_runtime_fail(k->base.in.rt, "%s: cannot poll its queue", k->base.in.name);
}

/* The consumer's configuration: the job's brokers and group, what sluice's model needs, then the user's
 * librdkafka properties (which may override the first two kinds, not the model). 0, or -1 with err. */
static rd_kafka_conf_t *configure(sl_kafka_source *k, char *err, size_t errlen) {
  const sl_endpoint *ep = &k->base.ep;
  char why[512];
  /* A group only names where offsets are committed for lag tools (a random one otherwise, as librdkafka
   * needs one to be a consumer; nothing is committed then). */
  char group[64];
  snprintf(group, sizeof group, "sluice-%ld", (long)getpid());
  const sl_kafka_prop model[] = {
      {"enable.auto.commit", "false"},       /* commits follow complete checkpoints */
      {"enable.auto.offset.store", "false"}, /* what is committed is the checkpoint's offsets */
      {"auto.offset.reset", "error"},        /* a checkpoint's offset is never silently replaced */
      {"enable.partition.eof", "false"},     {"group.id", ep->group ? ep->group : group},
  };
  const char *bad = NULL;
  rd_kafka_conf_t *conf = sl_kafka_conf_new(ep->host, ep->options, ep->noptions, model,
                                            sizeof model / sizeof model[0], &bad, why, sizeof why);
  if (!conf) {
    snprintf(err, errlen, "%s: librdkafka property '%s': %s", k->base.in.name, bad, why);
    return NULL;
  }
  rd_kafka_conf_set_log_cb(conf, sl_kafka_log_cb);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
  rd_kafka_conf_set_opaque(conf, k);
  return conf;
}

/* The topic's partition count from the brokers' metadata (waits up to METADATA_TIMEOUT_MS for them). */
static int partition_count(sl_kafka_source *k, char *err, size_t errlen) {
  rd_kafka_topic_t *t = rd_kafka_topic_new(k->rk, k->base.ep.topic, NULL);
  const rd_kafka_metadata_t *md = NULL;
  if (!t) {
    snprintf(err, errlen, "%s: %s", k->base.in.name, rd_kafka_err2str(rd_kafka_last_error()));
    return -1;
  }
  rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 0, t, &md, METADATA_TIMEOUT_MS);
  rd_kafka_topic_destroy(t);
  if (!e)
    e = md->topic_cnt != 1 ? RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC : md->topics[0].err;
  int n = e ? -1 : md->topics[0].partition_cnt;
  if (md)
    rd_kafka_metadata_destroy(md);
  if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
    snprintf(err, errlen, "%s: the brokers %s have no topic '%s'", k->base.in.name, k->base.ep.host,
             k->base.ep.topic);
  else if (e)
    snprintf(err, errlen, "%s: cannot read the topic's metadata from %s within %d s: %s", k->base.in.name,
             k->base.ep.host, METADATA_TIMEOUT_MS / 1000, rd_kafka_err2str(e));
  else if (n <= 0)
    snprintf(err, errlen, "%s: the topic has no partitions", k->base.in.name);
  return e || n <= 0 ? -1 : n;
}

/* Marks the partitions the endpoint reads: ep->partitions ("0,3,5", checked by lua/sluice/kafka.lua), or
 * every one. A partition the topic lacks is refused (a group's child is started for a partition the group
 * assigned, so it exists). Partitions not read keep their restored offsets: their checkpointed resume
 * points are carried over unchanged, so a later run that reads them again loses and doubles nothing. */
static int select_partitions(sl_kafka_source *k, char *err, size_t errlen) {
  const char *list = k->base.ep.partitions;
  for (int p = 0; p < k->nparts; p++)
    k->parts[p].read = !list;
  for (const char *c = list; c && *c; c += *c == ',') {
    char *end;
    long p = strtol(c, &end, 10);
    if (end == c || p < 0 || p >= k->nparts) {
      snprintf(err, errlen, "%s: partitions=%s: the topic has partitions 0..%d only", k->base.in.name, list,
               k->nparts - 1);
      return -1;
    }
    k->parts[p].read = 1;
    c = end;
  }
  return 0;
}

/* Each partition's input and the offsets the restored checkpoint holds. 0, or -1 with err. */
static int open_partitions(sl_kafka_source *k, int n, char *err, size_t errlen) {
  sl_runtime *rt = k->base.in.rt;
  if (!(k->parts = calloc((size_t)n, sizeof *k->parts)))
    goto oom;
  k->nparts = n;
  for (int p = 0; p < n; p++) {
    sl_kafka_part *part = &k->parts[p];
    size_t len = strlen(k->base.in.name) + 16;
    part->next = part->restored = SL_KAFKA_NO_OFFSET;
    part->in.rt = rt;
    part->in.source_index = k->base.in.source_index;
    if (!(part->in.name = malloc(len)) ||
        sl_line_reader_init(&part->in.reader, rt->opts->max_line_bytes, READ_SIZE, 0, 0))
      goto oom;
    snprintf(part->in.name, len, "%s:%d", k->base.in.name, p);
  }
  const void *val;
  size_t len;
  int st = sl_backend_meta_get(rt->backend, k->meta_key, &val, &len);
  if (st == SL_STATE_NOTFOUND)
    return 0;
  int64_t *next = st == SL_STATE_OK ? malloc((size_t)n * sizeof *next) : NULL;
  if (!next) {
    snprintf(err, errlen, "%s: reading its offsets from the state failed: %s", k->base.in.name,
             st == SL_STATE_OK ? "out of memory" : sl_backend_last_error(rt->backend));
    return -1;
  }
  for (int p = 0; p < n; p++)
    next[p] = SL_KAFKA_NO_OFFSET;
  long bad = 0;
  int rc = sl_kafka_offsets_decode(val, len, next, n, &bad);
  for (int p = 0; p < n; p++)
    k->parts[p].restored = k->parts[p].next = next[p];
  free(next);
  if (rc == -2)
    snprintf(
        err, errlen,
        "%s: the checkpoint has offsets of partition %ld, and the topic has %d partitions: it is not the "
        "topic the checkpoint read (use a fresh state dir for a new topic)",
        k->base.in.name, bad, n);
  else if (rc)
    snprintf(err, errlen, "%s: the checkpoint's offsets ('%s') are malformed", k->base.in.name, k->meta_key);
  return rc ? -1 : 0;
oom:
  snprintf(err, errlen, "%s: out of memory", k->base.in.name);
  return -1;
}

static int kafka_open(sl_source *s, char *err, size_t errlen) {
  sl_kafka_source *k = kafka_src(s);
  size_t n = strlen(s->ep.topic) + 16;
  k->wake[0] = k->wake[1] = -1;
  if (!(s->in.name = malloc(n)) || !(k->meta_key = malloc(n))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  snprintf(s->in.name, n, "kafka:%s", s->ep.topic);
  snprintf(k->meta_key, n, SL_KAFKA_META_PREFIX "%s", s->ep.topic);
  rd_kafka_conf_t *conf = configure(k, err, errlen);
  if (!conf)
    return -1;
  char why[512];
  if (!(k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why))) {
    rd_kafka_conf_destroy(conf);
    snprintf(err, errlen, "%s: cannot create the Kafka consumer: %s", s->in.name, why);
    return -1;
  }
  int parts = partition_count(k, err, errlen);
  if (parts < 0 || open_partitions(k, parts, err, errlen) || select_partitions(k, err, errlen))
    return -1;
  int restored = 0, read = 0;
  for (int p = 0; p < parts; p++) {
    read += k->parts[p].read;
    restored += k->parts[p].read && k->parts[p].restored != SL_KAFKA_NO_OFFSET;
  }
  if (s->ep.partitions)
    sl_info("%s: reads partitions %s of %d at %s; %d resume from the checkpoint, %d start at their %s",
            s->in.name, s->ep.partitions, parts, s->ep.host, restored, read - restored,
            restored || !s->ep.start_latest ? "beginning" : "end");
  else
    sl_info("%s: %d partitions at %s; %d resume from the checkpoint, %d start at their %s", s->in.name, parts,
            s->ep.host, restored, parts - restored, restored || !s->ep.start_latest ? "beginning" : "end");
  return 0;
}

/* Every partition read, from the checkpoint's offset; a partition the checkpoint has none of (a new one, when
 * the job has a checkpoint) from its beginning, so that none of its records is skipped, else per `start`. */
static int assign(sl_kafka_source *k, char *err, size_t errlen) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(k->nparts);
  int any_restored = 0;
  for (int p = 0; p < k->nparts; p++)
    any_restored |= k->parts[p].restored != SL_KAFKA_NO_OFFSET;
  int64_t fresh = any_restored || !k->base.ep.start_latest ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
  for (int p = 0; p < k->nparts; p++)
    if (k->parts[p].read)
      rd_kafka_topic_partition_list_add(l, k->base.ep.topic, p)->offset =
          k->parts[p].restored != SL_KAFKA_NO_OFFSET ? k->parts[p].restored : fresh;
  rd_kafka_resp_err_t e = rd_kafka_assign(k->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (e)
    snprintf(err, errlen, "%s: cannot assign its partitions: %s", k->base.in.name, rd_kafka_err2str(e));
  return e ? -1 : 0;
}

static int kafka_start(sl_source *s, char *err, size_t errlen) {
  sl_kafka_source *k = kafka_src(s);
  uv_loop_t *loop = s->in.rt->loop;
  if (pipe2(k->wake, O_NONBLOCK | O_CLOEXEC)) {
    snprintf(err, errlen, "%s: cannot create a pipe: %s", s->in.name, strerror(errno));
    return -1;
  }
  rd_kafka_resp_err_t e = rd_kafka_poll_set_consumer(k->rk); /* errors and commits come on the queue too */
  if (e) {
    snprintf(err, errlen, "%s: %s", s->in.name, rd_kafka_err2str(e));
    return -1;
  }
  k->queue = rd_kafka_queue_get_consumer(k->rk);
  rd_kafka_queue_io_event_enable(k->queue, k->wake[1], "1", 1);
  int rc = uv_poll_init(loop, &k->poll, k->wake[0]);
  if (rc) {
    snprintf(err, errlen, "%s: cannot poll its queue: %s", s->in.name, uv_strerror(rc));
    return -1;
  }
  uv_idle_init(loop, &k->idle); /* cannot fail */
  k->handles = 1;
  k->poll.data = k->idle.data = k;
  if (!s->paused &&
      ((rc = uv_poll_start(&k->poll, UV_READABLE, on_wake)) || (rc = uv_idle_start(&k->idle, on_idle)))) {
    snprintf(err, errlen, "%s: cannot poll its queue: %s", s->in.name, uv_strerror(rc));
    return -1;
  }
  return assign(k, err, errlen);
}

/* The barrier: the next offsets into the state, and kept to commit to the group once the checkpoint is
 * complete. */
static int kafka_save_offset(sl_source *s) {
  sl_kafka_source *k = kafka_src(s);
  int64_t *next = malloc((size_t)k->nparts * sizeof *next);
  char *val = NULL;
  size_t len = 0;
  if (!next)
    return SL_STATE_ENOMEM;
  for (int p = 0; p < k->nparts; p++)
    next[p] = k->parts[p].next;
  int rc = sl_kafka_offsets_encode(next, k->nparts, &val, &len);
  free(next);
  if (rc)
    return SL_STATE_ENOMEM;
  rc = sl_backend_meta_put(s->in.rt->backend, k->meta_key, val, len);
  free(val);
  if (rc != SL_STATE_OK || !s->ep.group)
    return rc;
  if (k->barrier)
    rd_kafka_topic_partition_list_destroy(k->barrier);
  k->barrier = rd_kafka_topic_partition_list_new(k->nparts);
  for (int p = 0; p < k->nparts; p++)
    if (k->parts[p].read && k->parts[p].next != SL_KAFKA_NO_OFFSET)
      rd_kafka_topic_partition_list_add(k->barrier, s->ep.topic, p)->offset = k->parts[p].next;
  return SL_STATE_OK;
}

/* A checkpoint completed: its offsets go to the group, asynchronously (the final one's, after the source
 * closed, is committed by close_consumer, which waits for the answer a bounded time). */
static void kafka_checkpoint_complete(sl_source *s) {
  sl_kafka_source *k = kafka_src(s);
  if (!k->barrier || k->barrier->cnt == 0)
    return;
  if (s->closed) {
    k->final_complete = 1; /* k->barrier is committed by close_consumer */
    return;
  }
  rd_kafka_resp_err_t e = rd_kafka_commit(k->rk, k->barrier, 1);
  if (e)
    on_commit(k->rk, e, k->barrier, k);
  rd_kafka_topic_partition_list_destroy(k->barrier);
  k->barrier = NULL;
}

/* Commits the final checkpoint's offsets (when it completed and a group is named), then closes the
 * consumer, both within CLOSE_TIMEOUT_MS (core/kafka_close.h). Returns 0 when the consumer closed (it may be
 * destroyed), -1 when it did not: the handle is then left to the process's exit. Nothing of the job's
 * outcome depends on either: the checkpoint is complete. */
static int close_consumer(sl_kafka_source *k) {
  rd_kafka_resp_err_t commit_err;
  char why[512] = "";
  sl_kafka_close_result r =
      sl_kafka_consumer_close(k->rk, k->final_complete ? k->barrier : NULL, CLOSE_TIMEOUT_MS, NULL, NULL,
                              &commit_err, why, sizeof why);
  if (commit_err)
    on_commit(k->rk, commit_err, NULL, k);
  if (r == SL_KAFKA_CLOSE_NO_QUEUE)
    sl_warn("%s: no queue to close the consumer on (out of memory); sluice exits without closing it",
            k->base.in.name);
  else if (r == SL_KAFKA_CLOSE_REFUSED)
    sl_warn("%s: closing the consumer: %s; sluice exits without it", k->base.in.name, why);
  else if (r != SL_KAFKA_CLOSED)
    sl_warn(
        "%s: %s did not finish within %d s (librdkafka waits for the group coordinator); sluice exits "
        "without it: the group's committed offsets may lag the checkpoint's, which are the ones a restart "
        "resumes from",
        k->base.in.name,
        r == SL_KAFKA_CLOSE_COMMIT_LATE ? "committing the final offsets to the group"
                                        : "closing the consumer",
        CLOSE_TIMEOUT_MS / 1000);
  return r == SL_KAFKA_CLOSED ? 0 : -1;
}

static void kafka_close(sl_source *s) {
  sl_kafka_source *k = kafka_src(s);
  if (!k->handles)
    return;
  uv_poll_stop(&k->poll);
  uv_idle_stop(&k->idle);
  uv_close((uv_handle_t *)&k->poll, NULL);
  uv_close((uv_handle_t *)&k->idle, NULL);
}

/* After the final checkpoint (the consumer is still there for its commit). */
static void kafka_release(sl_source *s) {
  sl_kafka_source *k = kafka_src(s);
  if (k->queue) {
    rd_kafka_queue_io_event_enable(k->queue, -1, NULL, 0);
    rd_kafka_queue_destroy(k->queue);
  }
  if (k->rk)
    sl_kafka_end(k->rk, close_consumer(k) == 0, 0, SL_KAFKA_END_TIMEOUT_MS, k->base.in.name);
  if (k->barrier)
    rd_kafka_topic_partition_list_destroy(k->barrier);
  for (int i = 0; i < 2; i++)
    if (k->wake[i] >= 0)
      close(k->wake[i]);
  for (int p = 0; p < k->nparts; p++) {
    sl_line_reader_free(&k->parts[p].in.reader);
    free(k->parts[p].in.name);
    free(k->parts[p].metas);
    free(k->parts[p].keys);
  }
  free(k->parts);
  free(k->meta_key);
}

/* A parallel subtask's backpressure and barrier alignment: nothing is taken from the queue until resumed
 * (librdkafka stops fetching once its queue holds queued.max.messages.kbytes); resume takes what queued
 * meanwhile, since the wake-up pipe is written only when the queue becomes non-empty. */
static void kafka_pause(sl_source *s) {
  if (!kafka_src(s)->handles)
    return; /* not started: start sees s->paused */
  uv_poll_stop(&kafka_src(s)->poll);
  uv_idle_stop(&kafka_src(s)->idle);
}

static void kafka_resume(sl_source *s) {
  sl_kafka_source *k = kafka_src(s);
  if (k->handles && (uv_poll_start(&k->poll, UV_READABLE, on_wake) || uv_idle_start(&k->idle, on_idle)))
    sl_runtime_fail(s->in.rt, "%s: cannot poll its queue again", s->in.name);
}

/* The next offsets, and the partitions' ends as librdkafka last saw them in a fetch response
 * (rd_kafka_get_watermark_offsets reads its cache: nothing is asked of a broker, nothing waits). */
static int kafka_partitions(sl_source *s, sl_source_partition *out, int max) {
  sl_kafka_source *k = kafka_src(s);
  for (int p = 0; p < k->nparts && p < max; p++) {
    int64_t lo, hi;
    if (!k->parts[p].read) { /* another process's (`sluice group`): neither its offset nor its end is ours */
      out[p].next = out[p].high = SL_SOURCE_NO_OFFSET;
      continue;
    }
    out[p].next = k->parts[p].next != SL_KAFKA_NO_OFFSET ? k->parts[p].next : SL_SOURCE_NO_OFFSET;
    out[p].high = k->rk && !rd_kafka_get_watermark_offsets(k->rk, s->ep.topic, p, &lo, &hi) && hi >= 0
                      ? hi
                      : SL_SOURCE_NO_OFFSET;
  }
  return k->nparts;
}

int sl_kafka_source_forget_offset(sl_backend *b, const sl_endpoint *ep) {
  char key[300];
  const void *val;
  size_t len;
  snprintf(key, sizeof key, SL_KAFKA_META_PREFIX "%s", ep->topic);
  if (sl_backend_meta_get(b, key, &val, &len) != SL_STATE_OK || len <= 1)
    return SL_STATE_OK;
  return sl_backend_meta_put(b, key, SL_SOURCE_READ_ELSEWHERE, 1);
}

const sl_source_ops sl_source_kafka_ops = {
    .size = sizeof(sl_kafka_source),
    .open = kafka_open,
    .start = kafka_start,
    .save_offset = kafka_save_offset,
    .close = kafka_close,
    .release = kafka_release,
    .pause = kafka_pause,
    .resume = kafka_resume,
    .checkpoint_complete = kafka_checkpoint_complete,
    .partitions = kafka_partitions,
};
