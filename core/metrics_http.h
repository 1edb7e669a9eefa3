/* metrics_http.h — serves the registry over HTTP with libmicrohttpd (its own thread per server):
 *   GET /metrics       the Prometheus text format (core/metrics_prom.h)
 *   GET /metrics.json  the same figures as one JSON object (core/metrics_json.h)
 *   GET /status        the report `sluice status` prints (core/metrics_report.h)
 *   GET /              the status page (core/status_page.html), which polls /metrics.json
 * on a listening socket the caller made (core/metrics_listen.h): TCP for --metrics, the state dir's unix
 * socket for `sluice status`. The server only reads the registry (relaxed atomic loads), never the
 * runtime. Stop it before the registry is freed. */
#ifndef SLUICE_METRICS_HTTP_H
#define SLUICE_METRICS_HTTP_H

#include <stddef.h>

#include "core/metrics.h"

typedef struct sl_metrics_server sl_metrics_server;

/* Serves m on listening socket fd (the server owns it from now on, also on failure). NULL with err. */
sl_metrics_server *sl_metrics_server_start(const sl_metrics *m, int fd, char *err, size_t errlen);
/* Stops the server's thread, closes its socket and frees it (NULL: nothing). */
void sl_metrics_server_stop(sl_metrics_server *s);

#endif
