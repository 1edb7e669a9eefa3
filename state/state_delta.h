/* state_delta.h — incremental checkpoints: a checkpoint that stores only what changed since the one before.
 *
 * A delta is a snapshot file (state_snapshot.h format) holding the entries written since the previous
 * barrier — exactly the frozen batch of state_flush.h, already sorted — with deleted keys as records of tag
 * 4. A chain is a full snapshot (the base) and the deltas of the checkpoints after it, each id one more
 * than the one before; restoring checkpoint N loads the base and applies the deltas in order. */
#ifndef SLUICE_STATE_DELTA_H
#define SLUICE_STATE_DELTA_H

#include "state/state_flush.h"
#include "state/state_snapshot.h"

/* After sl_frozen_flush succeeded: writes the frozen batch as a delta file (fsynced). 0, or -1 with err. */
int sl_frozen_write_delta(sl_frozen *f, const char *path, uint64_t *bytes, uint64_t *entries, char *err,
                          size_t errlen);

/* Applies a delta (verified first) to the environment in dir, which sl_snapshot_load created. State of
 * operators refused by keep — now or when the base was loaded — stays out. 0, or -1 with err. */
int sl_snapshot_apply_delta(const char *dir, const char *path, sl_snapshot_keep_fn keep, void *arg, char *err,
                            size_t errlen);

#endif
