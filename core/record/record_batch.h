/* record_batch.h — a batch of validated, indexed input records handed to Lua in one call.
 *
 * Why batches: crossing from C into Lua (lua_pcall) costs far more than a JIT-compiled loop iteration, so
 * the runtime validates and indexes a whole read's worth of lines in C, then makes one call; the Lua side
 * walks the batch through the FFI. The records point into the source's line buffer, so a batch must be run
 * before that buffer is compacted. `cursor` is the index of the record Lua is working on: when an operator
 * throws, the runtime knows which record failed and resumes at the next one. */
#ifndef SLUICE_RECORD_BATCH_H
#define SLUICE_RECORD_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/record/json_scan.h"

#define SL_RECORD_INDEXED_FIELDS 24

#define SL_REC_NO_TIMESTAMP (-1)

/* What a Kafka record carries besides its value (sluice.meta(rec) in Lua; lua/sluice/record.lua reads it
 * through the FFI, and tests/lua/ffi_layout_spec.lua holds cdefs.lua's copy to this layout). The source
 * that read the record owns it and keeps it (and the key's bytes) until the record's batch has run, as it
 * keeps the line; records of other sources have none (sl_rec.meta NULL), which costs them one store. */
typedef struct sl_rec_meta {
  const char *topic;
  const char *key; /* the message key's bytes, or NULL: the message has no key */
  uint32_t key_len;
  int32_t partition;
  int64_t offset;
  int64_t timestamp;      /* epoch ms, or SL_REC_NO_TIMESTAMP */
  int32_t timestamp_type; /* 1: the producer's create time, 2: the broker's log-append time, 0: none */
  /* 1: the record's state is kept apart by partition (its source reads some of the topic's partitions: a
   * `sluice group` child), which is right only when the job keys it by its message key (key_by checks). */
  int32_t key_bound;
} sl_rec_meta;

/* One input record: a JSON object line and the index of its top-level fields. Seen from Lua as the opaque
 * `sl_rec *` (lua/sluice/record.lua). */
typedef struct sl_rec {
  const char *line;
  uint32_t len;
  uint32_t nfields; /* may exceed SL_RECORD_INDEXED_FIELDS: then look-ups scan the line */
  const sl_json_field *fields;
  uint64_t line_no;
  int32_t source; /* index of the source that read it */
  int32_t memo_index;
  /* The last field looked up, by the address of its name: Lua strings are interned, so key_by("url") and
   * the operator's rec.url pass the same pointer, and the second look-up is free. */
  const char *memo_key;
  const sl_rec_meta *meta; /* NULL but for a Kafka record (in the 56 bytes the record took without it) */
} sl_rec;

typedef struct sl_batch {
  sl_rec *recs;
  uint32_t n, cap;
  uint32_t cursor;
  sl_json_field *fields; /* SL_RECORD_INDEXED_FIELDS per record slot */
  size_t out_mark;       /* output buffer length before record `cursor`: a failed record's output is cut */
} sl_batch;

int sl_batch_init(sl_batch *b, uint32_t cap);
void sl_batch_free(sl_batch *b);
void sl_batch_reset(sl_batch *b);
static inline int sl_batch_full(const sl_batch *b) {
  return b->n == b->cap;
}

/* Validates and indexes one line and appends it (with no metadata: the caller sets recs[n - 1].meta for a
 * record that has some). Returns 0, or -1 with *err (the line is not added). */
int sl_batch_add(sl_batch *b, const char *line, size_t len, uint64_t line_no, int32_t source,
                 sl_json_error *err);

/* Appends a record validated and indexed before (by another parallel subtask): fields[0..min(nfields,
 * SL_RECORD_INDEXED_FIELDS)) is copied in, nothing is scanned again; meta (or NULL) goes with it. */
void sl_batch_add_indexed(sl_batch *b, const char *line, uint32_t len, uint64_t line_no, int32_t source,
                          const sl_json_field *fields, uint32_t nfields, const sl_rec_meta *meta);
/* Presets the record's look-up memo (sl_rec.memo_key): field `index` is the one named by the string at
 * key (the sender found it already). */
static inline void sl_batch_last_memo(sl_batch *b, const char *key, int32_t index) {
  b->recs[b->n - 1].memo_key = key;
  b->recs[b->n - 1].memo_index = index;
}

/* FFI entry points for the Lua side. */
sl_rec *sl_batch_get(sl_batch *b, uint32_t i);

#endif
