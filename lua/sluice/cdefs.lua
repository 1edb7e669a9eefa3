-- sluice.cdefs — every FFI declaration of sluice's C types and functions, in one module, loaded once (by
-- sluice.native, which loads the library; a second ffi.cdef of the same struct would be an error).
--
-- Each group mirrors one C header, named in the comment above it and passed with its text, so a
-- declaration is found (and checked) by the header it copies. Types Lua only passes around by pointer stay
-- opaque (`typedef struct sl_rec sl_rec;`): their layout is C's business and may change freely. A struct
-- declared here with its fields is a copy of C's layout, and tests/lua/ffi_layout_spec.lua holds it to the
-- real one: ffi.sizeof and every ffi.offsetof against what the compiler reports (lua/ffi_layout.c), the
-- field list against the header's, and every function declared here against libsluice.so's symbols.
--
-- Adding a struct with fields: declare it in its header's group and list it, with every field, in
-- lua/ffi_layout.c. A struct that exists only on the Lua side (the state handles) is declared in the last
-- group, from the names in M.lua_only.
local ffi = require "ffi"

local M = { groups = {} }

local function declare(header, cdef)
  M.groups[#M.groups + 1] = { header = header, cdef = cdef }
  ffi.cdef(cdef)
end

-- core/record/json_scan.h
declare("core/record/json_scan.h", [[
typedef struct sl_json_field {
  uint32_t key_off, key_len;
  uint32_t val_off, val_len;
  uint8_t type;
  uint8_t key_escaped;
  uint8_t val_escaped;
} sl_json_field;
typedef struct sl_json_error { size_t offset; const char *reason; } sl_json_error;
int sl_json_scan(const char *line, size_t len, sl_json_field *fields, uint32_t cap, uint32_t *nfields,
                 sl_json_error *err);
]])

-- core/record/record_batch.h: records are opaque to Lua (their fields are read through functions)
declare("core/record/record_batch.h", [[
typedef struct sl_rec_meta {
  const char *topic;
  const char *key;
  uint32_t key_len;
  int32_t partition;
  int64_t offset;
  int64_t timestamp;
  int32_t timestamp_type;
  int32_t key_bound;
} sl_rec_meta;
typedef struct sl_rec sl_rec;
typedef struct sl_batch {
  sl_rec *recs;
  uint32_t n, cap;
  uint32_t cursor;
  sl_json_field *fields;
  size_t out_mark;
} sl_batch;
sl_rec *sl_batch_get(sl_batch *b, uint32_t i);
int sl_batch_init(sl_batch *b, uint32_t cap);
void sl_batch_free(sl_batch *b);
void sl_batch_reset(sl_batch *b);
int sl_batch_add(sl_batch *b, const char *line, size_t len, uint64_t line_no, int32_t source,
                 sl_json_error *err);
]])

-- core/record/json_write.h
declare("core/record/json_write.h", [[
typedef struct sl_buf { char *data; size_t len, cap; int oom; } sl_buf;
void sl_buf_init(sl_buf *b);
void sl_buf_free(sl_buf *b);
void sl_buf_reset(sl_buf *b);
void sl_buf_put(sl_buf *b, const void *p, size_t n);
void sl_buf_putc(sl_buf *b, char c);
void sl_buf_put_json_string(sl_buf *b, const char *s, size_t n);
void sl_buf_put_json_number(sl_buf *b, double x);
void sl_buf_put_int64(sl_buf *b, int64_t v);
]])

-- state/state_status.h
declare("state/state_status.h", [[
const char *sl_state_strerror(int status);
]])

-- state/state_backend.h
declare("state/state_backend.h", [[
typedef struct sl_backend sl_backend;
typedef struct sl_backend_options { size_t cache_max_bytes; size_t map_size; } sl_backend_options;
int sl_backend_open(sl_backend **out, const char *dir, const sl_backend_options *opts, char *errbuf,
                    size_t errlen);
void sl_backend_close(sl_backend *b);
const char *sl_backend_last_error(const sl_backend *b);
int sl_backend_state_id(sl_backend *b, const char *op_uid, const char *state_name, uint32_t *id);
typedef struct sl_state_info { uint8_t kind; uint8_t ttl; } sl_state_info;
int sl_backend_state_lookup(sl_backend *b, const char *op_uid, const char *state_name, uint32_t *id,
                            sl_state_info *info);
int sl_backend_state_register(sl_backend *b, const char *op_uid, const char *state_name,
                              const sl_state_info *want, uint32_t *id, sl_state_info *stored);
int sl_backend_mark_ttl_state(sl_backend *b, uint32_t state_id);
int sl_backend_commit(sl_backend *b, int sync);
]])

-- state/state_clock.h
declare("state/state_clock.h", [[
typedef int64_t (*sl_clock_fn)(void *arg);
int64_t sl_clock_manual(void *arg);
]])

-- state/keyed_scope.h: the scope is opaque to Lua
declare("state/keyed_scope.h", [[
typedef struct sl_keyed_scope sl_keyed_scope;
int sl_scope_set_key(sl_keyed_scope *s, const void *key, size_t len);
void sl_scope_set_clock(sl_keyed_scope *s, sl_clock_fn fn, void *arg);
int64_t sl_scope_now(const sl_keyed_scope *s);
]])

-- lua/ffi_record.h
declare("lua/ffi_record.h", [[
int sl_rec_field(const sl_rec *r, const char *key, size_t klen, sl_json_field *out);
double sl_rec_number(const sl_rec *r, const sl_json_field *f);
const char *sl_rec_string(const sl_rec *r, const sl_json_field *f, size_t *len);
const char *sl_rec_value_text(const sl_rec *r, const sl_json_field *f);
const char *sl_rec_line(const sl_rec *r, size_t *len);
const sl_rec_meta *sl_rec_get_meta(const sl_rec *r);
double sl_rec_timestamp(const sl_rec *r);
int sl_batch_set_meta(sl_batch *b, uint32_t i, const sl_rec_meta *meta);
int sl_scope_key_from_field(sl_keyed_scope *s, const sl_rec *r, const char *field, size_t flen);
int sl_rec_key_fits_partition(const sl_rec *r, const char *key, size_t len);
int sl_rec_field_key_group(const sl_rec *r, const char *field, size_t flen, unsigned max_parallelism);
int sl_key_group_of(const char *key, size_t len, unsigned max_parallelism);
const char *sl_scope_current_key(const sl_keyed_scope *s, size_t *len);
int sl_scope_key_is_token(const sl_keyed_scope *s);
sl_keyed_scope *sl_scope_new(sl_backend *b, unsigned max_parallelism);
void sl_scope_free(sl_keyed_scope *s);
]])

-- state/state_ttl.h
declare("state/state_ttl.h", [[
typedef struct sl_ttl { int64_t ttl_ms; int32_t update; int32_t visibility; } sl_ttl;
int sl_ttl_unwrap(const sl_keyed_scope *s, const sl_ttl *t, const void *raw, size_t rawlen, const void **val,
                  size_t *len);
]])

-- state/value_state.h
declare("state/value_state.h", [[
int sl_value_get(sl_keyed_scope *s, uint32_t state_id, const void **val, size_t *len);
int sl_value_put(sl_keyed_scope *s, uint32_t state_id, const void *val, size_t len);
int sl_value_clear(sl_keyed_scope *s, uint32_t state_id);
int sl_value_get_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void **val, size_t *len);
int sl_value_put_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *val, size_t len);
]])

-- state/map_state.h: iterators are opaque to Lua
declare("state/map_state.h", [[
typedef struct sl_map_iter sl_map_iter;
int sl_map_get(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen, const void **val,
               size_t *vlen);
int sl_map_put(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen, const void *val,
               size_t vlen);
int sl_map_remove(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen);
int sl_map_contains(sl_keyed_scope *s, uint32_t state_id, const void *mkey, size_t mklen);
int sl_map_is_empty(sl_keyed_scope *s, uint32_t state_id);
int sl_map_clear(sl_keyed_scope *s, uint32_t state_id);
int sl_map_iter_open(sl_keyed_scope *s, uint32_t state_id, sl_map_iter **it);
int sl_map_iter_next(sl_map_iter *it, const void **mkey, size_t *mklen, const void **val, size_t *vlen);
void sl_map_iter_close(sl_map_iter *it);
int sl_map_get_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *mkey, size_t mklen,
                   const void **val, size_t *vlen);
int sl_map_put_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *mkey, size_t mklen,
                   const void *val, size_t vlen);
]])

-- state/list_state.h
declare("state/list_state.h", [[
typedef struct sl_list_iter sl_list_iter;
int sl_list_add(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *val, size_t len);
int sl_list_clear(sl_keyed_scope *s, uint32_t state_id);
int sl_list_iter_open(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, sl_list_iter **it);
int sl_list_iter_next(sl_list_iter *it, const void **val, size_t *len);
void sl_list_iter_close(sl_list_iter *it);
int sl_list_is_empty(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl);
]])

-- state/state_ttl_cleanup.h
declare("state/state_ttl_cleanup.h", [[
typedef struct sl_ttl_cleaner sl_ttl_cleaner;
sl_ttl_cleaner *sl_ttl_cleaner_new(sl_backend *b);
void sl_ttl_cleaner_free(sl_ttl_cleaner *c);
int sl_ttl_cleaner_add(sl_ttl_cleaner *c, uint32_t state_id, const sl_ttl *ttl);
int sl_ttl_cleaner_step(sl_ttl_cleaner *c, int64_t now, size_t max_entries, size_t *removed);
]])

-- state/operator_state.h
declare("state/operator_state.h", [[
typedef struct sl_op_item { const void *data; size_t len; } sl_op_item;
typedef struct sl_op_list { sl_op_item *items; size_t n; void *owned; } sl_op_list;
int sl_op_state_redistribute(const sl_op_list *old, size_t n_old, size_t m, int mode, sl_op_list *out);
void sl_op_list_free(sl_op_list *l);
int sl_op_state_write(sl_backend *b, uint32_t state_id, uint32_t instance, uint32_t parallelism,
                      const sl_op_item *items, size_t n);
int sl_op_state_restore(sl_backend *b, uint32_t state_id, int mode, uint32_t m, uint32_t instance,
                        sl_op_list *out);
]])

-- state/timer_state.h: the queue is opaque to Lua
declare("state/timer_state.h", [[
typedef struct sl_timer_queue sl_timer_queue;
int sl_timer_queue_next(sl_timer_queue *q, int64_t *ts);
int sl_timer_queue_poll(sl_timer_queue *q, int64_t upto, int64_t *ts, const void **key, size_t *klen);
int sl_timer_queue_watermark(sl_timer_queue *q, int64_t *wm);
int sl_timer_queue_set_watermark(sl_timer_queue *q, int64_t wm);
int sl_timer_queue_count(sl_timer_queue *q, uint64_t *n);
]])

-- lua/ffi_timer.h
declare("lua/ffi_timer.h", [[
sl_timer_queue *sl_timer_queue_new(sl_backend *b, uint32_t state_id);
void sl_timer_queue_free(sl_timer_queue *q);
int sl_timer_add_current(sl_timer_queue *q, const sl_keyed_scope *s, int64_t ts);
int sl_timer_delete_current(sl_timer_queue *q, const sl_keyed_scope *s, int64_t ts);
]])

-- lua/ffi_layout.h: the layout table tests/lua/ffi_layout_spec.lua checks this module against
declare("lua/ffi_layout.h", [[
int sl_ffi_layout_entry(size_t i, const char **type, const char **field, size_t *size, size_t *offset);
]])

-- lua/test_harness.h: the harness is opaque to Lua (sluice.testing)
declare("lua/test_harness.h", [[
typedef struct sl_harness sl_harness;
sl_harness *sl_harness_open(const char *script, const char *const *args, int nargs, const char *dir,
                            unsigned max_parallelism, int64_t start_ms, char *err, size_t errlen);
int sl_harness_push(sl_harness *h, const char *const *lines, const size_t *lens, int n, char *err,
                    size_t errlen);
int sl_harness_push_meta(sl_harness *h, const char *const *lines, const size_t *lens, const sl_rec_meta *metas,
                         int n, char *err, size_t errlen);
int sl_harness_set_time(sl_harness *h, int64_t now_ms, char *err, size_t errlen);
int sl_harness_advance_watermark(sl_harness *h, int64_t ts, char *err, size_t errlen);
int sl_harness_end_input(sl_harness *h, char *err, size_t errlen);
int sl_harness_checkpoint(sl_harness *h, uint64_t *id, char *err, size_t errlen);
int sl_harness_restart(sl_harness *h, uint64_t id, char *err, size_t errlen);
sl_buf *sl_harness_output(sl_harness *h);
sl_buf *sl_harness_rejects(sl_harness *h);
sl_backend *sl_harness_backend(sl_harness *h);
int64_t *sl_harness_clock(sl_harness *h);
void sl_harness_close(sl_harness *h);
]])

-- Lua only: the keyed state handles (sluice.state_base). C never sees these structs, only their fields'
-- values, so there is no C layout to check them against. Each kind has its own struct (its own metatype),
-- all with the same fields; ttl is NULL for a state without TTL.
M.lua_only = { "sl_value_handle", "sl_map_handle", "sl_list_handle", "sl_reducing_handle",
  "sl_aggregating_handle" }
local HANDLE_FIELDS = "sl_keyed_scope *scope; uint32_t id; int32_t info; const sl_ttl *ttl;"
local handles = {}
for i, name in ipairs(M.lua_only) do
  handles[i] = ("typedef struct %s { %s } %s;"):format(name, HANDLE_FIELDS, name)
end
declare(nil, table.concat(handles, "\n"))

return M
