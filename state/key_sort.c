/* key_sort.c — LSD radix sort of keys by their 24-byte prefix (key_sort.h says why). */
#include "state/key_sort.h"

#include <stdlib.h>
#include <string.h>

void sl_sort_item_init(sl_sort_item *it, uint8_t lead, const void *key, size_t klen, void *p) {
  uint8_t buf[SL_SORT_PREFIX] = {lead};
  memcpy(buf + 1, key, klen < SL_SORT_PREFIX - 1 ? klen : SL_SORT_PREFIX - 1);
  for (int w = 0; w < 3; w++) {
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
      x = x << 8 | buf[w * 8 + i];
    it->w[w] = x;
  }
  it->p = p;
}

int sl_sort_bytes_cmp(const void *a, size_t alen, const void *b, size_t blen) {
  int c = memcmp(a, b, alen < blen ? alen : blen);
  return c ? c : (alen > blen) - (alen < blen);
}

/* Byte j (0 = most significant) of an item's prefix. */
static inline unsigned digit(const sl_sort_item *it, int j) {
  return (unsigned)(it->w[j >> 3] >> (8 * (7 - (j & 7)))) & 0xff;
}

static int prefix_cmp(const sl_sort_item *a, const sl_sort_item *b) {
  for (int w = 0; w < 3; w++)
    if (a->w[w] != b->w[w])
      return a->w[w] < b->w[w] ? -1 : 1;
  return 0;
}

/* qsort's comparator, for the fallback and for runs of equal prefixes: the tie function is passed through a
 * thread-local, since qsort (unlike qsort_r) takes no argument and flushes run on two threads. */
static _Thread_local sl_sort_tie_fn current_tie;

static int full_cmp(const void *pa, const void *pb) {
  int c = prefix_cmp(pa, pb);
  return c ? c : current_tie(pa, pb);
}

static void sort_equal_runs(sl_sort_item *v, size_t n, sl_sort_tie_fn tie) {
  current_tie = tie;
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && !prefix_cmp(&v[i], &v[j]))
      j++;
    if (j - i > 1)
      qsort(v + i, j - i, sizeof *v, full_cmp);
    i = j;
  }
}

void sl_sort_items(sl_sort_item *v, size_t n, sl_sort_tie_fn tie) {
  sl_sort_items_with(v, n, tie, NULL);
}

void sl_sort_items_with(sl_sort_item *v, size_t n, sl_sort_tie_fn tie, sl_sort_item *scratch) {
  if (n < 2)
    return;
  sl_sort_item *tmp = n < 64 ? NULL : scratch ? scratch : malloc(n * sizeof *tmp);
  size_t(*count)[256] = tmp ? calloc(SL_SORT_PREFIX, sizeof *count) : NULL;
  if (!count) { /* small, or no memory for the scratch arrays: a comparison sort in place */
    if (tmp != scratch)
      free(tmp);
    current_tie = tie;
    qsort(v, n, sizeof *v, full_cmp);
    return;
  }
  /* Every byte position's histogram in one pass; a position where one byte value holds every key sorts
   * nothing and is skipped. */
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < SL_SORT_PREFIX; j++)
      count[j][digit(&v[i], j)]++;
  sl_sort_item *from = v, *to = tmp;
  for (int j = SL_SORT_PREFIX - 1; j >= 0; j--) {
    size_t *c = count[j];
    if (c[digit(&from[0], j)] == n)
      continue;
    size_t at = 0;
    for (int d = 0; d < 256; d++) {
      size_t k = c[d];
      c[d] = at;
      at += k;
    }
    for (size_t i = 0; i < n; i++)
      to[c[digit(&from[i], j)]++] = from[i];
    sl_sort_item *t = from;
    from = to;
    to = t;
  }
  if (from != v)
    memcpy(v, from, n * sizeof *v);
  free(count);
  if (tmp != scratch)
    free(tmp);
  sort_equal_runs(v, n, tie);
}
