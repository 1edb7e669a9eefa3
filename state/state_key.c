/* state_key.c — the composite key layout and the key-group hash (see state_key.h).
 *
 * The hash decides on which subtask, and where on disk, a key's state lives, so it must never change across
 * versions or platforms. We use XXH64 (xxHash, 64-bit, seed 0) as specified by Yann Collet
 * (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), written out here so that no library
 * update can change it: it is well known (XXH64("abc") = 0x44bc2cf5ad770999), fast on short keys, and unlike
 * FNV-1a its low bits depend on every bit of every input byte, which matters because the key group is
 * taken modulo a small max_parallelism. Bytes are read little-endian whatever the host. */
#include <string.h>

#include "state/byte_order.h"
#include "state/state_key.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl64(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

/* Little-endian loads; on a little-endian host the compiler turns the memcpy into one load. */
static inline uint64_t read64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

static inline uint32_t read32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t input) {
  acc += input * P2;
  acc = rotl64(acc, 31);
  return acc * P1;
}

static inline uint64_t merge64(uint64_t acc, uint64_t val) {
  acc ^= round64(0, val);
  return acc * P1 + P4;
}

uint64_t sl_key_hash(const void *key, size_t len) {
  const uint8_t *p = key;
  const uint8_t *end = p + len;
  uint64_t h;

  if (len >= 32) {
    uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0 - P1;
    do {
      v1 = round64(v1, read64(p));
      v2 = round64(v2, read64(p + 8));
      v3 = round64(v3, read64(p + 16));
      v4 = round64(v4, read64(p + 24));
      p += 32;
    } while (p + 32 <= end);
    h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = merge64(h, v1);
    h = merge64(h, v2);
    h = merge64(h, v3);
    h = merge64(h, v4);
  } else {
    h = P5;
  }
  h += (uint64_t)len;
  for (; p + 8 <= end; p += 8)
    h = rotl64(h ^ round64(0, read64(p)), 27) * P1 + P4;
  if (p + 4 <= end) {
    h = rotl64(h ^ ((uint64_t)read32(p) * P1), 23) * P2 + P3;
    p += 4;
  }
  for (; p < end; p++)
    h = rotl64(h ^ (*p * P5), 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}

uint16_t sl_key_group(const void *key, size_t len, uint16_t max_parallelism) {
  if (max_parallelism == 0)
    max_parallelism = SL_DEFAULT_MAX_PARALLELISM;
  return (uint16_t)(sl_key_hash(key, len) % max_parallelism);
}

size_t sl_key_compose(uint8_t *out, size_t cap, uint16_t key_group, uint32_t state_id, const void *user_key,
                      size_t ukey_len, const void *sub_key, size_t sub_len) {
  if (ukey_len > SL_KEY_MAX_LEN || sub_len > SL_KEY_MAX_LEN)
    return 0;
  size_t total = SL_KEY_HEADER_LEN + ukey_len + sub_len;
  if (total > SL_KEY_MAX_LEN || total > cap || !out)
    return 0;
  if ((ukey_len && !user_key) || (sub_len && !sub_key))
    return 0;
  sl_put_be16(out, key_group);
  sl_put_be32(out + 2, state_id);
  sl_put_be32(out + 6, (uint32_t)ukey_len);
  if (ukey_len)
    memcpy(out + SL_KEY_HEADER_LEN, user_key, ukey_len);
  if (sub_len)
    memcpy(out + SL_KEY_HEADER_LEN + ukey_len, sub_key, sub_len);
  return total;
}

size_t sl_key_prefix(uint8_t *out, size_t cap, uint16_t key_group, uint32_t state_id, const void *user_key,
                     size_t ukey_len) {
  return sl_key_compose(out, cap, key_group, state_id, user_key, ukey_len, NULL, 0);
}

int sl_key_parse(const void *key, size_t klen, uint16_t *key_group, uint32_t *state_id, const void **user_key,
                 size_t *ukey_len, const void **sub_key, size_t *sub_len) {
  const uint8_t *p = key;
  if (!p || klen < SL_KEY_HEADER_LEN)
    return -1;
  uint32_t ulen = sl_get_be32(p + 6);
  if (ulen > klen - SL_KEY_HEADER_LEN)
    return -1;
  if (key_group)
    *key_group = (uint16_t)((uint16_t)p[0] << 8 | p[1]);
  if (state_id)
    *state_id = sl_get_be32(p + 2);
  if (user_key)
    *user_key = p + SL_KEY_HEADER_LEN;
  if (ukey_len)
    *ukey_len = ulen;
  if (sub_key)
    *sub_key = p + SL_KEY_HEADER_LEN + ulen;
  if (sub_len)
    *sub_len = klen - SL_KEY_HEADER_LEN - ulen;
  return 0;
}
