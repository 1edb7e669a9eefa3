/* disk_usage.h — what a directory tree takes on disk (blocks allocated, as du counts them: LMDB's file may
 * be sparse, so its length would overstate it), for `sluice checkpoints`' report of the state dir's use. */
#ifndef SLUICE_DISK_USAGE_H
#define SLUICE_DISK_USAGE_H

#include <stdint.h>

/* Bytes allocated to path and, for a directory, everything under it (symbolic links not followed). A path
 * that does not exist takes 0; an entry that cannot be read is skipped and counted in *unreadable (may be
 * NULL), so the figure is a lower bound the caller can say is one. */
uint64_t sl_disk_usage(const char *path, uint64_t *unreadable);

/* "12.3 MB", "512 B": n bytes for people (powers of 1024), into out. */
void sl_format_bytes(uint64_t n, char *out, unsigned len);

#endif
