/* timer_state.c — the time-ordered timer queue over the backend (see timer_state.h).
 *
 * Poll copies up to SL_TIMER_POLL_BATCH due timers out of one cursor walk and hands them out one by one,
 * deleting each as it goes out; before handing one out it checks that the entry still exists, so a timer
 * deleted between polls is skipped. A timer added in between that sorts before the end of the copied run
 * drops the copy, so the next poll walks again and keeps the time order. */
#include "state/timer_state.h"

#include <stdlib.h>
#include <string.h>

#include "state/byte_order.h"
#include "state/operator_state.h"

/* Times are signed; flipping the sign bit makes their big-endian bytes sort in numeric order. */
static uint64_t ts_bits(int64_t ts) {
  return (uint64_t)ts ^ ((uint64_t)1 << 63);
}
static int64_t ts_from_bits(uint64_t v) {
  return (int64_t)(v ^ ((uint64_t)1 << 63));
}

/* The composite key of timer (ts, key): 0 if the key is too long. */
static size_t timer_key(const sl_timer_queue *q, uint8_t *out, int64_t ts, const void *key, size_t klen) {
  uint8_t sub[SL_KEY_MAX_LEN];
  if (klen > SL_TIMER_MAX_KEY || (klen && !key))
    return 0;
  sl_put_be64(sub, ts_bits(ts));
  if (klen)
    memcpy(sub + 8, key, klen);
  return sl_key_compose(out, SL_KEY_MAX_LEN, SL_OP_STATE_GROUP, q->state_id, NULL, 0, sub, 8 + klen);
}

void sl_timer_queue_init(sl_timer_queue *q, sl_backend *b, uint32_t state_id) {
  memset(q, 0, sizeof *q);
  q->backend = b;
  q->state_id = state_id;
}

void sl_timer_queue_close(sl_timer_queue *q) {
  if (!q)
    return;
  free(q->due_ts);
  free(q->due_off);
  free(q->due_len);
  free(q->due_keys);
  q->due_ts = NULL;
  q->due_off = q->due_len = NULL;
  q->due_keys = NULL;
  q->due_n = q->due_pos = q->due_cap = q->keys_cap = 0;
}

int sl_timer_queue_add(sl_timer_queue *q, int64_t ts, const void *key, size_t klen, uint16_t key_group) {
  uint8_t k[SL_KEY_MAX_LEN], v[2];
  size_t kl = q ? timer_key(q, k, ts, key, klen) : 0;
  if (!kl)
    return SL_STATE_EINVAL;
  sl_put_be16(v, key_group);
  int rc = sl_backend_put(q->backend, k, kl, v, sizeof v);
  if (rc != SL_STATE_OK)
    return rc;
  if (q->next_known && ts < q->next)
    q->next = ts;
  /* Conservative: a new timer at or before the last copied one may sort inside the copied run. */
  if (q->due_pos < q->due_n && ts <= q->due_ts[q->due_n - 1])
    q->due_n = q->due_pos = 0;
  return SL_STATE_OK;
}

int sl_timer_queue_delete(sl_timer_queue *q, int64_t ts, const void *key, size_t klen) {
  uint8_t k[SL_KEY_MAX_LEN];
  size_t kl = q ? timer_key(q, k, ts, key, klen) : 0;
  if (!kl)
    return SL_STATE_EINVAL;
  return sl_backend_delete(q->backend, k, kl);
}

static int due_push(sl_timer_queue *q, int64_t ts, const uint8_t *key, size_t klen) {
  if (q->due_n == q->due_cap) {
    size_t cap = q->due_cap ? q->due_cap * 2 : 16;
    int64_t *t = realloc(q->due_ts, cap * sizeof *t);
    if (t)
      q->due_ts = t;
    uint32_t *o = realloc(q->due_off, cap * sizeof *o);
    if (o)
      q->due_off = o;
    uint32_t *l = realloc(q->due_len, cap * sizeof *l);
    if (l)
      q->due_len = l;
    if (!t || !o || !l)
      return SL_STATE_ENOMEM;
    q->due_cap = cap;
  }
  size_t off = q->due_n ? q->due_off[q->due_n - 1] + q->due_len[q->due_n - 1] : 0;
  if (off + klen > q->keys_cap) {
    size_t cap = q->keys_cap ? q->keys_cap : 1024;
    while (cap < off + klen)
      cap *= 2;
    uint8_t *p = realloc(q->due_keys, cap);
    if (!p)
      return SL_STATE_ENOMEM;
    q->due_keys = p;
    q->keys_cap = cap;
  }
  if (klen)
    memcpy(q->due_keys + off, key, klen);
  q->due_ts[q->due_n] = ts;
  q->due_off[q->due_n] = (uint32_t)off;
  q->due_len[q->due_n++] = (uint32_t)klen;
  return SL_STATE_OK;
}

/* One cursor walk from the start of the queue: copies the due timers (time <= upto, at most a poll batch)
 * and learns the earliest pending time. */
static int refill(sl_timer_queue *q, int64_t upto) {
  uint8_t prefix[SL_KEY_MAX_LEN];
  size_t plen = sl_key_prefix(prefix, sizeof prefix, SL_OP_STATE_GROUP, q->state_id, NULL, 0);
  sl_backend_iter *it;
  q->due_n = q->due_pos = 0;
  int rc = sl_backend_iter_open(q->backend, prefix, plen, &it);
  if (rc != SL_STATE_OK)
    return rc;
  const void *k, *v;
  size_t kl, vl;
  int first = 1;
  while ((rc = sl_backend_iter_next(it, &k, &kl, &v, &vl)) == SL_STATE_OK) {
    const uint8_t *sub = (const uint8_t *)k + plen;
    if (kl < plen + 8)
      continue; /* not a timer entry: never written by this module */
    int64_t ts = ts_from_bits(sl_get_be64(sub));
    if (first) {
      q->next = ts;
      q->next_known = 1;
      first = 0;
    }
    if (ts > upto || q->due_n == SL_TIMER_POLL_BATCH)
      break;
    if ((rc = due_push(q, ts, sub + 8, kl - plen - 8)) != SL_STATE_OK)
      break;
  }
  sl_backend_iter_close(it);
  if (rc == SL_STATE_NOTFOUND) {
    if (first) {
      q->next = INT64_MAX;
      q->next_known = 1;
    }
    rc = SL_STATE_OK;
  }
  return rc;
}

int sl_timer_queue_next(sl_timer_queue *q, int64_t *ts) {
  if (!q || !ts)
    return SL_STATE_EINVAL;
  if (!q->next_known) {
    int rc = refill(q, INT64_MIN); /* copies nothing: only learns the earliest time */
    if (rc != SL_STATE_OK)
      return rc;
  }
  if (q->next == INT64_MAX)
    return SL_STATE_NOTFOUND;
  *ts = q->next;
  return SL_STATE_OK;
}

int sl_timer_queue_poll(sl_timer_queue *q, int64_t upto, int64_t *ts, const void **key, size_t *klen) {
  if (!q || !ts || !key || !klen)
    return SL_STATE_EINVAL;
  for (;;) {
    if (q->due_pos == q->due_n) {
      if (q->next_known && q->next > upto)
        return SL_STATE_NOTFOUND;
      int rc = refill(q, upto);
      if (rc != SL_STATE_OK)
        return rc;
      if (q->due_n == 0)
        return SL_STATE_NOTFOUND;
    }
    size_t i = q->due_pos++;
    uint8_t k[SL_KEY_MAX_LEN];
    size_t kl = timer_key(q, k, q->due_ts[i], q->due_keys + q->due_off[i], q->due_len[i]);
    const void *v;
    size_t vl;
    int rc = sl_backend_get(q->backend, k, kl, &v, &vl);
    if (rc == SL_STATE_NOTFOUND)
      continue; /* deleted since the walk */
    if (rc != SL_STATE_OK || (rc = sl_backend_delete(q->backend, k, kl)) != SL_STATE_OK)
      return rc;
    memcpy(q->last_key, q->due_keys + q->due_off[i], q->due_len[i]);
    *ts = q->due_ts[i];
    *key = q->last_key;
    *klen = q->due_len[i];
    return SL_STATE_OK;
  }
}

/* The watermark entry: user key "w", which sorts after every timer (their user key is empty). */
static size_t watermark_key(const sl_timer_queue *q, uint8_t *out) {
  return sl_key_compose(out, SL_KEY_MAX_LEN, SL_OP_STATE_GROUP, q->state_id, "w", 1, NULL, 0);
}

int sl_timer_queue_watermark(sl_timer_queue *q, int64_t *wm) {
  uint8_t k[SL_KEY_MAX_LEN];
  const void *v;
  size_t vl;
  if (!q || !wm)
    return SL_STATE_EINVAL;
  int rc = sl_backend_get(q->backend, k, watermark_key(q, k), &v, &vl);
  if (rc != SL_STATE_OK)
    return rc;
  if (vl != 8)
    return SL_STATE_ECORRUPT;
  *wm = ts_from_bits(sl_get_be64(v));
  return SL_STATE_OK;
}

int sl_timer_queue_set_watermark(sl_timer_queue *q, int64_t wm) {
  uint8_t k[SL_KEY_MAX_LEN], v[8];
  if (!q)
    return SL_STATE_EINVAL;
  sl_put_be64(v, ts_bits(wm));
  return sl_backend_put(q->backend, k, watermark_key(q, k), v, sizeof v);
}

int sl_timer_queue_count(sl_timer_queue *q, uint64_t *n) {
  uint8_t prefix[SL_KEY_MAX_LEN];
  size_t plen = sl_key_prefix(prefix, sizeof prefix, SL_OP_STATE_GROUP, q->state_id, NULL, 0);
  sl_backend_iter *it;
  *n = 0;
  int rc = sl_backend_iter_open(q->backend, prefix, plen, &it);
  if (rc != SL_STATE_OK)
    return rc;
  const void *k, *v;
  size_t kl, vl;
  while ((rc = sl_backend_iter_next(it, &k, &kl, &v, &vl)) == SL_STATE_OK)
    if (kl >= plen + 8) /* the watermark entry is not a timer */
      (*n)++;
  sl_backend_iter_close(it);
  return rc == SL_STATE_NOTFOUND ? SL_STATE_OK : rc;
}
