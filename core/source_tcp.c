/* source_tcp.c — a TCP server of JSON lines. Each connection is its own line stream (a partial line of
 * one client never mixes with another's); records of all connections flow into the same pipeline.
 * TCP input cannot be rewound, so it is at-most-once across a crash (records read after the last commit
 * are lost), exactly-once across a graceful stop. The source ends only when the job is stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/source.h"
#include "core/stream_input.h"

#define READ_SIZE (64u * 1024)

typedef struct sl_tcp_conn {
  sl_input in; /* first: the handle's data is the conn and the sl_input at once (stream_input.h) */
  uv_tcp_t handle;
  sl_source *src;
  struct sl_tcp_conn *prev, *next; /* the source's open connections */
} sl_tcp_conn;

static void on_conn_closed(uv_handle_t *h) {
  sl_tcp_conn *c = h->data;
  if (c->prev)
    c->prev->next = c->next;
  else
    c->src->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  sl_line_reader_free(&c->in.reader);
  free(c->in.name);
  c->src->nconns--;
  free(c);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  sl_tcp_conn *c = st->data;
  (void)buf;
  if (!sl_input_on_read(&c->in, n))
    return;
  if (n != UV_EOF)
    sl_warn("%s: connection error: %s", c->in.name, uv_strerror((int)n));
  uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  sl_source *s = server->data;
  static unsigned long serial;
  if (status < 0) {
    sl_warn("%s: accept failed: %s", s->in.name, uv_strerror(status));
    return;
  }
  sl_tcp_conn *c = calloc(1, sizeof *c);
  if (!c || sl_line_reader_init(&c->in.reader, s->in.rt->opts->max_line_bytes, READ_SIZE, 0, 0)) {
    free(c);
    sl_error("%s: out of memory accepting a connection", s->in.name);
    return;
  }
  uv_tcp_init(server->loop, &c->handle);
  c->handle.data = c;
  c->src = s;
  c->in.rt = s->in.rt;
  c->in.source_index = s->in.source_index;
  size_t n = strlen(s->in.name) + 24;
  c->in.name = malloc(n);
  snprintf(c->in.name, n, "%s#%lu", s->in.name, ++serial);
  s->nconns++;
  c->next = s->conns;
  if (c->next)
    c->next->prev = c;
  s->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->handle) != 0 ||
      uv_read_start((uv_stream_t *)&c->handle, sl_input_alloc_cb, on_read) != 0)
    uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

int sl_source_tcp_open(sl_source *s, char *err, size_t errlen) {
  size_t n = strlen(s->ep.host) + 32;
  s->in.name = malloc(n);
  snprintf(s->in.name, n, "tcp:%s:%d", s->ep.host, s->ep.port);
  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(s->ep.host, s->ep.port, (struct sockaddr_in *)&addr);
  if (rc)
    rc = uv_ip6_addr(s->ep.host, s->ep.port, (struct sockaddr_in6 *)&addr);
  if (rc == 0)
    rc = uv_tcp_init(s->in.rt->loop, &s->server);
  if (rc == 0) {
    s->handles_open = 1;
    s->server.data = s;
    rc = uv_tcp_bind(&s->server, (struct sockaddr *)&addr, 0);
  }
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->server, 128, on_connection);
  if (rc) {
    snprintf(err, errlen, "cannot listen on %s: %s", s->in.name, uv_strerror(rc));
    return -1;
  }
  sl_info("listening on %s", s->in.name);
  return 0;
}

int sl_source_tcp_start(sl_source *s) {
  (void)s;
  return 0; /* listening since open */
}

void sl_source_tcp_close(sl_source *s, uv_close_cb done) {
  for (sl_tcp_conn *c = s->conns; c; c = c->next) {
    if (!uv_is_closing((uv_handle_t *)&c->handle)) {
      uv_read_stop((uv_stream_t *)&c->handle);
      sl_runtime_consume(c->in.rt, &c->in, 1);
      uv_close((uv_handle_t *)&c->handle, on_conn_closed);
    }
  }
  if (s->handles_open && !uv_is_closing((uv_handle_t *)&s->server))
    uv_close((uv_handle_t *)&s->server, done);
}
