/* state_ttl_cleanup.c — the incremental TTL cleaner (see state_ttl_cleanup.h).
 *
 * An entry the iterator returns comes from the write transaction, which may lag behind the write-back cache
 * (a value rewritten since the iterator flushed). So before deleting, the entry is read again through the
 * cache and deleted only if that current value is expired too: the cleaner never removes a live update. */
#include <stdlib.h>
#include <string.h>

#include "state/state_key.h"
#include "state/state_ttl_cleanup.h"

struct sl_ttl_cleaner {
  sl_backend *b;
  size_t lastlen; /* the last key checked (0 = start a pass from the first key) */
  uint8_t last[SL_KEY_MAX_LEN];
  size_t n, cap;
  uint32_t *ids; /* registered state ids, few: a linear scan is cheapest */
};

sl_ttl_cleaner *sl_ttl_cleaner_new(sl_backend *b) {
  if (!b)
    return NULL;
  sl_ttl_cleaner *c = calloc(1, sizeof(*c));
  if (c)
    c->b = b;
  return c;
}

void sl_ttl_cleaner_free(sl_ttl_cleaner *c) {
  if (!c)
    return;
  free(c->ids);
  free(c);
}

int sl_ttl_cleaner_add(sl_ttl_cleaner *c, uint32_t state_id, const sl_ttl *ttl) {
  if (!c || !ttl || ttl->ttl_ms <= 0)
    return SL_STATE_EINVAL;
  for (size_t i = 0; i < c->n; i++)
    if (c->ids[i] == state_id)
      return SL_STATE_OK;
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 8;
    uint32_t *ids = realloc(c->ids, cap * sizeof(*ids));
    if (!ids)
      return SL_STATE_ENOMEM;
    c->ids = ids;
    c->cap = cap;
  }
  c->ids[c->n++] = state_id;
  return SL_STATE_OK;
}

static int registered(const sl_ttl_cleaner *c, uint32_t id) {
  for (size_t i = 0; i < c->n; i++)
    if (c->ids[i] == id)
      return 1;
  return 0;
}

/* Deletes key if its current value (through the cache) is expired at now. */
static int clean_one(sl_ttl_cleaner *c, const void *key, size_t klen, int64_t now, size_t *removed) {
  const void *raw, *val;
  size_t rawlen, len;
  int rc = sl_backend_get(c->b, key, klen, &raw, &rawlen);
  if (rc == SL_STATE_NOTFOUND)
    return SL_STATE_OK;
  if (rc != SL_STATE_OK)
    return rc;
  if (sl_ttl_check(now, raw, rawlen, &val, &len) != SL_TTL_EXPIRED)
    return SL_STATE_OK;
  if ((rc = sl_backend_delete(c->b, key, klen)) == SL_STATE_OK)
    (*removed)++;
  return rc;
}

/* Checks up to max_entries entries from where the iterator stands; remembers the last key in c. */
static int walk(sl_ttl_cleaner *c, sl_backend_iter *it, int64_t now, size_t max_entries, size_t *removed) {
  for (size_t i = 0; i < max_entries; i++) {
    const void *k, *v, *val;
    size_t klen, vlen, len;
    uint32_t id;
    int rc = sl_backend_iter_next(it, &k, &klen, &v, &vlen);
    if (rc == SL_STATE_NOTFOUND) {
      c->lastlen = 0; /* end of a pass: the next step starts over from the first key */
      return SL_STATE_OK;
    }
    if (rc != SL_STATE_OK)
      return rc;
    memcpy(c->last, k, klen);
    c->lastlen = klen;
    if (sl_key_parse(k, klen, NULL, &id, NULL, NULL, NULL, NULL) != 0 || !registered(c, id))
      continue;
    if (sl_ttl_check(now, v, vlen, &val, &len) != SL_TTL_EXPIRED)
      continue;
    /* c->last, a copy of the key: the iterator's pointer may not survive the get in clean_one. */
    if ((rc = clean_one(c, c->last, klen, now, removed)) != SL_STATE_OK)
      return rc;
  }
  return SL_STATE_OK;
}

int sl_ttl_cleaner_step(sl_ttl_cleaner *c, int64_t now, size_t max_entries, size_t *removed) {
  size_t dummy = 0;
  if (!removed)
    removed = &dummy;
  *removed = 0;
  if (!c)
    return SL_STATE_EINVAL;
  if (c->n == 0 || max_entries == 0)
    return SL_STATE_OK;
  /* A fresh iterator per step, positioned after the last key checked: an iterator left open between
   * steps could outlive the backend (the Lua GC frees the cleaner at an unknown time). */
  sl_backend_iter *it;
  int rc = sl_backend_iter_open(c->b, NULL, 0, &it);
  if (rc != SL_STATE_OK)
    return rc;
  if (c->lastlen)
    rc = sl_backend_iter_seek_after(it, c->last, c->lastlen);
  if (rc == SL_STATE_OK)
    rc = walk(c, it, now, max_entries, removed);
  sl_backend_iter_close(it);
  return rc;
}
