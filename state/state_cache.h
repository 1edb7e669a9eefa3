/* state_cache.h — the write-back cache in front of LMDB: an open-addressing hash table (linear probing,
 * power-of-two capacity, backward-shift removal, no tombstones) from composite key to value bytes.
 *
 * Each entry is one allocation holding its key and its value inline, with spare value capacity so that
 * rewriting a value of the same or smaller size (the per-record update of a counter) allocates nothing.
 * Entries come from the cache's own slab pool (state_slab.h): caching a new key takes a chunk of a slab
 * rather than calling malloc, and freeing the cache releases slabs, not entries one by one.
 * The caller computes a key's hash once (sl_cache_hash) and passes it to both the lookup and the insert.
 * Entry pointers are stable across table growth (the table holds pointers); an entry moves only when its
 * value outgrows its capacity (sl_cache_set) or when it is removed.
 *
 * Queues: the backend must find "the entries written since X" without a pass over every slot (a pass costs
 * O(capacity): done per iterator open, it made iterating state quadratic). A queue is an array of entry
 * pointers, each entry at most once (its 1-based position is kept in the entry). The cache keeps queues
 * right when an entry moves (its new address takes its place) or is freed (its place becomes NULL, which
 * consumers skip), so a queue's pointers are always valid. An append that cannot allocate marks the queue
 * lost: its consumer must then fall back to a pass over the slots.
 * Ownership: the cache owns its table, its queues and every entry. Used only by the backend's files. */
#ifndef SLUICE_STATE_CACHE_H
#define SLUICE_STATE_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "state/state_slab.h"

enum {
  SL_CE_DIRTY = 1,   /* differs from what LMDB last committed: must be written before the commit succeeds */
  SL_CE_DELETED = 2, /* the key is absent (a delete to write if dirty, a cached miss if clean) */
  SL_CE_IN_TXN = 4,  /* this exact value is already written into the open write transaction */
  SL_CE_REF = 8, /* used since the eviction hand last passed (state_cache.c's clock); kept across sets. A new
                    entry, and the put that follows the get of a miss, leave it clear: a key earns it by a
                    later use, so keys seen once go first */
};

/* The backend's queues (state_backend_internal.h says what each holds). */
enum { SL_CQ_WRITTEN = 0, SL_CQ_UNFLUSHED = 1, SL_CQ_COUNT = 2 };

typedef struct sl_cache_entry {
  uint32_t klen, vlen, vcap;
  uint32_t flags;
  uint32_t qpos[SL_CQ_COUNT]; /* 1-based position in each queue, 0 = not in it */
  uint8_t data[];             /* klen key bytes, then vcap value bytes */
} sl_cache_entry;

typedef struct sl_cache_queue {
  struct sl_cache_entry **v; /* NULL where a queued entry was freed */
  size_t n, cap;
  int lost; /* an append failed for lack of memory: the queue misses entries */
} sl_cache_queue;

typedef struct sl_cache_slot {
  uint64_t hash;
  sl_cache_entry *e; /* NULL = empty slot */
} sl_cache_slot;

typedef struct sl_cache {
  sl_cache_slot *slots;
  size_t mask;       /* capacity - 1 */
  size_t count;      /* entries */
  sl_slab_pool pool; /* the entries' memory; pool.bytes is what they cost (slabs held, less their free
                        chunks — state_slab.h), what the eviction clock brings down */
  uint64_t frees;    /* entries freed so far: while it does not change, every entry pointer taken earlier is
                        still valid (state_flush.c settles frozen entries through their pointers) */
  /* The entry most recently found or set. A keyed operator reads a state and then writes it back for the
   * same key (get, then put): checking this entry first skips the hash and the probe of the second call.
   * Cleared whenever an entry is freed. */
  sl_cache_entry *last;
  sl_cache_queue q[SL_CQ_COUNT];
  size_t hand;   /* the eviction clock's step: it is at slot hand_slot(hand) (sl_cache_evict) */
  uint64_t sets; /* sl_cache_set calls: a cheap "changed since" for caches that only hold pending writes */
} sl_cache;

static inline const uint8_t *sl_cache_key(const sl_cache_entry *e) {
  return e->data;
}
static inline uint8_t *sl_cache_value(sl_cache_entry *e) {
  return e->data + e->klen;
}

/* Returns 0, or -1 on allocation failure. */
int sl_cache_init(sl_cache *c);
/* Frees every entry and the table. */
void sl_cache_free(sl_cache *c);

/* The hash every cache uses: only in memory, so unlike sl_key_hash (which places keys in key groups on
 * disk and must never change) it only needs to be fast and well mixed — 8 bytes per multiply, a final
 * avalanche. Keys are a few dozen bytes. */
static inline uint64_t sl_cache_hash(const void *key, size_t len) {
  const uint8_t *p = key;
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (len * 0xC2B2AE3D27D4EB4Full);
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    p += 8;
    len -= 8;
  }
  uint64_t t = 0;
  memcpy(&t, p, len);
  h = (h ^ t) * 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  h *= 0xFF51AFD7ED558CCDull;
  return h ^ (h >> 32);
}

/* The entry of key (hash h), or NULL. Inline: this is the per-record hot path. */
static inline sl_cache_entry *sl_cache_find(sl_cache *c, uint64_t h, const void *key, size_t klen) {
  for (size_t i = (size_t)h & c->mask;; i = (i + 1) & c->mask) {
    const sl_cache_slot *s = &c->slots[i];
    if (!s->e)
      return NULL;
    if (s->hash == h && s->e->klen == klen && memcmp(s->e->data, key, klen) == 0)
      return c->last = s->e;
  }
}

/* The last entry found or set, if it is key's; else NULL (then hash and sl_cache_find). */
static inline sl_cache_entry *sl_cache_last(const sl_cache *c, const void *key, size_t klen) {
  sl_cache_entry *e = c->last;
  return e && e->klen == klen && memcmp(e->data, key, klen) == 0 ? e : NULL;
}

/* Sets key's value and flags, creating the entry if absent (val may be NULL when vlen is 0). Reuses the
 * entry's memory when the value fits; val may point into the entry's own current value. Returns the entry, or
 * NULL on allocation failure (the cache is then unchanged). */
sl_cache_entry *sl_cache_set(sl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                             size_t vlen, uint32_t flags);

/* Caches that key is absent (a miss LMDB answered "not found": SL_CE_DELETED, clean), in an entry with
 * room for a value of SL_CACHE_ABSENT_ROOM bytes: the put that usually follows the get of a new key (a
 * counter's first count, a number: 9 bytes) then rewrites the entry in place, with no second allocation,
 * hash or probe. Returns the entry, or NULL on allocation failure. */
#define SL_CACHE_ABSENT_ROOM 16
sl_cache_entry *sl_cache_set_absent(sl_cache *c, uint64_t h, const void *key, size_t klen);

/* Removes (and frees) every entry for which pred returns non-zero; pred NULL removes all. */
void sl_cache_remove_if(sl_cache *c, int (*pred)(const sl_cache_entry *e, void *arg), void *arg);

/* Appends e to queue q unless it is in it already. Returns 0, or -1 when out of memory (the queue is then
 * marked lost and e is not in it). */
int sl_cache_enqueue_slow(sl_cache *c, int q, sl_cache_entry *e);
static inline int sl_cache_enqueue(sl_cache *c, int q, sl_cache_entry *e) {
  return e->qpos[q] ? 0 : sl_cache_enqueue_slow(c, q, e);
}

/* Empties queue q (and clears its lost mark); its entries stay in the cache. Gives back the memory of a
 * queue that grew large. */
void sl_cache_queue_clear(sl_cache *c, int q);
/* sl_cache_queue_clear for a caller that already zeroed qpos[q] of every entry on the queue (a pass over the
 * entries that had other work to do): empties the queue without visiting them again. */
void sl_cache_queue_forget(sl_cache *c, int q);

/* Frees clean entries (neither SL_CE_DIRTY nor SL_CE_IN_TXN) one by one with a clock (second chance: an
 * entry used since the hand last passed — SL_CE_REF — loses the flag and stays), until the cache's entries
 * hold at most target bytes or two turns of the hand found nothing more to free. gentle: only entries not
 * used since the hand last passed go, no flag is cleared, and the hand makes one turn at most (a first try
 * that spares the hot entries while the caller has another way to make room). *spared (when not NULL)
 * gets the bytes of the clean entries the hand passed without freeing them (after a whole gentle turn: of
 * every clean entry still used). Returns the number of entries freed. */
size_t sl_cache_evict(sl_cache *c, size_t target, int gentle, size_t *spared);

/* Slot-order traversal: for (i = 0; i <= c->mask; i++) if ((e = c->slots[i].e)) ... */

#endif
