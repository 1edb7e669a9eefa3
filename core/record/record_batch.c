/* record_batch.c — fills a batch with validated records (see record_batch.h). */
#include "core/record/record_batch.h"

#include <stdlib.h>
#include <string.h>

int sl_batch_init(sl_batch *b, uint32_t cap) {
  memset(b, 0, sizeof *b);
  b->recs = calloc(cap, sizeof *b->recs);
  b->fields = calloc((size_t)cap * SL_RECORD_INDEXED_FIELDS, sizeof *b->fields);
  b->cap = cap;
  if (!b->recs || !b->fields) {
    sl_batch_free(b);
    return -1;
  }
  return 0;
}

void sl_batch_free(sl_batch *b) {
  free(b->recs);
  free(b->fields);
  memset(b, 0, sizeof *b);
}

void sl_batch_reset(sl_batch *b) {
  b->n = 0;
  b->cursor = 0;
}

int sl_batch_add(sl_batch *b, const char *line, size_t len, uint64_t line_no, int32_t source,
                 sl_json_error *err) {
  sl_json_field *fields = b->fields + (size_t)b->n * SL_RECORD_INDEXED_FIELDS;
  uint32_t nfields = 0;
  if (len > UINT32_MAX) {
    err->offset = 0;
    err->reason = "line too long";
    return -1;
  }
  if (sl_json_scan(line, len, fields, SL_RECORD_INDEXED_FIELDS, &nfields, err))
    return -1;
  sl_rec *r = &b->recs[b->n++];
  r->line = line;
  r->len = (uint32_t)len;
  r->nfields = nfields;
  r->fields = fields;
  r->line_no = line_no;
  r->source = source;
  r->memo_key = NULL;
  r->meta = NULL;
  return 0;
}

void sl_batch_add_indexed(sl_batch *b, const char *line, uint32_t len, uint64_t line_no, int32_t source,
                          const sl_json_field *fields, uint32_t nfields, const sl_rec_meta *meta) {
  sl_json_field *slot = b->fields + (size_t)b->n * SL_RECORD_INDEXED_FIELDS;
  if (nfields <= SL_RECORD_INDEXED_FIELDS)
    memcpy(slot, fields, nfields * sizeof *fields);
  sl_rec *r = &b->recs[b->n++];
  r->line = line;
  r->len = len;
  r->nfields = nfields;
  r->fields = slot;
  r->line_no = line_no;
  r->source = source;
  r->memo_key = NULL;
  r->meta = meta;
}

sl_rec *sl_batch_get(sl_batch *b, uint32_t i) {
  return i < b->n ? &b->recs[i] : NULL;
}
