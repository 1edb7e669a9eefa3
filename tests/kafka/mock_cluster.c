/* mock_cluster.c — `kafka-mock`, the Kafka cluster of the tests: librdkafka's mock cluster (rdkafka_mock.h),
 * which speaks the real protocol on real sockets, so the sluice under test runs its ordinary librdkafka
 * consumer against it. No broker is installable on the test machines; this is the nearest thing.
 * (The usage below is laid out by hand: clang-format is off for it.) */
// clang-format off
/*
 *   kafka-mock serve [--brokers K] [--topic T]... [--partitions P] [--control FIFO] [--lifetime S]
 *       Starts K brokers (default 1) with topic T (default access; --topic may repeat, up to 16 topics), each
 *       of P partitions (default 8; replication min(K, 3); partition p led by broker p % K + 1), prints the
 *       bootstrap address as one line on stdout, and runs until SIGTERM or SIGINT (or for S seconds at most,
 *       so that a test killed before its cleanup leaves nothing running for long). Commands, one a line, read
 *       from FIFO while it runs (each is acknowledged with "ok: LINE" or "error: ..." on stderr):
 *         down ID | up ID    take broker ID (1..K) down (connections cut, none accepted) / back up
 *         rtt ID MS          delay broker ID's responses by MS ms
 *         errors API N ERR   the next N requests of API (Fetch, ListOffsets, Metadata, OffsetCommit,
 *                            OffsetFetch, Produce, FindCoordinator, InitProducerId, AddPartitionsToTxn,
 *                            AddOffsetsToTxn, EndTxn, TxnOffsetCommit, or a number) fail with ERR (a librdkafka
 *                            error name without RD_KAFKA_RESP_ERR_, e.g. NOT_LEADER_FOR_PARTITION, or a number)
 *         clear API          forget the errors still queued for API
 *         disable API        the brokers stop offering API (as brokers too old for it: InitProducerId
 *                            disabled is a cluster without transactions or idempotence)
 *       The mock keeps at most 5 MiB or 100000 messages per partition and deletes older ones, as retention
 *       would; it also creates any topic a client asks about (4 partitions).
 *   kafka-mock produce BOOTSTRAP TOPIC [--key-field F] [--timestamp-field T] [--newline SEQ]
 *       Produces each line of stdin as one message (without its newline), keyed by the JSON string field F of
 *       the line when given (so one key's records land on one partition, in order), with the whole number
 *       field T of the line (epoch ms) as the message's create time when given (else the time it is
 *       produced), with every SEQ in it turned into a newline when given (a value of several lines), and
 *       flushes; exits 1 when a message was not delivered.
 *   kafka-mock committed BOOTSTRAP TOPIC GROUP
 *       Prints "PARTITION OFFSET" for every partition of TOPIC: GROUP's committed offset (-1001: none).
 *   kafka-mock commit BOOTSTRAP TOPIC GROUP OFFSET
 *       Commits OFFSET for every partition of TOPIC to GROUP (as another consumer of the group would).
 *   kafka-mock watermarks BOOTSTRAP TOPIC
 *       Prints "PARTITION LOW HIGH" for every partition (LOW as the mock reports it: -1001 here).
 *   kafka-mock fetch BOOTSTRAP TOPIC PARTITION OFFSET
 *       Prints the value of the message at OFFSET of PARTITION.
 *   kafka-mock consume BOOTSTRAP TOPIC [--keys]
 *       Prints the value of every message of TOPIC, one a line, each partition's in its order (partitions
 *       interleaved), read from the beginning to the end with isolation.level=read_committed; with --keys
 *       each line is "PARTITION KEY<TAB>VALUE" ("-" for no key). Exits 1 when it cannot read to the end
 *       within 60 s.
 *
 * It is a test tool: errors go to stderr and exit 1; nothing here is part of sluice.
 */
// clang-format on
#include <errno.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "kafka-mock: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
  exit(1);
}

static rd_kafka_t *new_handle(rd_kafka_type_t type, const char *bootstrap, const char *group) {
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if ((bootstrap && rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err)) ||
      (group && rd_kafka_conf_set(conf, "group.id", group, err, sizeof err)) ||
      rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err))
    die("%s", err);
  rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
  if (!rk)
    die("%s", err);
  return rk;
}

static int api_key(const char *name) {
  static const struct {
    const char *name;
    int key;
  } apis[] = {{"Produce", 0},          {"Fetch", 1},           {"ListOffsets", 2},
              {"Metadata", 3},         {"OffsetCommit", 8},    {"OffsetFetch", 9},
              {"FindCoordinator", 10}, {"InitProducerId", 22}, {"AddPartitionsToTxn", 24},
              {"AddOffsetsToTxn", 25}, {"EndTxn", 26},         {"TxnOffsetCommit", 28}};
  for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
    if (!strcmp(apis[i].name, name))
      return apis[i].key;
  char *end;
  long v = strtol(name, &end, 10);
  return *name && !*end ? (int)v : -1;
}

static int error_code(const char *name, rd_kafka_resp_err_t *out) {
  const struct rd_kafka_err_desc *descs;
  size_t n;
  rd_kafka_get_err_descs(&descs, &n);
  for (size_t i = 0; i < n; i++)
    if (descs[i].name && !strcmp(descs[i].name, name)) {
      *out = descs[i].code;
      return 0;
    }
  char *end;
  long v = strtol(name, &end, 10);
  *out = (rd_kafka_resp_err_t)v;
  return *name && !*end ? 0 : -1;
}

/* One control command; NULL when done, else why not. */
static const char *command(rd_kafka_mock_cluster_t *mc, char *line) {
  char *words[4] = {0};
  int n = 0;
  for (char *w = strtok(line, " \t\r"); w && n < 4; w = strtok(NULL, " \t\r"))
    words[n++] = w;
  if (n == 2 && (!strcmp(words[0], "down") || !strcmp(words[0], "up"))) {
    int id = atoi(words[1]);
    rd_kafka_resp_err_t e = !strcmp(words[0], "down") ? rd_kafka_mock_broker_set_down(mc, id)
                                                      : rd_kafka_mock_broker_set_up(mc, id);
    return e ? rd_kafka_err2str(e) : NULL;
  }
  if (n == 3 && !strcmp(words[0], "rtt")) {
    rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(mc, atoi(words[1]), atoi(words[2]));
    return e ? rd_kafka_err2str(e) : NULL;
  }
  if (n == 2 && !strcmp(words[0], "clear") && api_key(words[1]) >= 0) {
    rd_kafka_mock_clear_request_errors(mc, (int16_t)api_key(words[1]));
    return NULL;
  }
  if (n == 2 && !strcmp(words[0], "disable") && api_key(words[1]) >= 0) {
    rd_kafka_resp_err_t e = rd_kafka_mock_set_apiversion(mc, (int16_t)api_key(words[1]), -1, -1);
    return e ? rd_kafka_err2str(e) : NULL;
  }
  if (n == 4 && !strcmp(words[0], "errors")) {
    int key = api_key(words[1]);
    long cnt = atol(words[2]);
    rd_kafka_resp_err_t e;
    if (key < 0 || cnt <= 0 || error_code(words[3], &e))
      return "errors API N ERR: unknown API, count or error";
    rd_kafka_resp_err_t *errs = calloc((size_t)cnt, sizeof *errs);
    if (!errs)
      return "out of memory";
    for (long i = 0; i < cnt; i++)
      errs[i] = e;
    rd_kafka_mock_push_request_errors_array(mc, (int16_t)key, (size_t)cnt, errs);
    free(errs);
    return NULL;
  }
  return "unknown command";
}

/* Reads the control FIFO's complete lines (buf keeps a partial one). */
static void serve_control(rd_kafka_mock_cluster_t *mc, int fd, char *buf, size_t *len, size_t cap) {
  ssize_t n = read(fd, buf + *len, cap - *len - 1);
  if (n <= 0)
    return;
  *len += (size_t)n;
  char *nl;
  while ((nl = memchr(buf, '\n', *len))) {
    *nl = '\0';
    char copy[512];
    snprintf(copy, sizeof copy, "%s", buf);
    const char *why = *buf ? command(mc, buf) : NULL;
    if (why)
      fprintf(stderr, "kafka-mock: error: %s: %s\n", copy, why);
    else if (*copy)
      fprintf(stderr, "kafka-mock: ok: %s\n", copy);
    size_t used = (size_t)(nl - buf) + 1;
    memmove(buf, nl + 1, *len - used);
    *len -= used;
  }
  if (*len == cap - 1)
    *len = 0; /* an over-long line: dropped */
}

static int serve(int argc, char **argv) {
  int brokers = 1, partitions = 8;
  const char *topics[16] = {"access"}, *control = NULL;
  int ntopics = 0;
  long lifetime = 0;
  for (int i = 0; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--brokers"))
      brokers = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--partitions"))
      partitions = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--topic") && ntopics < 16)
      topics[ntopics++] = argv[i + 1];
    else if (!strcmp(argv[i], "--control"))
      control = argv[i + 1];
    else if (!strcmp(argv[i], "--lifetime"))
      lifetime = atol(argv[i + 1]);
    else
      die("unknown option %s", argv[i]);
  }
  if (brokers < 1 || partitions < 1)
    die("%s", "--brokers and --partitions need a number >= 1");
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  /* The mock cluster lives in a client handle of its own (its threads serve the brokers). */
  rd_kafka_t *rk = new_handle(RD_KAFKA_PRODUCER, NULL, NULL);
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc)
    die("%s", "cannot start the mock cluster");
  for (int t = 0; t < (ntopics ? ntopics : 1); t++) {
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, topics[t], partitions, brokers < 3 ? brokers : 3);
    if (e)
      die("cannot create the topic: %s", rd_kafka_err2str(e));
    /* librdkafka's mock picks each partition's leader at random among its replicas: with 3 brokers and 8
     * partitions, one broker leads none about once in 25 starts, and a test that takes it down sees every
     * partition read. Partition P is led by broker P % K + 1 instead. */
    for (int p = 0; p < partitions && brokers > 1; p++)
      if ((e = rd_kafka_mock_partition_set_leader(mc, topics[t], p, p % brokers + 1)))
        die("cannot set a partition's leader: %s", rd_kafka_err2str(e));
  }
  /* O_RDWR: the FIFO then never reports end of file when a writer closes it. */
  int fd = control ? open(control, O_RDWR | O_NONBLOCK | O_CLOEXEC) : -1;
  if (control && fd < 0)
    die("cannot open the control FIFO: %s", strerror(errno));
  printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);
  char buf[4096];
  size_t len = 0;
  time_t end = lifetime > 0 ? time(NULL) + lifetime : 0;
  while (!stop && (!end || time(NULL) < end)) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, fd >= 0 ? 1 : 0, 200) > 0)
      serve_control(mc, fd, buf, &len, sizeof buf);
  }
  if (fd >= 0)
    close(fd);
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}

static int failed_deliveries;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk, (void)opaque;
  if (m->err) {
    if (!failed_deliveries++)
      fprintf(stderr, "kafka-mock: delivery failed: %s\n", rd_kafka_err2str(m->err));
  }
}

/* Where the value of "field" starts in the JSON line (after its colon and spaces), or NULL. */
static const char *json_value(const char *line, const char *field) {
  char pat[256];
  snprintf(pat, sizeof pat, "\"%s\"", field);
  for (const char *p = strstr(line, pat); p; p = strstr(p + 1, pat)) {
    const char *q = p + strlen(pat);
    while (*q == ' ')
      q++;
    if (*q++ != ':')
      continue;
    while (*q == ' ')
      q++;
    return q;
  }
  return NULL;
}

/* The string value of "field" in the JSON line, as its raw bytes between the quotes (escapes kept: a key
 * only has to be the same for the same value). NULL when the line has no such string field. */
static const char *json_key(const char *line, const char *field, size_t *len) {
  const char *q = json_value(line, field);
  if (!q || *q != '"')
    return NULL;
  const char *start = ++q;
  while (*q && *q != '"')
    q += *q == '\\' && q[1] ? 2 : 1;
  *len = (size_t)(q - start);
  return start;
}

/* The whole number value of "field" in the JSON line, or -1 when it has none. */
static long long json_number(const char *line, const char *field) {
  const char *q = json_value(line, field);
  char *end;
  long long v = q ? strtoll(q, &end, 10) : -1;
  return q && end > q ? v : -1;
}

static int produce(int argc, char **argv) {
  if (argc < 2)
    die("%s", "produce BOOTSTRAP TOPIC [--key-field F] [--timestamp-field T] [--newline SEQ]");
  const char *key_field = NULL, *newline = NULL, *ts_field = NULL;
  for (int i = 2; i < argc; i += 2) {
    if (i + 1 == argc)
      die("%s needs a value", argv[i]);
    if (!strcmp(argv[i], "--key-field"))
      key_field = argv[i + 1];
    else if (!strcmp(argv[i], "--timestamp-field"))
      ts_field = argv[i + 1];
    else if (!strcmp(argv[i], "--newline") && *argv[i + 1])
      newline = argv[i + 1];
    else
      die("unknown option %s", argv[i]);
  }
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[0], err, sizeof err) ||
      rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err) ||
      /* Unkeyed messages spread evenly (not in runs on one partition), so that none outgrows what the
       * mock keeps. */
      rd_kafka_conf_set(conf, "sticky.partitioning.linger.ms", "0", err, sizeof err) ||
      rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err))
    die("%s", err);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk)
    die("%s", err);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, stdin)) > 0) {
    if (line[n - 1] == '\n')
      line[--n] = '\0';
    size_t k = newline ? strlen(newline) : 0;
    for (char *p = newline ? strstr(line, newline) : NULL; p; p = strstr(p, newline)) {
      *p++ = '\n'; /* SEQ becomes one newline: what follows it moves up by k - 1 bytes, its NUL too */
      memmove(p, p + k - 1, (size_t)n - (size_t)(p - line) - (k - 1) + 1);
      n -= (ssize_t)(k - 1);
    }
    size_t klen = 0;
    const char *key = key_field ? json_key(line, key_field, &klen) : NULL;
    long long ts = ts_field ? json_number(line, ts_field) : -1;
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[1]), RD_KAFKA_V_VALUE(line, (size_t)n),
                                  RD_KAFKA_V_KEY(key, key ? klen : 0), RD_KAFKA_V_TIMESTAMP(ts > 0 ? ts : 0),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 100);
    if (e)
      die("produce: %s", rd_kafka_err2str(e));
    rd_kafka_poll(rk, 0);
  }
  free(line);
  if (rd_kafka_flush(rk, 60000))
    die("%s", "flush timed out");
  rd_kafka_destroy(rk);
  return failed_deliveries ? 1 : 0;
}

/* committed; commit when offset is given; watermarks (argv has no GROUP then). */
static int committed(int argc, char **argv, const char *offset, int watermarks) {
  if (argc < (watermarks ? 2 : 3))
    die("%s", "committed|commit BOOTSTRAP TOPIC GROUP [OFFSET] | watermarks BOOTSTRAP TOPIC");
  rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, argv[0], watermarks ? "kafka-mock" : argv[2]);
  rd_kafka_topic_t *t = rd_kafka_topic_new(rk, argv[1], NULL);
  const rd_kafka_metadata_t *md;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
  if (e || md->topic_cnt != 1 || md->topics[0].err)
    die("metadata: %s", rd_kafka_err2str(e               ? e
                                         : md->topic_cnt ? md->topics[0].err
                                                         : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
  for (int i = 0; i < md->topics[0].partition_cnt; i++)
    rd_kafka_topic_partition_list_add(l, argv[1], md->topics[0].partitions[i].id);
  rd_kafka_metadata_destroy(md);
  if (watermarks) {
  } else if (offset) {
    for (int i = 0; i < l->cnt; i++)
      l->elems[i].offset = atoll(offset);
    if ((e = rd_kafka_commit(rk, l, 0)))
      die("commit: %s", rd_kafka_err2str(e));
  } else if ((e = rd_kafka_committed(rk, l, 10000))) {
    die("committed: %s", rd_kafka_err2str(e));
  }
  for (int i = 0; !offset && !watermarks && i < l->cnt; i++)
    printf("%d %lld\n", (int)l->elems[i].partition, (long long)l->elems[i].offset);
  for (int i = 0; watermarks && i < l->cnt; i++) {
    int64_t lo, hi;
    if ((e = rd_kafka_query_watermark_offsets(rk, argv[1], l->elems[i].partition, &lo, &hi, 10000)))
      die("watermarks: %s", rd_kafka_err2str(e));
    printf("%d %lld %lld\n", (int)l->elems[i].partition, (long long)lo, (long long)hi);
  }
  rd_kafka_topic_partition_list_destroy(l);
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  return 0;
}

static int fetch(int argc, char **argv) {
  if (argc < 4)
    die("%s", "fetch BOOTSTRAP TOPIC PARTITION OFFSET");
  rd_kafka_t *rk = new_handle(RD_KAFKA_CONSUMER, argv[0], "kafka-mock-fetch");
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, argv[1], atoi(argv[2]))->offset = atoll(argv[3]);
  rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (e)
    die("assign: %s", rd_kafka_err2str(e));
  for (int tries = 0; tries < 100; tries++) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m)
      continue;
    if (m->err)
      die("fetch: %s", rd_kafka_message_errstr(m));
    printf("%.*s\n", (int)m->len, (const char *)m->payload);
    rd_kafka_message_destroy(m);
    rd_kafka_destroy(rk);
    return 0;
  }
  die("%s", "fetch: no message within 10 s");
  return 1;
}

static int consume(int argc, char **argv) {
  if (argc < 2)
    die("%s", "consume BOOTSTRAP TOPIC [--keys]");
  int keys = argc > 2 && !strcmp(argv[2], "--keys");
  char err[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[0], err, sizeof err) ||
      rd_kafka_conf_set(conf, "group.id", "kafka-mock-consume", err, sizeof err) ||
      rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err) ||
      rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof err) ||
      rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err) ||
      rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err))
    die("%s", err);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk)
    die("%s", err);
  rd_kafka_topic_t *t = rd_kafka_topic_new(rk, argv[1], NULL);
  const rd_kafka_metadata_t *md;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
  if (e || md->topic_cnt != 1 || md->topics[0].err)
    die("metadata: %s", rd_kafka_err2str(e ? e : md->topics[0].err));
  int n = md->topics[0].partition_cnt;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
  for (int i = 0; i < n; i++)
    rd_kafka_topic_partition_list_add(l, argv[1], md->topics[0].partitions[i].id)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_metadata_destroy(md);
  if ((e = rd_kafka_assign(rk, l)))
    die("assign: %s", rd_kafka_err2str(e));
  rd_kafka_topic_partition_list_destroy(l);
  /* Each partition reports its end once (enable.partition.eof); one that gets more after it would report
   * again, so the count is of partitions at their end now. */
  int eof = 0;
  time_t end = time(NULL) + 60;
  while (eof < n && time(NULL) < end) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
    if (!m)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
      eof++;
    else if (m->err)
      die("consume: %s", rd_kafka_message_errstr(m));
    else if (keys)
      printf("%d %.*s\t%.*s\n", (int)m->partition, m->key ? (int)m->key_len : 1,
             m->key ? (const char *)m->key : "-", (int)m->len, (const char *)m->payload);
    else
      printf("%.*s\n", (int)m->len, (const char *)m->payload);
    rd_kafka_message_destroy(m);
  }
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  if (eof < n)
    die("%s", "consume: not at the end of every partition within 60 s");
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "serve"))
    return serve(argc - 2, argv + 2);
  if (argc >= 2 && !strcmp(argv[1], "produce"))
    return produce(argc - 2, argv + 2);
  if (argc >= 2 && !strcmp(argv[1], "committed"))
    return committed(argc - 2, argv + 2, NULL, 0);
  if (argc >= 6 && !strcmp(argv[1], "commit"))
    return committed(argc - 2, argv + 2, argv[5], 0);
  if (argc >= 2 && !strcmp(argv[1], "watermarks"))
    return committed(argc - 2, argv + 2, NULL, 1);
  if (argc >= 2 && !strcmp(argv[1], "fetch"))
    return fetch(argc - 2, argv + 2);
  if (argc >= 2 && !strcmp(argv[1], "consume"))
    return consume(argc - 2, argv + 2);
  fprintf(stderr, "usage: kafka-mock serve|produce|committed|commit|watermarks|fetch|consume ... (see "
                  "tests/kafka/mock_cluster.c)\n");
  return 2;
}
