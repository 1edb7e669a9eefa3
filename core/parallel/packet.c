/* packet.c — packets between parallel subtasks (see packet.h). */
#include "core/parallel/packet.h"

#include "core/record/record_batch.h"

#include <stdlib.h>
#include <string.h>

sl_packet *sl_packet_new(sl_packet_kind kind, uint32_t cap) {
  sl_packet *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->kind = kind;
  p->cap = cap;
  if (cap && !(p->recs = malloc(cap * sizeof *p->recs))) {
    free(p);
    return NULL;
  }
  return p;
}

/* bytes[] moved: the metadata's keys point into it again. */
static void rebase_keys(sl_packet *p) {
  for (uint32_t i = 0; p->nmetas && i < p->n; i++)
    if (p->recs[i].meta >= 0 && p->metas[p->recs[i].meta].key)
      p->metas[p->recs[i].meta].key = p->bytes + p->recs[i].key_off;
}

/* Room for one more metadata entry. 0, or -1 when memory ran out. */
static int meta_room(sl_packet *p) {
  if (p->nmetas < p->metas_cap)
    return 0;
  uint32_t cap = p->metas_cap ? p->metas_cap * 2 : 64;
  sl_rec_meta *m = realloc(p->metas, cap * sizeof *m);
  if (!m)
    return -1;
  p->metas = m;
  p->metas_cap = cap;
  return 0;
}

int sl_packet_add(sl_packet *p, const char *line, size_t len, uint64_t line_no, const sl_json_field *fields,
                  uint32_t nfields, int32_t key_index, const sl_rec_meta *meta) {
  size_t klen = meta && meta->key ? meta->key_len : 0;
  if (p->n == p->cap || len > UINT32_MAX - p->bytes_len || klen > UINT32_MAX - p->bytes_len - len)
    return -1;
  if (meta && meta_room(p))
    return -1;
  size_t nf = nfields <= SL_RECORD_INDEXED_FIELDS ? nfields : 0;
  if (p->fields_len + nf > p->fields_cap) {
    size_t cap = p->fields_cap ? p->fields_cap * 2 : 1024;
    while (cap < p->fields_len + nf)
      cap *= 2;
    sl_json_field *f = realloc(p->fields, cap * sizeof *f);
    if (!f)
      return -1;
    p->fields = f;
    p->fields_cap = cap;
  }
  if (p->bytes_len + len + klen > p->bytes_cap) {
    size_t cap = p->bytes_cap ? p->bytes_cap * 2 : 1u << 16;
    while (cap < p->bytes_len + len + klen)
      cap *= 2;
    char *b = realloc(p->bytes, cap);
    if (!b)
      return -1;
    p->bytes = b;
    p->bytes_cap = cap;
    rebase_keys(p);
  }
  memcpy(p->bytes + p->bytes_len, line, len);
  p->recs[p->n].meta = -1;
  if (meta) {
    sl_rec_meta *m = &p->metas[p->nmetas];
    *m = *meta;
    p->recs[p->n].key_off = (uint32_t)(p->bytes_len + len);
    if (m->key) {
      memcpy(p->bytes + p->bytes_len + len, meta->key, klen);
      m->key = p->bytes + p->bytes_len + len;
    }
    p->recs[p->n].meta = (int32_t)p->nmetas++;
  }
  p->recs[p->n].off = (uint32_t)p->bytes_len;
  p->recs[p->n].len = (uint32_t)len;
  p->recs[p->n].line_no = line_no;
  p->recs[p->n].field0 = (uint32_t)p->fields_len;
  p->recs[p->n].nfields = nfields;
  p->recs[p->n].key_index = key_index;
  if (nf) /* a record without fields may come first: nothing allocated yet */
    memcpy(p->fields + p->fields_len, fields, nf * sizeof *fields);
  p->fields_len += nf;
  p->n++;
  p->bytes_len += len + klen;
  return 0;
}

void sl_packet_free(sl_packet *p) {
  if (!p)
    return;
  free(p->recs);
  free(p->bytes);
  free(p->fields);
  free(p->metas);
  free(p);
}
