/* main.c — the `sluice` command: dispatches subcommands. */
#include <stdio.h>
#include <string.h>

#include "core/cli.h"
#include "core/kafka_group.h"
#include "core/log.h"
#include "core/reload.h"
#include "core/parallel/job.h"
#include "core/runtime.h"
#include "core/savepoint.h"
#include "core/state_inspect.h"
#include "core/status_command.h"
#include "core/test_command.h"

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    sl_cli_print_help();
    return argc < 2 ? 2 : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("sluice %s\n", SLUICE_VERSION);
    return 0;
  }
  if (!strcmp(argv[1], "run")) {
    sl_run_options o;
    int rc = sl_cli_parse_run(argc - 2, argv + 2, &o);
    if (rc != SL_CLI_RUN)
      return rc == SL_CLI_EXIT_OK ? 0 : 2;
    sl_log_set_level((sl_log_level)o.log_level);
    sl_log_set_json(o.log_json);
    return o.parallelism > 1 ? sl_job_run(&o) : sl_runtime_run(&o);
  }
  if (!strcmp(argv[1], "group")) /* scale-out through a Kafka consumer group: core/kafka_group.c */
    return sl_group_command(argc - 2, argv + 2);
  if (!strcmp(argv[1], "savepoint"))
    return sl_savepoint_command(argc - 2, argv + 2);
  if (!strcmp(argv[1], "reload")) /* hot reload on request: core/reload.c */
    return sl_reload_command(argc - 2, argv + 2);
  if (!strcmp(argv[1], "status")) /* what a running job is doing: core/status_command.c */
    return sl_status_command(argc - 2, argv + 2);
  if (!strcmp(argv[1], "checkpoints"))
    return sl_checkpoints_command(argc - 2, argv + 2);
  if (!strcmp(argv[1], "state")) /* read-only state inspection: core/state_inspect.c */
    return sl_state_command(argc - 2, argv + 2);
  if (!strcmp(argv[1], "test")) /* users' specs of their jobs: core/test_command.c */
    return sl_test_command(argc - 2, argv + 2);
  fprintf(stderr, "sluice: unknown command '%s' (see sluice --help)\n", argv[1]);
  return 2;
}
