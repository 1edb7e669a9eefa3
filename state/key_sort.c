/* key_sort.c — LSD radix sort of keys by their 24-byte prefix (key_sort.h says why). */
#include "state/key_sort.h"

#include "state/byte_order.h"

#include <stdlib.h>
#include <string.h>

void sl_sort_item_init(sl_sort_item *it, uint8_t lead, const void *key, size_t klen, void *p) {
  uint8_t buf[SL_SORT_PREFIX] = {lead};
  memcpy(buf + 1, key, klen < SL_SORT_PREFIX - 1 ? klen : SL_SORT_PREFIX - 1);
  for (int w = 0; w < 3; w++)
    it->w[w] = sl_get_be64(buf + 8 * w);
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

/* The compressed path. Keys of one batch use few values at each varying byte position (a counter's keys:
 * ten digits, a hundred-odd key groups), so the histograms give each position a dense rank of `bits` bits
 * and a key's whole prefix a code of the positions' ranks side by side, most significant first: codes
 * order as prefixes do, and equal codes mean equal prefixes. When the codes fit in 64 bits, the passes move
 * (code, pointer) pairs of 16 bytes, with digits of up to 11 bits: 1 M distinct URL keys need 38 bits, so
 * 4 passes over 16 bytes instead of 9 over the 32-byte items, a quarter of the memory traffic, which is
 * what the sort costs (a flush's sort is one of the few passes over every new key). Keys whose codes are
 * equal go to the tie function, and the items then take the sorted pointers (their prefix words are left
 * as they were: key_sort.h). Returns 0 when the codes do not fit (the byte-wise passes then sort). */
#define CODE_DIGIT_MAX_BITS 11

typedef struct sort_pair {
  uint64_t code;
  void *p;
} sort_pair;

/* Orders two pairs whose codes are equal (equal prefixes) by the caller's tie function, which reads only
 * the items' p. */
static int pair_tie_cmp(const void *pa, const void *pb) {
  const sort_pair *a = pa, *b = pb;
  sl_sort_item ia = {.p = a->p}, ib = {.p = b->p};
  return current_tie(&ia, &ib);
}

static int sort_compressed(sl_sort_item *v, size_t n, size_t (*count)[256], const int *vary, int nvary,
                           sl_sort_item *scratch, sl_sort_tie_fn tie) {
  int bits[SL_SORT_PREFIX], total = 0; /* the rank width of each varying position */
  for (int k = 0; k < nvary; k++) {
    unsigned card = 0;
    for (unsigned d = 0; d < 256; d++)
      card += count[vary[k]][d] != 0;
    for (bits[k] = 0; (1u << bits[k]) < card;)
      bits[k]++;
    total += bits[k];
  }
  int passes = (total + CODE_DIGIT_MAX_BITS - 1) / CODE_DIGIT_MAX_BITS;
  int width = passes ? (total + passes - 1) / passes : 0;
  size_t *c = total <= 64 ? calloc((size_t)1 << width, sizeof *c) : NULL;
  if (!c)
    return 0;
  uint8_t rank[SL_SORT_PREFIX][256]; /* per varying position: byte -> its rank among the batch's bytes */
  for (int k = 0; k < nvary; k++)
    for (unsigned d = 0, r = 0; d < 256; d++)
      rank[k][d] = (uint8_t)(count[vary[k]][d] ? r++ : 0);
  sort_pair *from = (sort_pair *)scratch, *to = from + n; /* scratch holds n items: 2n pairs */
  for (size_t i = 0; i < n; i++) {
    uint64_t code = 0;
    for (int k = 0; k < nvary; k++)
      code = code << bits[k] | rank[k][digit(&v[i], vary[k])];
    from[i] = (sort_pair){code, v[i].p};
  }
  uint64_t mask = ((uint64_t)1 << width) - 1;
  for (int pass = 0; pass < passes; pass++) {
    int shift = pass * width;
    memset(c, 0, ((size_t)1 << width) * sizeof *c);
    for (size_t i = 0; i < n; i++)
      c[from[i].code >> shift & mask]++;
    if (c[from[0].code >> shift & mask] == n)
      continue;
    size_t at = 0;
    for (size_t d = 0; d <= mask; d++) {
      size_t k = c[d];
      c[d] = at;
      at += k;
    }
    for (size_t i = 0; i < n; i++)
      to[c[from[i].code >> shift & mask]++] = from[i];
    sort_pair *t = from;
    from = to;
    to = t;
  }
  free(c);
  current_tie = tie;
  for (size_t i = 0; i < n;) { /* equal codes: keys equal in their whole prefix, ordered by tie */
    size_t j = i + 1;
    while (j < n && from[j].code == from[i].code)
      j++;
    if (j - i > 1)
      qsort(from + i, j - i, sizeof *from, pair_tie_cmp);
    i = j;
  }
  for (size_t i = 0; i < n; i++)
    v[i].p = from[i].p;
  return 1;
}

/* The byte-wise LSD passes over the items themselves, one per varying position (count: the histograms). */
static void sort_bytewise(sl_sort_item *v, size_t n, size_t (*count)[256], sl_sort_item *tmp) {
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
  /* Every byte position's histogram; a position where one byte value holds every key sorts nothing and is
   * skipped. The bits that differ anywhere (the OR and the AND of all prefixes) tell those positions first,
   * so that the histogram pass counts only the others (9 of 24 for a counter's keys). */
  uint64_t any[3] = {0, 0, 0}, all[3] = {~0ull, ~0ull, ~0ull};
  for (size_t i = 0; i < n; i++)
    for (int w = 0; w < 3; w++) {
      any[w] |= v[i].w[w];
      all[w] &= v[i].w[w];
    }
  int vary[SL_SORT_PREFIX], nvary = 0;
  for (int j = 0; j < SL_SORT_PREFIX; j++) {
    int shift = 8 * (7 - (j & 7));
    if (((any[j >> 3] ^ all[j >> 3]) >> shift) & 0xff)
      vary[nvary++] = j;
    else
      count[j][(all[j >> 3] >> shift) & 0xff] = n;
  }
  for (size_t i = 0; i < n; i++)
    for (int k = 0; k < nvary; k++)
      count[vary[k]][digit(&v[i], vary[k])]++;
  int done = sort_compressed(v, n, count, vary, nvary, tmp, tie);
  if (!done)
    sort_bytewise(v, n, count, tmp);
  free(count);
  if (tmp != scratch)
    free(tmp);
  if (!done)
    sort_equal_runs(v, n, tie);
}
