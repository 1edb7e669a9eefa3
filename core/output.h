/* output.h — where output records go: stdout or a file, written from the sink's buffer after each batch,
 * and the dead-letter file for rejected records.
 *
 * A file sink's size is committed with the state. On a restart the file is cut back to the committed size:
 * whatever was written after the last commit came from records the sources will read again, so the file
 * after a crash and restart holds each output record once. Stdout cannot be cut back: after a crash the
 * records since the last commit are written again (at-least-once). */
#ifndef SLUICE_OUTPUT_H
#define SLUICE_OUTPUT_H

#include "core/runtime.h"

/* Opens the sink (restoring a file's committed size). 0, or -1 with err. */
int sl_output_open(sl_output *o, const sl_endpoint *ep, sl_backend *b, char *err, size_t errlen);
/* Writes all of buf and empties it. 0, or -1 (logged) on a write error. */
int sl_output_write(sl_output *o, sl_buf *buf);
/* Before a commit: makes the output durable (durable != 0) and records its size in the pending metadata. */
int sl_output_prepare_commit(sl_output *o, sl_backend *b, int durable);
void sl_output_close(sl_output *o);

/* Appends one rejected record to the dead-letter file as {"source":..,"line":..,"error":..,"record":..}. */
void sl_dead_letter_write(int fd, const char *source, unsigned long long line_no, const char *reason,
                          const char *text, size_t len);

#endif
