/* kafka_group.c — the `sluice group` supervisor: its command line, its consumer-group membership and the
 * rebalances that start and stop its children (see kafka_group.h for the model).
 *
 * The consumer subscribes to the topic only to take part in the group's assignment. An assigned partition
 * is assigned to the consumer too (librdkafka's eager protocol needs the assign call to finish the
 * rebalance; the cooperative one its incremental form) and paused at once: the supervisor fetches nothing
 * for itself, and a message fetched before the pause took hold is dropped (the child reads the partition
 * from its own checkpoint). Everything runs on the main thread: the rebalance callback is served inside
 * rd_kafka_consumer_poll, and the children are forked from it (PR_SET_PDEATHSIG follows the forking
 * thread, which lives as long as the process). */
#include "core/kafka_group.h"

#include "core/cli.h"
#include "core/kafka_close.h"
#include "core/kafka_conf.h"
#include "core/kafka_log.h"
#include "core/log.h"
#include "core/metrics_listen.h"
#include "core/state_dir_lock.h"
#include "state/state_clock.h"

#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often the children's checkpointed offsets are committed to the group (for lag tools only). */
#define COMMIT_EVERY_MS 2000
#define POLL_MS 100
/* How long leaving the group may take (librdkafka waits up to session.timeout.ms for a coordinator that does
 * not answer; the children have stopped and their offsets are committed by then, so nothing depends on it).
 */
#define CLOSE_TIMEOUT_MS 10000

typedef struct sl_group {
  sl_group_spec spec;
  char *brokers, *topic, *group; /* unescaped, for the supervisor's own consumer */
  char **props;                  /* librdkafka name, value pairs (unescaped) */
  int nprops;
  rd_kafka_t *rk;
  sl_group_child *children; /* indexed by partition */
  int nchildren;
  int failed; /* exit 1 */
  int coop;   /* the group's rebalance protocol is COOPERATIVE (learnt at the first assignment) */
  uint64_t last_commit_ms;
} sl_group;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *out) {
  fputs("usage: sluice group SCRIPT --input 'kafka://BROKERS/TOPIC?group=G[&PROPERTY=VALUE...]'\n"
        "                    --checkpoint-dir DIR --output-dir DIR [sluice run options] [-- SCRIPT-ARGS]\n"
        "Joins consumer group G and runs `sluice run SCRIPT` once per partition the group assigns this\n"
        "process: state in DIR/partition-P, output in OUTPUT-DIR/partition-P.jsonl (see README, "
        "'Scale-out').\n",
        out);
}

static int hexval(int c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* s[0..n) with %XX decoded (as lua/sluice/kafka.lua does), malloc'd. */
static char *unescape(const char *s, size_t n) {
  char *out = malloc(n + 1), *o = out;
  if (!out)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
      *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
      i += 2;
    } else {
      *o++ = s[i];
    }
  }
  *o = '\0';
  return out;
}

/* The --input URL into the supervisor's consumer settings and the children's query. 0, or -1 after saying
 * why. */
static int parse_url(sl_group *g, const char *url, char *base, size_t baselen, char *query, size_t qlen) {
  const char *rest = strncmp(url, "kafka://", 8) ? NULL : url + 8;
  const char *slash = rest ? strchr(rest, '/') : NULL;
  const char *q = slash ? strchr(slash, '?') : NULL;
  if (!slash || slash == rest || (q ? q - slash - 1 : (long)strlen(slash + 1)) <= 0) {
    fprintf(stderr, "sluice: group: --input %s: a group's input is kafka://HOST:PORT[,...]/TOPIC?group=G\n",
            url);
    return -1;
  }
  size_t blen = (size_t)((q ? q : slash + strlen(slash)) - url);
  snprintf(base, baselen, "%.*s", (int)blen, url);
  g->brokers = unescape(rest, (size_t)(slash - rest));
  g->topic = unescape(slash + 1, (size_t)((q ? q : slash + strlen(slash)) - slash - 1));
  query[0] = '\0';
  size_t used = 0;
  for (const char *p = q ? q + 1 : NULL; p && *p;) {
    const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    if (end > p && !eq) {
      fprintf(stderr, "sluice: group: --input %s: '%.*s' is not NAME=VALUE\n", url, (int)(end - p), p);
      return -1;
    }
    if (end > p) {
      char *name = unescape(p, (size_t)(eq - p)), *val = unescape(eq + 1, (size_t)(end - eq - 1));
      char **grown = realloc(g->props, (size_t)(g->nprops + 2) * sizeof *grown);
      if (!name || !val || !grown) {
        free(name), free(val);
        if (grown)
          g->props = grown;
        fprintf(stderr, "sluice: group: out of memory\n");
        return -1;
      }
      g->props = grown;
      if (!strcmp(name, "partitions")) {
        fprintf(stderr,
                "sluice: group: --input %s: partitions= is not for a group (the group assigns them)\n", url);
        free(name), free(val);
        return -1;
      }
      if (!strcmp(name, "group")) {
        free(g->group);
        g->group = val;
        free(name);
      } else {
        /* start= and librdkafka properties go to the children as given; the properties (not start) also
         * configure the supervisor's consumer: session.timeout.ms and the like are the group's. */
        if (used < qlen)
          used += (size_t)snprintf(query + used, qlen - used, "&%.*s", (int)(end - p), p);
        if (!strcmp(name, "start")) {
          free(name), free(val);
        } else {
          g->props[g->nprops++] = name;
          g->props[g->nprops++] = val;
        }
      }
    }
    p = amp ? amp + 1 : end;
  }
  if (used >= qlen) {
    fprintf(stderr, "sluice: group: --input %s: too long\n", url);
    return -1;
  }
  if (!g->group || !*g->group) {
    fprintf(stderr,
            "sluice: group: --input %s: names no group (?group=G): the processes of one group share "
            "the topic's partitions\n",
            url);
    return -1;
  }
  return 0;
}

/* The command line: SCRIPT first, our options, the rest for the children (checked as `sluice run` would
 * check them, so a typo is refused here, not by every child). 0, or 2 after saying why. */
static int parse_args(sl_group *g, int argc, char **argv, char *base, size_t baselen, char *query,
                      size_t qlen) {
  const char *url = NULL;
  if (argc < 1 || argv[0][0] == '-') {
    usage(stderr);
    return 2;
  }
  g->spec.script = argv[0];
  g->spec.run_args = calloc((size_t)argc, sizeof *g->spec.run_args);
  if (!g->spec.run_args)
    return 2;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char **mine = !strcmp(a, "--input")            ? &url
                        : !strcmp(a, "--checkpoint-dir") ? &g->spec.checkpoint_dir
                        : !strcmp(a, "--output-dir")     ? &g->spec.output_dir
                                                         : NULL;
    if (!strcmp(a, "--")) {
      g->spec.script_args = argv + i + 1;
      g->spec.nscript_args = argc - i - 1;
      break;
    } else if (mine) {
      if (i + 1 == argc || *mine) {
        fprintf(stderr, "sluice: group: %s %s\n", a, *mine ? "given twice" : "needs a value");
        return 2;
      }
      *mine = argv[++i];
    } else if (!strcmp(a, "--state-dir") || !strcmp(a, "--output")) {
      fprintf(stderr, "sluice: group: %s is per partition here: use --%s\n", a,
              !strcmp(a, "--output") ? "output-dir" : "checkpoint-dir");
      return 2;
    } else {
      g->spec.run_args[g->spec.nrun_args++] = argv[i];
    }
  }
  if (!url || !g->spec.checkpoint_dir || !g->spec.output_dir) {
    fprintf(stderr, "sluice: group needs --input kafka://..., --checkpoint-dir and --output-dir\n");
    usage(stderr);
    return 2;
  }
  if (parse_url(g, url, base, baselen, query, qlen))
    return 2;
  g->spec.url_base = base;
  g->spec.child_query = query;
  /* The children's options, checked once here. */
  char **check = calloc((size_t)g->spec.nrun_args + 1, sizeof *check);
  if (!check)
    return 2;
  check[0] = (char *)g->spec.script;
  memcpy(check + 1, g->spec.run_args, (size_t)g->spec.nrun_args * sizeof *check);
  sl_run_options o;
  int rc = sl_cli_parse_run(g->spec.nrun_args + 1, check, &o);
  free(check);
  if (rc != SL_CLI_RUN)
    return 2;
  if (o.ninputs) {
    fprintf(stderr, "sluice: group: one --input only: the group's topic\n");
    return 2;
  }
  /* Options every child would share although each is one partition's job. */
  char host[256], why[512];
  int port = 0;
  if (o.metrics && !sl_metrics_parse_addr(o.metrics, host, sizeof host, &port, why, sizeof why) && port) {
    fprintf(stderr,
            "sluice: group: --metrics %s: every partition's job serves its own metrics: use port 0 "
            "(each job's address is in its state dir's metrics.addr)\n",
            o.metrics);
    return 2;
  }
  if (o.from_savepoint) {
    fprintf(stderr, "sluice: group: --from-savepoint: a savepoint holds a whole job's state, and each child "
                    "is one partition's job; not supported\n");
    return 2;
  }
  sl_log_set_level((sl_log_level)o.log_level);
  sl_log_set_json(o.log_json);
  return 0;
}

static sl_group_child *child_of(sl_group *g, int p) {
  if (p < 0)
    return NULL;
  if (p >= g->nchildren) {
    sl_group_child *grown = realloc(g->children, ((size_t)p + 1) * sizeof *grown);
    if (!grown)
      return NULL;
    memset(grown + g->nchildren, 0, ((size_t)p + 1 - (size_t)g->nchildren) * sizeof *grown);
    for (int i = g->nchildren; i <= p; i++)
      grown[i].partition = i;
    g->children = grown;
    g->nchildren = p + 1;
  }
  return &g->children[p];
}

static void list_text(const rd_kafka_topic_partition_list_t *l, char *out, size_t len) {
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < l->cnt && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%" PRId32, i ? "," : "", l->elems[i].partition);
}

/* Commits the checkpointed offsets of the given children's partitions that moved since their last commit
 * (sync: waits for the answer; else in the background). Failures are warnings: only lag tools read them. */
static void commit_offsets(sl_group *g, int only_stopping, int sync) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
  uint64_t *chk = calloc((size_t)g->nchildren + 1, sizeof *chk);
  for (int p = 0; chk && p < g->nchildren; p++) {
    sl_group_child *c = &g->children[p];
    char dir[4200], err[512];
    int64_t next;
    if ((only_stopping && !c->stopping) || (!only_stopping && !c->assigned))
      continue;
    sl_group_state_dir(&g->spec, p, dir, sizeof dir);
    int rc = sl_group_checkpoint_offset(dir, g->topic, p, c->committed_chk, &next, &chk[p], err, sizeof err);
    if (rc < 0)
      sl_log(SL_LOG_DEBUG, "group: partition %d: its checkpointed offset cannot be read now: %s", p, err);
    else if (rc > 0)
      rd_kafka_topic_partition_list_add(l, g->topic, p)->offset = next;
  }
  if (l->cnt > 0) {
    rd_kafka_resp_err_t e = rd_kafka_commit(g->rk, l, !sync);
    /* A coordinator in the middle of a rebalance refuses commits (the mock cluster does while members
     * rejoin): the partitions' next owner commits the same checkpoints' offsets, on its next round. */
    if (e == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS)
      sl_info("group '%s': offsets not committed during the rebalance (the next owner commits them)",
              g->group);
    else if (e)
      sl_warn("group: committing offsets to group '%s' failed: %s", g->group, rd_kafka_err2str(e));
    for (int i = 0; !e && i < l->cnt; i++)
      g->children[l->elems[i].partition].committed_chk = chk[l->elems[i].partition];
  }
  free(chk);
  rd_kafka_topic_partition_list_destroy(l);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
  sl_group *g = opaque;
  /* Asked at an assignment only: rd_kafka_rebalance_protocol can block when called while the consumer
   * closes (librdkafka issue 4041). */
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
    g->coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
  int coop = g->coop;
  char text[2048];
  list_text(parts, text, sizeof text);
  rd_kafka_error_t *e = NULL;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    sl_info("group '%s': assigned partitions %s", g->group, parts->cnt ? text : "(none)");
    for (int i = 0; i < parts->cnt; i++) {
      sl_group_child *c = child_of(g, parts->elems[i].partition);
      if (!c) {
        sl_error("group: out of memory");
        g->failed = 1;
        continue;
      }
      c->assigned = 1;
      c->failures = 0;
      c->next_start_ms = 0;
      c->locked_since = 0;
      c->committed_chk = 0;
    }
    if (coop)
      e = rd_kafka_incremental_assign(rk, parts);
    else
      rd_kafka_assign(rk, parts);
    rd_kafka_pause_partitions(rk, parts);
  } else {
    int lost = rd_kafka_assignment_lost(rk);
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
      sl_info("group '%s': partitions %s %s; stopping their jobs", g->group, text, lost ? "lost" : "revoked");
    else
      sl_warn("group '%s': rebalance error: %s", g->group, rd_kafka_err2str(err));
    for (int p = 0; p < g->nchildren; p++)
      g->children[p].stopping = 0;
    for (int i = 0; i < parts->cnt; i++) {
      sl_group_child *c = child_of(g, parts->elems[i].partition);
      if (c)
        c->stopping = c->pid > 0, c->assigned = 0;
    }
    /* Before the rebalance completes: the next owner's child starts once these have released the state
     * dirs, with their final checkpoints. */
    sl_group_children_stop(g->children, g->nchildren);
    if (!lost)
      commit_offsets(g, 1, 1);
    for (int p = 0; p < g->nchildren; p++)
      g->children[p].stopping = 0;
    if (coop)
      e = rd_kafka_incremental_unassign(rk, parts);
    else
      rd_kafka_assign(rk, NULL);
  }
  if (e) {
    sl_warn("group '%s': %s", g->group, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  sl_group *g = opaque;
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char why[512];
    rd_kafka_fatal_error(rk, why, sizeof why);
    sl_error("group '%s': a fatal Kafka error: %s", g->group, why);
    g->failed = 1;
  } else {
    sl_warn("group '%s': %s (%s); librdkafka retries", g->group, rd_kafka_err2name(err), reason);
  }
}

static rd_kafka_t *consumer(sl_group *g) {
  char why[512];
  const sl_kafka_prop model[] = {
      {"enable.auto.commit", "false"}, /* commits are the children's checkpoints' */
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "latest"}, /* nothing is consumed: fetch as little as can be */
      {"enable.partition.eof", "false"},
      {"group.id", g->group},
  };
  const char *bad = NULL;
  rd_kafka_conf_t *conf = sl_kafka_conf_new(g->brokers, g->props, g->nprops, model,
                                            sizeof model / sizeof model[0], &bad, why, sizeof why);
  if (!conf) {
    fprintf(stderr, "sluice: group: librdkafka property '%s': %s\n", bad, why);
    return NULL;
  }
  rd_kafka_conf_set_log_cb(conf, sl_kafka_log_cb);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
  rd_kafka_conf_set_opaque(conf, g);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "sluice: group: cannot create the Kafka consumer: %s\n", why);
  }
  return rk;
}

/* A child that exited by itself: restarted after a backoff, or the supervisor fails (kafka_group.h). */
static void child_exited(sl_group *g, sl_group_child *c) {
  char why[32];
  uint64_t now = sl_monotonic_ms();
  if (now - c->started_ms >= SL_GROUP_HEALTHY_MS)
    c->failures = 0;
  c->failures++;
  sl_group_status_text(c->last_status, why, sizeof why);
  if (c->failures >= SL_GROUP_MAX_FAILURES) {
    sl_error("group: partition %d: its job exited with %s, %d times in a row; the group stops (its other "
             "partitions' jobs take their final checkpoints)",
             c->partition, why, c->failures);
    g->failed = 1;
    return;
  }
  long backoff = 1000L << (c->failures - 1);
  if (backoff > 30000)
    backoff = 30000;
  c->next_start_ms = now + (uint64_t)backoff;
  sl_warn("group: partition %d: its job exited with %s; restarting it in %ld s (%d of %d)", c->partition, why,
          backoff / 1000, c->failures, SL_GROUP_MAX_FAILURES - 1);
}

/* Starts the children of assigned partitions that are due, once their state dirs are free. */
static void start_due(sl_group *g) {
  uint64_t now = sl_monotonic_ms();
  for (int p = 0; p < g->nchildren && !g->failed; p++) {
    sl_group_child *c = &g->children[p];
    char dir[4200];
    long holder = 0;
    if (!c->assigned || c->pid > 0 || now < c->next_start_ms)
      continue;
    sl_group_state_dir(&g->spec, p, dir, sizeof dir);
    if (mkdir(dir, 0700) && errno != EEXIST) {
      sl_error("group: partition %d: cannot create its state dir '%s': %s", p, dir, strerror(errno));
      g->failed = 1;
      return;
    }
    /* The partition's previous owner (another process, maybe on another machine) may still be taking its
     * final checkpoint: wait for its lock rather than have the child fail on it. */
    if (sl_state_dir_lock_probe(dir, &holder) == 1) {
      if (!c->locked_since) {
        c->locked_since = now;
        sl_info(
            "group: partition %d: its state dir is still locked by pid %ld (the previous owner finishing); "
            "waiting up to %d s",
            p, holder, SL_GROUP_LOCK_WAIT_MS / 1000);
      }
      c->next_start_ms = now + 200;
      if (now - c->locked_since < SL_GROUP_LOCK_WAIT_MS)
        continue;
      c->locked_since = 0;
      c->started_ms = now;
      c->last_status = 2 << 8;
      sl_warn("group: partition %d: its state dir '%s' stayed locked by pid %ld for %d s", p, dir, holder,
              SL_GROUP_LOCK_WAIT_MS / 1000);
      child_exited(g, c);
      continue;
    }
    c->locked_since = 0;
    if (sl_group_child_start(c, &g->spec)) {
      sl_error("group: partition %d: cannot start its job: %s", p, strerror(errno));
      g->failed = 1;
    }
  }
}

static void reap(sl_group *g) {
  for (int p = 0; p < g->nchildren; p++)
    if (sl_group_child_reap(&g->children[p]))
      child_exited(g, &g->children[p]);
}

/* Leaves the group: every child stopped (final checkpoints), their offsets committed, the consumer closed.
 * Returns how many children exited other than with status 0. */
static int leave(sl_group *g) {
  for (int p = 0; p < g->nchildren; p++)
    g->children[p].stopping = g->children[p].pid > 0;
  int bad = sl_group_children_stop(g->children, g->nchildren);
  commit_offsets(g, 1, 1);
  for (int p = 0; p < g->nchildren; p++)
    g->children[p].stopping = 0, g->children[p].assigned = 0;
  return bad;
}

/* A rebalance while the consumer closes (the revoke finds no child running). */
static void on_close_event(rd_kafka_event_t *ev, void *opaque) {
  sl_group *g = opaque;
  if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
    on_rebalance(g->rk, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), g);
}

/* Closes the consumer, which leaves the group, within CLOSE_TIMEOUT_MS (core/kafka_close.h). 0 when it
 * closed (it may be destroyed), -1 when not (the handle is then left to the process's exit). */
static int close_consumer(sl_group *g) {
  rd_kafka_resp_err_t commit_err;
  char why[512] = "";
  sl_kafka_close_result r =
      sl_kafka_consumer_close(g->rk, NULL, CLOSE_TIMEOUT_MS, on_close_event, g, &commit_err, why, sizeof why);
  if (r == SL_KAFKA_CLOSE_NO_QUEUE || r == SL_KAFKA_CLOSE_REFUSED)
    sl_warn("group '%s': leaving the group: %s", g->group,
            r == SL_KAFKA_CLOSE_REFUSED ? why : "out of memory");
  else if (r != SL_KAFKA_CLOSED)
    sl_warn("group '%s': leaving the group did not finish within %d s (librdkafka waits for the group "
            "coordinator); the other members get this process's partitions after the session timeout",
            g->group, CLOSE_TIMEOUT_MS / 1000);
  return r == SL_KAFKA_CLOSED ? 0 : -1;
}

static int make_dir(const char *what, const char *dir, mode_t mode) {
  if (mkdir(dir, mode) && errno != EEXIST) {
    fprintf(stderr, "sluice: group: cannot create %s '%s': %s\n", what, dir, strerror(errno));
    return -1;
  }
  return 0;
}

static void free_group(sl_group *g) {
  for (int i = 0; i < g->nprops; i++)
    free(g->props[i]);
  free(g->props);
  free(g->brokers);
  free(g->topic);
  free(g->group);
  free(g->children);
  free(g->spec.run_args);
}

int sl_group_command(int argc, char **argv) {
  sl_group g;
  char base[4096], query[4096];
  memset(&g, 0, sizeof g);
  if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
    usage(stdout);
    return 0;
  }
  int rc = parse_args(&g, argc, argv, base, sizeof base, query, sizeof query);
  if (rc || make_dir("the checkpoint dir", g.spec.checkpoint_dir, 0700) ||
      make_dir("the output dir", g.spec.output_dir, 0777) || !(g.rk = consumer(&g))) {
    free_group(&g);
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_stop_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, g.topic, RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t e = rd_kafka_subscribe(g.rk, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e) {
    fprintf(stderr, "sluice: group: cannot subscribe to '%s': %s\n", g.topic, rd_kafka_err2str(e));
    rd_kafka_destroy(g.rk);
    free_group(&g);
    return 2;
  }
  sl_info("group '%s': joining, for topic '%s' at %s (state in %s/partition-P)", g.group, g.topic, g.brokers,
          g.spec.checkpoint_dir);
  while (!stop_requested && !g.failed) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(g.rk, POLL_MS);
    if (m && m->err)
      sl_log(SL_LOG_DEBUG, "group '%s': %s", g.group, rd_kafka_message_errstr(m));
    if (m)
      rd_kafka_message_destroy(m); /* fetched before its partition's pause took hold: the child reads it */
    reap(&g);
    start_due(&g);
    if (sl_monotonic_ms() - g.last_commit_ms >= COMMIT_EVERY_MS) {
      commit_offsets(&g, 0, 0);
      g.last_commit_ms = sl_monotonic_ms();
    }
  }
  int bad = leave(&g);
  sl_kafka_end(g.rk, close_consumer(&g) == 0, 0, SL_KAFKA_END_TIMEOUT_MS, "group");
  free_group(&g);
  if (bad)
    sl_error("group: %d partitions' jobs did not stop cleanly", bad);
  return g.failed || bad ? 1 : 0;
}
