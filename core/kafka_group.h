/* kafka_group.h — `sluice group`: several sluice processes share a Kafka topic through a consumer group,
 * as Kafka Streams does: one task per partition.
 *
 * The supervisor joins the group (librdkafka's subscribe) and never consumes a message itself. For each
 * partition P the group assigns it, it runs a child `sluice run SCRIPT --input kafka://B/T?partitions=P
 * --state-dir CHECKPOINT-DIR/partition-P --output OUTPUT-DIR/partition-P.jsonl ...`: an ordinary single job
 * whose state, offsets and output are partition P's alone, so moving P between processes is stopping one
 * child and starting another on the same shared directory. On a revoke the supervisor stops the revoked
 * partitions' children (SIGTERM: a final checkpoint) and waits for them BEFORE the rebalance completes, so
 * the next owner's child finds the state dir free (its lock, core/state_dir_lock.h, keeps two children off
 * one state dir when a process lost its partitions without knowing). The group's committed offsets (for lag
 * tools) are committed by the supervisor, the group's member, from its children's newest checkpoints: a
 * broker refuses commits from a consumer outside the group's current generation.
 *
 * kafka_group.c owns the command line, the consumer and the rebalances; kafka_group_child.c the child
 * processes; kafka_group_offsets.c reading a child's checkpointed offsets. */
#ifndef SLUICE_KAFKA_GROUP_H
#define SLUICE_KAFKA_GROUP_H

#include <stdint.h>
#include <sys/types.h>

/* What every child of one supervisor is started with (borrowed from argv, or owned by kafka_group.c). */
typedef struct sl_group_spec {
  const char *script;
  const char *url_base;    /* "kafka://BROKERS/TOPIC", as given */
  const char *child_query; /* the URL's query without group= ("" or "&a=b&c=d"), as given */
  const char *checkpoint_dir, *output_dir;
  char **run_args; /* `sluice run` options passed to every child as given */
  int nrun_args;
  char **script_args; /* after "--" */
  int nscript_args;
} sl_group_spec;

/* One partition's child process and the supervisor's bookkeeping of it. */
typedef struct sl_group_child {
  int partition;
  pid_t pid;              /* 0: not running */
  int assigned;           /* the group assigns this partition to this process now */
  int stopping;           /* the supervisor sent SIGTERM: its exit is expected */
  int failures;           /* exits on its own since it last ran long enough */
  uint64_t started_ms;    /* when the running child was started (sl_monotonic_ms) */
  uint64_t next_start_ms; /* not before (a restart's backoff, or a locked state dir's retry) */
  uint64_t locked_since;  /* when its state dir was first found locked by another process (0: it was not) */
  uint64_t committed_chk; /* the checkpoint whose offset was last committed to the group (0: none) */
  int last_status;        /* the last child's wait status */
} sl_group_child;

/* Restart policy: a child that exits on its own is restarted after 1, 2, 4, ... s (at most 30 s), unless it
 * did so SL_GROUP_MAX_FAILURES times in a row (a child that ran SL_GROUP_HEALTHY_MS counts as healthy again):
 * the supervisor then fails (exit 1). A state dir locked by another process (the partition's previous
 * owner still taking its final checkpoint) is waited for up to SL_GROUP_LOCK_WAIT_MS, then counts as one
 * failure. A revoked child gets SL_GROUP_STOP_WAIT_MS for its final checkpoint, then SIGKILL (its state is
 * the last complete checkpoint's then: nothing is lost). */
#define SL_GROUP_MAX_FAILURES 5
#define SL_GROUP_HEALTHY_MS 60000
#define SL_GROUP_LOCK_WAIT_MS 120000
#define SL_GROUP_STOP_WAIT_MS 60000

/* The state dir and output file of partition p: DIR/partition-P[.jsonl]. */
void sl_group_state_dir(const sl_group_spec *s, int p, char *out, size_t len);
void sl_group_output_file(const sl_group_spec *s, int p, char *out, size_t len);

/* Starts c's child (fork, exec of /proc/self/exe with PR_SET_PDEATHSIG SIGKILL: it dies with a killed
 * supervisor). 0, or -1 with errno (fork failed). */
int sl_group_child_start(sl_group_child *c, const sl_group_spec *s);

/* Collects c's child if it exited (waitpid WNOHANG): 1 with its wait status in c->last_status and c->pid
 * 0, 0 while it runs (or none runs). */
int sl_group_child_reap(sl_group_child *c);

/* Stops the running children among cs[0..n) whose `stopping` flag the caller set: SIGTERM, then waits for
 * them up to SL_GROUP_STOP_WAIT_MS, then SIGKILL. Returns how many exited other than with status 0. */
int sl_group_children_stop(sl_group_child *cs, int n);

/* A wait status in words: "status 1", "signal 9". */
const char *sl_group_status_text(int status, char *buf, size_t len);

/* Partition p's next offset in TOPIC as the newest complete checkpoint in STATE-DIR holds it: 1 with it in
 * *next and the checkpoint's id in *chk; 0 when there is no complete checkpoint newer than `after`, or it
 * holds no offset of p yet; -1 with the reason in err (a checkpoint pruned while it was read: try again). */
int sl_group_checkpoint_offset(const char *state_dir, const char *topic, int p, uint64_t after, int64_t *next,
                               uint64_t *chk, char *err, size_t errlen);

/* The `sluice group` command (argv after "group"): the exit status (0 stopped by SIGTERM/SIGINT with
 * every child stopped cleanly; 1 a failure; 2 bad usage). */
int sl_group_command(int argc, char **argv);

#endif
