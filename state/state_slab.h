/* state_slab.h — the allocator of the write-back cache's entries (state_cache.h): size classes carved out of
 * slabs, so that caching a new key does not call malloc and dropping a cache frees its slabs, not its
 * entries one by one.
 *
 * An allocation of at most SL_SLAB_MAX_CHUNK bytes is rounded up to its class (a multiple of 8 bytes) and
 * taken from a slab of that class: from the slab's free list (chunks freed earlier), else from its untouched
 * tail, else from a new slab of SL_SLAB_BYTES (aligned to its size, so a chunk finds its slab from its
 * address). A slab whose chunks are all free again is released. Larger allocations are plain mallocs with a
 * small header that links them, so that sl_slab_pool_free still releases everything without being told.
 *
 * Accounting (sl_slab_pool.bytes): every slab held counts whole (its header and tail included) except its
 * free chunks; a large allocation counts its requested size and header. Freeing a chunk takes its bytes off
 * at once: the chunk goes back on its slab's free list, which later allocations of the class take before
 * any new slab, so the memory the pool holds beyond `bytes` is at most what was freed and not yet reused in
 * classes that are not allocated again (and a slab emptied entirely leaves at once). held is every byte
 * taken from malloc.
 * Ownership: the pool owns its slabs and large allocations; a caller owns a pointer until it frees it with
 * the size it allocated. Not thread-safe. */
#ifndef SLUICE_STATE_SLAB_H
#define SLUICE_STATE_SLAB_H

#include <stddef.h>

#define SL_SLAB_BYTES 16384u
#define SL_SLAB_GRAIN 8u
#define SL_SLAB_MAX_CHUNK 1024u
#define SL_SLAB_CLASSES (SL_SLAB_MAX_CHUNK / SL_SLAB_GRAIN)

struct sl_slab;

typedef struct sl_slab_large {
  struct sl_slab_large *prev, *next;
} sl_slab_large;

typedef struct sl_slab_pool {
  /* Per class, the slabs that have a free chunk or tail room (allocations take the first), and the full
   * ones; each slab is on exactly one of the two lists. */
  struct sl_slab *avail[SL_SLAB_CLASSES];
  struct sl_slab *full[SL_SLAB_CLASSES];
  sl_slab_large *large; /* allocations above SL_SLAB_MAX_CHUNK */
  size_t bytes;         /* what the pool charges (see above) */
  size_t held;          /* bytes taken from malloc: slabs and large allocations */
  size_t slabs;         /* slabs held */
} sl_slab_pool;

/* An empty pool (holds nothing; no call can fail). */
void sl_slab_pool_init(sl_slab_pool *p);

/* Releases every slab and large allocation: every pointer the pool gave out is invalid after it. The pool
 * is empty and usable again. */
void sl_slab_pool_free(sl_slab_pool *p);

/* The bytes an allocation of size charges: its class's size, or size plus the large header. */
static inline size_t sl_slab_charge(size_t size) {
  return size <= SL_SLAB_MAX_CHUNK ? (size + SL_SLAB_GRAIN - 1) & ~(size_t)(SL_SLAB_GRAIN - 1)
                                   : size + sizeof(sl_slab_large);
}

/* size bytes (size > 0), 8-byte aligned, or NULL when out of memory (the pool is then unchanged). */
void *sl_slab_alloc(sl_slab_pool *p, size_t size);

/* Gives back ptr (NULL: no-op), which sl_slab_alloc returned for the same size. */
void sl_slab_free(sl_slab_pool *p, void *ptr, size_t size);

#endif
