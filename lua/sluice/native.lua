-- sluice.native — the C functions of libsluice that Lua calls through the FFI, and the library handle.
--
-- Inside the `sluice` executable libsluice.so is already loaded with global symbols, so ffi.C finds them.
-- Anywhere else (busted specs run by plain luajit) the library is loaded from $SLUICE_LIB, so the specs
-- exercise exactly the same C code as the host. Keep these declarations in step with the C headers named
-- beside each block.
local ffi = require "ffi"

ffi.cdef [[
/* core/json_scan.h */
typedef struct sl_json_field {
  uint32_t key_off, key_len;
  uint32_t val_off, val_len;
  uint8_t type;
  uint8_t key_escaped;
  uint8_t val_escaped;
} sl_json_field;

/* core/record_batch.h: records are opaque to Lua (their fields are read through functions) */
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
typedef struct sl_json_error { size_t offset; const char *reason; } sl_json_error;
int sl_batch_add(sl_batch *b, const char *line, size_t len, uint64_t line_no, int32_t source,
                 sl_json_error *err);

/* lua/ffi_record.h */
typedef struct sl_backend sl_backend;
typedef struct sl_keyed_scope sl_keyed_scope;
int sl_rec_field(const sl_rec *r, const char *key, size_t klen, sl_json_field *out);
double sl_rec_number(const sl_rec *r, const sl_json_field *f);
const char *sl_rec_string(const sl_rec *r, const sl_json_field *f, size_t *len);
const char *sl_rec_value_text(const sl_rec *r, const sl_json_field *f);
const char *sl_rec_line(const sl_rec *r, size_t *len);
int sl_scope_key_from_field(sl_keyed_scope *s, const sl_rec *r, const char *field, size_t flen);
const char *sl_scope_current_key(const sl_keyed_scope *s, size_t *len);
sl_keyed_scope *sl_scope_new(sl_backend *b, unsigned max_parallelism);
void sl_scope_free(sl_keyed_scope *s);
int sl_scope_set_key(sl_keyed_scope *s, const void *key, size_t len);

/* state/state_status.h, state/state_backend.h */
const char *sl_state_strerror(int status);
typedef struct sl_backend_options { size_t cache_max_bytes; size_t map_size; } sl_backend_options;
int sl_backend_open(sl_backend **out, const char *dir, const sl_backend_options *opts, char *errbuf,
                    size_t errlen);
void sl_backend_close(sl_backend *b);
const char *sl_backend_last_error(const sl_backend *b);
int sl_backend_state_id(sl_backend *b, const char *op_uid, const char *state_name, uint32_t *id);
int sl_backend_mark_ttl_state(sl_backend *b, uint32_t state_id);
int sl_backend_commit(sl_backend *b, int sync);

/* state/value_state.h */
int sl_value_get(sl_keyed_scope *s, uint32_t state_id, const void **val, size_t *len);
int sl_value_put(sl_keyed_scope *s, uint32_t state_id, const void *val, size_t len);
int sl_value_clear(sl_keyed_scope *s, uint32_t state_id);

/* state/map_state.h */
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

/* state/state_clock.h, keyed_scope.h, state_ttl.h */
typedef int64_t (*sl_clock_fn)(void *arg);
int64_t sl_clock_manual(void *arg);
void sl_scope_set_clock(sl_keyed_scope *s, sl_clock_fn fn, void *arg);
int64_t sl_scope_now(const sl_keyed_scope *s);
typedef struct sl_ttl { int64_t ttl_ms; int32_t update; int32_t visibility; } sl_ttl;
int sl_ttl_unwrap(const sl_keyed_scope *s, const sl_ttl *t, const void *raw, size_t rawlen, const void **val,
                  size_t *len);
int sl_value_get_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void **val, size_t *len);
int sl_value_put_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *val, size_t len);
int sl_map_get_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *mkey, size_t mklen,
                   const void **val, size_t *vlen);
int sl_map_put_ttl(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *mkey, size_t mklen,
                   const void *val, size_t vlen);

/* state/state_ttl_cleanup.h */
typedef struct sl_ttl_cleaner sl_ttl_cleaner;
sl_ttl_cleaner *sl_ttl_cleaner_new(sl_backend *b);
void sl_ttl_cleaner_free(sl_ttl_cleaner *c);
int sl_ttl_cleaner_add(sl_ttl_cleaner *c, uint32_t state_id, const sl_ttl *ttl);
int sl_ttl_cleaner_step(sl_ttl_cleaner *c, int64_t now, size_t max_entries, size_t *removed);

/* state/list_state.h */
typedef struct sl_list_iter sl_list_iter;
int sl_list_add(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, const void *val, size_t len);
int sl_list_clear(sl_keyed_scope *s, uint32_t state_id);
int sl_list_iter_open(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl, sl_list_iter **it);
int sl_list_iter_next(sl_list_iter *it, const void **val, size_t *len);
void sl_list_iter_close(sl_list_iter *it);
int sl_list_is_empty(sl_keyed_scope *s, uint32_t state_id, const sl_ttl *ttl);

/* state/operator_state.h */
typedef struct sl_op_item { const void *data; size_t len; } sl_op_item;
typedef struct sl_op_list { sl_op_item *items; size_t n; void *owned; } sl_op_list;
int sl_op_state_redistribute(const sl_op_list *old, size_t n_old, size_t m, int mode, sl_op_list *out);
void sl_op_list_free(sl_op_list *l);
int sl_op_state_write(sl_backend *b, uint32_t state_id, uint32_t instance, uint32_t parallelism,
                      const sl_op_item *items, size_t n);
int sl_op_state_restore(sl_backend *b, uint32_t state_id, int mode, uint32_t m, uint32_t instance,
                        sl_op_list *out);

/* core/json_write.h */
typedef struct sl_buf { char *data; size_t len, cap; int oom; } sl_buf;
void sl_buf_init(sl_buf *b);
void sl_buf_free(sl_buf *b);
void sl_buf_reset(sl_buf *b);
void sl_buf_put(sl_buf *b, const void *p, size_t n);
void sl_buf_putc(sl_buf *b, char c);
void sl_buf_put_json_string(sl_buf *b, const char *s, size_t n);
void sl_buf_put_json_number(sl_buf *b, double x);
void sl_buf_put_int64(sl_buf *b, int64_t v);
]]

local M = {}

local function load_library()
  if rawget(_G, "SLUICE_HOST") then
    return ffi.C
  end
  local path = os.getenv("SLUICE_LIB")
  if not path then
    error("sluice.native: set SLUICE_LIB to the path of libsluice.so (the sluice executable sets it up itself)", 2)
  end
  return ffi.load(path)
end

M.C = load_library()

M.json_type = { null = 0, ["false"] = 1, ["true"] = 2, number = 3, string = 4, array = 5, object = 6 }
M.status = { ok = 0, notfound = 1, einval = -1, enomem = -2, eio = -3, efull = -4, ecorrupt = -5 }

-- The text for a state status code.
function M.strerror(rc)
  return ffi.string(M.C.sl_state_strerror(rc))
end

-- The backend id of state `name` of operator `op` (assigned on first use, kept forever); `what` names the
-- kind of state in the error ("state", "operator state", "timer state"), raised at `level`.
function M.state_id(backend, op, name, what, level)
  local idp = ffi.new("uint32_t[1]")
  local rc = M.C.sl_backend_state_id(backend, op, name, idp)
  if rc ~= 0 then
    error(("%s '%s' of operator '%s': %s"):format(what or "state", name, op, M.strerror(rc)), level or 0)
  end
  return idp[0]
end

return M
