/* sink_kind.h — what a kind of sink implements (one file per kind: sink_file.c, sink_stream.c, and the Kafka
 * sink's sink_kafka.c and sink_kafka_txn.c), behind the facade of core/output.h.
 * The ops a kind does not need are NULL; output.c then does nothing for them. Only output.c and the sink_*.c
 * files include this header. */
#ifndef SLUICE_SINK_KIND_H
#define SLUICE_SINK_KIND_H

#include <stdint.h>
#include <sys/stat.h>

#include "core/output.h"

typedef struct sl_sink_ops {
  /* Takes the opened --output (o->fd, o->path; created: this run made the file). 0, or -1 with err. */
  int (*open)(sl_output *o, int created, const struct stat *st, const char *pending_dir, char *err,
              size_t errlen);
  /* Writes all of buf (not empty, never out of memory). 0, or -1 with err. */
  int (*write)(sl_output *o, const sl_buf *buf, char *err, size_t errlen);
  /* At a barrier: ends the output of checkpoint o->part_id and starts next_id's. 0, or -1 with err. */
  int (*precommit)(sl_output *o, uint64_t next_id, char *err, size_t errlen);
  /* On the checkpoint thread: makes checkpoints first..last's output durable, and its CRC. 0 or -1/errno. */
  int (*sync)(const sl_output *o, uint64_t first, uint64_t last, uint32_t *crc);
  /* The checkpoint is complete: publishes first..last's output (len bytes). 0, or -1 with err. */
  int (*commit)(sl_output *o, uint64_t first, uint64_t last, uint64_t len, char *err, size_t errlen);
  /* At start: puts the output in checkpoint m's state (NULL: none). 0, or -1 with err (exit 2). */
  int (*recover)(sl_output *o, const sl_checkpoint_meta *m, uint64_t next_id, int overwrite, char *err,
                 size_t errlen);
  /* Closes what the kind opened (output.c frees the common strings). */
  void (*close)(sl_output *o);
  /* A subtask of a parallel job: discards its own pending parts and opens part next_id (the job commits).
   * 0, or -1 with err. */
  int (*start_parts)(sl_output *o, uint64_t next_id, char *err, size_t errlen);
} sl_sink_ops;

/* The file sink's pending parts, for the sinks that reuse them (sink_kafka_txn.c): whether every part
 * first..last is still in pending_dir (a commit deletes them only once it is done), and deleting them. */
int sl_sink_parts_present(const char *pending_dir, uint64_t first, uint64_t last);
void sl_sink_delete_parts(const char *pending_dir, uint64_t first, uint64_t last);

extern const sl_sink_ops sl_sink_file_ops;   /* sink_file.c: the two-phase exactly-once file sink */
extern const sl_sink_ops sl_sink_stream_ops; /* sink_stream.c: stdout and other streams, at-least-once */
/* The Kafka sink's two (sink_kafka.c, at-least-once; sink_kafka_txn.c, exactly-once) are in sink_kafka.h. */

#endif
