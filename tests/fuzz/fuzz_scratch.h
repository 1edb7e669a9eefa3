/* fuzz_scratch.h — the scratch directory of one fuzz process: made once under $TMPDIR (or /tmp), removed
 * with everything in it when the process exits, and a helper that writes one input there as a file.
 * Header-only, shared by the targets that read files (checkpoint metadata, snapshots) or need a backend. */
#ifndef SLUICE_FUZZ_SCRATCH_H
#define SLUICE_FUZZ_SCRATCH_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_scratch_dir[4096];

static inline int fuzz_scratch_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static inline void fuzz_scratch_remove(void) {
  if (fuzz_scratch_dir[0])
    nftw(fuzz_scratch_dir, fuzz_scratch_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The scratch directory, made on first use; a fuzz target cannot run without one, so failing exits. */
static inline const char *fuzz_scratch(void) {
  if (!fuzz_scratch_dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(fuzz_scratch_dir, sizeof fuzz_scratch_dir, "%s/sl_fuzz_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(fuzz_scratch_dir)) {
      perror(fuzz_scratch_dir);
      exit(2);
    }
    atexit(fuzz_scratch_remove);
  }
  return fuzz_scratch_dir;
}

/* out = scratch/name. */
static inline void fuzz_scratch_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", fuzz_scratch(), name);
}

/* Replaces the file at path by data[0..size); exits when it cannot (the disk, not the input, is at fault). */
static inline void fuzz_write_file(const char *path, const void *data, size_t size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const uint8_t *p = data;
  while (fd >= 0 && size > 0) {
    ssize_t n = write(fd, p, size);
    if (n <= 0)
      break;
    p += n;
    size -= (size_t)n;
  }
  if (fd < 0 || size > 0 || close(fd) != 0) {
    perror(path);
    exit(2);
  }
}

#endif
