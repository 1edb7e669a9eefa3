/* output.h — where output records go, and the exactly-once protocol of the file sink.
 *
 * stdout, and an --output that is not a regular file (/dev/null, a FIFO, a terminal): records are written
 * after each batch; across a crash they may be written again (at-least-once).
 *
 * A file sink is two-phase: records go to a pending part file (STATE-DIR/pending/part-<id>, id = the
 * checkpoint that will cover them). At checkpoint N's barrier the part is closed (pre-commit) and made
 * durable together with the snapshot; only when checkpoint N is complete is the part appended to the
 * output file and deleted (commit). On recovery to checkpoint N the output file is cut back to N's
 * committed size and N's part appended if it still exists; parts of later, incomplete checkpoints are
 * discarded. So the output file only ever shows records of complete checkpoints, and after any number of
 * crashes it equals a failure-free run's output byte for byte. */
#ifndef SLUICE_OUTPUT_H
#define SLUICE_OUTPUT_H

#include "core/checkpoint_meta.h"
#include "core/runtime.h"

/* Opens the sink. pending_dir is used by a file sink. 0, or -1 with err. */
int sl_output_open(sl_output *o, const sl_endpoint *ep, const char *pending_dir, char *err, size_t errlen);
/* Puts the output file in the state of checkpoint m (NULL: no checkpoint, an empty output), discards every
 * pending part, and opens part next_id. The file is cut back or completed only when it is provably the one
 * m wrote (same path, device and inode, at least m's committed size); an existing non-empty file that is
 * not is refused, unless overwrite (--overwrite-output): then it starts empty. 0, or -1 with err (exit 2:
 * nothing was changed). A stream output (stdout, a FIFO, /dev/null) has nothing to recover. */
int sl_output_recover(sl_output *o, const sl_checkpoint_meta *m, uint64_t next_id, int overwrite, char *err,
                      size_t errlen);
/* Whether the sink is the two-phase file sink (a regular --output file): else records are written as they
 * come, at-least-once across a crash. */
int sl_output_exactly_once(const sl_output *o);
/* Writes all of buf (to the pending part for a file sink) and empties it. 0, or -1 with the reason in err
 * (a write error, or buf->oom: a buffer that failed to grow holds broken records and is never written). */
int sl_output_write(sl_output *o, sl_buf *buf, char *err, size_t errlen);
/* Pre-commit at a barrier: closes the current part (its id and length come back) and opens part next_id.
 * 0, or -1 with the reason in err (the job must fail: the sink has no open part). */
int sl_output_rotate(sl_output *o, uint64_t next_id, uint64_t *part_id, uint64_t *part_len, char *err,
                     size_t errlen);
/* Commit after a checkpoint completed: appends parts first..last (len bytes in all) to the output file,
 * syncs it, then deletes the parts. 0, or -1 with the reason in err (the parts are kept: recovery redoes
 * the commit, so the caller fails the job). */
int sl_output_commit_parts(sl_output *o, uint64_t first, uint64_t last, uint64_t len, char *err,
                           size_t errlen);
/* Pre-commit durability, on the checkpoint worker: fsyncs parts first..last and the pending directory, and
 * computes their CRC-32 (over their concatenation) for the checkpoint's metadata. 0, or -1 with errno. */
int sl_output_sync_parts(const sl_output *o, uint64_t first, uint64_t last, uint32_t *crc);
/* Recovery: when every pending part of checkpoint m is still in pending_dir (its commit may not have
 * finished), checks their length and CRC against m. 0 (intact, or not needed), SL_META_CORRUPT with the
 * reason (the checkpoint cannot deliver its output), or -1 when they cannot be read now. */
int sl_output_check_pending(const char *pending_dir, const sl_checkpoint_meta *m, char *err, size_t errlen);
/* Parallel jobs (core/parallel/). Each subtask writes its own pending parts (in its own pending dir) and the
 * job commits them all, one checkpoint at a time, through its own output.
 * A subtask's sink at start: discards the subtask's pending parts (a restart redoes them from the
 * checkpoint) and opens part next_id. 0, or -1 with err. */
int sl_output_start_parts(sl_output *o, uint64_t next_id, char *err, size_t errlen);
/* The job, once every subtask's share of checkpoint into_id is durable: concatenates the subtasks' parts
 * (dirs[t]'s parts first[t]..last[t], subtask 0 first) into the job's own part into_id and makes it durable;
 * its length and CRC-32 come back (for the metadata; the commit then goes as for one task). 0, or -1 with
 * err. File sink only. */
int sl_output_gather_parts(sl_output *o, uint64_t into_id, const char *const *dirs, const uint64_t *first,
                           const uint64_t *last, int n, uint64_t *len, uint32_t *crc, char *err,
                           size_t errlen);
void sl_output_close(sl_output *o);

#endif
