/* savepoint_job.c — the job's side of a savepoint request (see savepoint.h for the protocol): taking the
 * oldest request, one checkpoint per request, writing the savepoint on the checkpoint worker, and the
 * answer. Serving needs to wait for the checkpoint in flight, so it runs as a short-lived timer of its own,
 * started by each SIGUSR1: the runtime keeps no savepoint state besides the checkpointer's pending target. */
#include "core/savepoint.h"
#include "core/state_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/runtime.h"

#define SERVE_POLL_MS 5    /* how often a waiting request looks whether the checkpoint in flight is done */
#define SERVE_RETRY_MS 100 /* after a checkpoint that failed at its barrier */

/* Reads a request file: 0 with the target (the first line, which must be complete and absolute), 1 when
 * it is not complete yet, -1 when it cannot be read or is not a request. */
static int read_request(const char *path, char *target, size_t len) {
  FILE *f = fopen(path, "re");
  if (!f)
    return -1;
  int ok = fgets(target, (int)len, f) != NULL;
  fclose(f);
  if (!ok)
    return 1;
  size_t n = strcspn(target, "\n");
  if (target[n] != '\n')
    return 1;
  target[n] = '\0';
  return target[0] == '/' ? 0 : -1;
}

/* Writes ID.result for the request file `taken` (".../ID.taken") and removes it. */
static int write_answer(const char *taken, const char *target, const char *failure) {
  char result[4300], tmp[4300];
  size_t stem = strlen(taken) - strlen(".taken");
  snprintf(result, sizeof result, "%.*s.result", (int)stem, taken);
  snprintf(tmp, sizeof tmp, "%.*s.result.tmp", (int)stem, taken);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  FILE *f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    return -1;
  }
  int ok = (failure ? fprintf(f, "failed: %s\n", failure) : fprintf(f, "written %s\n", target)) > 0;
  if (fclose(f) != 0 || !ok || rename(tmp, result) != 0) {
    unlink(tmp);
    return -1;
  }
  unlink(taken);
  return 0;
}

/* Claims the oldest complete request (ID.req -> ID.taken): 0 with its target, 1 when none is waiting.
 * A request that is not one (no absolute path) is answered as failed and skipped. */
int sl_savepoint_take(const char *state_dir, char *target, size_t len) {
  char dir[4200], from[4300], to[4300];
  sl_savepoint_request_path(state_dir, "", dir, sizeof dir);
  for (;;) {
    DIR *d = opendir(dir);
    if (!d)
      return 1;
    char oldest[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
      size_t n = strlen(e->d_name);
      if (n < 5 || n >= sizeof oldest || strcmp(e->d_name + n - 4, ".req"))
        continue;
      snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
      if (read_request(from, target, len) == 1)
        continue; /* still being written: its own SIGUSR1 comes after */
      if (!oldest[0] || strcmp(e->d_name, oldest) < 0)
        snprintf(oldest, sizeof oldest, "%s", e->d_name);
    }
    closedir(d);
    if (!oldest[0])
      return 1;
    snprintf(from, sizeof from, "%s/%s", dir, oldest);
    snprintf(to, sizeof to, "%s/%.*s.taken", dir, (int)(strlen(oldest) - 4), oldest);
    if (rename(from, to) != 0)
      continue; /* its command gave up and removed it */
    int rc = read_request(to, target, len);
    if (rc == 0)
      return 0;
    write_answer(to, "", "the request names no absolute path");
  }
}

int sl_savepoint_answer(const char *state_dir, const char *target, const char *failure) {
  char dir[4200], path[4300], named[4096];
  int rc = 0;
  sl_savepoint_request_path(state_dir, "", dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT ? 0 : -1;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 7 || strcmp(e->d_name + n - 6, ".taken"))
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (read_request(path, named, sizeof named) == 0 && !strcmp(named, target) &&
        write_answer(path, target, failure))
      rc = -1;
  }
  closedir(d);
  return rc;
}

static void free_handle(uv_handle_t *h) {
  free(h);
}

/* One serving pass; it re-arms itself until no request is left. */
static void on_serve(uv_timer_t *t) {
  sl_runtime *rt = t->data;
  sl_checkpointer *c = &rt->ckpt;
  if (rt->stopping) {
    /* A taken request still pending goes with the final checkpoint; the others' commands see the lock
     * released. */
    uv_close((uv_handle_t *)t, free_handle);
    return;
  }
  if (c->in_flight) {
    uv_timer_start(t, on_serve, SERVE_POLL_MS, 0);
    return;
  }
  if (!c->pending_savepoint[0]) {
    if (sl_savepoint_take(rt->state_dir, c->pending_savepoint, sizeof c->pending_savepoint)) {
      uv_close((uv_handle_t *)t, free_handle);
      return;
    }
    sl_info("savepoint requested: %s", c->pending_savepoint);
  }
  /* Started: the barrier moved the target into the checkpoint; come back for the next request once it is
   * done. Failed at the barrier (logged there): the target is still pending, try again. */
  int rc = sl_checkpoint_trigger(c, SL_CHECKPOINT_ASYNC);
  uv_timer_start(t, on_serve, rc < 0 ? SERVE_RETRY_MS : SERVE_POLL_MS, 0);
}

void sl_savepoint_serve(sl_runtime *rt) {
  uv_timer_t *t = malloc(sizeof *t);
  int rc = t ? uv_timer_init(rt->loop, t) : UV_ENOMEM;
  if (rc == 0) {
    t->data = rt;
    rc = uv_timer_start(t, on_serve, 0, 0);
    if (rc)
      uv_close((uv_handle_t *)t, free_handle);
  } else {
    free(t);
  }
  if (rc)
    sl_warn("cannot serve a savepoint request: %s", uv_strerror(rc));
}

/* Copies the snapshot into a new file (O_EXCL, 0600) and fsyncs it. 0, or -1 with the reason. */
static int copy_new_file(const char *from, const char *to, char *err, size_t errlen) {
  char buf[1 << 16];
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    snprintf(err, errlen, "cannot read %s: %s", from, strerror(errno));
    return -1;
  }
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    snprintf(err, errlen, "cannot create %s: %s", to, strerror(errno));
    close(in);
    return -1;
  }
  ssize_t n;
  int rc = 0;
  while (rc == 0 && (n = read(in, buf, sizeof buf)) != 0) {
    if (n < 0 || write(out, buf, (size_t)n) != n)
      rc = -1;
  }
  if (rc == 0 && fsync(out) != 0)
    rc = -1;
  if (rc)
    snprintf(err, errlen, "copying %s to %s: %s", from, to, strerror(errno ? errno : EIO));
  close(in);
  if (close(out) != 0 && rc == 0) {
    snprintf(err, errlen, "writing %s: %s", to, strerror(errno));
    rc = -1;
  }
  if (rc)
    unlink(to);
  return rc;
}

int sl_savepoint_write(const char *target, const char *snapshot, const sl_checkpoint_meta *m, char *err,
                       size_t errlen) {
  const char *names[] = {SL_CHECKPOINT_SNAPSHOT};
  return sl_savepoint_write_files(target, &snapshot, names, 1, m, err, errlen);
}

int sl_savepoint_write_files(const char *target, const char *const *from, const char *const *names, int n,
                             const sl_checkpoint_meta *m, char *err, size_t errlen) {
  char snap[4200], meta[4200], parent[4200];
  int made, copied = 0;
  if (sl_savepoint_claim_dir(target, &made, err, errlen))
    return -1;
  sl_checkpoint_file(target, SL_CHECKPOINT_METADATA, meta, sizeof meta);
  for (; copied < n; copied++) {
    sl_checkpoint_file(target, names[copied], snap, sizeof snap);
    if (copy_new_file(from[copied], snap, err, errlen))
      goto failed;
  }
  sl_checkpoint_meta sm = *m;
  sm.savepoint = 1;
  /* The metadata is written last, as in a checkpoint: a savepoint is complete exactly when it exists. */
  if (sl_checkpoint_meta_write(target, &sm, err, errlen))
    goto failed;
  if (chmod(meta, 0600) != 0) {
    snprintf(err, errlen, "chmod %s: %s", meta, strerror(errno));
    unlink(meta);
    goto failed;
  }
  snprintf(parent, sizeof parent, "%s", target);
  char *slash = strrchr(parent, '/');
  if (slash && slash != parent)
    *slash = '\0';
  sl_fsync_dir(parent); /* the new directory's entry; the savepoint itself is durable already */
  return 0;
failed:
  for (int i = 0; i < copied; i++) {
    sl_checkpoint_file(target, names[i], snap, sizeof snap);
    unlink(snap);
  }
  if (made)
    rmdir(target);
  return -1;
}
