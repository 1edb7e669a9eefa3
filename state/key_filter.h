/* key_filter.h — which composite keys may exist in the backend's LMDB "kv" database: a filter that lets a
 * cache miss for a key never written skip LMDB's B-tree descent (for a job seeing new keys, nearly every
 * miss is one; measured on 4 M distinct keys, mdb_get was 13 % of the record thread).
 *
 * Built as a chain of blocked Bloom filters (each key sets 6 bits of one 64-byte block: one cache line per
 * filter and lookup). A Bloom filter cannot grow, so when the newest one holds its capacity a new one four
 * times larger is added; a lookup asks every filter in the chain, newest (largest) first. The chain's
 * memory is capped (max_bytes): a filter that would pass the cap is not added and the whole filter turns
 * off — from then on it answers "may exist" for every key. An allocation that fails does the same.
 *
 * The one promise: sl_key_filter_may_exist returns 0 only for a hash never given to sl_key_filter_add (false
 * positives happen, about 2 % per filter at capacity; false negatives never). The backend keeps the
 * invariant that every key LMDB may hold has been added (state_backend.c says how).
 * Ownership: the filter owns its bit arrays; init is paired with free. Not thread-safe (the record thread's
 * only). */
#ifndef SLUICE_KEY_FILTER_H
#define SLUICE_KEY_FILTER_H

#include <stddef.h>
#include <stdint.h>

#define SL_KEY_FILTER_MAX_CHAIN 12

typedef struct sl_key_filter_part {
  uint64_t *bits;  /* nblocks blocks of 8 words */
  size_t nblocks;  /* a power of two */
  size_t capacity; /* keys it takes before the next part is added */
  size_t count;    /* keys added to it */
} sl_key_filter_part;

typedef struct sl_key_filter {
  sl_key_filter_part part[SL_KEY_FILTER_MAX_CHAIN];
  int nparts;
  int off;          /* saturated or out of memory: every key may exist */
  size_t bytes;     /* bit arrays allocated */
  size_t max_bytes; /* the cap on bytes */
} sl_key_filter;

/* Sets up a filter that `keys` keys are about to be added to, whose bit arrays may take at most max_bytes
 * in all: its first part has room for twice as many (at least a minimum), or for keys when the cap does
 * not allow that. Never fails: without room or memory for keys the filter starts off. */
void sl_key_filter_init(sl_key_filter *f, size_t keys, size_t max_bytes);

/* Frees the bit arrays; the filter is then off (safe to query, everything may exist). */
void sl_key_filter_free(sl_key_filter *f);

/* Records that the key of hash h (sl_cache_hash of the composite key) may exist. Adds a larger filter when
 * the newest is full, or turns the filter off when that would pass the cap or cannot be allocated. */
void sl_key_filter_add(sl_key_filter *f, uint64_t h);

/* Adds n hashes at once: each one's block is fetched before any is set, so a bulk add (the build at open
 * over millions of keys) waits for memory once per batch, not once per key. */
void sl_key_filter_add_many(sl_key_filter *f, const uint64_t *h, size_t n);

/* Starts fetching the blocks a look-up of h reads, so that their memory latency overlaps other work (the
 * cache's probe for the same key). */
void sl_key_filter_prefetch(const sl_key_filter *f, uint64_t h);

/* 0 when the key of hash h was certainly never added; 1 when it may have been (or the filter is off). */
int sl_key_filter_may_exist(const sl_key_filter *f, uint64_t h);

/* Turns the filter off for good (a build that could not finish): every key may exist. */
void sl_key_filter_disable(sl_key_filter *f);

#endif
