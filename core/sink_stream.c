/* sink_stream.c — the sink for stdout and for an --output that is not a regular file (/dev/null, a FIFO, a
 * terminal, a socket): records are written after each batch, as they come. There is nothing to cut back or
 * to append to after a crash, so records after the last checkpoint are written again: at-least-once. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fd_write.h"
#include "core/sink_kind.h"

/* Subtasks of a parallel job write to the one stream from several threads: a buffer holds whole records,
 * and the lock keeps each buffer whole on the stream (a pipe splits writes above PIPE_BUF). */
static pthread_mutex_t stream_lock = PTHREAD_MUTEX_INITIALIZER;

static int stream_write(sl_output *o, const sl_buf *buf, char *err, size_t errlen) {
  pthread_mutex_lock(&stream_lock);
  int rc = sl_write_all(o->fd, buf->data, buf->len);
  pthread_mutex_unlock(&stream_lock);
  if (rc) {
    snprintf(err, errlen, "writing output '%s' failed: %s", o->path ? o->path : "stdout", strerror(errno));
    return -1;
  }
  return 0;
}

/* A checkpoint cuts nothing: the part counters only keep the coordinator's bookkeeping uniform. */
static int stream_precommit(sl_output *o, uint64_t next_id, char *err, size_t errlen) {
  (void)err, (void)errlen;
  o->part_id = next_id;
  o->part_len = 0;
  return 0;
}

static void stream_close(sl_output *o) {
  if (o->fd > 2)
    close(o->fd);
}

const sl_sink_ops sl_sink_stream_ops = {0, stream_write, stream_precommit, NULL, NULL, NULL, stream_close, NULL};
