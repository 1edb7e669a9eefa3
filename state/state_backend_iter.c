/* state_backend_iter.c — everything that walks LMDB with a cursor: prefix iterators and delete_prefix.
 *
 * An iterator reads the write transaction after flushing into it the entries written since the previous
 * flush (the cache's UNFLUSHED queue: what an open costs is what was written since, never a pass over the
 * cache), so it sees the state "as of now" in key order without merging two sources. Because the
 * transaction can end under it (a commit, or an abort to grow the map — LMDB then frees the cursor itself),
 * an iterator remembers the transaction generation it was opened in and the last key it returned; when the
 * generation has moved on it flushes again, opens a fresh cursor and resumes just after that key. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_backend_internal.h"
#include "state/state_key.h"

struct sl_backend_iter {
  sl_backend *b; /* NULL once the backend closed under the iterator (sl_bk_orphan_iters) */
  struct sl_backend_iter *prev, *next; /* the backend's live iterators */
  MDB_cursor *cur;
  uint64_t gen; /* b->txn_gen when cur was opened */
  int started, done;
  size_t plen, lastlen;
  uint8_t last[SL_KEY_MAX_LEN];
  uint8_t prefix[];
};

static int has_prefix(const MDB_val *k, const void *prefix, size_t plen) {
  return k->mv_size >= plen && (plen == 0 || memcmp(k->mv_data, prefix, plen) == 0);
}

/* The keys found under a prefix, packed as (u16 length, bytes). */
struct key_list {
  const void *prefix;
  size_t plen;
  uint8_t *buf;
  size_t len, cap;
};

static int key_list_add(struct key_list *l, const MDB_val *k) {
  if (l->len + 2 + k->mv_size > l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4096;
    while (cap < l->len + 2 + k->mv_size)
      cap *= 2;
    uint8_t *g = realloc(l->buf, cap);
    if (!g)
      return ENOMEM;
    l->buf = g;
    l->cap = cap;
  }
  l->buf[l->len] = (uint8_t)(k->mv_size >> 8);
  l->buf[l->len + 1] = (uint8_t)k->mv_size;
  memcpy(l->buf + l->len + 2, k->mv_data, k->mv_size);
  l->len += 2 + k->mv_size;
  return 0;
}

/* sl_bk_op: writes what was written since the last flush into the transaction, which then holds every
 * key that exists, and lists those under the prefix. Rerun from scratch after MAP_FULL. */
static int op_list_prefix(sl_backend *b, void *arg) {
  struct key_list *l = arg;
  l->len = 0;
  int rc = sl_bk_op_flush(b, NULL);
  MDB_cursor *cur;
  if (rc || (rc = mdb_cursor_open(b->txn, b->kv, &cur)) != 0)
    return rc;
  MDB_val k = {l->plen, (void *)l->prefix}, v;
  for (rc = mdb_cursor_get(cur, &k, &v, l->plen ? MDB_SET_RANGE : MDB_FIRST);
       rc == 0 && has_prefix(&k, l->prefix, l->plen); rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    if ((rc = key_list_add(l, &k)) != 0)
      break;
  mdb_cursor_close(cur);
  return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* A delete of every key that exists under the prefix, each an ordinary delete through the cache: it costs
 * the entries under the prefix (not a pass over the cache), reaches LMDB with the next flush or barrier,
 * and a frozen batch holds it like any delete — so deleting a prefix (MapState clear, ListState update,
 * operator state snapshots) keeps the next checkpoint incremental. */
int sl_backend_delete_prefix(sl_backend *b, const void *prefix, size_t plen) {
  if (!b || (plen && !prefix) || plen > SL_KEY_MAX_LEN)
    return SL_STATE_EINVAL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  struct key_list l = {prefix, plen, NULL, 0, 0};
  int rc = sl_bk_run(b, op_list_prefix, &l, "listing a key prefix to delete");
  for (size_t at = 0; rc == SL_STATE_OK && at < l.len;) {
    size_t klen = (size_t)l.buf[at] << 8 | l.buf[at + 1];
    rc = sl_backend_delete(b, l.buf + at + 2, klen);
    at += 2 + klen;
  }
  free(l.buf);
  return rc;
}

/* Opens it->cur in the current transaction, after writing dirty entries into it. */
static int attach(sl_backend_iter *it) {
  sl_backend *b = it->b;
  int rc = sl_bk_run(b, sl_bk_op_flush, NULL, "flushing the cache for an iterator");
  /* The flushes of a job that iterates state fill one transaction until the barrier: past its bound it is
   * committed (its dirty pages are memory), and a fresh one opened for the cursor. */
  if (rc == SL_STATE_OK && sl_bk_txn_over_bound(b) && (rc = sl_bk_spill_commit(b)) == SL_STATE_OK)
    rc = sl_bk_run(b, sl_bk_op_flush, NULL, "flushing the cache for an iterator");
  if (rc != SL_STATE_OK)
    return rc;
  if ((rc = mdb_cursor_open(b->txn, b->kv, &it->cur)) != 0) {
    it->cur = NULL;
    return sl_bk_fail(b, rc, "opening a cursor");
  }
  it->gen = b->txn_gen;
  return SL_STATE_OK;
}

int sl_backend_iter_open(sl_backend *b, const void *prefix, size_t plen, sl_backend_iter **out) {
  if (!b || !out || (plen && !prefix) || plen > SL_KEY_MAX_LEN)
    return SL_STATE_EINVAL;
  *out = NULL;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  sl_backend_iter *it = calloc(1, sizeof(*it) + plen + 1);
  if (!it)
    return SL_STATE_ENOMEM;
  it->b = b;
  it->plen = plen;
  if (plen)
    memcpy(it->prefix, prefix, plen);
  int rc = attach(it);
  if (rc != SL_STATE_OK) {
    free(it);
    return rc;
  }
  it->next = b->iters;
  if (it->next)
    it->next->prev = it;
  b->iters = it;
  *out = it;
  return SL_STATE_OK;
}

int sl_backend_iter_next(sl_backend_iter *it, const void **key, size_t *klen, const void **val,
                         size_t *vlen) {
  if (!it || !it->b || !key || !klen || !val || !vlen)
    return SL_STATE_EINVAL;
  if (it->done)
    return SL_STATE_NOTFOUND;
  sl_backend *b = it->b;
  if (b->broken)
    return SL_STATE_ECORRUPT;
  MDB_val k, v;
  MDB_cursor_op op;
  int rc;
  if (it->gen != b->txn_gen || !b->txn) {
    /* The transaction the cursor lived in is gone (LMDB freed the cursor): resume in the current one. */
    it->cur = NULL;
    rc = attach(it);
    if (rc != SL_STATE_OK)
      return rc;
    if (it->started) {
      k.mv_size = it->lastlen;
      k.mv_data = it->last;
      rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
      if (rc == 0 && k.mv_size == it->lastlen && memcmp(k.mv_data, it->last, it->lastlen) == 0)
        rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
      goto got;
    }
  }
  if (it->started) {
    op = MDB_NEXT;
  } else {
    k.mv_size = it->plen;
    k.mv_data = it->prefix;
    op = it->plen ? MDB_SET_RANGE : MDB_FIRST;
  }
  rc = mdb_cursor_get(it->cur, &k, &v, op);
got:
  if (rc == MDB_NOTFOUND || (rc == 0 && !has_prefix(&k, it->prefix, it->plen))) {
    it->done = 1;
    return SL_STATE_NOTFOUND;
  }
  if (rc)
    return sl_bk_fail(b, rc, "iterating");
  it->started = 1;
  it->lastlen = k.mv_size;
  memcpy(it->last, k.mv_data, k.mv_size);
  *key = k.mv_data;
  *klen = k.mv_size;
  *val = v.mv_data;
  *vlen = v.mv_size;
  return SL_STATE_OK;
}

void sl_backend_iter_close(sl_backend_iter *it) {
  if (!it)
    return;
  if (it->b) {
    /* A cursor of a write transaction that has ended was freed with it. */
    if (it->cur && it->gen == it->b->txn_gen && it->b->txn)
      mdb_cursor_close(it->cur);
    if (it->prev)
      it->prev->next = it->next;
    else
      it->b->iters = it->next;
    if (it->next)
      it->next->prev = it->prev;
  }
  free(it);
}

void sl_bk_orphan_iters(sl_backend *b) {
  /* Iterators left open (a Lua loop that broke early, closed later by the garbage collector) may be closed
   * after their backend: from now on they only free themselves. Their cursors die with the transaction. */
  for (sl_backend_iter *it = b->iters, *next; it; it = next) {
    next = it->next;
    it->b = NULL;
    it->cur = NULL;
    it->prev = it->next = NULL;
  }
  b->iters = NULL;
}

int sl_backend_iter_seek_after(sl_backend_iter *it, const void *key, size_t klen) {
  if (!it || !it->b || !key || klen == 0 || klen > SL_KEY_MAX_LEN)
    return SL_STATE_EINVAL;
  /* Reuse the resume-after-a-commit path of next: drop the cursor and pretend it was on key. */
  if (it->cur && it->gen == it->b->txn_gen && it->b->txn)
    mdb_cursor_close(it->cur);
  it->cur = NULL;
  it->gen = it->b->txn_gen - 1;
  it->started = 1;
  it->done = 0;
  it->lastlen = klen;
  memcpy(it->last, key, klen);
  return SL_STATE_OK;
}
