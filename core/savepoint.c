/* savepoint.c — the `sluice savepoint` and `sluice checkpoints` commands, and the job's side of a savepoint
 * request (see savepoint.h). */
#include "core/savepoint.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/checkpoint_meta.h"
#include "state/state_snapshot.h"

int sl_savepoint_take_request(const char *state_dir, char *path, size_t len) {
  char req[4200];
  snprintf(req, sizeof req, "%s/savepoint.request", state_dir);
  FILE *f = fopen(req, "re");
  if (!f)
    return -1;
  int ok = fgets(path, (int)len, f) != NULL;
  fclose(f);
  unlink(req);
  if (!ok)
    return -1;
  path[strcspn(path, "\n")] = '\0';
  return path[0] ? 0 : -1;
}

long sl_state_dir_job_pid(const char *state_dir) {
  char lock[4200];
  long pid = 0;
  snprintf(lock, sizeof lock, "%s/lock", state_dir);
  FILE *f = fopen(lock, "re");
  if (f) {
    if (fscanf(f, "%ld", &pid) != 1)
      pid = 0;
    fclose(f);
  }
  return pid;
}

int sl_savepoint_command(int argc, char **argv) {
  if (argc < 1 || argc > 2) {
    fputs("usage: sluice savepoint STATE-DIR [PATH]\n", stderr);
    return 2;
  }
  const char *state_dir = argv[0];
  char target[PATH_MAX], req[4200], tmp[4200], meta[PATH_MAX + 16];
  if (argc == 2) {
    if (argv[1][0] == '/')
      snprintf(target, sizeof target, "%s", argv[1]);
    else {
      char cwd[PATH_MAX / 2];
      snprintf(target, sizeof target, "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", argv[1]);
    }
  } else {
    char real[PATH_MAX / 2];
    if (!realpath(state_dir, real)) {
      fprintf(stderr, "sluice: no state dir '%s': %s\n", state_dir, strerror(errno));
      return 2;
    }
    snprintf(target, sizeof target, "%s/savepoints/sp-%" PRIu64, real, sl_now_ms());
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s/savepoints", real);
    mkdir(parent, 0755);
  }
  long pid = sl_state_dir_job_pid(state_dir);
  if (pid <= 0 || kill((pid_t)pid, 0) != 0) {
    fprintf(stderr, "sluice: no job is running on '%s'\n", state_dir);
    return 2;
  }
  snprintf(req, sizeof req, "%s/savepoint.request", state_dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", req);
  FILE *f = fopen(tmp, "we");
  if (!f || fprintf(f, "%s\n", target) < 0 || fclose(f) != 0 || rename(tmp, req) != 0) {
    fprintf(stderr, "sluice: cannot write %s: %s\n", req, strerror(errno));
    return 1;
  }
  kill((pid_t)pid, SIGUSR1);
  snprintf(meta, sizeof meta, "%s/_metadata", target);
  for (int i = 0; i < 600; i++) { /* up to 60 s */
    if (access(meta, F_OK) == 0) {
      printf("%s\n", target);
      return 0;
    }
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  fprintf(stderr, "sluice: the job did not write the savepoint within 60 s\n");
  return 1;
}

int sl_checkpoints_command(int argc, char **argv) {
  if (argc != 1) {
    fputs("usage: sluice checkpoints STATE-DIR\n", stderr);
    return 2;
  }
  char dir[4200], chk[4300], snap[4400], err[512];
  uint64_t *ids;
  snprintf(dir, sizeof dir, "%s/checkpoints", argv[0]);
  int n = sl_checkpoint_list(dir, &ids);
  if (n < 0) {
    fprintf(stderr, "sluice: cannot list %s: %s\n", dir, strerror(errno));
    return 2;
  }
  printf("%-8s %-24s %12s %10s %12s %11s %13s  %s\n", "id", "time (UTC)", "bytes", "entries", "duration_ms",
         "barrier_ms", "alignment_ms", "status");
  for (int i = 0; i < n; i++) {
    sl_checkpoint_meta m;
    snprintf(chk, sizeof chk, "%s/chk-%020" PRIu64, dir, ids[i]);
    if (sl_checkpoint_meta_read(chk, &m, err, sizeof err)) {
      printf("%-8" PRIu64 " %-24s %12s %10s %12s %11s %13s  incomplete (%s)\n", ids[i], "-", "-", "-", "-",
             "-", "-", err);
      continue;
    }
    snprintf(snap, sizeof snap, "%s/%s", chk, m.base_id == m.id ? "state.snap" : "delta.snap");
    int ok = sl_snapshot_verify(snap, err, sizeof err) == 0;
    char when[32];
    time_t t = (time_t)(m.time_ms / 1000);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    printf("%-8" PRIu64 " %-24s %12" PRIu64 " %10" PRIu64 " %12" PRIu64 " %11" PRIu64 " %13" PRIu64
           "  %s%s\n",
           m.id, when, m.snapshot_bytes, m.snapshot_entries, m.duration_ms, m.barrier_ms, m.alignment_ms,
           ok ? (m.base_id == m.id ? "complete" : "complete (delta)") : "corrupt: ", ok ? "" : err);
  }
  free(ids);
  return 0;
}
