/* cli.h — the command line contract (other issues and users' scripts rely on it; extend, never break):
 *
 *   sluice run SCRIPT [--input PATH|-]... [--follow] [--output PATH] [--state-dir DIR]
 *                     [--checkpoint-interval MS] [--dead-letter PATH] [--max-line-bytes N]
 *                     [--retain-checkpoints N] [--checkpoint-mode exactly-once|at-least-once]
 *                     [--from-savepoint PATH] [--allow-non-restored-state] [--incremental-checkpoints]
 *                     [--no-watch] [--quiet] [-- SCRIPT-ARGS...]
 *   sluice checkpoints STATE-DIR
 *   sluice savepoint STATE-DIR [PATH]
 *   sluice reload STATE-DIR
 *   sluice --help | --version
 */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stddef.h>

#define SL_MAX_INPUTS 64

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
  int incremental;         /* --incremental-checkpoints */
  int no_watch;       /* --no-watch: no hot reload on script changes (SIGHUP still reloads) */
  char **script_args; /* after "--"; borrowed from argv */
  int nscript_args;
} sl_run_options;

enum { SL_CLI_RUN = 0, SL_CLI_EXIT_OK = 1, SL_CLI_USAGE = 2 };

/* Parses argv (after "run"). Returns SL_CLI_RUN with *o filled, SL_CLI_EXIT_OK after printing help, or
 * SL_CLI_USAGE after printing the reason to stderr. Strings are borrowed from argv. */
int sl_cli_parse_run(int argc, char **argv, sl_run_options *o);
void sl_cli_print_help(void);

#endif
