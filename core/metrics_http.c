/* metrics_http.c — the status endpoints over libmicrohttpd (see metrics_http.h). Each request renders the
 * registry afresh into a buffer that the response then owns; nothing is cached between requests. */
#include "core/metrics_http.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/metrics_json.h"
#include "core/metrics_prom.h"
#include "core/metrics_report.h"

/* The status page (core/status_page.html, embedded at build time by core/embed_file.cmake). */
extern const char sl_status_page[];
extern const size_t sl_status_page_len;

struct sl_metrics_server {
  struct MHD_Daemon *d;
  const sl_metrics *m;
  int fd;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, sl_buf *body) {
  if (body->oom) {
    sl_buf_free(body);
    return MHD_NO; /* out of memory: the connection is dropped */
  }
  struct MHD_Response *r = MHD_create_response_from_buffer(body->len, body->data, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    sl_buf_free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  enum MHD_Result rc = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size,
                                  void **state) {
  sl_metrics_server *s = cls;
  (void)version;
  (void)upload;
  (void)upload_size;
  (void)state;
  sl_buf b;
  sl_buf_init(&b);
  if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
    sl_buf_put(&b, "only GET\n", 9);
    return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", &b);
  }
  unsigned long long now = sl_metrics_now_ms();
  if (!strcmp(url, "/metrics")) {
    sl_metrics_render_prom(s->m, &b, sl_metrics_rss_bytes(), now);
    return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
  }
  if (!strcmp(url, "/metrics.json")) {
    sl_metrics_render_json(s->m, &b, sl_metrics_rss_bytes(), now);
    return reply(c, MHD_HTTP_OK, "application/json", &b);
  }
  if (!strcmp(url, "/status")) {
    sl_metrics_render_status(s->m, &b, sl_metrics_rss_bytes(), now);
    return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", &b);
  }
  if (!strcmp(url, "/")) {
    sl_buf_put(&b, sl_status_page, sl_status_page_len);
    return reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", &b);
  }
  sl_buf_put(&b, "not found: try /, /metrics, /metrics.json or /status\n", 53);
  return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", &b);
}

sl_metrics_server *sl_metrics_server_start(const sl_metrics *m, int fd, char *err, size_t errlen) {
  sl_metrics_server *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->m = m;
  s->fd = fd;
  /* One polling thread (the figures are cheap to render; a scrape a second is the expected load), a
   * timeout so an idle client cannot hold a connection, and a cap on connections. */
  s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC, 0, NULL, NULL,
                          on_request, s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                          MHD_OPTION_CONNECTION_LIMIT, 32u, MHD_OPTION_END);
  if (!s->d) {
    snprintf(err, errlen, "cannot start the HTTP server (libmicrohttpd)");
    close(fd);
    free(s);
    return NULL;
  }
  return s;
}

void sl_metrics_server_stop(sl_metrics_server *s) {
  if (!s)
    return;
  /* Quiesced first, the daemon gives the socket back instead of closing it: it is closed here, once. */
  MHD_quiesce_daemon(s->d);
  MHD_stop_daemon(s->d);
  close(s->fd);
  free(s);
}
