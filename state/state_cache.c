/* state_cache.c — the write-back cache's hash table (see state_cache.h for the design).
 *
 * Linear probing keeps a lookup to one or two cache lines of the slot array plus the entry itself; the full
 * 64-bit hash stored in each slot rejects almost every non-matching entry without touching it. The table is
 * kept at most 70% full. Bulk removal (a drop of the whole cache, a delete by prefix) rebuilds the table,
 * which is simpler than backward-shifting during a scan and costs the same O(capacity). */
#include <stdlib.h>
#include <string.h>

#include "state/state_cache.h"

#define SL_CACHE_MIN_SLOTS 1024u

static size_t entry_size(size_t klen, size_t vcap) {
  return sizeof(sl_cache_entry) + klen + vcap;
}

/* Value capacity for a value of vlen bytes: a little slack so that a growing value (a counter crossing a
 * byte boundary) does not reallocate every time. */
static size_t value_cap(size_t vlen) {
  return (vlen + 7u) & ~(size_t)7u;
}

static int table_alloc(sl_cache *c, size_t nslots) {
  sl_cache_slot *s = calloc(nslots, sizeof(*s));
  if (!s)
    return -1;
  c->slots = s;
  c->mask = nslots - 1;
  return 0;
}

int sl_cache_init(sl_cache *c) {
  memset(c, 0, sizeof(*c));
  return table_alloc(c, SL_CACHE_MIN_SLOTS);
}

void sl_cache_free(sl_cache *c) {
  if (!c->slots)
    return;
  for (size_t i = 0; i <= c->mask; i++)
    free(c->slots[i].e);
  free(c->slots);
  memset(c, 0, sizeof(*c));
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
  free(old);
  return 0;
}

static sl_cache_entry *entry_new(const void *key, size_t klen, const void *val, size_t vlen, uint32_t flags) {
  size_t vcap = value_cap(vlen);
  sl_cache_entry *e = malloc(entry_size(klen, vcap));
  if (!e)
    return NULL;
  e->klen = (uint32_t)klen;
  e->vlen = (uint32_t)vlen;
  e->vcap = (uint32_t)vcap;
  e->flags = flags;
  memcpy(e->data, key, klen);
  if (vlen)
    memcpy(e->data + klen, val, vlen);
  return e;
}

sl_cache_entry *sl_cache_set(sl_cache *c, uint64_t h, const void *key, size_t klen, const void *val,
                             size_t vlen, uint32_t flags) {
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
      e->flags = flags | (e->flags & SL_CE_LISTED);
      return c->last = e;
    }
    /* Built before the old entry is freed, so val may point into it. */
    sl_cache_entry *n = entry_new(key, klen, val, vlen, flags);
    if (!n)
      return NULL;
    c->bytes += entry_size(klen, n->vcap) - entry_size(klen, e->vcap);
    free(e);
    c->frees++;
    c->slots[i].e = n;
    return c->last = n;
  }
  sl_cache_entry *n = entry_new(key, klen, val, vlen, flags);
  if (!n)
    return NULL;
  if ((c->count + 1) * 10 > (c->mask + 1) * 7) {
    if (rehash(c, (c->mask + 1) * 2) != 0) {
      free(n);
      return NULL;
    }
    place(c, h, n);
  } else {
    c->slots[i].hash = h;
    c->slots[i].e = n;
  }
  c->count++;
  c->bytes += entry_size(klen, n->vcap);
  return c->last = n;
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

void sl_cache_remove_if(sl_cache *c, int (*pred)(const sl_cache_entry *e, void *arg), void *arg) {
  c->last = NULL;
  c->frees++; /* conservatively: pointers taken before a removal pass are not trusted after it */
  if (!pred) {
    for (size_t i = 0; i <= c->mask; i++)
      free(c->slots[i].e);
    memset(c->slots, 0, (c->mask + 1) * sizeof(*c->slots));
    c->count = 0;
    c->bytes = 0;
  } else {
    /* After a removal, slot i holds an entry moved back from later in the chain: look at it again. */
    for (size_t i = 0; i <= c->mask;) {
      sl_cache_entry *e = c->slots[i].e;
      if (e && pred(e, arg)) {
        c->bytes -= entry_size(e->klen, e->vcap);
        c->count--;
        free(e);
        remove_at(c, i);
      } else {
        i++;
      }
    }
  }
  /* Give memory back after a drop: shrink a mostly empty table (keeping it if the smaller one cannot be had).
   */
  size_t n = SL_CACHE_MIN_SLOTS;
  while (c->count * 10 > n * 3)
    n *= 2;
  if (n < c->mask + 1)
    (void)rehash(c, n);
}
