/* kafka_offsets.c — a Kafka source's per-partition offsets in a checkpoint (see kafka_offsets.h). */
#include "core/kafka_offsets.h"

#include "core/source.h"
#include "core/state_inspect.h"

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

/* One stored value's offsets printed after "kafka:TOPIC next offsets:". 0, or -1 with err. */
static int print_value(const char *key, const char *val, size_t len, FILE *out, char *err, size_t errlen) {
  int n = 64, rc;
  long bad = 0;
  int64_t *next = NULL;
  for (;;) { /* as many partitions as the value names */
    int64_t *g = realloc(next, (size_t)n * sizeof *next);
    if (!g) {
      free(next);
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    next = g;
    for (int p = 0; p < n; p++)
      next[p] = SL_KAFKA_NO_OFFSET;
    if ((rc = sl_kafka_offsets_decode(val, len, next, n, &bad)) != -2 || bad >= INT32_MAX)
      break;
    n = (int)bad + 1;
  }
  if (rc == 0) {
    fprintf(out, "    %s next offsets:", key + strlen(SL_KAFKA_META_PREFIX) - strlen("kafka:"));
    int printed = 0;
    for (int p = 0; p < n; p++)
      if (next[p] != SL_KAFKA_NO_OFFSET)
        printed += fprintf(out, " %d:%" PRId64, p, next[p]) > 0;
    /* A checkpoint taken before the first message: a restore of it reads every partition from its start
     * (or from its end with start=latest), as a first run does. */
    fputs(printed ? "\n" : " none, no message read yet\n", out);
  } else {
    snprintf(err, errlen, "the checkpoint's Kafka offsets ('%s') are malformed", key);
  }
  free(next);
  return rc ? -1 : 0;
}

int sl_kafka_offsets_list(const char *dir, FILE *out, char *err, size_t errlen) {
  sl_insp s;
  if (sl_insp_open_db(dir, SL_INSP_DB_META, &s, err, errlen))
    return -1;
  int rc = 0;
  size_t plen = strlen(SL_KAFKA_META_PREFIX);
  /* A parallel job's subtasks each hold the key; only the one that read the topic holds offsets, the
   * others the mark of a source read elsewhere (core/source.h); an empty value is a checkpoint taken
   * before the first message. */
  for (unsigned t = 0; t < s.ntasks && !rc; t++)
    for (size_t i = 0; i < s.tasks[t].n && !rc; i++) {
      const sl_insp_rec *r = &s.tasks[t].recs[i];
      char key[512];
      if (r->kl <= plen || r->kl >= sizeof key || memcmp(r->k, SL_KAFKA_META_PREFIX, plen) ||
          (r->vl == strlen(SL_SOURCE_READ_ELSEWHERE) &&
           !memcmp((const char *)r->k + r->kl, SL_SOURCE_READ_ELSEWHERE, r->vl)))
        continue;
      memcpy(key, r->k, r->kl);
      key[r->kl] = '\0';
      rc = print_value(key, (const char *)r->k + r->kl, r->vl, out, err, errlen);
    }
  sl_insp_free(&s);
  return rc;
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
