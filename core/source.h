/* source.h — the sources a job reads: files (optionally followed across growth and rotation), stdin, a
 * TCP server of JSON lines, and a Kafka topic. Each has an open (restoring its offset from the state) / start / close
 * lifecycle, and reports its resume point for commits. The kinds are behind a small vtable, one file each
 * (core/source_kind.h); the runtime sees only these functions and an opaque sl_source. */
#ifndef SLUICE_SOURCE_H
#define SLUICE_SOURCE_H

#include "core/runtime.h"

/* Opens the source described by ep (index i). Restores a file's offset from the backend's metadata.
 * Returns NULL with a message in err when the input cannot be opened (a missing file: exit status 2). */
sl_source *sl_source_open(sl_runtime *rt, int i, const sl_endpoint *ep, char *err, size_t errlen);
/* Starts reading. 0, or -1 with the reason in err (the job cannot start: exit status 2). */
int sl_source_start(sl_source *s, char *err, size_t errlen);
/* Writes the resume point (offset, line) into the backend's pending metadata (rewindable sources only). */
int sl_source_save_offset(sl_source *s);
/* The checkpoint whose barrier last called sl_source_save_offset completed (also after close: the final
 * one). A Kafka source commits its offsets to the consumer group. */
void sl_source_checkpoint_complete(sl_source *s);
/* Parallel subtasks: stop reading for now / read on (idempotent; nothing for a closed source). Whether the
 * source's kind can do it (TCP cannot yet: a parallel job refuses it). */
void sl_source_pause(sl_source *s);
void sl_source_resume(sl_source *s);
int sl_source_can_pause(const sl_endpoint *ep);
/* A parallel subtask that does not read file or Kafka source ep (read by another subtask): replaces the resume
 * point it holds for it (a copy the restore gave every subtask) by the one-byte mark
 * SL_SOURCE_READ_ELSEWHERE, so only the reader's own is ever saved, and every subtask still sees that the
 * file was read before, whole. A restore's merge skips marks and empty values (state/state_rescale.c). */
#define SL_SOURCE_READ_ELSEWHERE "-"
int sl_source_forget_offset(sl_backend *b, const sl_endpoint *ep);
/* How far a source has read, for metrics and the progress line: offset is the resume point a checkpoint
 * now would record (the stream offset after the last line handed out), read the offset of the bytes read so
 * far; for a regular file, size is its size now and done/share the bytes of this reader's share of it (the
 * whole file, or the splits it owns) read so far and that share's size; 0 for what a kind cannot know. */
typedef struct sl_source_progress {
  uint64_t offset, read, size, done, share;
} sl_source_progress;
void sl_source_get_progress(sl_source *s, sl_source_progress *p);
/* One partition of a partitioned source (a Kafka topic's), for metrics and `sluice status`: next is the
 * offset a checkpoint now would resume it from, high its end (the high watermark) as last seen, each
 * SL_SOURCE_NO_OFFSET when not known (nothing read yet; no fetch answered yet). Read on the loop thread a
 * few times a second, never waiting on anything. */
#define SL_SOURCE_NO_OFFSET (-1)
typedef struct sl_source_partition {
  int64_t next, high;
} sl_source_partition;
/* Fills out[0..min(n, max)) with partitions 0..n-1 and returns n, the source's partition count (0 for a
 * source that has no partitions: files, stdin, TCP). */
int sl_source_get_partitions(sl_source *s, sl_source_partition *out, int max);
/* The job's index of the source (its place in the script's sources). */
int sl_source_index(const sl_source *s);
/* Stops reading and closes its handles (idempotent). */
void sl_source_close(sl_source *s);
/* Frees a closed source once the loop has run its handles' close callbacks. */
void sl_source_free(sl_source *s);

#endif
