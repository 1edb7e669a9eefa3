/* state_cache.c — the write-back cache's hash table (see state_cache.h for the design).
 *
 * Linear probing keeps a lookup to one or two cache lines of the slot array plus the entry itself; the full
 * 64-bit hash stored in each slot rejects almost every non-matching entry without touching it. The table is
 * kept at most 70% full. Bulk removal (a drop of the whole cache, a delete by prefix) rebuilds the table,
 * which is simpler than backward-shifting during a scan and costs the same O(capacity).
 *
 * Every place that frees or moves an entry goes through entry_release/entry_moved, which keep the queues'
 * pointers valid (see state_cache.h). Eviction is a clock over the slots: one entry at a time, so a hot
 * working set survives cache pressure instead of being dropped with everything else. A large table is mapped
 * with huge pages (state_bigmem.h): lookups of new keys land on random slots. */
#include <stdlib.h>
#include <string.h>

#include "state/state_bigmem.h"
#include "state/state_cache.h"

#define SL_CACHE_MIN_SLOTS 1024u
/* The eviction clock fetches the slot this many steps ahead: slots and entries lie at random addresses,
 * and reading their flags would otherwise wait on each in turn. */
#define SL_CACHE_PREFETCH 16

/* The eviction hand visits the slots in a scattered order: its k-th step is slot (k * odd) mod the table's
 * size, a permutation of a power-of-two table, so a turn still passes every slot once. In slot order, a
 * round of eviction (a quarter of the entries) emptied one stretch of the table and left the rest nearly
 * full, where linear probing walked thousands of slots per miss: 2 M distinct keys took 30 s instead of 5,
 * with misses probing 1143 slots on average at 62 % load. Scattered, the freed slots are spread evenly. */
#define SL_CACHE_HAND_STRIDE 0x9E3779B97F4A7C15ull

static inline size_t hand_slot(const sl_cache *c, size_t step) {
  return (size_t)((uint64_t)step * SL_CACHE_HAND_STRIDE) & c->mask;
}

/* Scattered steps lose the slot array's locality, so the clock fetches ahead: the slot SL_CACHE_PREFETCH
 * steps ahead of the hand, and the entry of the slot half as far ahead (whose slot line was fetched that
 * many steps ago). Each step is fetched once, however many entries the hand frees at one slot (it stays
 * there while remove_at moves later entries of the chain into it): *ahead is the next step to fetch. */
static inline void prefetch_hand(const sl_cache *c, size_t *ahead) {
  for (; *ahead <= c->hand + SL_CACHE_PREFETCH / 2; ++*ahead) {
    __builtin_prefetch(&c->slots[hand_slot(c, *ahead + SL_CACHE_PREFETCH / 2)]);
    sl_cache_entry *e = c->slots[hand_slot(c, *ahead)].e;
    if (e)
      __builtin_prefetch(e);
  }
}

/* The size an entry is allocated with (klen and vcap never change for an entry, so freeing it passes the
 * same size). */
static size_t entry_size(size_t klen, size_t vcap) {
  return sizeof(sl_cache_entry) + klen + vcap;
}

/* What the entry's memory costs the cache (its slab class). */
static size_t entry_charge(const sl_cache_entry *e) {
  return sl_slab_charge(entry_size(e->klen, e->vcap));
}

static void entry_dealloc(sl_cache *c, sl_cache_entry *e) {
  sl_slab_free(&c->pool, e, entry_size(e->klen, e->vcap));
}

/* Value capacity for a value of vlen bytes: a little slack so that a growing value (a counter crossing a
 * byte boundary) does not reallocate every time. */
static size_t value_cap(size_t vlen) {
  return (vlen + 7u) & ~(size_t)7u;
}

static void table_release(sl_cache_slot *s, size_t nslots) {
  sl_bigmem_free(s, nslots * sizeof(sl_cache_slot));
}

static int table_alloc(sl_cache *c, size_t nslots) {
  sl_cache_slot *s = sl_bigmem_alloc(nslots * sizeof(sl_cache_slot));
  if (!s)
    return -1;
  c->slots = s;
  c->mask = nslots - 1;
  return 0;
}

int sl_cache_init(sl_cache *c) {
  memset(c, 0, sizeof(*c));
  sl_slab_pool_init(&c->pool);
  return table_alloc(c, SL_CACHE_MIN_SLOTS);
}

void sl_cache_free(sl_cache *c) {
  if (!c->slots)
    return;
  sl_slab_pool_free(&c->pool); /* the entries, slab by slab */
  table_release(c->slots, c->mask + 1);
  for (int q = 0; q < SL_CQ_COUNT; q++)
    free(c->q[q].v);
  memset(c, 0, sizeof(*c));
}

/* Frees e, first taking it out of every queue it is in. */
static void entry_release(sl_cache *c, sl_cache_entry *e) {
  for (int q = 0; q < SL_CQ_COUNT; q++)
    if (e->qpos[q])
      c->q[q].v[e->qpos[q] - 1] = NULL;
  c->frees++;
  entry_dealloc(c, e);
}

/* n replaces e (a value that outgrew its entry): n takes e's queue positions; e is freed. */
static void entry_moved(sl_cache *c, sl_cache_entry *e, sl_cache_entry *n) {
  for (int q = 0; q < SL_CQ_COUNT; q++) {
    n->qpos[q] = e->qpos[q];
    if (e->qpos[q])
      c->q[q].v[e->qpos[q] - 1] = n;
  }
  c->frees++;
  entry_dealloc(c, e);
}

int sl_cache_enqueue_slow(sl_cache *c, int q, sl_cache_entry *e) {
  sl_cache_queue *qu = &c->q[q];
  /* Positions are 32-bit: a queue that would outgrow them is lost like one without memory. */
  if (qu->n == qu->cap) {
    size_t cap = qu->cap ? qu->cap * 2 : 1024;
    sl_cache_entry **g = cap <= UINT32_MAX ? realloc(qu->v, cap * sizeof *g) : NULL;
    if (!g) {
      qu->lost = 1;
      return -1;
    }
    qu->v = g;
    qu->cap = cap;
  }
  qu->v[qu->n++] = e;
  e->qpos[q] = (uint32_t)qu->n;
  return 0;
}

void sl_cache_queue_clear(sl_cache *c, int q) {
  sl_cache_queue *qu = &c->q[q];
  for (size_t i = 0; i < qu->n; i++)
    if (qu->v[i])
      qu->v[i]->qpos[q] = 0;
  sl_cache_queue_forget(c, q);
}

void sl_cache_queue_forget(sl_cache *c, int q) {
  sl_cache_queue *qu = &c->q[q];
  size_t used = qu->n;
  qu->n = 0;
  qu->lost = 0;
  /* A queue that held a burst (a million entries written in one interval) need not keep its 8 MB; one that
   * a steady stream fills again every interval keeps its array (regrowing it by doubling copied it, into
   * fresh pages, every interval). */
  if (qu->cap > 65536 && used < qu->cap / 4) {
    free(qu->v);
    qu->v = NULL;
    qu->cap = 0;
  }
}

/* Places e (known absent) into the table without growing it. */
static void place(sl_cache *c, uint64_t h, sl_cache_entry *e) {
  size_t i = (size_t)h & c->mask;
  while (c->slots[i].e)
    i = (i + 1) & c->mask;
  c->slots[i].hash = h;
  c->slots[i].e = e;
}

/* Moves every entry of the current table into a new one of nslots slots. */
static int rehash(sl_cache *c, size_t nslots) {
  sl_cache_slot *old = c->slots;
  size_t oldn = c->mask + 1;
  if (table_alloc(c, nslots) != 0) {
    c->slots = old;
    c->mask = oldn - 1;
    return -1;
  }
  for (size_t i = 0; i < oldn; i++)
    if (old[i].e)
      place(c, old[i].hash, old[i].e);
  table_release(old, oldn);
  return 0;
}

static sl_cache_entry *entry_new(sl_cache *c, const void *key, size_t klen, const void *val, size_t vlen,
                                 size_t vcap, uint32_t flags) {
  sl_cache_entry *e = sl_slab_alloc(&c->pool, entry_size(klen, vcap));
  if (!e)
    return NULL;
  e->klen = (uint32_t)klen;
  e->vlen = (uint32_t)vlen;
  e->vcap = (uint32_t)vcap;
  e->flags = flags;
  memset(e->qpos, 0, sizeof e->qpos);
  memcpy(e->data, key, klen);
  if (vlen)
    memcpy(e->data + klen, val, vlen);
  return e;
}

/* sl_cache_set, with room for a value of at least `room` bytes in a new entry. */
static sl_cache_entry *set_with_room(sl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                                     size_t vlen, uint32_t flags, size_t room) {
  size_t vcap = value_cap(vlen > room ? vlen : room);
  c->sets++;
  size_t i = (size_t)h & c->mask;
  for (;; i = (i + 1) & c->mask) {
    sl_cache_entry *e = c->slots[i].e;
    if (!e)
      break;
    if (c->slots[i].hash != h || e->klen != klen || memcmp(e->data, key, klen) != 0)
      continue;
    if (vlen <= e->vcap) {
      if (vlen)
        memmove(e->data + klen, val, vlen);
      e->vlen = (uint32_t)vlen;
      e->flags = flags | (e->flags & SL_CE_REF);
      return c->last = e;
    }
    /* Built before the old entry is freed, so val may point into it. */
    sl_cache_entry *n = entry_new(c, key, klen, val, vlen, vcap, flags | (e->flags & SL_CE_REF));
    if (!n)
      return NULL;
    entry_moved(c, e, n);
    c->slots[i].e = n;
    return c->last = n;
  }
  sl_cache_entry *n = entry_new(c, key, klen, val, vlen, vcap, flags);
  if (!n)
    return NULL;
  if ((c->count + 1) * 10 > (c->mask + 1) * 7) {
    if (rehash(c, (c->mask + 1) * 2) != 0) {
      entry_dealloc(c, n);
      return NULL;
    }
    place(c, h, n);
  } else {
    c->slots[i].hash = h;
    c->slots[i].e = n;
  }
  c->count++;
  return c->last = n;
}

sl_cache_entry *sl_cache_set(sl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                             size_t vlen, uint32_t flags) {
  return set_with_room(c, h, key, klen, val, vlen, flags, 0);
}

sl_cache_entry *sl_cache_set_absent(sl_cache *c, uint64_t h, const void *key, size_t klen) {
  return set_with_room(c, h, key, klen, NULL, 0, SL_CE_DELETED, SL_CACHE_ABSENT_ROOM);
}

/* Empties slot i and closes the hole by moving back later entries of the probe chain (Knuth's algorithm R),
 * so that every remaining entry stays reachable from its home slot. */
static void remove_at(sl_cache *c, size_t i) {
  size_t j = i;
  for (;;) {
    j = (j + 1) & c->mask;
    if (!c->slots[j].e)
      break;
    size_t home = (size_t)c->slots[j].hash & c->mask;
    /* The entry at j may move to i unless its home lies cyclically in (i, j]. */
    int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (!stays) {
      c->slots[i] = c->slots[j];
      i = j;
    }
  }
  c->slots[i].e = NULL;
}

/* Gives memory back after removals: shrinks a mostly empty table (keeping it if the smaller one cannot be
 * had). */
static void shrink(sl_cache *c) {
  size_t n = SL_CACHE_MIN_SLOTS;
  while (c->count * 10 > n * 3)
    n *= 2;
  if (n < c->mask + 1)
    (void)rehash(c, n);
}

void sl_cache_remove_if(sl_cache *c, int (*pred)(const sl_cache_entry *e, void *arg), void *arg) {
  c->last = NULL;
  c->frees++; /* conservatively: pointers taken before a removal pass are not trusted after it */
  if (!pred) {
    sl_slab_pool_free(&c->pool);
    memset(c->slots, 0, (c->mask + 1) * sizeof(*c->slots));
    /* Every entry is gone, so the queues are empty (a lost mark stays: a pass over the slots is still what
     * its consumer needs, and now costs little). */
    for (int q = 0; q < SL_CQ_COUNT; q++)
      c->q[q].n = 0;
    c->count = 0;
  } else {
    /* After a removal, slot i holds an entry moved back from later in the chain: look at it again. */
    for (size_t i = 0; i <= c->mask;) {
      sl_cache_entry *e = c->slots[i].e;
      if (e && pred(e, arg)) {
        c->count--;
        entry_release(c, e);
        remove_at(c, i);
      } else {
        i++;
      }
    }
  }
  shrink(c);
}

size_t sl_cache_evict(sl_cache *c, size_t target, int gentle, size_t *spared) {
  const uint32_t pinned = SL_CE_DIRTY | SL_CE_IN_TXN;
  size_t freed = 0, nslots = c->mask + 1;
  if (spared)
    *spared = 0;
  /* Two turns of the hand at most (one when gentle): the first may only clear reference bits. A free does
   * not move the hand (remove_at moves a later entry of the chain into the slot, to be looked at next), so
   * it is not a step. */
  size_t ahead = c->hand;
  for (size_t steps = 0; c->pool.bytes > target && steps < (gentle ? 1 : 2) * nslots;) {
    size_t i = hand_slot(c, c->hand);
    sl_cache_entry *e = c->slots[i].e;
    prefetch_hand(c, &ahead);
    if (!e || (e->flags & pinned) || (e->flags & SL_CE_REF)) {
      if (spared && e && !(e->flags & pinned))
        *spared += entry_charge(e);
      if (e && !gentle)
        e->flags &= ~(uint32_t)SL_CE_REF;
      c->hand++;
      steps++;
      continue;
    }
    if (c->last == e)
      c->last = NULL;
    c->count--;
    entry_release(c, e);
    remove_at(c, i);
    if (c->slots[i].e) /* moved in from later in the chain: looked at next */
      __builtin_prefetch(c->slots[i].e);
    freed++;
  }
  /* The table is part of what the cache holds: after a burst (gets never evict) it may have grown for
   * many more entries than are left. shrink rebuilds only a table under 15% full, so a round of eviction
   * (a quarter of the entries, from a table at least 35% full since it last doubled) does not shrink a
   * table that new keys would grow again. */
  if (freed)
    shrink(c);
  return freed;
}
