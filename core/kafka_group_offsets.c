/* kafka_group_offsets.c — a `sluice group` child's checkpointed Kafka offset, read by the supervisor to
 * commit it to the group (kafka_group.h). The offsets are in the checkpoint's state (backend metadata
 * "source/kafka:TOPIC", core/kafka_offsets.h), which the read-only inspector resolves (state_inspect.h):
 * the running child is never disturbed. The cheap check comes first (the checkpoints' ids), so a
 * partition whose checkpoint did not move costs a directory listing. */
#include "core/kafka_group.h"

#include "core/kafka_offsets.h"
#include "core/state_dir.h"
#include "core/state_inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The newest checkpoint id under state_dir (complete or not), or 0. */
static uint64_t newest_id(const char *state_dir) {
  char dir[4200];
  uint64_t *ids = NULL, id = 0;
  sl_state_dir_path(state_dir, "checkpoints", dir, sizeof dir);
  int n = sl_checkpoint_list(dir, &ids);
  if (n > 0)
    id = ids[n - 1];
  free(ids);
  return id;
}

static int find_offset(const sl_insp *s, const char *key, int p, int64_t *next) {
  size_t kl = strlen(key);
  for (unsigned t = 0; t < s->ntasks; t++)
    for (size_t i = 0; i < s->tasks[t].n; i++) {
      const sl_insp_rec *r = &s->tasks[t].recs[i];
      if (r->db != SL_INSP_DB_META || r->kl != kl || memcmp(r->k, key, kl))
        continue;
      int64_t *all = malloc(((size_t)p + 1) * sizeof *all);
      long bad;
      if (!all)
        return -1;
      for (int j = 0; j <= p; j++)
        all[j] = SL_KAFKA_NO_OFFSET;
      /* -2 (a partition past p) is fine here: only p's offset is wanted, and the decoder fills what fits. */
      int rc = sl_kafka_offsets_decode(r->k + r->kl, r->vl, all, p + 1, &bad);
      *next = all[p];
      free(all);
      return (rc == 0 || rc == -2) && *next != SL_KAFKA_NO_OFFSET;
    }
  return 0;
}

int sl_group_checkpoint_offset(const char *state_dir, const char *topic, int p, uint64_t after, int64_t *next,
                               uint64_t *chk, char *err, size_t errlen) {
  if (newest_id(state_dir) <= after)
    return 0;
  sl_insp s;
  if (sl_insp_open(state_dir, &s, err, errlen))
    return strstr(err, "no complete checkpoint") ? 0 : -1;
  char key[300];
  snprintf(key, sizeof key, SL_KAFKA_META_PREFIX "%s", topic);
  int rc = s.meta.id > after ? find_offset(&s, key, p, next) : 0;
  if (rc < 0)
    snprintf(err, errlen, "out of memory");
  *chk = s.meta.id;
  sl_insp_free(&s);
  return rc;
}
