/* source_splits.c — line-aligned splits of a file read by parallel subtasks (see source_splits.h). */
#include "core/source_splits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/line_reader.h"
#include "core/log.h"

#define MAX_SPLITS 256

/* "splits/<real>": dev, ino, K, then K split starts (u64 each, native order like the offset records). */
typedef struct split_table {
  uint64_t dev, ino, k;
  uint64_t starts[MAX_SPLITS];
} split_table;

/* As source_file.c's resume point: dev, ino, offset, line. */
typedef struct split_offset {
  uint64_t dev, ino, offset, line;
} split_offset;

static void key_of(char *out, size_t len, const char *kind, const char *real, int k) {
  if (k < 0)
    snprintf(out, len, "%s/%s", kind, real);
  else
    snprintf(out, len, "%s/%s#%d", kind, real, k);
}

/* Cuts a file of size bytes into at most k splits of whole lines. Returns the number of splits. */
static unsigned cut(const char *map, uint64_t size, unsigned k, uint64_t *starts) {
  unsigned n = 0;
  starts[n++] = 0;
  for (unsigned i = 1; i < k; i++) {
    uint64_t at = size * i / k;
    if (at <= starts[n - 1])
      continue;
    const char *nl = memchr(map + at - 1, '\n', (size_t)(size - (at - 1)));
    if (!nl)
      break;
    uint64_t s = (uint64_t)(nl - map) + 1;
    if (s >= size)
      break;
    if (s > starts[n - 1])
      starts[n++] = s;
  }
  return n;
}

int sl_splits_plan(sl_backend *b, const char *real, const struct stat *st, const char *map, int follow,
                   int may_cut, unsigned i, unsigned nfiles, unsigned task, unsigned ntasks, sl_split **splits,
                   unsigned *n, int *owner, char *err, size_t errlen) {
  char key[4200];
  const void *val;
  size_t len;
  split_table t;
  uint64_t size = (uint64_t)st->st_size;
  *splits = NULL;
  *n = 0;
  *owner = i % ntasks == task;
  memset(&t, 0, sizeof t);
  key_of(key, sizeof key, "splits", real, -1);
  int have = sl_backend_meta_get(b, key, &val, &len) == SL_STATE_OK && len > 0;
  if (have) {
    if (len >= 3 * sizeof(uint64_t) && len <= sizeof t)
      memcpy(&t, val, len);
    /* Another file at the path, or one cut shorter than its splits: read whole, from its start. */
    if (t.dev != (uint64_t)st->st_dev || t.ino != (uint64_t)st->st_ino || t.k < 1 || t.k > MAX_SPLITS ||
        len != (3 + t.k) * sizeof(uint64_t)) {
      sl_info("%s: not the file that was split before (new inode); reading it whole from its start", real);
      return 0;
    }
    if (!follow && t.starts[t.k - 1] >= size) {
      sl_warn("%s: shorter than when it was split; reading it whole from its start", real);
      return 0;
    }
    if (!follow && !map) {
      /* Its resume points are per split: reading it whole would read again what they passed. */
      snprintf(err, errlen, "%s: cannot map it into memory to read its %llu splits (a memory limit?)", real,
               (unsigned long long)t.k);
      return -1;
    }
  } else {
    /* A file read before by one reader keeps its one resume point. */
    key_of(key, sizeof key, "source", real, -1);
    int read_before = sl_backend_meta_get(b, key, &val, &len) == SL_STATE_OK && len > 0;
    if (read_before || ntasks < 2 || !may_cut || follow || !map || size == 0)
      return 0;
    t.dev = (uint64_t)st->st_dev;
    t.ino = (uint64_t)st->st_ino;
    /* Enough splits that every subtask reads: with as many files as subtasks, none is cut. */
    unsigned want = (ntasks + nfiles - 1) / (nfiles ? nfiles : 1);
    t.k = cut(map, size, want > MAX_SPLITS ? MAX_SPLITS : want, t.starts);
    if (t.k < 2)
      return 0;
    key_of(key, sizeof key, "splits", real, -1);
    if (sl_backend_meta_put(b, key, &t, (3 + t.k) * sizeof(uint64_t)) != SL_STATE_OK) {
      snprintf(err, errlen, "%s: the state backend failed: %s", real, sl_backend_last_error(b));
      return -1;
    }
  }
  if (follow) {
    snprintf(err, errlen,
             "%s was read in %llu splits by a parallel run, and --follow cannot go on with a split file yet; "
             "run without --follow",
             real, (unsigned long long)t.k);
    return -1;
  }
  sl_split *out = calloc(t.k, sizeof *out);
  if (!out) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  unsigned m = 0;
  for (unsigned k = 0; k < t.k; k++) {
    int mine = (i + k) % ntasks == task;
    key_of(key, sizeof key, "source", real, (int)k);
    split_offset o;
    int resumed = sl_backend_meta_get(b, key, &val, &len) == SL_STATE_OK && len == sizeof o;
    if (resumed)
      memcpy(&o, val, sizeof o);
    if (!mine) {
      /* A copy the restore gave every subtask: emptied, so only the reader's resume point is ever saved. */
      if (sl_backend_meta_get(b, key, &val, &len) == SL_STATE_OK && len > 0 &&
          sl_backend_meta_put(b, key, "", 0) != SL_STATE_OK) {
        free(out);
        snprintf(err, errlen, "%s: the state backend failed: %s", real, sl_backend_last_error(b));
        return -1;
      }
      continue;
    }
    sl_split *s = &out[m++];
    s->index = k;
    s->start = t.starts[k];
    s->end = k + 1 < t.k ? t.starts[k + 1] : size;
    if (resumed && o.dev == t.dev && o.ino == t.ino && o.offset >= s->start && o.offset <= size &&
        (k + 1 == t.k || o.offset <= s->end)) {
      s->offset = o.offset;
      s->line = o.line;
    } else {
      s->offset = s->start;
      s->line = sl_count_newlines(map, (size_t)s->start);
    }
  }
  *splits = out;
  *n = m;
  *owner = m > 0;
  return 1;
}

int sl_splits_save(sl_backend *b, const char *real, uint64_t dev, uint64_t ino, const sl_split *splits,
                   unsigned n) {
  char key[4200];
  for (unsigned k = 0; k < n; k++) {
    split_offset o = {dev, ino, splits[k].offset, splits[k].line};
    key_of(key, sizeof key, "source", real, (int)splits[k].index);
    int st = sl_backend_meta_put(b, key, &o, sizeof o);
    if (st != SL_STATE_OK)
      return st;
  }
  return SL_STATE_OK;
}
