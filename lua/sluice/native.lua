-- sluice.native — the C functions of libsluice that Lua calls through the FFI, and the library handle.
--
-- Inside the `sluice` executable libsluice.so is already loaded with global symbols, so ffi.C finds them.
-- Anywhere else (busted specs run by plain luajit) the library is loaded from $SLUICE_LIB, so the specs
-- exercise exactly the same C code as the host. Keep these declarations in step with the C headers named
-- beside each block.
local ffi = require "ffi"
local fatal = require "sluice.fatal"

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
typedef struct sl_state_info { uint8_t kind; uint8_t ttl; } sl_state_info;
int sl_backend_state_lookup(sl_backend *b, const char *op_uid, const char *state_name, uint32_t *id,
                            sl_state_info *info);
int sl_backend_state_register(sl_backend *b, const char *op_uid, const char *state_name,
                              const sl_state_info *want, uint32_t *id, sl_state_info *stored);
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

-- Statuses that are a failure of the state backend (out of memory, I/O, disk full, corrupt store), never
-- of the record being processed: they fail the job (sluice.fatal), so that no offset is committed past a
-- record whose effect was lost. EINVAL and the like stay ordinary errors (a misuse by the operator).
local BACKEND_FAILURE = { [M.status.enomem] = true, [M.status.eio] = true, [M.status.efull] = true,
  [M.status.ecorrupt] = true }

function M.is_backend_failure(rc)
  return BACKEND_FAILURE[rc] == true
end

-- Raises msg (prefixed with `where`, a "file:line: " or "") for status rc: a fatal error for a backend
-- failure, an ordinary error otherwise. Never returns.
function M.raise_status(rc, msg, where)
  if BACKEND_FAILURE[rc] then
    fatal.raise((where or "") .. msg, 0)
  end
  error((where or "") .. msg, 0)
end

local idp = ffi.new("uint32_t[1]")
local want_info, stored_info = ffi.new("sl_state_info"), ffi.new("sl_state_info")

-- Registers state `name` of operator `op` as kind code `kind` (sluice.state_registry) with or without TTL.
-- Returns its id (assigned on first use, kept forever); or nil, stored kind, stored ttl (boolean) when
-- the registry records the pair as another kind or TTL setting. A backend failure raises a fatal error,
-- a bad argument an ordinary one, both naming `what` ("state 'x' of operator 'op'").
function M.register_state(backend, op, name, kind, ttl, what)
  want_info.kind, want_info.ttl = kind, ttl and 1 or 0
  local rc = M.C.sl_backend_state_register(backend, op, name, want_info, idp, stored_info)
  if rc == 0 then
    return idp[0]
  elseif rc == M.status.einval and stored_info.kind ~= 0 then
    return nil, stored_info.kind, stored_info.ttl ~= 0
  end
  M.raise_status(rc, ("%s: %s"):format(what, M.strerror(rc)))
end

-- What the registry records for the pair, without assigning anything: kind code (0 = not recorded), ttl
-- (boolean); nil when it has no id yet. Failures raise as in register_state.
function M.lookup_state(backend, op, name, what)
  local rc = M.C.sl_backend_state_lookup(backend, op, name, idp, stored_info)
  if rc == 0 then
    return stored_info.kind, stored_info.ttl ~= 0
  elseif rc == M.status.notfound then
    return nil
  end
  M.raise_status(rc, ("%s: %s"):format(what, M.strerror(rc)))
end

return M
