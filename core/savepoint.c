/* savepoint.c — the `sluice savepoint` and `sluice checkpoints` commands (see savepoint.h for the request
 * protocol), and what the command and the job share: claiming a savepoint's directory, and the names in
 * STATE-DIR/savepoint-requests/. The job's side is in savepoint_job.c. */
#include "core/savepoint.h"

#include "core/disk_usage.h"
#include "core/kafka_offsets.h"
#include "core/state_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/state_dir_lock.h"
#include "state/state_snapshot.h"

#define POLL_MS 20

void sl_savepoint_request_path(const char *state_dir, const char *name, char *out, size_t len) {
  char dir[4200];
  sl_state_dir_path(state_dir, "savepoint-requests", dir, sizeof dir);
  if (name[0])
    snprintf(out, len, "%s/%s", dir, name);
  else
    snprintf(out, len, "%s", dir);
}

/* 1 when dir has no entry, 0 when it has one, -1 when it cannot be read. */
static int dir_is_empty(const char *dir) {
  DIR *d = opendir(dir);
  if (!d)
    return -1;
  struct dirent *e;
  int empty = 1;
  while (empty && (e = readdir(d)))
    empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
  closedir(d);
  return empty;
}

int sl_savepoint_claim_dir(const char *target, int *made, char *err, size_t errlen) {
  struct stat st;
  *made = 0;
  if (mkdir(target, 0700) == 0) {
    *made = 1;
    return 0;
  }
  if (errno == ENOENT) {
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", target);
    char *slash = strrchr(parent, '/');
    if (slash)
      *slash = '\0';
    snprintf(err, errlen, "cannot write a savepoint to '%s': directory '%s' does not exist", target,
             slash ? (parent[0] ? parent : "/") : ".");
    return -1;
  }
  if (errno != EEXIST) {
    snprintf(err, errlen, "cannot create savepoint directory '%s': %s", target, strerror(errno));
    return -1;
  }
  if (stat(target, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "refusing to write a savepoint to '%s': it exists and is not a directory", target);
    return -1;
  }
  int empty = dir_is_empty(target);
  if (empty == 1)
    return 0;
  if (empty < 0)
    snprintf(err, errlen, "cannot read '%s': %s", target, strerror(errno));
  else
    snprintf(err, errlen,
             "refusing to write a savepoint to '%s': it exists and is not empty (a savepoint never "
             "overwrites; choose a new path, or delete that one)",
             target);
  return -1;
}

/* The absolute path of a PATH given on the command line (the job's working directory is not ours). Its
 * parent must exist. 0, or -1 with the reason. */
static int absolute_target(const char *arg, char *out, size_t len, char *err, size_t errlen) {
  char path[PATH_MAX], real[PATH_MAX];
  snprintf(path, sizeof path, "%s", arg);
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/')
    path[--n] = '\0';
  char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  const char *parent = slash ? (slash == path ? "/" : path) : ".";
  if (slash && slash != path)
    *slash = '\0';
  if (!realpath(parent, real)) {
    if (errno == ENOENT)
      snprintf(err, errlen, "cannot write a savepoint to '%s': directory '%s' does not exist", arg, parent);
    else
      snprintf(err, errlen, "cannot write a savepoint to '%s': %s: %s", arg, parent, strerror(errno));
    return -1;
  }
  snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "", base);
  return 0;
}

/* A new directory STATE-DIR/savepoints/sp-<ms>[-N], made by us (never one another command made). */
static int default_target(const char *state_dir, char *out, size_t len, char *err, size_t errlen) {
  char real[PATH_MAX], parent[PATH_MAX + 16];
  if (!realpath(state_dir, real)) {
    snprintf(err, errlen, "no state dir '%s': %s", state_dir, strerror(errno));
    return -1;
  }
  sl_state_dir_path(real, "savepoints", parent, sizeof parent);
  if (mkdir(parent, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create '%s': %s", parent, strerror(errno));
    return -1;
  }
  uint64_t now = sl_now_ms();
  for (int i = 1; i < 1000; i++) {
    if (i == 1)
      snprintf(out, len, "%s/sp-%" PRIu64, parent, now);
    else
      snprintf(out, len, "%s/sp-%" PRIu64 "-%d", parent, now, i);
    if (mkdir(out, 0700) == 0)
      return 0;
    if (errno != EEXIST)
      break;
  }
  snprintf(err, errlen, "cannot create a savepoint directory in '%s': %s", parent, strerror(errno));
  return -1;
}

/* One request's files (see savepoint.h). */
typedef struct sp_request {
  char id[64];
  char req[4300], taken[4300], result[4300];
} sp_request;

static void request_name(const sp_request *r, const char *ext, char *out, size_t len, const char *dir) {
  snprintf(out, len, "%s/%s%s", dir, r->id, ext);
}

/* Creates ID.req (O_EXCL) holding the target. 0, or -1 with the reason. */
static int post_request(const char *state_dir, const char *target, sp_request *r, char *err, size_t errlen) {
  char dir[4200], line[PATH_MAX + 2];
  sl_savepoint_request_path(state_dir, "", dir, sizeof dir);
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
    return -1;
  }
  int n = snprintf(line, sizeof line, "%s\n", target);
  for (int attempt = 0; attempt < 100; attempt++) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(r->id, sizeof r->id, "%011lld%09ld-%ld", (long long)ts.tv_sec, ts.tv_nsec, (long)getpid());
    request_name(r, ".req", r->req, sizeof r->req, dir);
    request_name(r, ".taken", r->taken, sizeof r->taken, dir);
    request_name(r, ".result", r->result, sizeof r->result, dir);
    int fd = open(r->req, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
      continue;
    /* One write: the job reads a request only once its newline is there. */
    if (fd < 0 || write(fd, line, (size_t)n) != n || close(fd) != 0) {
      snprintf(err, errlen, "cannot write '%s': %s", r->req, strerror(errno));
      if (fd >= 0)
        unlink(r->req);
      return -1;
    }
    return 0;
  }
  snprintf(err, errlen, "cannot create a request in '%s'", dir);
  return -1;
}

/* Whether a request older than ours is waiting, or one is being served: then ours waits its turn. */
static int others_ahead(const char *state_dir, const sp_request *r) {
  char dir[4200];
  sl_savepoint_request_path(state_dir, "", dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  struct dirent *e;
  int ahead = 0;
  while (!ahead && (e = readdir(d))) {
    size_t n = strlen(e->d_name);
    ahead = (n > 6 && !strcmp(e->d_name + n - 6, ".taken")) ||
            (n > 4 && !strcmp(e->d_name + n - 4, ".req") && strcmp(e->d_name, r->id) < 0);
  }
  closedir(d);
  return ahead;
}

/* Reads ID.result: 1 with its line, 0 when there is none yet. */
static int read_answer(const sp_request *r, char *line, size_t len) {
  FILE *f = fopen(r->result, "re");
  if (!f)
    return 0;
  int ok = fgets(line, (int)len, f) != NULL;
  fclose(f);
  if (ok)
    line[strcspn(line, "\n")] = '\0';
  return ok;
}

enum { ANSWERED, JOB_GONE, NOT_TAKEN, NO_ANSWER };

/* Signals the job with pid `pid` (once it catches SIGUSR1: it may be starting) and waits for its answer,
 * probing its lock. ANSWERED with the line, or why not. */
static int await_answer(const char *state_dir, long pid, const sp_request *r, char *line, size_t len) {
  uint64_t start = sl_now_ms(), take_by = 0; /* 0: not signalled yet */
  for (;;) {
    if (read_answer(r, line, len))
      return ANSWERED;
    uint64_t now = sl_now_ms();
    long holder = 0;
    int gone;
    if (!take_by) {
      int rc = sl_state_dir_lock_signal(state_dir, pid, SIGUSR1);
      gone = rc < 0;
      if (rc == 0)
        take_by = now + SL_SAVEPOINT_TAKE_S * 1000;
    } else {
      gone = sl_state_dir_lock_probe(state_dir, &holder) != 1 || holder != pid;
    }
    if (gone)
      return read_answer(r, line, len) ? ANSWERED : JOB_GONE; /* it may have answered, then exited */
    if (take_by && access(r->req, F_OK) == 0 && now >= take_by) {
      if (!others_ahead(state_dir, r))
        return NOT_TAKEN;
      take_by = now + SL_SAVEPOINT_TAKE_S * 1000;
    }
    if (now - start >= (uint64_t)SL_SAVEPOINT_ANSWER_S * 1000)
      return NO_ANSWER;
    struct timespec ts = {0, POLL_MS * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* Asks job `pid` for the savepoint at target (claimed already) and reports the outcome. */
static int request_savepoint(const char *state_dir, long pid, const char *target) {
  char err[PATH_MAX + 256], line[PATH_MAX + 512];
  sp_request r;
  if (post_request(state_dir, target, &r, err, sizeof err)) {
    fprintf(stderr, "sluice: %s\n", err);
    return 1;
  }
  int status = 1;
  switch (await_answer(state_dir, pid, &r, line, sizeof line)) {
  case ANSWERED:
    if (!strncmp(line, "written ", 8)) {
      printf("%s\n", line + 8);
      status = 0;
    } else {
      fprintf(stderr, "sluice: savepoint %s\n", line);
    }
    break;
  case JOB_GONE:
    fprintf(stderr, "sluice: the job (pid %ld) stopped before %s\n", pid,
            access(r.req, F_OK) == 0 ? "taking the savepoint request" : "writing the savepoint");
    break;
  case NOT_TAKEN:
    fprintf(stderr, "sluice: the job (pid %ld) did not take the savepoint request within %d s\n", pid,
            SL_SAVEPOINT_TAKE_S);
    break;
  default:
    fprintf(stderr, "sluice: the job (pid %ld) did not write the savepoint within %d s\n", pid,
            SL_SAVEPOINT_ANSWER_S);
  }
  unlink(r.req);
  unlink(r.taken);
  unlink(r.result);
  return status;
}

int sl_savepoint_command(int argc, char **argv) {
  if (argc < 1 || argc > 2) {
    fputs("usage: sluice savepoint STATE-DIR [PATH]\n", stderr);
    return 2;
  }
  const char *state_dir = argv[0];
  char target[PATH_MAX], err[PATH_MAX + 256];
  long pid = 0;
  int held = sl_state_dir_lock_probe(state_dir, &pid);
  if (held < 0) {
    fprintf(stderr, "sluice: cannot probe '%s/lock': %s\n", state_dir, strerror(errno));
    return 2;
  }
  if (held == 0) {
    fprintf(stderr, "sluice: no job is running on '%s'\n", state_dir);
    return 2;
  }
  int made = 0;
  int rc = argc == 2 ? absolute_target(argv[1], target, sizeof target, err, sizeof err)
                     : default_target(state_dir, target, sizeof target, err, sizeof err);
  if (rc == 0 && argc == 2)
    rc = sl_savepoint_claim_dir(target, &made, err, sizeof err);
  else if (rc == 0)
    made = 1;
  if (rc) {
    fprintf(stderr, "sluice: %s\n", err);
    return 2;
  }
  int status = request_savepoint(state_dir, pid, target);
  if (status != 0 && made && rmdir(target) != 0 && errno == ENOTEMPTY) {
    /* The job stopped while writing it (on a failure it removes what it wrote). */
    char meta[PATH_MAX + 16];
    sl_checkpoint_file(target, SL_CHECKPOINT_METADATA, meta, sizeof meta);
    if (access(meta, F_OK) != 0)
      fprintf(stderr, "sluice: '%s' may hold part of a savepoint (it has no _metadata): delete it\n", target);
  }
  return status;
}

/* The state dir's disk use under the listing: what retention (--retain-checkpoints) and the chain's
 * compaction (a full checkpoint every 10) keep bounded, so a user can see that they do. */
static void print_disk_use(const char *state_dir, const char *checkpoints_dir, int ncheckpoints) {
  char pending[4200], savepoints[4200];
  sl_state_dir_path(state_dir, "pending", pending, sizeof pending);
  sl_state_dir_path(state_dir, "savepoints", savepoints, sizeof savepoints);
  uint64_t unreadable = 0;
  uint64_t total = sl_disk_usage(state_dir, &unreadable), chk = sl_disk_usage(checkpoints_dir, &unreadable),
           pend = sl_disk_usage(pending, &unreadable), sp = sl_disk_usage(savepoints, &unreadable);
  uint64_t rest = total - (chk + pend + sp <= total ? chk + pend + sp : total);
  char t[32], c[32], p[32], s[32], r[32];
  sl_format_bytes(total, t, sizeof t);
  sl_format_bytes(chk, c, sizeof c);
  sl_format_bytes(pend, p, sizeof p);
  sl_format_bytes(sp, s, sizeof s);
  sl_format_bytes(rest, r, sizeof r);
  printf("disk: %s%s in %s: %d checkpoints %s, working state %s, pending output %s, savepoints %s\n",
         unreadable ? "at least " : "", t, state_dir, ncheckpoints, c, r, p, s);
}

int sl_checkpoints_command(int argc, char **argv) {
  if (argc != 1) {
    fputs("usage: sluice checkpoints STATE-DIR\n", stderr);
    return 2;
  }
  char dir[4200], chk[4300], snap[4400], err[512];
  uint64_t *ids;
  sl_state_dir_path(argv[0], "checkpoints", dir, sizeof dir);
  int n = sl_checkpoint_list(dir, &ids);
  if (n < 0) {
    fprintf(stderr, "sluice: cannot list %s: %s\n", dir, strerror(errno));
    return 2;
  }
  printf("%-8s %-24s %-5s %12s %10s %5s %13s %12s %11s %13s  %s\n", "id", "time (UTC)", "kind", "bytes",
         "entries", "chain", "restore_bytes", "duration_ms", "barrier_ms", "alignment_ms", "status");
  for (int i = 0; i < n; i++) {
    sl_checkpoint_meta m;
    sl_checkpoint_dir(dir, ids[i], chk, sizeof chk);
    if (sl_checkpoint_meta_read(chk, &m, err, sizeof err)) {
      printf("%-8" PRIu64 " %-24s %-5s %12s %10s %5s %13s %12s %11s %13s  incomplete (%s)\n", ids[i], "-",
             "-", "-", "-", "-", "-", "-", "-", "-", err);
      continue;
    }
    int ok = 1;
    if (m.parallelism > 1) { /* a parallel job's: one snapshot per subtask */
      for (uint64_t t = 0; t < m.parallelism && ok; t++) {
        sl_checkpoint_task_file(chk, (unsigned)t, snap, sizeof snap);
        if (access(snap, F_OK) != 0 && m.base_id != m.id) /* this subtask's delta */
          sl_checkpoint_task_delta_file(chk, (unsigned)t, snap, sizeof snap);
        ok = sl_snapshot_verify(snap, err, sizeof err) == 0;
      }
    } else {
      sl_checkpoint_file(chk, m.base_id == m.id ? SL_CHECKPOINT_SNAPSHOT : SL_CHECKPOINT_DELTA, snap,
                         sizeof snap);
      ok = sl_snapshot_verify(snap, err, sizeof err) == 0;
    }
    char tasks[48] = "";
    if (m.parallelism > 1)
      snprintf(tasks, sizeof tasks, " (%" PRIu64 " subtasks)", m.parallelism);
    char when[32];
    time_t t = (time_t)(m.time_ms / 1000);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    /* What a restore of this one reads: its chain, from the full checkpoint it is based on. */
    uint64_t chain = m.id - m.base_id + 1, restore = 0;
    for (uint64_t id = m.base_id; id <= m.id; id++) {
      sl_checkpoint_meta link;
      char ldir[4300], lerr[256];
      sl_checkpoint_dir(dir, id, ldir, sizeof ldir);
      if (sl_checkpoint_meta_read(ldir, &link, lerr, sizeof lerr) == 0)
        restore += link.snapshot_bytes;
    }
    printf("%-8" PRIu64 " %-24s %-5s %12" PRIu64 " %10" PRIu64 " %5" PRIu64 " %13" PRIu64 " %12" PRIu64
           " %11" PRIu64 " %13" PRIu64 "  %s%s\n",
           m.id, when, m.base_id == m.id ? "full" : "delta", m.snapshot_bytes, m.snapshot_entries, chain,
           restore, m.duration_ms, m.barrier_ms, m.alignment_ms,
           ok ? "complete" : "corrupt: ", ok ? tasks : err);
    /* Where a restore of it resumes a Kafka topic (core/kafka_offsets.h): read from its files alone. */
    if (ok && sl_kafka_offsets_list(chk, stdout, err, sizeof err))
      printf("    its Kafka offsets cannot be read: %s\n", err);
  }
  free(ids);
  print_disk_use(argv[0], dir, n);
  return 0;
}
