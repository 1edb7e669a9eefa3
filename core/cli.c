/* cli.c — parses `sluice run` options (see cli.h for the contract). */
#include "core/cli.h"

#include "core/log.h"
#include "core/metrics_listen.h"
#include "state/state_key.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sl_cli_print_help(void) {
  fputs(
      "usage: sluice run SCRIPT [options] [-- SCRIPT-ARGS...]\n"
      "       sluice --help | --version\n"
      "\n"
      "Runs a stream-processing job written in Lua over JSON-lines input.\n"
      "\n"
      "options for run:\n"
      "  --input PATH|-|URL        read this file ('-' = stdin, kafka://BROKERS/TOPIC?group=G a Kafka topic);\n"
      "                            may repeat; default stdin\n"
      "  --follow                  keep reading files as they grow, across rotation (like tail -F)\n"
      "  --output PATH|URL         write output records (JSON lines) to PATH (kafka://BROKERS/TOPIC?key=F a\n"
      "                            Kafka topic, delivery=exactly-once by default); default stdout\n"
      "  --state-dir DIR           state and offsets; default ./sluice-state/<job name>\n"
      "  --checkpoint-interval MS  take a checkpoint every MS ms (default 1000; 0 = only at the end)\n"
      "  --retain-checkpoints N    keep the newest N complete checkpoints (default 3)\n"
      "  --checkpoint-mode M       exactly-once (default) or at-least-once\n"
      "  --full-checkpoints        every checkpoint stores the whole state (by default one stores what changed\n"
      "                            since the last, chained to a full one every 10; --incremental-checkpoints)\n"
      "  --from-savepoint PATH     start from a savepoint (state matched to operators by uid)\n"
      "  --allow-non-restored-state  drop savepoint/checkpoint state of operators the job no longer has\n"
      "  --dead-letter PATH        append rejected records (with the reason) to PATH as JSON lines\n"
      "  --max-line-bytes N        longest accepted input line (default 1048576)\n"
      "  --no-watch                do not reload the job when its script (or a module next to it) changes\n"
      "  --overwrite-output        start the --output file afresh, replacing what it holds (needed when it "
      "is\n"
      "                            not the file this state dir's last checkpoint wrote, or was cut since)\n"
      "  --quiet                   no summary line on stderr at the end\n"
      "  --tcp-max-connections N   open connections per TCP source (default 64); one more is closed\n"
      "  --tcp-max-buffer-bytes N  unprocessed bytes per TCP connection (default: --max-line-bytes); a\n"
      "                            connection with a longer partial line is closed\n"
      "  --state-cache-mb N        memory for cached state in MiB (default 64); the rest stays in LMDB\n"
      "  --max-parallelism M       key groups (default 128, at most 32768): keyed state is stored by\n"
      "                            hash(key) % M, so M is fixed for the life of the state (checkpoints keep "
      "it)\n"
      "  --parallelism N|auto      run the job as N parallel subtasks on N threads (default 1; auto = the\n"
      "                            number of cores); keyed state moves with its key groups when N changes\n"
      "  --log-level L             error, warn, info (default) or debug\n"
      "  --log-format F            text (default: 'sluice: LEVEL: message' lines) or json (one object a line)\n"
      "  --metrics [HOST:]PORT     serve Prometheus metrics at http://HOST:PORT/metrics (HOST 127.0.0.1\n"
      "                            unless given; port 0 picks a free one, logged and in STATE-DIR/metrics.addr)\n"
      "  --no-split-inputs         at --parallelism > 1, read each input file whole (one reader, every key\n"
      "                            in file order) instead of in N line-aligned splits read in parallel\n"
      "\n"
      "\n"
      "  sluice group SCRIPT --input 'kafka://BROKERS/TOPIC?group=G' --checkpoint-dir DIR --output-dir DIR\n"
      "                     [run options] [-- SCRIPT-ARGS]\n"
      "                                     join consumer group G and run the job once per partition it\n"
      "                                     assigns this process (state DIR/partition-P; see README)\n"
      "  sluice checkpoints STATE-DIR       list checkpoints (id, time, size, duration, complete)\n"
      "  sluice savepoint STATE-DIR [PATH]  ask the job running on STATE-DIR for a savepoint\n"
      "  sluice status STATE-DIR [--json]   what the job running on STATE-DIR is doing (records, rates,\n"
      "                                     checkpoints, inputs); exit status 1 when none runs there\n"
      "  sluice reload STATE-DIR            reload the script of the job running on STATE-DIR (as SIGHUP)\n"
      "  sluice state ls PATH [--json]      the states in a checkpoint, savepoint or stopped state dir\n"
      "  sluice state dump PATH --op UID [--state NAME] [--key KEY]\n"
      "                                     their keyed entries as JSON lines (both read-only)\n"
      "  sluice state bootstrap JOB.lua --from FILE.jsonl --to SAVEPOINT [--max-parallelism M] [-- ARGS]\n"
      "                                     a savepoint from such JSON lines, for --from-savepoint\n"
      "  sluice test [SPEC...]              run busted specs of jobs with sluice.testing (default: spec/ or\n"
      "                                     every *_spec.lua under the current directory)\n"
      "\n"
      "exit status: 0 done, 1 runtime failure, 2 bad usage, script, input path or state dir\n",
      stdout);
}

static int parse_number(const char *opt, const char *s, long min, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v < min) {
    fprintf(stderr, "sluice: %s needs an integer >= %ld, got '%s'\n", opt, min, s);
    return -1;
  }
  *out = v;
  return 0;
}

/* Returns the option's value (argv[i+1]) and advances *i, or NULL after printing why. */
static const char *take_value(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) {
    fprintf(stderr, "sluice: %s needs a value\n", argv[*i]);
    return NULL;
  }
  return argv[++*i];
}

static int parse_option(int argc, char **argv, int *i, sl_run_options *o) {
  const char *a = argv[*i], *v;
  long n;
  if (!strcmp(a, "--follow"))
    o->follow = 1;
  else if (!strcmp(a, "--quiet"))
    o->quiet = 1;
  else if (!strcmp(a, "--allow-non-restored-state"))
    o->allow_non_restored = 1;
  else if (!strcmp(a, "--incremental-checkpoints"))
    o->incremental = 1; /* the default; kept for the scripts that say it */
  else if (!strcmp(a, "--full-checkpoints"))
    o->incremental = 0;
  else if (!strcmp(a, "--overwrite-output"))
    o->overwrite_output = 1;
  else if (!strcmp(a, "--no-watch"))
    o->no_watch = 1;
  else if (!strcmp(a, "--no-split-inputs"))
    o->no_split = 1;
  else if (!strcmp(a, "--from-savepoint")) {
    if (!(o->from_savepoint = take_value(argc, argv, i)))
      return -1;
  } else if (!strcmp(a, "--retain-checkpoints")) {
    if (!(v = take_value(argc, argv, i)) || parse_number(a, v, 1, &n))
      return -1;
    o->retain_checkpoints = n;
  } else if (!strcmp(a, "--checkpoint-mode")) {
    if (!(v = take_value(argc, argv, i)))
      return -1;
    if (strcmp(v, "exactly-once") && strcmp(v, "at-least-once")) {
      fprintf(stderr, "sluice: --checkpoint-mode is exactly-once or at-least-once, not '%s'\n", v);
      return -1;
    }
    o->at_least_once = !strcmp(v, "at-least-once");
  } else if (!strcmp(a, "--input")) {
    if (!(v = take_value(argc, argv, i)))
      return -1;
    if (o->ninputs == SL_MAX_INPUTS) {
      fprintf(stderr, "sluice: at most %d --input options\n", SL_MAX_INPUTS);
      return -1;
    }
    o->inputs[o->ninputs++] = v;
  } else if (!strcmp(a, "--output")) {
    if (!(o->output = take_value(argc, argv, i)))
      return -1;
  } else if (!strcmp(a, "--state-dir")) {
    if (!(o->state_dir = take_value(argc, argv, i)))
      return -1;
  } else if (!strcmp(a, "--dead-letter")) {
    if (!(o->dead_letter = take_value(argc, argv, i)))
      return -1;
  } else if (!strcmp(a, "--checkpoint-interval")) {
    if (!(v = take_value(argc, argv, i)) || parse_number(a, v, 0, &n))
      return -1;
    o->checkpoint_interval_ms = n;
  } else if (!strcmp(a, "--max-line-bytes")) {
    if (!(v = take_value(argc, argv, i)) || parse_number(a, v, 16, &n))
      return -1;
    o->max_line_bytes = (size_t)n;
  } else if (!strcmp(a, "--tcp-max-connections")) {
    if (!(v = take_value(argc, argv, i)) || parse_number(a, v, 1, &n))
      return -1;
    o->tcp_max_connections = n;
  } else if (!strcmp(a, "--tcp-max-buffer-bytes")) {
    if (!(v = take_value(argc, argv, i)) || parse_number(a, v, 16, &n))
      return -1;
    o->tcp_max_buffer_bytes = (size_t)n;
  } else if (!strcmp(a, "--state-cache-mb")) {
    if (!(v = take_value(argc, argv, i)) || parse_number(a, v, 1, &n))
      return -1;
    if (n > (1L << 20)) {
      fprintf(stderr, "sluice: --state-cache-mb %ld is more than 1 TiB\n", n);
      return -1;
    }
    o->state_cache_mb = n;
  } else if (!strcmp(a, "--max-parallelism")) {
    if (!(v = take_value(argc, argv, i)) || parse_number(a, v, 1, &n))
      return -1;
    if (n > SL_MAX_MAX_PARALLELISM) {
      fprintf(stderr, "sluice: --max-parallelism %ld is more than %d (key groups are 16-bit)\n", n,
              SL_MAX_MAX_PARALLELISM);
      return -1;
    }
    o->max_parallelism = n;
  } else if (!strcmp(a, "--log-level")) {
    sl_log_level level;
    if (!(v = take_value(argc, argv, i)))
      return -1;
    if (sl_log_parse_level(v, &level)) {
      fprintf(stderr, "sluice: --log-level is error, warn, info or debug, not '%s'\n", v);
      return -1;
    }
    o->log_level = (int)level;
  } else if (!strcmp(a, "--log-format")) {
    if (!(v = take_value(argc, argv, i)))
      return -1;
    if (strcmp(v, "text") && strcmp(v, "json")) {
      fprintf(stderr, "sluice: --log-format is text or json, not '%s'\n", v);
      return -1;
    }
    o->log_json = !strcmp(v, "json");
  } else if (!strcmp(a, "--metrics")) {
    char host[256], why[512];
    int port;
    if (!(o->metrics = take_value(argc, argv, i)))
      return -1;
    if (sl_metrics_parse_addr(o->metrics, host, sizeof host, &port, why, sizeof why)) {
      fprintf(stderr, "sluice: %s\n", why);
      return -1;
    }
  } else if (!strcmp(a, "--parallelism")) {
    if (!(v = take_value(argc, argv, i)))
      return -1;
    if (!strcmp(v, "auto")) {
      long cores = sysconf(_SC_NPROCESSORS_ONLN);
      n = cores > 0 ? cores : 1;
    } else if (parse_number(a, v, 1, &n)) {
      return -1;
    }
    if (n > SL_MAX_PARALLELISM) {
      fprintf(stderr, "sluice: --parallelism %ld is more than %d\n", n, SL_MAX_PARALLELISM);
      return -1;
    }
    o->parallelism = n;
  } else {
    fprintf(stderr, "sluice: unknown option '%s' (see sluice --help)\n", a);
    return -1;
  }
  return 0;
}

int sl_cli_parse_run(int argc, char **argv, sl_run_options *o) {
  memset(o, 0, sizeof *o);
  o->checkpoint_interval_ms = 1000;
  o->max_line_bytes = 1u << 20;
  o->retain_checkpoints = 3;
  o->tcp_max_connections = 64;
  o->max_parallelism = SL_DEFAULT_MAX_PARALLELISM;
  o->parallelism = 1;
  o->log_level = SL_LOG_INFO;
  o->incremental = 1; /* a checkpoint costs what changed (issue 13); --full-checkpoints for whole ones */
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      o->script_args = argv + i + 1;
      o->nscript_args = argc - i - 1;
      break;
    }
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      sl_cli_print_help();
      return SL_CLI_EXIT_OK;
    }
    if (!strcmp(a, "-") || strncmp(a, "-", 1)) {
      if (o->script) {
        fprintf(stderr, "sluice: unexpected argument '%s' (script is '%s'; put script args after --)\n", a,
                o->script);
        return SL_CLI_USAGE;
      }
      o->script = a;
      continue;
    }
    if (parse_option(argc, argv, &i, o))
      return SL_CLI_USAGE;
  }
  if (!o->script) {
    fputs("sluice: run needs a SCRIPT (see sluice --help)\n", stderr);
    return SL_CLI_USAGE;
  }
  if (o->parallelism > o->max_parallelism) {
    fprintf(stderr, "sluice: --parallelism %ld is more than --max-parallelism %ld (each subtask owns key groups)\n",
            o->parallelism, o->max_parallelism);
    return SL_CLI_USAGE;
  }
  return SL_CLI_RUN;
}
