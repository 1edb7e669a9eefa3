/* cli.h — the command line contract (other issues and users' scripts rely on it; extend, never break):
 *
 *   sluice run SCRIPT [--input PATH|-|kafka://BROKERS/TOPIC?QUERY]... [--follow] [--output PATH] [--state-dir DIR]
 *                     [--checkpoint-interval MS] [--dead-letter PATH] [--max-line-bytes N]
 *                     [--retain-checkpoints N] [--checkpoint-mode exactly-once|at-least-once]
 *                     [--from-savepoint PATH] [--allow-non-restored-state] [--full-checkpoints]
 *                     [--incremental-checkpoints (the default; accepted)]
 *                     [--overwrite-output] [--no-watch] [--quiet]
 *                     [--tcp-max-connections N] [--tcp-max-buffer-bytes N] [--state-cache-mb N]
 *                     [--max-parallelism M] [--parallelism N|auto] [--no-split-inputs]
 *                     [--log-level error|warn|info|debug] [--log-format text|json]
 *                     [--metrics [HOST:]PORT]
 *                     [-- SCRIPT-ARGS...]
 *   sluice group SCRIPT --input kafka://BROKERS/TOPIC?group=G... --checkpoint-dir DIR --output-dir DIR
 *                [run options] [-- SCRIPT-ARGS...]            (core/kafka_group.h)
 *   sluice checkpoints STATE-DIR
 *   sluice savepoint STATE-DIR [PATH]
 *   sluice reload STATE-DIR
 *   sluice status STATE-DIR [--json]
 *   sluice --help | --version
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stddef.h>

#define SL_MAX_INPUTS 64
/* Key groups are 16-bit in the key layout (state/state_key.h); Flink's limit is the same 2^15. */
#define SL_MAX_MAX_PARALLELISM 32768
#define SL_MAX_PARALLELISM 256 /* subtasks (threads) of one job */

typedef struct sl_run_options {
  const char *script;
  const char *inputs[SL_MAX_INPUTS]; /* "-" is stdin; none given = stdin */
  int ninputs;
  int follow;
  const char *output;    /* NULL = stdout */
  const char *state_dir; /* NULL = ./sluice-state/<job name> */
  long checkpoint_interval_ms;
  const char *dead_letter; /* NULL = none */
  size_t max_line_bytes;
  int quiet; /* no end-of-run summary on stderr */
  long retain_checkpoints;
  int at_least_once; /* --checkpoint-mode at-least-once */
  const char *from_savepoint;
  int allow_non_restored;
  int incremental;      /* deltas between full checkpoints: the default; 0 with --full-checkpoints */
  int overwrite_output; /* --overwrite-output: the output file may be replaced although it is not ours */
  int no_watch;         /* --no-watch: no hot reload on script changes (SIGHUP still reloads) */
  char **script_args;   /* after "--"; borrowed from argv */
  int nscript_args;

  long tcp_max_connections;    /* a TCP source's open connections at most (default 64); more are closed */
  size_t tcp_max_buffer_bytes; /* a TCP connection's unprocessed bytes at most; 0 = max_line_bytes */
  long max_parallelism;        /* --max-parallelism: the number of key groups (stored in every checkpoint) */
  long parallelism;            /* --parallelism: subtasks (worker threads); 1 = the job runs on one thread */
  int no_split;                /* --no-split-inputs: a parallel job reads each file whole, with one reader */
  int log_level;               /* --log-level: an sl_log_level (core/log.h); info by default */
  int log_json;                /* --log-format json: one JSON object per message */
  long state_cache_mb;         /* --state-cache-mb: the state backend's cache in MiB; 0 = its default (64) */
  const char *metrics;         /* --metrics [HOST:]PORT: serve /metrics there (core/metrics_service.h); NULL = no */
} sl_run_options;

enum { SL_CLI_RUN = 0, SL_CLI_EXIT_OK = 1, SL_CLI_USAGE = 2 };

/* Parses argv (after "run"). Returns SL_CLI_RUN with *o filled, SL_CLI_EXIT_OK after printing help, or
 * SL_CLI_USAGE after printing the reason to stderr. Strings are borrowed from argv. */
int sl_cli_parse_run(int argc, char **argv, sl_run_options *o);
void sl_cli_print_help(void);

#endif
