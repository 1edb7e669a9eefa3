/* state_rescale.h — rescaling: building one new subtask's state from the environments of the old subtasks
 * when a job restarts at another parallelism.
 *
 * Why per key group: with parallelism N each subtask k has its own environment and owns the key groups
 * kg with kg * N / max_parallelism == k (contiguous ranges, as Flink assigns them). The key group is the
 * first field of every composite key (state_key.h), so one new subtask's share of an old environment is one
 * cursor range, whatever the number of keys: a fill reads only the keyed entries it keeps.
 * What is not keyed follows its own rule: the registry and the metadata are merged from every old subtask;
 * operator ListState (operator_state.h) is copied instance by instance so that sl_op_state_restore on the new
 * environment redistributes it as it would have on one environment holding every old list; a timer
 * (timer_state.h) follows the key group stored with it.
 *
 * The old environments are opened read-only (MDB_RDONLY: their data file is never written; LMDB takes a
 * reader slot in their lock file) and read in one read transaction each. Writes go through the new
 * backend's cache, which commits in bounded transactions past its cap (state_backend.h), so the memory a
 * fill needs does not grow with the state. */
#ifndef SLUICE_STATE_RESCALE_H
#define SLUICE_STATE_RESCALE_H

#include <stddef.h>

#include "state/state_backend.h"

/* Fills dst (a freshly opened, empty backend) with the share of subtask `task` of `ntasks` of the state
 * held in the backend environments src_dirs[0..nsrc) — the old subtasks' environments in subtask order (nsrc
 * may be 1: the whole state of a parallelism-1 job, possibly itself restored from several subtasks earlier).
 * Commits dst (sl_backend_commit(dst, 1)). 0, or -1 with the reason in err.
 *
 * What dst gets:
 *   registry   every (op uid, state name) of any source, with its kind and TTL flag, under dst's own ids
 *              (every copied entry's state id is rewritten); a pair registered as two kinds (or with and
 *              without TTL) by two sources is an error
 *   keyed      every entry whose key group task owns (sl_key_group_owned), from every source
 *   op lists   from source t the list of instance t, as instance t, with nsrc instances in the header (with
 *              one source: its instances 0..header-1 as they are); sl_op_state_restore(dst, id, mode,
 *              ntasks, task, ...) then hands out the share of task
 *   timers     every timer whose key's group task owns; the watermark of a queue is the least of the
 *              sources' (none when a source holding the queue had none), see state_rescale.c
 *   meta       every entry of every source; one name with different bytes in two sources is an error
 * Errors: bad arguments; a source that cannot be opened or read; a source that is not consistent (an entry
 * of an unregistered state, a key group at or past max_parallelism, an entry under the operator group that
 * neither operator_state.h nor timer_state.h writes); a conflict between sources (above); a failed write or
 * commit of dst. On error dst holds part of the state, uncommitted or not: discard it.
 * Ownership: src_dirs stay the caller's; dst is borrowed and left open. */
int sl_rescale_fill(sl_backend *dst, const char *const *src_dirs, int nsrc, int task, int ntasks,
                    unsigned max_parallelism, char *err, size_t errlen);

/* Whether key group kg belongs to subtask task of ntasks (kg * ntasks / max_parallelism == task). 0 for a
 * key group at or past max_parallelism or a task outside 0..ntasks-1. */
int sl_key_group_owned(unsigned kg, int task, int ntasks, unsigned max_parallelism);

#endif
