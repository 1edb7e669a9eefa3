/* source_tcp.c — a TCP server of JSON lines. Each connection is its own line stream (a partial line of
 * one client never mixes with another's); records of all connections flow into the same pipeline.
 * TCP input cannot be rewound, so it is at-most-once across a crash (records read after the last commit
 * are lost), exactly-once across a graceful stop. The source ends only when the job is stopped.
 *
 * Limits, so that clients cannot make the job hold memory without bound. Every read is processed before
 * the next one (stream_input.h), so what a connection holds between reads is only its partial last line.
 *   - At most --tcp-max-connections open connections: one more is accepted and closed at once, with one
 *     warning naming the peer (accepting it is what keeps the listen queue moving).
 *   - At most --tcp-max-buffer-bytes unprocessed bytes per connection: reads are sized so that the buffer
 *     never holds more than that plus one byte, and a partial line that reaches one byte over is dropped
 *     (counted as rejected) and its connection closed, with one warning naming the peer — as Redis closes
 *     a client over its query-buffer limit. A line over --max-line-bytes (when that is the smaller limit)
 *     is rejected as for every source and the connection stays open.
 * The address is the job's (sluice.source.tcp's host, default 127.0.0.1); any other than a loopback one
 * is warned about, since anyone who can connect can then feed the job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/source_kind.h"
#include "core/stream_input.h"

#define READ_SIZE (64u * 1024)

/* The server: a listening handle and its open connections. */
typedef struct sl_tcp_source {
  sl_source base; /* first (source_kind.h) */
  uv_tcp_t server;
  int server_open; /* server was initialised: it must be closed */
  int nconns;
  struct sl_tcp_conn *conns;
  unsigned long serial; /* connections accepted so far (their names' #N) */
} sl_tcp_source;

static sl_tcp_source *tcp_src(sl_source *s) {
  return (sl_tcp_source *)s;
}

typedef struct sl_tcp_conn {
  sl_input in; /* first: the handle's data is the conn and the sl_input at once (stream_input.h) */
  uv_tcp_t handle;
  sl_source *src;
  struct sl_tcp_conn *prev, *next; /* the source's open connections */
  char peer[64];                   /* "ADDR:PORT" of the client, for messages */
} sl_tcp_conn;

/* The most unprocessed bytes a connection may hold. */
static size_t buffer_cap(const sl_runtime *rt) {
  return rt->opts->tcp_max_buffer_bytes ? rt->opts->tcp_max_buffer_bytes : rt->opts->max_line_bytes;
}

/* The client's address as "ADDR:PORT" ("[ADDR]:PORT" for IPv6), or "unknown peer". */
static void peer_name(const uv_tcp_t *h, char *out, size_t len) {
  struct sockaddr_storage sa;
  int salen = sizeof sa;
  char ip[INET6_ADDRSTRLEN] = "";
  if (uv_tcp_getpeername(h, (struct sockaddr *)&sa, &salen) != 0) {
    snprintf(out, len, "unknown peer");
  } else if (sa.ss_family == AF_INET6) {
    uv_ip6_name((const struct sockaddr_in6 *)&sa, ip, sizeof ip);
    snprintf(out, len, "[%s]:%d", ip, ntohs(((const struct sockaddr_in6 *)&sa)->sin6_port));
  } else {
    uv_ip4_name((const struct sockaddr_in *)&sa, ip, sizeof ip);
    snprintf(out, len, "%s:%d", ip, ntohs(((const struct sockaddr_in *)&sa)->sin_port));
  }
}

static void on_conn_closed(uv_handle_t *h) {
  sl_tcp_conn *c = h->data;
  if (c->prev)
    c->prev->next = c->next;
  else
    tcp_src(c->src)->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  sl_line_reader_free(&c->in.reader);
  free(c->in.name);
  tcp_src(c->src)->nconns--;
  free(c);
}

static void free_handle(uv_handle_t *h) {
  free(h);
}

/* Hands libuv the reader's free space, but never more than keeps the connection within its cap + 1. */
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  sl_tcp_conn *c = h->data;
  size_t held = c->in.reader.len - c->in.reader.start, cap = buffer_cap(c->in.rt);
  sl_input_alloc_cb(h, suggested, buf);
  if (buf->len > cap + 1 - held)
    buf->len = cap + 1 - held;
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf) {
  sl_tcp_conn *c = st->data;
  (void)buf;
  if (!sl_input_on_read(&c->in, n)) {
    /* Every complete line is processed by now: what is left is one partial line. */
    size_t held = c->in.reader.len - c->in.reader.start, cap = buffer_cap(c->in.rt);
    if (held <= cap || uv_is_closing((uv_handle_t *)&c->handle))
      return;
    c->in.rt->stats.records_in++;
    c->in.rt->stats.errors++;
    sl_warn("%s (from %s): a line over %zu bytes without a newline (--tcp-max-buffer-bytes); it is dropped "
            "and the connection closed",
            c->in.name, c->peer, cap);
    uv_read_stop(st);
    uv_close((uv_handle_t *)&c->handle, on_conn_closed);
    return;
  }
  if (n != UV_EOF)
    sl_warn("%s: connection error: %s", c->in.name, uv_strerror((int)n));
  uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

/* Over --tcp-max-connections: accepts the connection (to learn its peer, and so that libuv goes on
 * accepting) and closes it. */
static void refuse(uv_stream_t *server, sl_source *s) {
  uv_tcp_t *h = malloc(sizeof *h);
  char peer[64];
  if (!h || uv_tcp_init(server->loop, h) != 0) {
    free(h);
    sl_runtime_fail(s->in.rt, "%s: out of memory refusing a connection", s->in.name);
    return;
  }
  if (uv_accept(server, (uv_stream_t *)h) == 0) {
    peer_name(h, peer, sizeof peer);
    sl_warn("%s: connection from %s refused: %d connections are open (--tcp-max-connections)", s->in.name,
            peer, tcp_src(s)->nconns);
  }
  uv_close((uv_handle_t *)h, free_handle);
}

static void on_connection(uv_stream_t *server, int status) {
  sl_source *s = server->data;
  if (status < 0) {
    sl_warn("%s: accept failed: %s", s->in.name, uv_strerror(status));
    return;
  }
  if (tcp_src(s)->nconns >= s->in.rt->opts->tcp_max_connections) {
    refuse(server, s);
    return;
  }
  size_t n = strlen(s->in.name) + 24;
  sl_tcp_conn *c = calloc(1, sizeof *c);
  char *name = c ? malloc(n) : NULL;
  if (!name || sl_line_reader_init(&c->in.reader, s->in.rt->opts->max_line_bytes, READ_SIZE, 0, 0)) {
    free(name);
    free(c);
    sl_runtime_fail(s->in.rt, "%s: out of memory accepting a connection", s->in.name);
    return;
  }
  uv_tcp_init(server->loop, &c->handle); /* only sets the handle up: cannot fail */
  c->handle.data = c;
  c->src = s;
  c->in.rt = s->in.rt;
  c->in.source_index = s->in.source_index;
  c->in.name = name;
  snprintf(c->in.name, n, "%s#%lu", s->in.name, ++tcp_src(s)->serial);
  tcp_src(s)->nconns++;
  c->next = tcp_src(s)->conns;
  if (c->next)
    c->next->prev = c;
  tcp_src(s)->conns = c;
  /* A paused source (a parallel subtask's backpressure) accepts, and reads once resumed. */
  if (uv_accept(server, (uv_stream_t *)&c->handle) != 0 ||
      (!s->paused && uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read) != 0)) {
    uv_close((uv_handle_t *)&c->handle, on_conn_closed);
    return;
  }
  peer_name(&c->handle, c->peer, sizeof c->peer);
}

/* Whether addr is a loopback address (127.0.0.0/8, ::1). */
static int loopback(const struct sockaddr_storage *addr) {
  if (addr->ss_family == AF_INET)
    return (ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr) >> 24) == 127;
  static const unsigned char one[16] = {[15] = 1};
  return !memcmp(&((const struct sockaddr_in6 *)addr)->sin6_addr, one, sizeof one);
}

static int tcp_open(sl_source *s, char *err, size_t errlen) {
  size_t n = strlen(s->ep.host) + 32;
  if (!(s->in.name = malloc(n))) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  snprintf(s->in.name, n, "tcp:%s:%d", s->ep.host, s->ep.port);
  struct sockaddr_storage addr;
  int rc = uv_ip4_addr(s->ep.host, s->ep.port, (struct sockaddr_in *)&addr);
  if (rc)
    rc = uv_ip6_addr(s->ep.host, s->ep.port, (struct sockaddr_in6 *)&addr);
  if (rc == 0)
    rc = uv_tcp_init(s->in.rt->loop, &tcp_src(s)->server);
  if (rc == 0) {
    tcp_src(s)->server_open = 1;
    tcp_src(s)->server.data = s;
    rc = uv_tcp_bind(&tcp_src(s)->server, (struct sockaddr *)&addr, 0);
  }
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&tcp_src(s)->server, 128, on_connection);
  if (rc) {
    snprintf(err, errlen, "cannot listen on %s: %s", s->in.name, uv_strerror(rc));
    return -1;
  }
  const sl_run_options *o = s->in.rt->opts;
  sl_info("listening on %s (at most %ld connections, %zu unprocessed bytes each)", s->in.name,
          o->tcp_max_connections, buffer_cap(s->in.rt));
  if (!loopback(&addr))
    sl_warn("%s is not a loopback address: any host that can reach it can send records to this job",
            s->ep.host);
  return 0;
}

static int tcp_start(sl_source *s, char *err, size_t errlen) {
  (void)s, (void)err, (void)errlen;
  return 0; /* listening since open */
}

static void tcp_close(sl_source *s) {
  for (sl_tcp_conn *c = tcp_src(s)->conns; c; c = c->next) {
    if (!uv_is_closing((uv_handle_t *)&c->handle)) {
      uv_read_stop((uv_stream_t *)&c->handle);
      sl_runtime_consume(c->in.rt, &c->in, 1);
      uv_close((uv_handle_t *)&c->handle, on_conn_closed);
    }
  }
  if (tcp_src(s)->server_open && !uv_is_closing((uv_handle_t *)&tcp_src(s)->server))
    uv_close((uv_handle_t *)&tcp_src(s)->server, NULL);
}

/* A parallel subtask's backpressure and alignment: every open connection stops reading (TCP flow control
 * then stalls the clients), and reads on when resumed. */
static void tcp_pause(sl_source *s) {
  for (sl_tcp_conn *c = tcp_src(s)->conns; c; c = c->next)
    if (!uv_is_closing((uv_handle_t *)&c->handle))
      uv_read_stop((uv_stream_t *)&c->handle);
}

static void tcp_resume(sl_source *s) {
  for (sl_tcp_conn *c = tcp_src(s)->conns; c; c = c->next)
    if (!uv_is_closing((uv_handle_t *)&c->handle) &&
        uv_read_start((uv_stream_t *)&c->handle, on_alloc, on_read) != 0)
      uv_close((uv_handle_t *)&c->handle, on_conn_closed);
}

/* No save_offset: TCP cannot be rewound. Connections free themselves as they close; nothing to release. */
const sl_source_ops sl_source_tcp_ops = {sizeof(sl_tcp_source),
                                         tcp_open,
                                         tcp_start,
                                         NULL,
                                         tcp_close,
                                         NULL,
                                         tcp_pause,
                                         tcp_resume,
                                         NULL,
                                         NULL,
                                         NULL};
