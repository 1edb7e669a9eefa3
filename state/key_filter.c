/* key_filter.c — the chain of blocked Bloom filters behind sl_key_filter_may_exist (see key_filter.h).
 *
 * Each part has 8 bits per key of capacity in 512-bit blocks; a key's block comes from the high half of its
 * hash (the cache's table uses the low bits, so the two stay independent) and its 6 bits from a remix of the
 * whole hash. Blocked filters are a little less exact than plain ones (about 2 % false positives at
 * capacity instead of 1.5 %) for one cache line per lookup instead of six. The bit arrays are big arrays
 * probed at random, allocated as state_bigmem.h says. */
#include <string.h>

#include "state/key_filter.h"
#include "state/state_bigmem.h"

/* The first part's capacity: 1 MiB of bits, touched page by page as keys arrive. A job that grows to a
 * million keys then asks one part, not three (64 k, 256 k, 1 M), and has a tenth of the false positives,
 * each of which costs a B-tree descent. A cap too small for it gets the largest first part that fits, down
 * to SMALLEST_CAPACITY. */
#define MIN_CAPACITY ((size_t)1 << 20)
#define SMALLEST_CAPACITY ((size_t)1 << 16)
#define KEYS_PER_BLOCK 64 /* 512 bits a block: 8 bits per key */
#define BITS_PER_KEY 6
#define GROWTH 4

static size_t block_of(const sl_key_filter_part *p, uint64_t h) {
  return (size_t)(h >> 32) & (p->nblocks - 1);
}

/* The remix that the bit positions are taken from, 9 bits each from the top. */
static uint64_t bit_source(uint64_t h) {
  h ^= h >> 31;
  h *= 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

/* Adds a part for `capacity` keys (rounded up to whole power-of-two blocks). Returns 0, or -1 when the cap
 * or the memory does not allow it. */
static int add_part(sl_key_filter *f, size_t capacity) {
  if (f->nparts == SL_KEY_FILTER_MAX_CHAIN)
    return -1;
  size_t nblocks = 1;
  while (nblocks * KEYS_PER_BLOCK < capacity)
    nblocks *= 2;
  size_t bytes = nblocks * 8 * sizeof(uint64_t);
  if (bytes > f->max_bytes || f->bytes > f->max_bytes - bytes)
    return -1;
  uint64_t *bits = sl_bigmem_alloc(bytes);
  if (!bits)
    return -1;
  f->part[f->nparts++] = (sl_key_filter_part){bits, nblocks, nblocks * KEYS_PER_BLOCK, 0};
  f->bytes += bytes;
  return 0;
}

void sl_key_filter_init(sl_key_filter *f, size_t keys, size_t max_bytes) {
  memset(f, 0, sizeof *f);
  f->max_bytes = max_bytes;
  int many = keys > MIN_CAPACITY / 2;
  /* Room to grow if the cap allows it, else room for the keys there are. */
  if (add_part(f, many ? keys * 2 : MIN_CAPACITY) == 0 || (many && add_part(f, keys) == 0))
    return;
  for (size_t c = MIN_CAPACITY / 2; !many && c >= SMALLEST_CAPACITY; c /= 2)
    if (add_part(f, c) == 0)
      return;
  f->off = 1;
}

void sl_key_filter_free(sl_key_filter *f) {
  for (int i = 0; i < f->nparts; i++)
    sl_bigmem_free(f->part[i].bits, f->part[i].nblocks * 8 * sizeof(uint64_t));
  f->nparts = 0;
  f->bytes = 0;
  f->off = 1;
}

void sl_key_filter_disable(sl_key_filter *f) {
  size_t cap = f->max_bytes;
  sl_key_filter_free(f);
  f->max_bytes = cap;
}

void sl_key_filter_add(sl_key_filter *f, uint64_t h) {
  if (f->off)
    return;
  sl_key_filter_part *p = &f->part[f->nparts - 1];
  if (p->count >= p->capacity) {
    /* The bits of every part so far stay: their keys are still answered by them. */
    if (add_part(f, p->capacity * GROWTH) != 0) {
      sl_key_filter_disable(f);
      return;
    }
    p = &f->part[f->nparts - 1];
  }
  uint64_t *blk = p->bits + block_of(p, h) * 8;
  uint64_t g = bit_source(h);
  for (int i = 0; i < BITS_PER_KEY; i++) {
    unsigned pos = (unsigned)(g >> (64 - 9 * (i + 1))) & 511u;
    blk[pos >> 6] |= (uint64_t)1 << (pos & 63);
  }
  p->count++;
}

void sl_key_filter_add_many(sl_key_filter *f, const uint64_t *h, size_t n) {
  if (f->off)
    return;
  /* The newest part now; an add that grows the chain only costs that batch its prefetches. */
  const sl_key_filter_part *p = &f->part[f->nparts - 1];
  for (size_t i = 0; i < n; i++)
    __builtin_prefetch(p->bits + block_of(p, h[i]) * 8, 1);
  for (size_t i = 0; i < n; i++)
    sl_key_filter_add(f, h[i]);
}

static int part_has(const sl_key_filter_part *p, uint64_t h, uint64_t g) {
  const uint64_t *blk = p->bits + block_of(p, h) * 8;
  for (int i = 0; i < BITS_PER_KEY; i++) {
    unsigned pos = (unsigned)(g >> (64 - 9 * (i + 1))) & 511u;
    if (!(blk[pos >> 6] & ((uint64_t)1 << (pos & 63))))
      return 0;
  }
  return 1;
}

void sl_key_filter_prefetch(const sl_key_filter *f, uint64_t h) {
  if (f->off)
    return;
  for (int i = f->nparts - 1; i >= 0; i--)
    __builtin_prefetch(f->part[i].bits + block_of(&f->part[i], h) * 8);
}

int sl_key_filter_may_exist(const sl_key_filter *f, uint64_t h) {
  if (f->off)
    return 1;
  uint64_t g = bit_source(h);
  /* A key never added is looked up in every part: the blocks are fetched together, not one miss after
   * the other. */
  sl_key_filter_prefetch(f, h);
  for (int i = f->nparts - 1; i >= 0; i--)
    if (part_has(&f->part[i], h, g))
      return 1;
  return 0;
}
