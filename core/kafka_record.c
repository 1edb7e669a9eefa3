/* kafka_record.c — a record's message key and the sink's transactional id (see kafka_record.h). */
#include "core/kafka_record.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/record/json_scan.h"

int sl_kafka_record_key(const char *line, size_t len, const char *field, size_t flen, char **scratch,
                        size_t *scratch_cap, const char **key, size_t *klen) {
  sl_json_field f;
  if (sl_json_find_scan(line, len, field, flen, &f) != 0 || f.type == SL_JSON_NULL)
    return 0;
  const char *val = line + f.val_off;
  if (f.type != SL_JSON_STRING || !f.val_escaped) {
    *key = val;
    *klen = f.val_len;
    return 1;
  }
  /* Decoding never grows the text: val_len bytes are enough. */
  if (*scratch_cap < f.val_len || !*scratch) {
    size_t cap = f.val_len < 64 ? 64 : f.val_len;
    char *p = realloc(*scratch, cap);
    if (!p)
      return -1;
    *scratch = p;
    *scratch_cap = cap;
  }
  *klen = sl_json_unescape(val, f.val_len, *scratch);
  *key = *scratch;
  return 1;
}

static uint64_t fnv1a(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

void sl_kafka_txn_id(const char *state_path, const char *topic, char *out, size_t outlen) {
  uint64_t h = fnv1a(0xcbf29ce484222325ULL, state_path, strlen(state_path) + 1); /* the NUL separates */
  h = fnv1a(h, topic, strlen(topic));
  snprintf(out, outlen, "sluice-%016" PRIx64, h);
}
