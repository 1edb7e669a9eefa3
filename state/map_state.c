/* map_state.c — MapState: one LMDB entry per map entry, under (state, current key) with the map key as the
 * composite key's sub key. All entries of one map share the composite prefix, so clear is one prefix delete
 * and iteration is one cursor range in map-key byte order; a map is never loaded whole. */
#include <stdlib.h>

#include "state/map_state.h"

struct sl_map_iter {
  sl_backend_iter *it;
  size_t plen; /* the entries' common prefix; the map key is what follows it */
};

static size_t entry_key(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen) {
  if (!s || !s->has_key || (mklen && !mkey))
    return 0;
  return sl_key_compose(s->buf, sizeof(s->buf), s->key_group, state_id, s->key, s->key_len, mkey, mklen);
}

static size_t map_prefix(sl_keyed_scope *s, uint32_t state_id) {
  if (!s || !s->has_key)
    return 0;
  return sl_key_prefix(s->buf, sizeof(s->buf), s->key_group, state_id, s->key, s->key_len);
}

int sl_map_get(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen, const void **val,
               size_t *vlen) {
  size_t klen = entry_key(s, state_id, mkey, mklen);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_backend_get(s->backend, s->buf, klen, val, vlen);
}

int sl_map_put(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen, const void *val,
               size_t vlen) {
  size_t klen = entry_key(s, state_id, mkey, mklen);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_backend_put(s->backend, s->buf, klen, val, vlen);
}

int sl_map_get_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *mkey, size_t mklen,
                   const void **val, size_t *vlen) {
  size_t klen = entry_key(s, state_id, mkey, mklen);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_ttl_get(s, ttl, s->buf, klen, val, vlen);
}

int sl_map_put_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *mkey, size_t mklen,
                   const void *val, size_t vlen) {
  size_t klen = entry_key(s, state_id, mkey, mklen);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_ttl_put(s, ttl, s->buf, klen, val, vlen);
}

int sl_map_remove(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen) {
  size_t klen = entry_key(s, state_id, mkey, mklen);
  if (!klen)
    return SL_STATE_EINVAL;
  return sl_backend_delete(s->backend, s->buf, klen);
}

int sl_map_contains(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen) {
  const void *val;
  size_t vlen;
  return sl_map_get(s, state_id, mkey, mklen, &val, &vlen);
}

int sl_map_is_empty(sl_keyed_scope *s, uint32_t state_id) {
  sl_map_iter *it;
  const void *k, *v;
  size_t kl, vl;
  int rc = sl_map_iter_open(s, state_id, &it);
  if (rc != SL_STATE_OK)
    return rc;
  rc = sl_map_iter_next(it, &k, &kl, &v, &vl);
  sl_map_iter_close(it);
  if (rc == SL_STATE_OK)
    return SL_STATE_NOTFOUND;
  return rc == SL_STATE_NOTFOUND ? SL_STATE_OK : rc;
}

int sl_map_clear(sl_keyed_scope *s, uint32_t state_id) {
  size_t plen = map_prefix(s, state_id);
  if (!plen)
    return SL_STATE_EINVAL;
  return sl_backend_delete_prefix(s->backend, s->buf, plen);
}

int sl_map_iter_open(sl_keyed_scope *s, uint32_t state_id, sl_map_iter **out) {
  if (!out)
    return SL_STATE_EINVAL;
  *out = NULL;
  size_t plen = map_prefix(s, state_id);
  if (!plen)
    return SL_STATE_EINVAL;
  sl_map_iter *m = malloc(sizeof(*m));
  if (!m)
    return SL_STATE_ENOMEM;
  m->plen = plen;
  int rc = sl_backend_iter_open(s->backend, s->buf, plen, &m->it);
  if (rc != SL_STATE_OK) {
    free(m);
    return rc;
  }
  *out = m;
  return SL_STATE_OK;
}

int sl_map_iter_next(sl_map_iter *m, const void **mkey, size_t *mklen, const void **val, size_t *vlen) {
  if (!m || !mkey || !mklen)
    return SL_STATE_EINVAL;
  const void *key;
  size_t klen;
  int rc = sl_backend_iter_next(m->it, &key, &klen, val, vlen);
  if (rc != SL_STATE_OK)
    return rc;
  *mkey = (const uint8_t *)key + m->plen;
  *mklen = klen - m->plen;
  return SL_STATE_OK;
}

void sl_map_iter_close(sl_map_iter *m) {
  if (!m)
    return;
  sl_backend_iter_close(m->it);
  free(m);
}
