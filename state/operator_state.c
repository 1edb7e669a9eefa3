/* operator_state.c — operator ListState: storage under the reserved key group and redistribution (see
 * operator_state.h).
 *
 * Restore loads the old lists into one buffer and redistributes them in memory, because redistribution
 * needs the total count before it can hand out the first share, and operator lists are small by design. */
#include <stdlib.h>
#include <string.h>

#include "state/byte_order.h"
#include "state/operator_state.h"
#include "state/state_key.h"

void sl_op_list_free(sl_op_list *l) {
  if (!l)
    return;
  free(l->items);
  free(l->owned);
  memset(l, 0, sizeof(*l));
}

/* The set union of the concatenation's items by their bytes, first occurrences in order (references into
 * old), through an open-addressing table of item indexes keyed by the items' hash. *out is NULL when
 * total is 0; the caller frees it. */
static int union_items(const sl_op_list *old, size_t n_old, size_t total, sl_op_item **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (total == 0)
    return SL_STATE_OK;
  if (total > SIZE_MAX / 4 / sizeof(size_t))
    return SL_STATE_ENOMEM;
  size_t cap = 16;
  while (cap < total * 2)
    cap *= 2;
  size_t *slot = calloc(cap, sizeof(*slot)); /* 1 + the index in items, 0 when free */
  sl_op_item *items = malloc(total * sizeof(*items));
  if (!slot || !items) {
    free(slot);
    free(items);
    return SL_STATE_ENOMEM;
  }
  size_t k = 0;
  for (size_t i = 0; i < n_old; i++)
    for (size_t e = 0; e < old[i].n; e++) {
      const sl_op_item *it = &old[i].items[e];
      size_t s = (size_t)sl_key_hash(it->data, it->len) & (cap - 1);
      for (;; s = (s + 1) & (cap - 1)) {
        const sl_op_item *seen = slot[s] ? &items[slot[s] - 1] : NULL;
        if (!seen) {
          items[k] = *it;
          slot[s] = ++k;
          break;
        }
        if (seen->len == it->len && (it->len == 0 || memcmp(seen->data, it->data, it->len) == 0))
          break;
      }
    }
  free(slot);
  *out = items;
  *n = k;
  return SL_STATE_OK;
}

int sl_op_state_redistribute(const sl_op_list *old, size_t n_old, size_t m, int mode, sl_op_list *out) {
  if (!out || m == 0 || (n_old && !old) || (mode != SL_REDIST_EVEN_SPLIT && mode != SL_REDIST_UNION))
    return SL_STATE_EINVAL;
  memset(out, 0, m * sizeof(*out));
  size_t total = 0;
  for (size_t i = 0; i < n_old; i++)
    total += old[i].n;
  /* A union hands out the set of distinct items: N instances writing back the union they were given
   * restore as that union once, not N times (which would grow it N-fold at every rescale). */
  sl_op_item *uniq = NULL;
  sl_op_list ulist;
  if (mode == SL_REDIST_UNION) {
    int rc = union_items(old, n_old, total, &uniq, &total);
    if (rc != SL_STATE_OK)
      return rc;
    ulist = (sl_op_list){uniq, total, NULL};
    old = &ulist;
    n_old = 1;
  }
  size_t next = 0; /* index in the concatenation where the next even-split share starts */
  for (size_t j = 0; j < m; j++) {
    size_t from = 0, count = total;
    if (mode == SL_REDIST_EVEN_SPLIT) {
      from = next;
      count = total / m + (j < total % m ? 1 : 0);
      next += count;
    }
    out[j].n = count;
    if (count == 0)
      continue;
    if (!(out[j].items = malloc(count * sizeof(sl_op_item)))) {
      for (size_t k = 0; k <= j; k++)
        sl_op_list_free(&out[k]);
      free(uniq);
      return SL_STATE_ENOMEM;
    }
    /* Walk the concatenation from `from`: skip whole old lists, then copy item references. */
    size_t skip = from, got = 0;
    for (size_t i = 0; i < n_old && got < count; i++) {
      if (skip >= old[i].n) {
        skip -= old[i].n;
        continue;
      }
      size_t take = old[i].n - skip;
      if (take > count - got)
        take = count - got;
      memcpy(out[j].items + got, old[i].items + skip, take * sizeof(sl_op_item));
      got += take;
      skip = 0;
    }
  }
  free(uniq);
  return SL_STATE_OK;
}

/* The prefix of instance `instance`'s list: [group][state id][len 4][instance BE]. */
static size_t instance_prefix(uint8_t *out, uint32_t state_id, uint32_t instance) {
  uint8_t ik[4];
  sl_put_be32(ik, instance);
  return sl_key_prefix(out, SL_KEY_MAX_LEN, SL_OP_STATE_GROUP, state_id, ik, sizeof(ik));
}

int sl_op_state_write_header(sl_backend *b, uint32_t state_id, uint32_t parallelism) {
  if (!b || parallelism == 0)
    return SL_STATE_EINVAL;
  uint8_t key[SL_KEY_MAX_LEN], pv[4];
  size_t hl = sl_key_prefix(key, sizeof(key), SL_OP_STATE_GROUP, state_id, NULL, 0);
  sl_put_be32(pv, parallelism);
  return sl_backend_put(b, key, hl, pv, sizeof(pv));
}

int sl_op_state_entry(const void *ukey, size_t ulen, size_t sub_len, const void *val, size_t vlen,
                      uint32_t *n) {
  if (ulen == 0 && sub_len == 0 && vlen == 4) {
    *n = sl_get_be32(val);
    return 1;
  }
  if (ulen == 4 && sub_len == 8) {
    *n = sl_get_be32(ukey);
    return 0;
  }
  return -1;
}

int sl_op_state_write(sl_backend *b, uint32_t state_id, uint32_t instance, uint32_t parallelism,
                      const sl_op_item *items, size_t n) {
  if (!b || (n && !items) || parallelism == 0 || instance >= parallelism)
    return SL_STATE_EINVAL;
  int rc = sl_op_state_write_header(b, state_id, parallelism);
  if (rc != SL_STATE_OK)
    return rc;
  uint8_t key[SL_KEY_MAX_LEN];
  size_t plen = instance_prefix(key, state_id, instance);
  if ((rc = sl_backend_delete_prefix(b, key, plen)) != SL_STATE_OK)
    return rc;
  for (size_t i = 0; i < n; i++) {
    uint64_t seq = i;
    for (int k = 7; k >= 0; k--, seq >>= 8)
      key[plen + (size_t)k] = (uint8_t)seq;
    if ((rc = sl_backend_put(b, key, plen + 8, items[i].data, items[i].len)) != SL_STATE_OK)
      return rc;
  }
  return SL_STATE_OK;
}

/* Appends one instance's stored list to *all (items referencing offsets into a growing byte buffer,
 * turned into pointers once loading is done). */
struct loader {
  sl_op_item *items;
  size_t n, cap;
  uint8_t *bytes;
  size_t blen, bcap;
};

static int load_push(struct loader *ld, const void *v, size_t len) {
  if (ld->n == ld->cap) {
    size_t cap = ld->cap ? ld->cap * 2 : 16;
    sl_op_item *p = realloc(ld->items, cap * sizeof(*p));
    if (!p)
      return SL_STATE_ENOMEM;
    ld->items = p;
    ld->cap = cap;
  }
  /* The byte buffer exists once an item does, empty ones too: items point into it (NULL + 0 is undefined). */
  if (!ld->bytes || ld->blen + len > ld->bcap) {
    size_t cap = ld->bcap ? ld->bcap : 256;
    while (cap < ld->blen + len)
      cap *= 2;
    uint8_t *p = realloc(ld->bytes, cap);
    if (!p)
      return SL_STATE_ENOMEM;
    ld->bytes = p;
    ld->bcap = cap;
  }
  if (len)
    memcpy(ld->bytes + ld->blen, v, len);
  ld->items[ld->n].data = (const void *)(uintptr_t)ld->blen; /* an offset until loading is done */
  ld->items[ld->n++].len = len;
  ld->blen += len;
  return SL_STATE_OK;
}

/* Loads the lists of instances 0..n_old-1, concatenated in instance order (the order redistribution wants),
 * in one walk over the state's instance entries: [group][state id][user key length 4][instance BE][seq].
 * One walk whatever the header says, so that a damaged header (2^32 instances) costs no more than the
 * entries that exist — one iterator per claimed instance would run for hours. */
static int load_lists(sl_backend *b, uint32_t state_id, uint32_t n_old, struct loader *ld) {
  uint8_t prefix[SL_KEY_MAX_LEN];
  size_t plen = instance_prefix(prefix, state_id, 0) - 4; /* without the instance */
  sl_backend_iter *it;
  int rc = sl_backend_iter_open(b, prefix, plen, &it);
  if (rc != SL_STATE_OK)
    return rc;
  const void *k, *v;
  size_t kl, vl;
  while ((rc = sl_backend_iter_next(it, &k, &kl, &v, &vl)) == SL_STATE_OK) {
    if (kl < plen + 4)
      continue; /* no instance: not an entry of any list */
    if (sl_get_be32((const uint8_t *)k + plen) >= n_old)
      break; /* instances sort in numeric order: the rest were not written by the old parallelism */
    if ((rc = load_push(ld, v, vl)) != SL_STATE_OK)
      break;
  }
  sl_backend_iter_close(it);
  return rc == SL_STATE_NOTFOUND ? SL_STATE_OK : rc;
}

int sl_op_state_restore(sl_backend *b, uint32_t state_id, int mode, uint32_t m, uint32_t instance,
                        sl_op_list *out) {
  if (!b || !out || m == 0 || instance >= m)
    return SL_STATE_EINVAL;
  memset(out, 0, sizeof(*out));
  uint8_t key[SL_KEY_MAX_LEN];
  size_t hl = sl_key_prefix(key, sizeof(key), SL_OP_STATE_GROUP, state_id, NULL, 0);
  const void *hv;
  size_t hlen;
  int rc = sl_backend_get(b, key, hl, &hv, &hlen);
  if (rc == SL_STATE_NOTFOUND)
    return SL_STATE_OK;
  if (rc != SL_STATE_OK)
    return rc;
  uint32_t n_old = hlen == 4 ? sl_get_be32(hv) : 0;
  struct loader ld = {0};
  sl_op_list all, *res = calloc(m, sizeof(*res));
  if (!res) {
    rc = SL_STATE_ENOMEM;
    goto cleanup;
  }
  if (n_old && (rc = load_lists(b, state_id, n_old, &ld)) != SL_STATE_OK)
    goto cleanup;
  for (size_t i = 0; i < ld.n; i++)
    ld.items[i].data = ld.bytes + (uintptr_t)ld.items[i].data;
  /* The old lists in instance order, as one: redistribution only sees their concatenation. */
  all = (sl_op_list){ld.items, ld.n, NULL};
  if ((rc = sl_op_state_redistribute(&all, 1, m, mode, res)) != SL_STATE_OK)
    goto cleanup;
  *out = res[instance];
  out->owned = ld.bytes;
  ld.bytes = NULL;
  res[instance].items = NULL;
cleanup:
  if (res)
    for (uint32_t j = 0; j < m; j++)
      sl_op_list_free(&res[j]);
  free(res);
  free(ld.items);
  free(ld.bytes);
  return rc;
}
