/* output.h — where output records go, and the exactly-once protocol of the file sink.
 *
 * stdout: records are written after each batch; across a crash they may be written again (at-least-once).
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
 * pending part, and opens part next_id. 0, or -1 with err. */
int sl_output_recover(sl_output *o, const sl_checkpoint_meta *m, uint64_t next_id, char *err, size_t errlen);
/* Writes all of buf (to the pending part for a file sink) and empties it. 0, or -1 (logged). */
int sl_output_write(sl_output *o, sl_buf *buf);
/* Pre-commit at a barrier: closes the current part (its id and length come back) and opens part next_id. */
int sl_output_rotate(sl_output *o, uint64_t next_id, uint64_t *part_id, uint64_t *part_len);
/* The path of part id (for fsync by the checkpoint worker). */
void sl_output_part_path(const sl_output *o, uint64_t id, char *path, size_t len);
/* Commit after a checkpoint completed: appends parts first..last (len bytes in all) to the output file,
 * syncs it, then deletes the parts. 0, or -1 (logged; recovery will redo it). */
int sl_output_commit_parts(sl_output *o, uint64_t first, uint64_t last, uint64_t len);
/* fsyncs parts first..last (pre-commit durability, on the checkpoint worker). 0 or -1. */
int sl_output_sync_parts(const sl_output *o, uint64_t first, uint64_t last);
void sl_output_close(sl_output *o);

/* Appends one rejected record to the dead-letter file as {"source":..,"line":..,"error":..,"record":..}. */
void sl_dead_letter_write(int fd, const char *source, unsigned long long line_no, const char *reason,
                          const char *text, size_t len);

#endif
