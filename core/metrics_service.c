/* metrics_service.c — a job's status endpoints (see metrics_service.h). */
#include "core/metrics_service.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fd_write.h"
#include "core/log.h"
#include "core/metrics_listen.h"
#include "core/state_dir.h"
#include "state/file_modes.h"

static void source_name(const sl_endpoint *ep, char *out, size_t len) {
  if (ep->kind == SL_EP_STDIN)
    snprintf(out, len, "stdin");
  else if (ep->kind == SL_EP_TCP)
    snprintf(out, len, "tcp:%s:%d", ep->host ? ep->host : "", ep->port);
  else if (ep->kind == SL_EP_KAFKA)
    snprintf(out, len, "kafka:%s", ep->topic ? ep->topic : "");
  else
    snprintf(out, len, "%s", ep->path ? ep->path : "?");
}

static sl_metrics *new_registry(const sl_job_desc *d, unsigned ntasks) {
  char **names = calloc((size_t)d->nsources + 1, sizeof *names);
  int ok = names != NULL;
  for (int i = 0; ok && i < d->nsources; i++) {
    char name[4200];
    source_name(&d->sources[i], name, sizeof name);
    ok = (names[i] = strdup(name)) != NULL;
  }
  char kafka_sink[300];
  snprintf(kafka_sink, sizeof kafka_sink, "kafka:%s", d->sink.topic ? d->sink.topic : "");
  const char *sink = d->sink.kind == SL_EP_FILE && d->sink.path ? d->sink.path
                     : d->sink.kind == SL_EP_KAFKA              ? kafka_sink
                                                                : "stdout";
  sl_metrics *m =
      ok ? sl_metrics_new(d->name, sink, d->event_time, ntasks, (const char *const *)names, d->nsources)
         : NULL;
  if (m && sl_metrics_set_operators(m, d->uids, d->nuids)) {
    sl_metrics_free(m);
    m = NULL;
  }
  for (int i = 0; names && i < d->nsources; i++)
    free(names[i]);
  free(names);
  return m;
}

/* STATE-DIR/metrics.addr: the address and a newline, written whole (a reader sees all of it or none). */
static int write_addr(const char *path, const char *addr, char *err, size_t errlen) {
  char tmp[4300], line[300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int n = snprintf(line, sizeof line, "%s\n", addr);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, SL_STATE_FILE_MODE);
  if (fd < 0 || sl_write_all(fd, line, (size_t)n) || close(fd) || rename(tmp, path)) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    if (fd >= 0)
      unlink(tmp);
    return -1;
  }
  return 0;
}

static int start_tcp(sl_metrics_service *s, const char *spec, const char *state_dir, char *err,
                     size_t errlen) {
  char bound[300];
  int fd = sl_metrics_listen_tcp(spec, bound, sizeof bound, err, errlen);
  if (fd < 0)
    return -1;
  if (!(s->tcp = sl_metrics_server_start(s->m, fd, err, errlen)))
    return -1;
  sl_state_dir_path(state_dir, SL_STATE_DIR_METRICS_ADDR, s->addr_path, sizeof s->addr_path);
  if (write_addr(s->addr_path, bound, err, errlen)) {
    s->addr_path[0] = '\0';
    return -1;
  }
  sl_info("metrics on http://%s/metrics", bound);
  return 0;
}

int sl_metrics_service_start(sl_metrics_service *s, const sl_job_desc *d, unsigned ntasks,
                             const char *metrics_spec, const char *state_dir, uv_loop_t *loop, int quiet,
                             char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  if (!(s->m = new_registry(d, ntasks))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  if (metrics_spec && start_tcp(s, metrics_spec, state_dir, err, errlen))
    return -1;
  char why[4400];
  int fd = sl_metrics_listen_unix(state_dir, SL_STATE_DIR_STATUS_SOCKET, why, sizeof why);
  if (fd >= 0 && (s->local = sl_metrics_server_start(s->m, fd, why, sizeof why)))
    sl_state_dir_path(state_dir, SL_STATE_DIR_STATUS_SOCKET, s->sock_path, sizeof s->sock_path);
  else
    sl_warn("%s; `sluice status` will not see this job", why);
  sl_progress_start(&s->progress, loop, s->m, quiet);
  return 0;
}

void sl_metrics_service_stop(sl_metrics_service *s) {
  sl_progress_stop(&s->progress);
  sl_metrics_server_stop(s->tcp);
  sl_metrics_server_stop(s->local);
  s->tcp = s->local = NULL;
  if (s->addr_path[0])
    unlink(s->addr_path);
  if (s->sock_path[0])
    unlink(s->sock_path);
  s->addr_path[0] = s->sock_path[0] = '\0';
  sl_metrics_free(s->m);
  s->m = NULL;
}
