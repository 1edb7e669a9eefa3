/* source.c — what every source shares: creation from the job description, the line reader and the name,
 * and dispatch to the source's kind (core/source_kind.h). */
#include "core/source_kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime.h"

static const sl_source_ops *kind_of(const sl_endpoint *ep) {
  switch (ep->kind) {
  case SL_EP_TCP:
    return &sl_source_tcp_ops;
  case SL_EP_STDIN:
    return &sl_source_stdin_ops;
  case SL_EP_KAFKA:
    return &sl_source_kafka_ops;
  default:
    return &sl_source_file_ops;
  }
}

int sl_source_forget_offset(sl_backend *b, const sl_endpoint *ep) {
  switch (ep->kind) {
  case SL_EP_FILE:
    return sl_file_source_forget_offset(b, ep);
  case SL_EP_KAFKA:
    return sl_kafka_source_forget_offset(b, ep);
  default: /* stdin and TCP save no resume point */
    return SL_STATE_OK;
  }
}

void sl_source_free(sl_source *s) {
  if (s->ops->release)
    s->ops->release(s);
  sl_line_reader_free(&s->in.reader);
  free(s->in.name);
  free(s);
}

sl_source *sl_source_open(sl_runtime *rt, int i, const sl_endpoint *ep, char *err, size_t errlen) {
  const sl_source_ops *ops = kind_of(ep);
  sl_source *s = calloc(1, ops->size);
  if (!s || sl_line_reader_init(&s->in.reader, rt->opts->max_line_bytes, 1u << 20, 0, 0)) {
    snprintf(err, errlen, "out of memory");
    free(s);
    return NULL;
  }
  s->ops = ops;
  s->in.rt = rt;
  s->in.source_index = i;
  s->ep = *ep;
  if (ops->open(s, err, errlen)) {
    /* What the kind opened must finish closing before its memory goes: one loop turn runs the close
     * callbacks (nothing else runs yet: the job has not started). */
    sl_source_close(s);
    uv_run(rt->loop, UV_RUN_NOWAIT);
    sl_source_free(s);
    return NULL;
  }
  return s;
}

int sl_source_start(sl_source *s, char *err, size_t errlen) {
  return s->ops->start(s, err, errlen);
}

int sl_source_save_offset(sl_source *s) {
  return s->ops->save_offset ? s->ops->save_offset(s) : 0;
}

void sl_source_checkpoint_complete(sl_source *s) {
  if (s->ops->checkpoint_complete)
    s->ops->checkpoint_complete(s);
}

int sl_source_can_pause(const sl_endpoint *ep) {
  return kind_of(ep)->pause != NULL;
}

void sl_source_pause(sl_source *s) {
  if (s->closed || s->paused || !s->ops->pause)
    return;
  s->paused = 1;
  s->ops->pause(s);
}

void sl_source_resume(sl_source *s) {
  if (s->closed || !s->paused)
    return;
  s->paused = 0;
  s->ops->resume(s);
}

void sl_source_close(sl_source *s) {
  if (s->closed)
    return;
  s->closed = 1;
  s->ops->close(s);
}

int sl_source_index(const sl_source *s) {
  return s->in.source_index;
}

int sl_source_get_partitions(sl_source *s, sl_source_partition *out, int max) {
  return s->ops->partitions ? s->ops->partitions(s, out, max) : 0;
}

void sl_source_get_progress(sl_source *s, sl_source_progress *p) {
  const sl_line_reader *r = &s->in.reader;
  memset(p, 0, sizeof *p);
  p->offset = r->offset;
  p->read = r->offset + (r->len - r->start);
  if (s->ops->progress)
    s->ops->progress(s, p);
}
