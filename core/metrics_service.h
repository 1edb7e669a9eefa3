/* metrics_service.h — what a running job offers about itself: the registry of its figures
 * (core/metrics.h), served on STATE-DIR/status.sock always (for `sluice status`; any local user who may
 * enter the 0700 state dir, i.e. its owner) and on --metrics [HOST:]PORT when asked, whose bound address is
 * logged and written to STATE-DIR/metrics.addr while the job runs. The job side owns one (the runtime of a
 * job alone, or a parallel job's coordinator); its runtimes publish into the registry. */
#ifndef SLUICE_METRICS_SERVICE_H
#define SLUICE_METRICS_SERVICE_H

#include <stddef.h>
#include <uv.h>

#include "core/metrics.h"
#include "core/metrics_http.h"
#include "core/progress.h"
#include "lua/lua_host.h"

typedef struct sl_metrics_service {
  sl_metrics *m;
  sl_metrics_server *tcp, *local;
  char addr_path[4200]; /* STATE-DIR/metrics.addr, "" when not written */
  char sock_path[4200]; /* STATE-DIR/status.sock, "" when not made */
  sl_progress progress; /* the line on a terminal (core/progress.h) */
} sl_metrics_service;

/* For job d at ntasks subtasks on state_dir: the registry, the unix socket, the progress line on loop
 * (unless quiet or stderr is no terminal) and, when metrics_spec is not NULL, the TCP endpoint. 0, or -1 with
 * the reason in err: --metrics could not be served (the job must not start: exit status 2). A unix socket
 * that cannot be made is a warning (the job runs; `sluice status` will not find it). */
int sl_metrics_service_start(sl_metrics_service *s, const sl_job_desc *d, unsigned ntasks,
                             const char *metrics_spec, const char *state_dir, uv_loop_t *loop, int quiet,
                             char *err, size_t errlen);
/* Stops serving, removes status.sock and metrics.addr, frees the registry (idempotent). The progress
 * line's timer is closing then: the caller runs the loop once more before closing it. */
void sl_metrics_service_stop(sl_metrics_service *s);

#endif
