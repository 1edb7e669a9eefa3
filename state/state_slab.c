/* state_slab.c — size-class slabs for the cache's entries (see state_slab.h for the design).
 *
 * A slab is SL_SLAB_BYTES aligned to its size: its header sits at the start, so freeing a chunk finds the
 * slab by masking the chunk's address, with no per-chunk header. Each slab keeps its own free list (linked
 * through the free chunks' first bytes) and a bump offset into its untouched tail; keeping free lists per
 * slab rather than per class is what lets a slab that empties be released without a search. */
#include <stdint.h>
#include <stdlib.h>

#include "state/state_slab.h"

struct sl_slab {
  struct sl_slab *prev, *next; /* on its class's avail or full list */
  void *free;                  /* free chunks, linked through their first 8 bytes */
  uint32_t live;               /* chunks handed out and not freed */
  uint32_t bump;               /* offset of the untouched tail */
  uint32_t cls;
  uint32_t is_full; /* on the full list (no free chunk, no tail room) */
};

/* Chunks start after the header, on a cache line: the typical entry (a counter's: a 24-byte header, a key
 * of a few dozen bytes, 16 bytes of value room) is a 64-byte chunk, which then fills one line instead of
 * straddling two, so a new key costs one memory miss for its entry, not two. A slab still holds as many
 * 64-byte chunks as with the header's 40 bytes ((16384 - 64) / 64 = 255). */
#define SLAB_LINE 64u
#define SLAB_FIRST ((sizeof(struct sl_slab) + SLAB_LINE - 1) & ~(size_t)(SLAB_LINE - 1))

static size_t class_size(uint32_t cls) {
  return ((size_t)cls + 1) * SL_SLAB_GRAIN;
}

static void list_push(struct sl_slab **head, struct sl_slab *s) {
  s->prev = NULL;
  s->next = *head;
  if (*head)
    (*head)->prev = s;
  *head = s;
}

static void list_unlink(struct sl_slab **head, struct sl_slab *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    *head = s->next;
  if (s->next)
    s->next->prev = s->prev;
}

void sl_slab_pool_init(sl_slab_pool *p) {
  *p = (sl_slab_pool){0};
}

static void release_list(struct sl_slab *s) {
  while (s) {
    struct sl_slab *next = s->next;
    free(s);
    s = next;
  }
}

void sl_slab_pool_free(sl_slab_pool *p) {
  for (uint32_t c = 0; c < SL_SLAB_CLASSES; c++) {
    release_list(p->avail[c]);
    release_list(p->full[c]);
  }
  for (sl_slab_large *l = p->large; l;) {
    sl_slab_large *next = l->next;
    free(l);
    l = next;
  }
  sl_slab_pool_init(p);
}

static struct sl_slab *slab_new(sl_slab_pool *p, uint32_t cls) {
  void *mem;
  if (posix_memalign(&mem, SL_SLAB_BYTES, SL_SLAB_BYTES) != 0)
    return NULL;
  struct sl_slab *s = mem;
  *s = (struct sl_slab){.bump = (uint32_t)SLAB_FIRST, .cls = cls};
  list_push(&p->avail[cls], s);
  p->slabs++;
  p->held += SL_SLAB_BYTES;
  p->bytes += SL_SLAB_BYTES;
  return s;
}

static void *large_alloc(sl_slab_pool *p, size_t size) {
  sl_slab_large *l = malloc(sizeof *l + size);
  if (!l)
    return NULL;
  l->prev = NULL;
  l->next = p->large;
  if (p->large)
    p->large->prev = l;
  p->large = l;
  p->held += sl_slab_charge(size);
  p->bytes += sl_slab_charge(size);
  return l + 1;
}

static void large_free(sl_slab_pool *p, void *ptr, size_t size) {
  sl_slab_large *l = (sl_slab_large *)ptr - 1;
  if (l->prev)
    l->prev->next = l->next;
  else
    p->large = l->next;
  if (l->next)
    l->next->prev = l->prev;
  p->held -= sl_slab_charge(size);
  p->bytes -= sl_slab_charge(size);
  free(l);
}

void *sl_slab_alloc(sl_slab_pool *p, size_t size) {
  if (size > SL_SLAB_MAX_CHUNK)
    return large_alloc(p, size);
  uint32_t cls = (uint32_t)((size ? size - 1 : 0) / SL_SLAB_GRAIN);
  size_t csize = class_size(cls);
  struct sl_slab *s = p->avail[cls];
  if (!s && !(s = slab_new(p, cls)))
    return NULL;
  void *chunk;
  if (s->free) {
    chunk = s->free;
    s->free = *(void **)chunk;
    /* The next allocation reads that chunk's link, and then writes an entry over it: freed chunks lie
     * wherever eviction found them, so it is fetched now, while this entry is filled and the record goes
     * on, rather than waited for then. */
    if (s->free)
      __builtin_prefetch(s->free, 1);
    p->bytes += csize; /* a new slab's tail is charged already; a free chunk was given back */
  } else {
    chunk = (uint8_t *)s + s->bump;
    s->bump += (uint32_t)csize;
  }
  s->live++;
  if (!s->free && s->bump + csize > SL_SLAB_BYTES) {
    list_unlink(&p->avail[cls], s);
    list_push(&p->full[cls], s);
    s->is_full = 1;
  }
  return chunk;
}

void sl_slab_free(sl_slab_pool *p, void *ptr, size_t size) {
  if (!ptr)
    return;
  if (size > SL_SLAB_MAX_CHUNK) {
    large_free(p, ptr, size);
    return;
  }
  struct sl_slab *s = (struct sl_slab *)((uintptr_t)ptr & ~(uintptr_t)(SL_SLAB_BYTES - 1));
  size_t csize = class_size(s->cls);
  *(void **)ptr = s->free;
  s->free = ptr;
  s->live--;
  p->bytes -= csize;
  if (s->is_full) {
    list_unlink(&p->full[s->cls], s);
    list_push(&p->avail[s->cls], s);
    s->is_full = 0;
  }
  if (s->live == 0) {
    /* Every chunk it handed out is free: what it still charges is its header and untouched tail. */
    list_unlink(&p->avail[s->cls], s);
    p->bytes -= SL_SLAB_BYTES - (s->bump - SLAB_FIRST);
    p->held -= SL_SLAB_BYTES;
    p->slabs--;
    free(s);
  }
}
