/* status_command.h — `sluice status STATE-DIR [--json]`: what the job running on STATE-DIR is doing, read
 * from the job itself over STATE-DIR/status.sock (core/metrics_service.h): records in, out and rejected
 * with their rates, checkpoints, and each input's offset, % read and bytes behind (--json: the figures
 * of /metrics.json). Exit status 0; 1 when no job runs there; 2 for bad usage or no such state dir. */
#ifndef SLUICE_STATUS_COMMAND_H
#define SLUICE_STATUS_COMMAND_H

int sl_status_command(int argc, char **argv);

#endif
