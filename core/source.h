/* source.h — the sources a job reads: files (optionally followed across growth and rotation), stdin, and a
 * TCP server of JSON lines. Each has an open (restoring its offset from the state) / start / close
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
/* Stops reading and closes its handles (idempotent). */
void sl_source_close(sl_source *s);
/* Frees a closed source once the loop has run its handles' close callbacks. */
void sl_source_free(sl_source *s);

#endif
