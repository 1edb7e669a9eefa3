/* list_state.c — ListState: one LMDB entry per element plus a header holding the next sequence number (see
 * list_state.h for the layout).
 *
 * Why a header and not "last key + 1" from a cursor: the backend's cursors only walk forward over the write
 * transaction, while the header is a cached read, so the per-record add never touches LMDB. */
#include <stdlib.h>
#include <string.h>

#include "state/byte_order.h"
#include "state/list_state.h"

struct sl_list_iter {
  sl_keyed_scope *s;
  sl_backend_iter *it;
  const sl_ttl *ttl; /* borrowed */
  size_t plen;       /* the elements' common prefix (the header's key) */
};

static size_t list_prefix(sl_keyed_scope *s, uint32_t state_id) {
  if (!s || !s->has_key)
    return 0;
  return sl_key_prefix(s->buf, sizeof(s->buf), s->key_group, state_id, s->key, s->key_len);
}

int sl_list_add(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *val, size_t len) {
  size_t plen = list_prefix(s, state_id);
  if (!plen || (len && !val))
    return SL_STATE_EINVAL;
  const void *hv;
  size_t hl;
  uint64_t seq = 0;
  int rc = sl_backend_get(s->backend, s->buf, plen, &hv, &hl);
  if (rc == SL_STATE_OK && hl == SL_LIST_SEQ_LEN)
    seq = sl_get_be64(hv);
  else if (rc != SL_STATE_OK && rc != SL_STATE_NOTFOUND)
    return rc;
  uint8_t next[SL_LIST_SEQ_LEN];
  sl_put_be64(next, seq + 1);
  if ((rc = sl_backend_put(s->backend, s->buf, plen, next, sizeof(next))) != SL_STATE_OK)
    return rc;
  /* The element's key is the header's key followed by the sequence number. */
  uint8_t key[SL_KEY_MAX_LEN];
  if (plen + SL_LIST_SEQ_LEN > SL_KEY_MAX_LEN)
    return SL_STATE_EINVAL;
  memcpy(key, s->buf, plen);
  sl_put_be64(key + plen, seq);
  return sl_ttl_put(s, ttl, key, plen + SL_LIST_SEQ_LEN, val, len);
}

int sl_list_clear(sl_keyed_scope *s, uint32_t state_id) {
  size_t plen = list_prefix(s, state_id);
  if (!plen)
    return SL_STATE_EINVAL;
  return sl_backend_delete_prefix(s->backend, s->buf, plen);
}

int sl_list_iter_open(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, sl_list_iter **out) {
  if (!out)
    return SL_STATE_EINVAL;
  *out = NULL;
  size_t plen = list_prefix(s, state_id);
  if (!plen)
    return SL_STATE_EINVAL;
  sl_list_iter *l = malloc(sizeof(*l));
  if (!l)
    return SL_STATE_ENOMEM;
  l->s = s;
  l->ttl = ttl;
  l->plen = plen;
  int rc = sl_backend_iter_open(s->backend, s->buf, plen, &l->it);
  if (rc != SL_STATE_OK) {
    free(l);
    return rc;
  }
  *out = l;
  return SL_STATE_OK;
}

int sl_list_iter_next(sl_list_iter *l, const void **val, size_t *len) {
  if (!l || !val || !len)
    return SL_STATE_EINVAL;
  for (;;) {
    const void *key, *raw;
    size_t klen, rawlen;
    int rc = sl_backend_iter_next(l->it, &key, &klen, &raw, &rawlen);
    if (rc != SL_STATE_OK)
      return rc;
    if (klen != l->plen + SL_LIST_SEQ_LEN)
      continue; /* the header */
    if (!l->ttl)
      return *val = raw, *len = rawlen, SL_STATE_OK;
    int verdict = sl_ttl_check(sl_scope_now(l->s), raw, rawlen, val, len);
    if (verdict != SL_TTL_EXPIRED)
      return SL_STATE_OK;
    /* Cleanup on read: deleting the entry the iterator is on is allowed (backend cursor semantics). A value
     * still to be returned is copied first, because the delete may spill the cache into LMDB. */
    int visible = l->ttl->visibility == SL_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP;
    if (visible && (rc = sl_ttl_keep(l->s, *val, *len, val)) != SL_STATE_OK)
      return rc;
    if ((rc = sl_backend_delete(l->s->backend, key, klen)) != SL_STATE_OK)
      return rc;
    if (visible)
      return SL_STATE_OK;
  }
}

void sl_list_iter_close(sl_list_iter *l) {
  if (!l)
    return;
  sl_backend_iter_close(l->it);
  free(l);
}

int sl_list_is_empty(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl) {
  sl_list_iter *l;
  const void *v;
  size_t vl;
  int rc = sl_list_iter_open(s, state_id, ttl, &l);
  if (rc != SL_STATE_OK)
    return rc;
  rc = sl_list_iter_next(l, &v, &vl);
  sl_list_iter_close(l);
  if (rc == SL_STATE_OK)
    return SL_STATE_NOTFOUND;
  return rc == SL_STATE_NOTFOUND ? SL_STATE_OK : rc;
}
