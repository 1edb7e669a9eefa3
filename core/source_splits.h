/* source_splits.h — a regular input file read in parallel: line-aligned byte ranges ("splits"), each with
 * its own resume point, spread over a parallel job's subtasks.
 *
 * The first parallel run that reads a file (not --follow, mapped, not empty) cuts it into enough splits that
 * every subtask has one (N / number of inputs, rounded up: with as many files as subtasks, none is cut;
 * each is then read whole by subtask i % N): split k starts just after the first newline at or after k * size / K, so every split is
 * whole lines. The table (file identity, K, the split starts) is kept in the state ("splits/<realpath>")
 * and fixed for the life of the state, like key groups: each split's resume point is "source/<realpath>#k",
 * and the last split runs to the file's end, so a file that grows between runs is read on in its last
 * split. Split k of file i is read by subtask (i + k) % N at parallelism N — any N: a job at parallelism 1,
 * or restored at another N, reads the same splits, each from its resume point, so nothing is read twice or
 * skipped. A file never split keeps one resume point ("source/<realpath>") and one reader (subtask i % N).
 *
 * Order. Records of one split reach their key's subtask in file order; records of one key from two
 * splits may interleave. Per key, order is that of the splits as read, not of the whole file. */
#ifndef SLUICE_SOURCE_SPLITS_H
#define SLUICE_SOURCE_SPLITS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "state/state_backend.h"

typedef struct sl_split {
  unsigned index;      /* k, in the file's table */
  uint64_t start, end; /* [start, end) bytes; the last split's end is the file's size now */
  uint64_t offset;     /* its resume point: the next byte to read */
  uint64_t line;       /* lines before offset in the file */
} sl_split;

/* What a reader of file `real` (file index i of the job's nfiles sources, read by subtask task of ntasks)
 * reads.
 * *splits: the splits it owns, ascending (malloc'ed; *n may be 0: nothing is this reader's), when the file
 * has a split table (an existing one that matches the file, or a new one cut now when ntasks > 1, may_cut,
 * !follow and map is the file's mapping); then returns 1. Returns 0 when the file is read whole with the one resume
 * point (*owner: whether this reader reads it), or -1 with err (a split file asked to --follow, memory). */
int sl_splits_plan(sl_backend *b, const char *real, const struct stat *st, const char *map, int follow,
                   int may_cut, unsigned i, unsigned nfiles, unsigned task, unsigned ntasks, sl_split **splits,
                   unsigned *n, int *owner, char *err, size_t errlen);

/* Writes the resume point of each split (dev, ino: the file's identity). A status of the backend. */
int sl_splits_save(sl_backend *b, const char *real, uint64_t dev, uint64_t ino, const sl_split *splits,
                   unsigned n);

#endif
