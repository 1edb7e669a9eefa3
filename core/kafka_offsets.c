/* kafka_offsets.c — a Kafka source's per-partition offsets in a checkpoint (see kafka_offsets.h). */
#include "core/kafka_offsets.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sl_kafka_offsets_encode(const int64_t *next, int n, char **out, size_t *len) {
  size_t cap = (size_t)n * 32 + 1, used = 0;
  char *s = malloc(cap);
  if (!s)
    return -1;
  for (int p = 0; p < n; p++)
    if (next[p] != SL_KAFKA_NO_OFFSET)
      used += (size_t)snprintf(s + used, cap - used, "%d %" PRId64 "\n", p, next[p]);
  *out = s;
  *len = used;
  return 0;
}

/* A decimal number of digits only (no sign, no space) in [p, end), into *v; the end of it, or NULL. */
static const char *number(const char *p, const char *end, int64_t *v) {
  const char *start = p;
  int64_t x = 0;
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    if (x > (INT64_MAX - (*p - '0')) / 10)
      return NULL;
    x = x * 10 + (*p - '0');
  }
  *v = x;
  return p > start ? p : NULL;
}

int sl_kafka_offsets_decode(const void *val, size_t len, int64_t *next, int n, long *bad_partition) {
  const char *p = val, *end = p + len;
  while (p < end) {
    int64_t part, off;
    if (!(p = number(p, end, &part)) || p == end || *p++ != ' ' || !(p = number(p, end, &off)) || p == end ||
        *p++ != '\n')
      return -1;
    if (part >= n) {
      *bad_partition = (long)part;
      return -2;
    }
    next[part] = off;
  }
  return 0;
}
