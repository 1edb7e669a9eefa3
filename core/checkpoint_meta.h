/* checkpoint_meta.h — a checkpoint's metadata file and the checkpoints directory.
 *
 * STATE-DIR/checkpoints/chk-<id>/ holds state.snap (state_snapshot.h) and _metadata. A checkpoint is
 * complete exactly when its _metadata exists: it is written last, durably (temp file, fsync, rename, fsync
 * of the directory), so a crash at any instant leaves either no _metadata or a whole one. The format is
 * "key value" text lines, readable with cat (version 2):
 *   sluice-checkpoint 2 | id N | time_ms T | duration_ms D | alignment_ms A | barrier_ms P | snapshot_bytes B
 *   | snapshot_entries E | sink_committed S | sink_first_part F | sink_part L | base_id I | sink_dev V
 *   | sink_ino O | sink_crc C | max_parallelism M | savepoint 0/1 | sink_path P (the rest of its line) |
 * crc32 X (CRC-32 of every byte before this line, 8 hex digits) sink_committed is the output file's committed
 * size before this checkpoint's pending parts (parts F..id: more than one when earlier checkpoints failed),
 * sink_part their total length: after checkpoint N the output file is exactly S + L bytes. sink_dev/sink_ino
 * identify that file, so a restart never cuts back a file it did not write. A file whose CRC fails, or with
 * an unknown, repeated or missing key, is corrupt. Version 3 (a parallel job's checkpoint) adds
 * "parallelism P" after max_parallelism: the state is then P files task-0.snap .. task-(P-1).snap, one per
 * subtask, instead of state.snap. */
#ifndef SLUICE_CHECKPOINT_META_H
#define SLUICE_CHECKPOINT_META_H

#include <stddef.h>
#include <stdint.h>

typedef struct sl_checkpoint_meta {
  uint64_t id;
  uint64_t time_ms;      /* wall clock when the barrier was taken */
  uint64_t duration_ms;  /* barrier to durable metadata */
  uint64_t alignment_ms; /* time inputs were held back for alignment */
  uint64_t barrier_ms;   /* time the stream stood still at the barrier (state flush + commit + view) */
  uint64_t snapshot_bytes, snapshot_entries;
  uint64_t sink_committed, sink_first_part, sink_part;
  int savepoint;
  uint64_t base_id; /* incremental: the full checkpoint this one's chain starts at; = id for a full one */
  uint64_t sink_dev, sink_ino; /* the output file's device and inode (0: stdout, or a version 1 file) */
  uint64_t max_parallelism;    /* the job's key groups (0 in a version 1 file: the default, 128, then) */
  uint64_t sink_crc;           /* CRC-32 of the pending parts' bytes (sink_first_part..id, sink_part bytes) */
  uint64_t parallelism; /* subtasks that wrote it (version 3: one task-K.snap each); 0 or 1: one state.snap */
  char sink_path[4096]; /* the file sink's real path ("" for stdout): its sink_* fields apply to that file */
} sl_checkpoint_meta;

/* What sl_checkpoint_meta_read found. */
enum sl_meta_status {
  SL_META_OK = 0,
  SL_META_MISSING = 1,     /* no _metadata: the checkpoint never completed */
  SL_META_CORRUPT = 2,     /* proven damaged: checksum, syntax, unknown/missing/repeated key */
  SL_META_UNREADABLE = -1, /* it cannot be read now (EIO, EACCES, ENOMEM): proves nothing about it */
};

/* Writes dir/_metadata durably. 0, or -1 with the reason. */
int sl_checkpoint_meta_write(const char *dir, const sl_checkpoint_meta *m, char *err, size_t errlen);
/* Reads dir/_metadata. SL_META_OK, or another sl_meta_status with the reason in err. */
int sl_checkpoint_meta_read(const char *dir, sl_checkpoint_meta *m, char *err, size_t errlen);

/* The ids of every chk-<id> directory under checkpoints_dir, ascending. Returns the count (0 when the
 * directory is missing), or -1. *ids is malloc'ed; the caller frees it. */
int sl_checkpoint_list(const char *checkpoints_dir, uint64_t **ids);

/* fsyncs a directory (after a rename in it). */
int sl_fsync_dir(const char *dir);
/* fsyncs the directory that holds path (a file's or a directory's name made durable). 0 or -1. */
int sl_fsync_parent(const char *path);
/* rm -rf of one checkpoint directory (files and the directory). */
void sl_remove_tree(const char *dir);
uint64_t sl_now_ms(void);

#endif
