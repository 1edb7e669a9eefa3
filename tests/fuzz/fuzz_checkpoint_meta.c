/* fuzz_checkpoint_meta.c — libFuzzer target for the checkpoint metadata reader (core/checkpoint_meta.c):
 * the input is written as DIR/_metadata and read with sl_checkpoint_meta_read. Any bytes must give a clean
 * accept or reject — never a crash, a hang or a read out of bounds — and a reject must say why. What is
 * accepted must survive a round trip: written back with sl_checkpoint_meta_write and read again, it gives
 * the same fields. The target knows nothing of the file's format (lines, keys, checksum), so it stays
 * right when the format changes; the seeds are made by sl_checkpoint_meta_write at test time (fuzz_seeds.c)
 * for the same reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/checkpoint_meta.h"
#include "fuzz_scratch.h"

static void expect_same(const sl_checkpoint_meta *a, const sl_checkpoint_meta *b) {
  if (a->id != b->id || a->time_ms != b->time_ms || a->duration_ms != b->duration_ms ||
      a->alignment_ms != b->alignment_ms || a->barrier_ms != b->barrier_ms ||
      a->snapshot_bytes != b->snapshot_bytes || a->snapshot_entries != b->snapshot_entries ||
      a->sink_committed != b->sink_committed || a->sink_first_part != b->sink_first_part ||
      a->sink_part != b->sink_part || a->savepoint != b->savepoint || a->base_id != b->base_id ||
      strcmp(a->sink_path, b->sink_path) != 0) {
    fprintf(stderr, "checkpoint metadata changed in a write + read round trip\n");
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sl_checkpoint_meta m, again;
  char in_dir[4200], out_dir[4200], path[4300], err[512];
  fuzz_scratch_path(in_dir, sizeof in_dir, "in");
  fuzz_scratch_path(out_dir, sizeof out_dir, "out");
  mkdir(in_dir, 0700);
  mkdir(out_dir, 0700);
  snprintf(path, sizeof path, "%s/_metadata", in_dir);
  fuzz_write_file(path, data, size);

  memset(err, 0x55, sizeof err); /* not NUL-terminated unless the reader writes a reason */
  if (sl_checkpoint_meta_read(in_dir, &m, err, sizeof err) != 0) {
    if (!memchr(err, '\0', sizeof err) || !err[0]) {
      fprintf(stderr, "rejected metadata without a reason\n");
      abort();
    }
    return 0;
  }
  if (!memchr(m.sink_path, '\0', sizeof m.sink_path)) {
    fprintf(stderr, "sink_path is not NUL-terminated\n");
    abort();
  }
  if (sl_checkpoint_meta_write(out_dir, &m, err, sizeof err) != 0) {
    fprintf(stderr, "cannot write the metadata back: %s\n", err);
    exit(2);
  }
  if (sl_checkpoint_meta_read(out_dir, &again, err, sizeof err) != 0) {
    fprintf(stderr, "metadata written by sl_checkpoint_meta_write does not read back: %s\n", err);
    abort();
  }
  expect_same(&m, &again);
  return 0;
}
