/* ffi_record.h — plain C functions the Lua side calls through the LuaJIT FFI on the per-record path:
 * field access on lazy records and setting the current key from a record field. They are declared again
 * for Lua in lua/sluice/cdefs.lua (ffi.cdef), which tests/lua/ffi_layout_spec.lua holds to this header.
 *
 * Why FFI and not the classic Lua C API: FFI calls are compiled into the JIT trace as direct calls, while
 * lua_* calls from a hot loop leave the trace. Record access is the hottest path there is. */
#ifndef SLUICE_FFI_RECORD_H
#define SLUICE_FFI_RECORD_H

#include <stddef.h>

#include "core/record/json_scan.h"
#include "core/record/record_batch.h"
#include "state/keyed_scope.h"

/* Finds top-level field key[0..klen) of r into *out. Returns its sl_json_type, or -1 if absent. The last
 * look-up is remembered by the key's address, so key must not change while the record lives (Lua strings
 * are immutable and interned). */
int sl_rec_field(const sl_rec *r, const char *key, size_t klen, sl_json_field *out);
/* The value of a number field. */
double sl_rec_number(const sl_rec *r, const sl_json_field *f);
/* The decoded bytes of a string field: a pointer into the line when it has no escapes, else into a
 * scratch buffer valid until the next call; NULL when that buffer cannot grow (out of memory). */
const char *sl_rec_string(const sl_rec *r, const sl_json_field *f, size_t *len);
/* The raw JSON text of a field's value (for nested objects and arrays). */
const char *sl_rec_value_text(const sl_rec *r, const sl_json_field *f);
/* The whole line. */
const char *sl_rec_line(const sl_rec *r, size_t *len);
/* The record's metadata (a Kafka record's: core/record/record_batch.h), or NULL: it has none. */
const sl_rec_meta *sl_rec_get_meta(const sl_rec *r);
/* Its Kafka timestamp in epoch ms, or -1 when it has none (no metadata, or a message without one): the
 * event-time stamp's per-record call (watermark timestamp = "kafka"), a double so the JIT boxes nothing. */
double sl_rec_timestamp(const sl_rec *r);
/* Gives record i of the batch the metadata meta (the caller keeps it alive while the batch runs), as a
 * Kafka source does for its records: for the specs (tests/lua/record_meta_spec.lua). 0, or -1 when there is
 * no record i. */
int sl_batch_set_meta(sl_batch *b, uint32_t i, const sl_rec_meta *meta);

/* The key key_by(field) takes from a record: a string field's (unescaped) value, or any other value's JSON
 * text. 0 with key and len (valid until the next look-up on this thread), 1 when the field is missing or
 * null, -1 when memory ran out. The exchange between parallel subtasks routes by it (core/parallel, task.c),
 * so it must stay exactly what the keyed operator's scope is set to. */
int sl_rec_field_key(const sl_rec *r, const char *field, size_t flen, const char **key, size_t *len);
/* Sets the scope's current key from field `field` of r: a string's decoded bytes, any other value's JSON
 * text. Returns 0, 1 if the record has no such field (or it is null), -1 if the key is too long. */
/* Parallel routing done in Lua (core/parallel/task.c, sluice.pipeline's route): the key group of the key
 * key_by(field) takes from r, or -1 when it has none (missing or null field, too long a key, no memory: the
 * keyed operator then rejects the record where it runs); and the key group of a key function's key. */
int sl_rec_field_key_group(const sl_rec *r, const char *field, size_t flen, unsigned max_parallelism);
int sl_key_group_of(const char *key, size_t len, unsigned max_parallelism);
int sl_scope_key_from_field(sl_keyed_scope *s, const sl_rec *r, const char *field, size_t flen);
/* Whether key (len bytes) may key record r: always, but for a record whose state is kept apart by Kafka
 * partition (sl_rec_meta.key_bound), which only its message key may key. */
int sl_rec_key_fits_partition(const sl_rec *r, const char *key, size_t len);
/* The current key (for messages and ctx:key()); *len = 0 and NULL when none is set. */
const char *sl_scope_current_key(const sl_keyed_scope *s, size_t *len);
/* Whether the current key is a number's or a boolean's JSON text (key_by of such a field), which sluice.KEY
 * writes as it stands; 0 for a string's bytes, a key function's string, or no key. */
int sl_scope_key_is_token(const sl_keyed_scope *s);

/* Keyed scopes for Lua (one per key_by stage), freed by the Lua GC through ffi.gc. */
sl_keyed_scope *sl_scope_new(sl_backend *b, unsigned max_parallelism);
void sl_scope_free(sl_keyed_scope *s);

#endif
