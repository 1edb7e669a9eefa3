/* key_sort.h — sorts the keys a commit or a flush writes into LMDB into LMDB's order (memcmp of the bytes),
 * fast: LMDB then fills a few leaf pages at a time instead of touching a random page per key.
 *
 * Why not qsort: with a million new keys a spill or a flush sorts hundreds of thousands of them, and
 * glibc's merge sort through a comparator was a fifth of the CPU time of a distinct-key run (perf, 1 M
 * distinct keys). Keys here are short and share long prefixes (key group, state id, length), so an LSD
 * radix sort over the first 24 bytes, skipping the byte positions where every key holds the same byte,
 * takes a few passes over a flat array; only keys that agree in all 24 bytes are compared further. When the
 * values the batch's keys take at their varying positions code into 64 bits (a counter's keys: digits and
 * key groups), the passes move 16-byte (code, pointer) pairs instead, with wider digits (key_sort.c).
 *
 * An item carries its key's first 24 bytes as big-endian words (zero-padded), so comparing items is comparing
 * words, and a pointer to whatever the caller sorts. Ownership: the caller's array; sl_sort_items allocates a
 * scratch array of the same size and frees it (without memory it falls back to qsort in place), or takes the
 * caller's (sl_sort_items_with). */
#ifndef SLUICE_KEY_SORT_H
#define SLUICE_KEY_SORT_H

#include <stddef.h>
#include <stdint.h>

#define SL_SORT_PREFIX 24

typedef struct sl_sort_item {
  uint64_t w[3]; /* lead byte, then the key's first 23 bytes, as big-endian words */
  void *p;       /* the caller's record */
} sl_sort_item;

/* memcmp order of two byte strings, the shorter first on a tie: LMDB's default key order, which tie
 * functions compare full keys by. */
int sl_sort_bytes_cmp(const void *a, size_t alen, const void *b, size_t blen);

/* Orders two items that agree in their 24 prefix bytes: the caller's full comparison of the keys. It may
 * read only the items' p (the compressed path hands it items that carry nothing else). */
typedef int (*sl_sort_tie_fn)(const sl_sort_item *a, const sl_sort_item *b);

/* Fills it for a key: `lead` sorts before the key's bytes (a database number, so that one sort orders by
 * database, then key; a constant when there is one database). */
void sl_sort_item_init(sl_sort_item *it, uint8_t lead, const void *key, size_t klen, void *p);

/* Sorts v[0..n) by prefix, then by tie (which sees only items whose prefixes are equal). Stable in neither
 * case; never fails (see above). What comes out sorted is the items' p: their prefix words w are left in
 * no particular order (every caller walks the pointers; rebuilding the words cost as much as the sort). */
void sl_sort_items(sl_sort_item *v, size_t n, sl_sort_tie_fn tie);
/* The same with the caller's scratch array of at least n items (NULL: allocated here), for a caller that
 * sorts batches of about the same size again and again and keeps the array rather than fault in a fresh one
 * each time. */
void sl_sort_items_with(sl_sort_item *v, size_t n, sl_sort_tie_fn tie, sl_sort_item *scratch);

#endif
