/* state_inspect.h — `sluice state ls|dump PATH`: what a checkpoint, a savepoint or a stopped state dir holds.
 *
 * Read-only by construction: the inspector never opens an LMDB environment. It reads the flat snapshot and
 * delta files (state/state_snapshot.h format, through sl_snapfile_visit, which maps them read-only) and the
 * _metadata files, and resolves the state in memory: per subtask, its newest full snapshot of the chain,
 * then the deltas after it in id order (state_delta.h), the last record of a key winning and a tag-4 record
 * deleting it. So a running job's state dir is never disturbed: only complete checkpoints' files are read.
 *
 * state_inspect_read.c owns finding and resolving the files and decoding values (sl_insp_*); state_inspect.c
 * owns the command line and the printing. */
#ifndef SLUICE_STATE_INSPECT_H
#define SLUICE_STATE_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "core/checkpoint_meta.h"
#include "core/record/json_write.h"

/* One resolved record: db 1 kv, 2 meta, 3 states; the value is at k + kl. */
#define SL_INSP_DB_META 2
typedef struct sl_insp_rec {
  uint8_t db;
  uint32_t kl, vl;
  uint64_t seq; /* the order it was read in: a later record of the same key replaces an earlier one */
  uint8_t *k;   /* malloc'ed: key then value */
} sl_insp_rec;

/* One subtask's state at the checkpoint: records sorted by (db, key), one per key, deletes applied. idmap
 * maps its state ids (its own registry) to indexes into sl_insp.states, +1 (0: no registry row). */
typedef struct sl_insp_task {
  sl_insp_rec *recs;
  size_t n, cap;
  uint32_t *idmap;
  size_t nids;
  uint8_t only_db; /* while reading: keep only this db's records (0: all) */
} sl_insp_task;

/* A registered state, merged across subtasks by (op, name). */
typedef struct sl_insp_state {
  char *op, *name;
  uint8_t kind, ttl; /* sl_state_kind, TTL flag (state_backend.h) */
} sl_insp_state;

/* The resolved content of PATH. Owns everything in it; sl_insp_free frees it. */
typedef struct sl_insp {
  char dir[4200]; /* the checkpoint or savepoint directory read */
  sl_checkpoint_meta meta;
  unsigned ntasks;
  sl_insp_task *tasks;
  sl_insp_state *states;
  size_t nstates;
} sl_insp;

/* Reads PATH (a checkpoint or savepoint directory, or a state dir: its newest complete checkpoint) into *s.
 * 0, or -1 with the reason in err (not a directory, no complete checkpoint, a corrupt or missing file, a
 * broken chain, out of memory); *s is then freed. */
int sl_insp_open(const char *path, sl_insp *s, char *err, size_t errlen);
/* sl_insp_open keeping only the records of db `db` (2: the backend's metadata, where sources keep their
 * resume points: `sluice checkpoints` reads a Kafka source's offsets so without holding the whole state). */
int sl_insp_open_db(const char *path, uint8_t db, sl_insp *s, char *err, size_t errlen);
void sl_insp_free(sl_insp *s);

/* The index in s->states of state id `id` of subtask `task`, or -1. */
long sl_insp_state_of(const sl_insp *s, unsigned task, uint32_t id);

/* Appends the JSON form of a value stored by lua/sluice/codec.lua (LuaJIT's string.buffer serialization)
 * to out. 0, or -1 when it cannot be decoded (out is then left as it was). */
int sl_insp_decode_json(const uint8_t *p, size_t n, sl_buf *out);

/* The `sluice state` command (argv after "state"). Returns the exit status: 0, or 2 (bad usage, bad PATH, a
 * corrupt file, an unknown operator or state). */
int sl_state_command(int argc, char **argv);

#endif
