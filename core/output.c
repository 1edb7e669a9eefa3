/* output.c — the sink facade (see output.h): opens the --output (or stdout) as its kind, and hands every
 * call to the kind's ops (core/sink_kind.h): sink_file.c for a regular file, sink_stream.c for stdout and
 * other streams, sink_kafka.c and sink_kafka_txn.c for a Kafka topic. */
#include "core/output.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sink_kafka.h"
#include "core/sink_kind.h"

int sl_output_open(sl_output *o, const sl_endpoint *ep, const char *pending_dir, char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  o->fd = 1;
  o->part_fd = -1;
  o->ops = &sl_sink_stream_ops;
  if (ep->kind == SL_EP_KAFKA)
    return sl_kafka_sink_open(o, ep, pending_dir, err, errlen);
  if (ep->kind != SL_EP_FILE)
    return 0;
  o->path = strdup(ep->path);
  if (!o->path) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* The output is the user's file, not the state dir's: it is created with the usual 0644 under the umask.
   * A FIFO blocks here until its reader opens it, as a shell redirection does. */
  int created = 1;
  o->fd = open(ep->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (o->fd < 0 && errno == EEXIST) {
    created = 0;
    o->fd = open(ep->path, O_WRONLY | O_CLOEXEC);
  }
  struct stat st;
  if (o->fd < 0 || fstat(o->fd, &st) != 0) {
    snprintf(err, errlen, "cannot open output '%s': %s", ep->path, strerror(errno));
    return -1;
  }
  /* /dev/null, a FIFO, a terminal, a socket: nothing to cut back or append to (sink_stream.c). */
  o->ops = S_ISREG(st.st_mode) ? &sl_sink_file_ops : &sl_sink_stream_ops;
  return o->ops->open ? o->ops->open(o, created, &st, pending_dir, err, errlen) : 0;
}

int sl_output_exactly_once(const sl_output *o) {
  return o->ops == &sl_sink_file_ops || o->ops == &sl_sink_kafka_txn_ops;
}

int sl_output_write(sl_output *o, sl_buf *buf, char *err, size_t errlen) {
  /* A buffer whose growth failed holds records with pieces missing: none of it may reach the output. */
  if (buf->oom) {
    snprintf(err, errlen, "out of memory encoding the output records");
    return -1;
  }
  if (buf->len == 0)
    return 0;
  if (o->ops->write(o, buf, err, errlen))
    return -1;
  o->part_len += buf->len;
  sl_buf_reset(buf);
  return 0;
}

int sl_output_rotate(sl_output *o, uint64_t next_id, uint64_t *part_id, uint64_t *part_len, char *err,
                     size_t errlen) {
  *part_id = o->part_id;
  *part_len = o->part_len;
  return o->ops->precommit(o, next_id, err, errlen);
}

int sl_output_sync_parts(const sl_output *o, uint64_t first, uint64_t last, uint32_t *crc) {
  *crc = 0;
  return o->ops->sync ? o->ops->sync(o, first, last, crc) : 0;
}

int sl_output_commit_parts(sl_output *o, uint64_t first, uint64_t last, uint64_t len, char *err,
                           size_t errlen) {
  return o->ops->commit ? o->ops->commit(o, first, last, len, err, errlen) : 0;
}

int sl_output_recover(sl_output *o, const sl_checkpoint_meta *m, uint64_t next_id, int overwrite, char *err,
                      size_t errlen) {
  return o->ops->recover ? o->ops->recover(o, m, next_id, overwrite, err, errlen) : 0;
}

int sl_output_start_parts(sl_output *o, uint64_t next_id, char *err, size_t errlen) {
  o->part_id = next_id;
  o->part_len = 0;
  return o->ops->start_parts ? o->ops->start_parts(o, next_id, err, errlen) : 0;
}

void sl_output_close(sl_output *o) {
  if (o->ops)
    o->ops->close(o);
  free(o->path);
  free(o->real_path);
  free(o->pending_dir);
  memset(o, 0, sizeof *o);
  o->fd = -1;
  o->part_fd = -1;
}
