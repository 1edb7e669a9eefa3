/* state_ttl.c — the TTL header and the read/write rules of state_ttl.h.
 *
 * The header is a prefix of the value rather than a second LMDB entry so that a TTL read stays one cache
 * probe, exactly like a read without TTL. Writes build header + value in the scope's value scratch, so the
 * per-record path allocates only when a value is larger than any written before. */
#include <stdlib.h>
#include <string.h>

#include "state/byte_order.h"
#include "state/state_ttl.h"

int sl_ttl_check(int64_t now, const void *raw, size_t rawlen, const void **val, size_t *len) {
  const uint8_t *p = raw;
  if (rawlen < SL_TTL_HEADER_LEN || p[0] != SL_TTL_TAG) {
    *val = raw;
    *len = rawlen;
    return SL_TTL_UNWRAPPED;
  }
  *val = p + SL_TTL_HEADER_LEN;
  *len = rawlen - SL_TTL_HEADER_LEN;
  return (int64_t)sl_get_be64(p + 1) <= now ? SL_TTL_EXPIRED : SL_TTL_LIVE;
}

static int grow(sl_keyed_scope *s, size_t need) {
  if (need <= s->vcap)
    return SL_STATE_OK;
  size_t cap = s->vcap ? s->vcap : 256;
  while (cap < need)
    cap *= 2;
  uint8_t *p = realloc(s->vbuf, cap);
  if (!p)
    return SL_STATE_ENOMEM;
  s->vbuf = p;
  s->vcap = cap;
  return SL_STATE_OK;
}

/* Builds header + value in s->vbuf; val may already point into s->vbuf (after the header). */
static int wrap(sl_keyed_scope *s, const sl_ttl *t, const void *val, size_t len, int64_t now) {
  uintptr_t v = (uintptr_t)val, base = (uintptr_t)s->vbuf;
  int inside = val && s->vbuf && v >= base && v < base + s->vcap;
  size_t off = inside ? (size_t)(v - base) : 0;
  if (!inside && grow(s, SL_TTL_HEADER_LEN + len) != SL_STATE_OK)
    return SL_STATE_ENOMEM;
  if (len)
    memmove(s->vbuf + SL_TTL_HEADER_LEN, inside ? s->vbuf + off : val, len);
  s->vbuf[0] = SL_TTL_TAG;
  sl_put_be64(s->vbuf + 1, (uint64_t)(now + t->ttl_ms));
  return SL_STATE_OK;
}

int sl_ttl_put(sl_keyed_scope *s, const sl_ttl *t, const void *key, size_t klen, const void *val,
               size_t len) {
  if (!s || (len && !val))
    return SL_STATE_EINVAL;
  if (!t)
    return sl_backend_put(s->backend, key, klen, val, len);
  if (t->ttl_ms <= 0)
    return SL_STATE_EINVAL;
  int rc = wrap(s, t, val, len, sl_scope_now(s));
  if (rc != SL_STATE_OK)
    return rc;
  return sl_backend_put(s->backend, key, klen, s->vbuf, SL_TTL_HEADER_LEN + len);
}

int sl_ttl_get(sl_keyed_scope *s, const sl_ttl *t, const void *key, size_t klen, const void **val,
               size_t *len) {
  if (!s || !val || !len)
    return SL_STATE_EINVAL;
  const void *raw;
  size_t rawlen;
  int rc = sl_backend_get(s->backend, key, klen, &raw, &rawlen);
  if (rc != SL_STATE_OK || !t) {
    *val = raw;
    *len = rawlen;
    return rc;
  }
  int64_t now = sl_scope_now(s);
  int verdict = sl_ttl_check(now, raw, rawlen, val, len);
  if (verdict == SL_TTL_EXPIRED) {
    int visible = t->visibility == SL_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP;
    /* The value must outlive the delete (which may move cache entries): copy it into the scratch first. */
    if (visible && (rc = sl_ttl_keep(s, *val, *len, val)) != SL_STATE_OK)
      return rc;
    if ((rc = sl_backend_delete(s->backend, key, klen)) != SL_STATE_OK)
      return rc;
    return visible ? SL_STATE_OK : SL_STATE_NOTFOUND;
  }
  if (t->update == SL_TTL_ON_READ_AND_WRITE) {
    size_t n = *len;
    if ((rc = wrap(s, t, *val, n, now)) != SL_STATE_OK ||
        (rc = sl_backend_put(s->backend, key, klen, s->vbuf, SL_TTL_HEADER_LEN + n)) != SL_STATE_OK)
      return rc;
    *val = s->vbuf + SL_TTL_HEADER_LEN;
    *len = n;
  }
  return SL_STATE_OK;
}

int sl_ttl_unwrap(const sl_keyed_scope *s, const sl_ttl *t, const void *raw, size_t rawlen, const void **val,
                  size_t *len) {
  if (!val || !len)
    return SL_STATE_EINVAL;
  if (!t) {
    *val = raw;
    *len = rawlen;
    return SL_STATE_OK;
  }
  int verdict = sl_ttl_check(sl_scope_now(s), raw, rawlen, val, len);
  if (verdict == SL_TTL_EXPIRED && t->visibility != SL_TTL_RETURN_EXPIRED_IF_NOT_CLEANED_UP)
    return SL_STATE_NOTFOUND;
  return SL_STATE_OK;
}

int sl_ttl_keep(sl_keyed_scope *s, const void *val, size_t len, const void **out) {
  if (!s || !out || (len && !val))
    return SL_STATE_EINVAL;
  if (grow(s, SL_TTL_HEADER_LEN + len) != SL_STATE_OK)
    return SL_STATE_ENOMEM;
  if (len)
    memcpy(s->vbuf + SL_TTL_HEADER_LEN, val, len);
  *out = s->vbuf + SL_TTL_HEADER_LEN;
  return SL_STATE_OK;
}
