/* operator_state.h — operator (non-keyed) ListState: one list of opaque byte values per operator instance
 * (parallel subtask), and its redistribution when the parallelism changes.
 *
 * Storage: under the reserved key group SL_OP_STATE_GROUP (never a keyed group: key groups are < the max
 * parallelism, at most 0xFFFF), with the instance index (uint32 BE) as user key and the element index
 * (uint64 BE) as sub key; the number of instances that wrote the state is a header entry with the empty user
 * key (uint32 BE). So the lists of every instance of one state are one cursor range.
 *
 * Redistribution, as Flink defines it for operator ListState: SL_REDIST_EVEN_SPLIT concatenates the old
 * lists (instance 0 first) and gives each new instance a contiguous, near-equal share (the first
 * total % M instances get one more); SL_REDIST_UNION gives every new instance the set union of the old
 * lists: every distinct item (by its bytes) once, in the order of its first occurrence in the concatenation.
 * A set and not the concatenation because an instance usually writes back the whole union it was given:
 * N instances doing so would otherwise restore it N times over, and the list would grow N-fold at every
 * restore (a known pitfall of union state). The price: a union list cannot hold the same item twice.
 * Operator lists are loaded whole: they are meant to be small (offsets, buffered records at a snapshot). */
#ifndef SLUICE_OPERATOR_STATE_H
#define SLUICE_OPERATOR_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "state/state_backend.h"

#define SL_OP_STATE_GROUP 0xFFFFu

enum sl_redist_mode { SL_REDIST_EVEN_SPLIT = 0, SL_REDIST_UNION = 1 };

typedef struct sl_op_item {
  const void *data;
  size_t len;
} sl_op_item;

/* A list of items. Who owns the bytes is said by the function that filled it. */
typedef struct sl_op_list {
  sl_op_item *items;
  size_t n;
  void *owned; /* memory the list owns (item array and, for a loaded list, the bytes); freed by _free */
} sl_op_list;

/* Fills out[0..m) from old[0..n_old) by mode (a union holds each distinct item once, see above). out's item
 * arrays are allocated (freed by sl_op_list_free); their bytes are borrowed from old. EINVAL on m == 0 or a
 * bad mode, ENOMEM. On error out is all empty. */
int sl_op_state_redistribute(const sl_op_list *old, size_t n_old, size_t m, int mode, sl_op_list *out);

/* Frees what l owns and empties it. NULL is allowed. */
void sl_op_list_free(sl_op_list *l);

/* Replaces the list of `instance` of state `state_id` by items[0..n), and records `parallelism` (the number
 * of instances writing this state) in the header. Cached writes: durable at the next commit. */
int sl_op_state_write(sl_backend *b, uint32_t state_id, uint32_t instance, uint32_t parallelism,
                      const sl_op_item *items, size_t n);

/* Records `parallelism` in the header of state `state_id` and leaves every list as it is: for a rescale
 * (state_rescale.h) that copies stored lists entry by entry. Cached write. EINVAL on parallelism 0. */
int sl_op_state_write_header(sl_backend *b, uint32_t state_id, uint32_t parallelism);

/* What a stored entry of an operator ListState is, from its user key and sub key length (sl_key_parse)
 * and its value, for a reader that walks the entries without knowing their layout (state_rescale.c):
 * 1 for the header (*n = the number of instances that wrote the state), 0 for an element of the list of
 * instance *n, -1 for anything else (never written by this module). */
int sl_op_state_entry(const void *ukey, size_t ulen, size_t sub_len, const void *val, size_t vlen,
                      uint32_t *n);

/* Restores the list of `instance` of the new parallelism m: loads every stored instance's list and
 * redistributes them by mode. *out owns its bytes (sl_op_list_free). A state never written gives an empty
 * list. */
int sl_op_state_restore(sl_backend *b, uint32_t state_id, int mode, uint32_t m, uint32_t instance,
                        sl_op_list *out);

#endif
