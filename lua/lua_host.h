/* lua_host.h — the job's Lua VM, seen from the runtime: load the script into a job description, start the
 * pipeline on the state backend, run record batches.
 *
 * The VM is LuaJIT with the standard libraries, SLUICE_HOST = true (so sluice.native binds ffi.C, the
 * symbols of libsluice already loaded in this process), and package.path covering the sluice Lua library
 * ($SLUICE_LUA_DIR; else the source tree's lua/ for a library in its build dir, or ../share/sluice/lua next
 * to an installed one) and the script's own directory.
 * Ownership: the host owns its lua_State and the job description strings. */
#ifndef SLUICE_LUA_HOST_H
#define SLUICE_LUA_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "core/record/json_write.h"
#include "core/record/record_batch.h"
#include "state/state_backend.h"
#include "state/state_clock.h"

typedef struct lua_State lua_State;

typedef enum sl_endpoint_kind { SL_EP_STDIN, SL_EP_STDOUT, SL_EP_FILE, SL_EP_TCP, SL_EP_KAFKA } sl_endpoint_kind;

/* A source or sink as the script declared it. */
typedef struct sl_endpoint {
  sl_endpoint_kind kind;
  char *path; /* SL_EP_FILE */
  char *host; /* SL_EP_TCP; SL_EP_KAFKA: the brokers ("h1:9092,h2:9092") */
  int port;   /* SL_EP_TCP */
  /* SL_EP_KAFKA (lua/sluice/kafka.lua): the topic, the consumer group (NULL: none), where a partition with
   * no checkpointed offset starts (start_latest: its end, else its beginning), and librdkafka properties as
   * name, value pairs: options[2i], options[2i+1] for 2i < noptions (the number of strings). partitions:
   * the only partitions read, ascending ("0,3,5"), or NULL for all. */
  char *topic, *group, *partitions;
  int start_latest;
  char **options;
  int noptions;
  /* A Kafka sink (core/sink_kafka.c): the output records' field whose value keys the messages (NULL: none),
   * at-least-once delivery (else exactly-once through transactions), and the bound of every wait on the
   * brokers (flush, transaction calls), in ms. */
  char *key;
  int at_least_once;
  int timeout_ms;
} sl_endpoint;

typedef struct sl_job_desc {
  char *name;
  sl_endpoint *sources;
  int nsources;
  sl_endpoint sink;
  char **uids; /* every operator's uid: state is matched to operators by these on restore */
  int nuids;
  char *
      *kinds; /* each operator's kind ("map", "process", ...), parallel to uids: hot reload compares graphs */
  int nkinds; /* == nuids */
  char **files; /* the script and the modules it required from its own directory: what hot reload watches */
  int nfiles;
  /* How records reach parallel subtasks (sluice.host's describe_exchange): SL_EXCHANGE_FIELD routes by the
   * key group of key_field (the first operator's key_by field); SL_EXCHANGE_LUA routes by what Lua says
   * (sl_lua_host_route_batch: filters, then the key_by's key); SL_EXCHANGE_LOCAL keeps a record on the
   * subtask that read it (no key_by); SL_EXCHANGE_UNSUPPORTED cannot run in parallel, exchange_why says
   * why. */
  int exchange;
  int event_time; /* a source declares a watermark strategy */
  char *key_field;
  size_t key_field_len;
  /* The same name as the VM's own string (LuaJIT interns every string, and the job's operators hold it):
   * a look-up by this pointer leaves the record's memo where the key_by's look-up hits it. */
  const char *key_field_interned;
  char *exchange_why;
} sl_job_desc;

enum { SL_EXCHANGE_LOCAL = 0, SL_EXCHANGE_FIELD = 1, SL_EXCHANGE_UNSUPPORTED = 2, SL_EXCHANGE_LUA = 3 };

typedef struct sl_host_config {
  const char *script;
  const char *const *inputs;
  int ninputs;
  const char *output;
  const char *state_dir;
  char *const *args;
  int nargs;
} sl_host_config;

typedef struct sl_lua_host {
  lua_State *L;
  int host_ref; /* registry reference to the sluice.host module table */
  sl_job_desc job;
  unsigned subtask, parallelism; /* the operator-state instance this VM runs (0 of 1 unless set before start) */
  /* Processing time of the job's key scopes (ctx:now(), TTL), when set before start: the test harness
   * (lua/test_harness.c) moves it by hand. Zeroed (the default) = the wall clock. */
  sl_clock clock;
} sl_lua_host;

/* Creates the VM and runs the script. Returns 0 with h->job filled, or -1 with the reason (the script's
 * file:line for script errors) in err. */
int sl_lua_host_open(sl_lua_host *h, const sl_host_config *cfg, char *err, size_t errlen);

/* Builds the pipeline: state handles bind to backend, keys fall into max_parallelism key groups, the sink
 * writes into buf. 0 or -1 with err. */
int sl_lua_host_start(sl_lua_host *h, sl_backend *backend, sl_buf *buf, unsigned max_parallelism, char *err,
                      size_t errlen);

/* Runs batch->cursor .. n-1. Returns 0 when all ran, or 1 when record batch->cursor failed: err holds
 * "operator 'uid': message", the output written for that record is already cut off (buf->len reset to
 * batch->out_mark) and the caller resumes with cursor + 1. Returns -1 when the failure is not the record's
 * (the VM is out of memory, or the state backend failed: lua/sluice/fatal.lua): err says why, and the job
 * must stop without committing — a restart redoes the batch from the last checkpoint. */
int sl_lua_host_run_batch(sl_lua_host *h, sl_batch *batch, sl_buf *buf, char *err, size_t errlen);

/* A parallel subtask (exchange SL_EXCHANGE_LUA): for records cursor..n-1, runs the filters before the key_by
 * and takes the key; owners[i] gets record i's subtask, or 0xFFFF when a filter dropped it. Returns 0, 1 when
 * record cursor failed (err as for run_batch; the caller rejects it and resumes after it), -1 when the
 * failure is the job's. */
int sl_lua_host_route_batch(sl_lua_host *h, sl_batch *batch, uint16_t *owners, char *err, size_t errlen);
/* As run_batch, from the key_by on (records that were routed). */
int sl_lua_host_run_keyed_batch(sl_lua_host *h, sl_batch *batch, sl_buf *buf, char *err, size_t errlen);

/* At a checkpoint barrier, before the commit: runs every operator's snapshot(ctx) hook (operator state is
 * written into the backend) and one bounded step of TTL cleanup. 0, or -1 with "operator 'uid': message"
 * in err (the checkpoint must then not be taken), or -2 when the failure is the job's (as for run_batch). */
int sl_lua_host_snapshot_hooks(sl_lua_host *h, char *err, size_t errlen);

/* Timers (core/timer_service.c), between batches: advances the watermark and fires the due timers
 * (host.fire_timers), writing their output into the sink's buffer. now_ms is the processing time (epoch
 * ms); end_of_input fires every event-time timer. *next_ms gets the earliest pending processing-time timer
 * or -1, *late the number of late records so far. Each on_timer error ("operator 'uid': on_timer(...): msg",
 * its output already cut) goes to on_error. Returns 0, or -1 with the reason in err when firing itself
 * failed (e.g. the state backend). */
int sl_lua_host_fire_timers(sl_lua_host *h, int64_t now_ms, int end_of_input, int64_t *next_ms,
                            uint64_t *late, void (*on_error)(void *arg, const char *msg), void *arg,
                            char *err, size_t errlen);

/* Raises the job's watermark to ts (never lowers it), as a watermark arriving from upstream would; the
 * event timers it makes due fire at the next sl_lua_host_fire_timers. For the test harness
 * (advance_watermark): a run's watermark comes from its sources' strategy. 0, or -1 with err. */
int sl_lua_host_set_watermark(sl_lua_host *h, int64_t ts, char *err, size_t errlen);

/* A fresh VM set up as a job's is (standard libraries, SLUICE_HOST, package.path: the job API's directory,
 * then script's directory when script is not NULL, then LuaJIT's own path), with nothing loaded: for the
 * commands that run sluice's Lua outside a job (`sluice test`, `sluice state bootstrap`). NULL when out of
 * memory. The caller closes it. */
lua_State *sl_lua_host_new_vm(const char *script);

/* The directory of the job API's Lua modules: $SLUICE_LUA_DIR; else the source tree's lua/ for a library
 * in its build directory; else SLUICE_LUA_RELDIR from the directory libsluice.so was loaded from (an
 * install). buf (len bytes) holds the result when it is built here. */
const char *sl_lua_host_lua_dir(char *buf, size_t len);

/* Checks, before start, the job's declared states against backend's registry (a state stored as another
 * kind or TTL setting is refused), building nothing and registering nothing. 0, or -1 with the refusal. */
int sl_lua_host_check_states(sl_lua_host *h, sl_backend *backend, char *err, size_t errlen);

/* The number of processing-time timers pending in the job's operators (one walk of each queue: for the
 * end-of-run summary). 0, or -1 with the reason in err. */
int sl_lua_host_pending_timers(sl_lua_host *h, uint64_t *n, char *err, size_t errlen);

/* For metrics, off the hot path (a few times a second): the VM's memory in bytes, and the job's
 * watermark (epoch ms) into *wm — 1 when the job has one yet, 0 when not (no event time, or no record
 * seen), -1 when asking failed. */
uint64_t sl_lua_host_memory(const sl_lua_host *h);
int sl_lua_host_watermark(sl_lua_host *h, int64_t *wm);
/* The records each operator named uids[0..n) was handed so far by the running code, into counts[0..n) (0 for
 * an uid the running code does not have: hot reload may have changed the graph). 0, or -1 when asking
 * failed. */
int sl_lua_host_operator_counts(sl_lua_host *h, char *const *uids, uint64_t *counts, int n);

void sl_lua_host_close(sl_lua_host *h);

#endif
