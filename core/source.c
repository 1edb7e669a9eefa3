/* source.c — creates sources from the job description and dispatches to their kind (file/stdin, tcp). */
#include "core/source.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int sl_source_file_open(sl_source *s, char *err, size_t errlen);
int sl_source_file_start(sl_source *s, char *err, size_t errlen);
void sl_source_file_close(sl_source *s);
int sl_source_tcp_open(sl_source *s, char *err, size_t errlen);
int sl_source_tcp_start(sl_source *s);
void sl_source_tcp_close(sl_source *s, uv_close_cb done);

void sl_source_free(sl_source *s) {
  sl_line_reader_free(&s->in.reader);
  if (s->map)
    munmap(s->map, s->map_len);
  free(s->in.name);
  free(s->meta_key);
  free(s->stream);
  free(s);
}

static void on_server_closed(uv_handle_t *h) {
  sl_source *s = h->data;
  s->handles_open--;
}

sl_source *sl_source_open(sl_runtime *rt, int i, const sl_endpoint *ep, char *err, size_t errlen) {
  sl_source *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->in.rt = rt;
  s->in.source_index = i;
  s->ep = *ep;
  s->fd = -1;
  if (sl_line_reader_init(&s->in.reader, rt->opts->max_line_bytes, 1u << 20, 0, 0)) {
    snprintf(err, errlen, "out of memory");
    free(s);
    return NULL;
  }
  int rc = ep->kind == SL_EP_TCP ? sl_source_tcp_open(s, err, errlen) : sl_source_file_open(s, err, errlen);
  if (rc) {
    if (ep->kind == SL_EP_TCP && s->handles_open) {
      /* The handle must finish closing before its memory goes: one loop turn runs the close callback. */
      s->closed = 1;
      uv_close((uv_handle_t *)&s->server, on_server_closed);
      uv_run(rt->loop, UV_RUN_NOWAIT);
    } else if (s->fd > 0) {
      close(s->fd);
    }
    sl_source_free(s);
    return NULL;
  }
  return s;
}

int sl_source_start(sl_source *s, char *err, size_t errlen) {
  return s->ep.kind == SL_EP_TCP ? sl_source_tcp_start(s) : sl_source_file_start(s, err, errlen);
}

void sl_source_close(sl_source *s) {
  if (s->closed)
    return;
  s->closed = 1;
  if (s->ep.kind == SL_EP_TCP)
    sl_source_tcp_close(s, on_server_closed);
  else
    sl_source_file_close(s);
}
