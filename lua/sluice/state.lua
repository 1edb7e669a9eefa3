-- sluice.state — typed handles for keyed state, bound to the C state backend through the FFI.
--
-- A handle is an FFI object (`ValueState<n> op=count key=/api/a` when printed) holding the key scope of
-- its operator and the state's id. Every call works on the key of the record being processed, which the
-- key_by stage set in C before the operator ran; nothing of the state lives in Lua variables. Values go
-- through sluice.codec.
local ffi = require "ffi"
local native = require "sluice.native"
local codec = require "sluice.codec"

local C = native.C
local NOTFOUND = native.status.notfound
local M = {}

ffi.cdef [[
typedef struct sl_value_handle { sl_keyed_scope *scope; uint32_t id; int32_t info; } sl_value_handle;
typedef struct sl_map_handle { sl_keyed_scope *scope; uint32_t id; int32_t info; } sl_map_handle;
]]

-- Per-handle facts that do not belong in the FFI struct: name, operator, default value.
local infos = {}

local vp = ffi.new("const void *[1]")
local lp = ffi.new("size_t[1]")
local kp = ffi.new("const void *[1]")
local klp = ffi.new("size_t[1]")

local function current_key(scope)
  local p = C.sl_scope_current_key(scope, lp)
  if p == nil then
    return nil
  end
  return ffi.string(p, lp[0])
end

local function describe(kind, h)
  local info = infos[h.info]
  return ("%s<%s> op=%s key=%s"):format(kind, info.name, info.op, tostring(current_key(h.scope)))
end

local function fail(kind, h, rc)
  local info = infos[h.info]
  if rc == native.status.einval and current_key(h.scope) == nil then
    error(("%s<%s> of operator '%s' used with no current key (keyed state needs a key_by before the operator)")
      :format(kind, info.name, info.op), 3)
  end
  error(("%s<%s> of operator '%s': %s"):format(kind, info.name, info.op, native.strerror(rc)), 3)
end

local function default_of(h)
  local d = infos[h.info].default
  if type(d) == "table" then
    -- A fresh copy each time, so that mutating the returned table never changes the default.
    local p, n = codec.encode(d)
    return codec.decode(p, n)
  end
  return d
end

-- ValueState: value(), update(v), clear(). update(nil) clears, as in Flink.
local ValueState = {}
ValueState.__index = ValueState

function ValueState:value()
  local rc = C.sl_value_get(self.scope, self.id, vp, lp)
  if rc == 0 then
    return codec.decode(vp[0], lp[0])
  elseif rc == NOTFOUND then
    return default_of(self)
  end
  fail("ValueState", self, rc)
end

function ValueState:update(v)
  if v == nil then
    return self:clear()
  end
  local p, n = codec.encode(v, "ValueState<" .. infos[self.info].name .. ">")
  local rc = C.sl_value_put(self.scope, self.id, p, n)
  if rc ~= 0 then
    fail("ValueState", self, rc)
  end
end

function ValueState:clear()
  local rc = C.sl_value_clear(self.scope, self.id)
  if rc ~= 0 then
    fail("ValueState", self, rc)
  end
end

ValueState.__tostring = function(h) return describe("ValueState", h) end

-- MapState: get, put, put_all, remove, contains, is_empty, clear, pairs/keys/values iterators.
-- Map keys and values are any storable value (sluice.codec); iteration streams from LMDB in the order of
-- the encoded keys.
local MapState = {}
MapState.__index = MapState

local function map_key(h, k)
  if k == nil then
    error(("MapState<%s>: a map key cannot be nil"):format(infos[h.info].name), 3)
  end
  return codec.encode_string(k, "MapState<" .. infos[h.info].name .. "> key")
end

function MapState:get(k)
  local mk = map_key(self, k)
  local rc = C.sl_map_get(self.scope, self.id, mk, #mk, vp, lp)
  if rc == 0 then
    return codec.decode(vp[0], lp[0])
  elseif rc == NOTFOUND then
    return nil
  end
  fail("MapState", self, rc)
end

function MapState:put(k, v)
  if v == nil then
    return self:remove(k)
  end
  local mk = map_key(self, k)
  local p, n = codec.encode(v, "MapState<" .. infos[self.info].name .. "> value")
  local rc = C.sl_map_put(self.scope, self.id, mk, #mk, p, n)
  if rc ~= 0 then
    fail("MapState", self, rc)
  end
end

function MapState:put_all(t)
  for k, v in pairs(t) do
    self:put(k, v)
  end
end

function MapState:remove(k)
  local mk = map_key(self, k)
  local rc = C.sl_map_remove(self.scope, self.id, mk, #mk)
  if rc ~= 0 then
    fail("MapState", self, rc)
  end
end

function MapState:contains(k)
  local mk = map_key(self, k)
  local rc = C.sl_map_contains(self.scope, self.id, mk, #mk)
  if rc < 0 then
    fail("MapState", self, rc)
  end
  return rc == 0
end

function MapState:is_empty()
  local rc = C.sl_map_is_empty(self.scope, self.id)
  if rc < 0 then
    fail("MapState", self, rc)
  end
  return rc == 0
end

function MapState:clear()
  local rc = C.sl_map_clear(self.scope, self.id)
  if rc ~= 0 then
    fail("MapState", self, rc)
  end
end

-- A streaming iterator over (key, value). The C iterator is closed at the end, or by the GC when a loop
-- breaks early.
local function iterate(h, want)
  local itp = ffi.new("sl_map_iter *[1]")
  local rc = C.sl_map_iter_open(h.scope, h.id, itp)
  if rc ~= 0 then
    fail("MapState", h, rc)
  end
  local it = ffi.gc(itp[0], C.sl_map_iter_close)
  local mkp, mklp, valp, vlp = ffi.new("const void *[1]"), ffi.new("size_t[1]"), ffi.new("const void *[1]"),
    ffi.new("size_t[1]")
  return function()
    if it == nil then
      return nil
    end
    local r = C.sl_map_iter_next(it, mkp, mklp, valp, vlp)
    if r ~= 0 then
      C.sl_map_iter_close(ffi.gc(it, nil))
      it = nil
      if r ~= NOTFOUND then
        fail("MapState", h, r)
      end
      return nil
    end
    local k = codec.decode(mkp[0], mklp[0])
    if want == "keys" then
      return k
    elseif want == "values" then
      return codec.decode(valp[0], vlp[0])
    end
    return k, codec.decode(valp[0], vlp[0])
  end
end

function MapState:pairs() return iterate(self, "pairs") end
function MapState:keys() return iterate(self, "keys") end
function MapState:values() return iterate(self, "values") end
-- Alias for Flink users.
MapState.entries = MapState.pairs

MapState.__tostring = function(h) return describe("MapState", h) end

local value_t = ffi.metatype("sl_value_handle", ValueState)
local map_t = ffi.metatype("sl_map_handle", MapState)

-- Creates a handle for state `name` of operator `op`, on `scope`, registering the state in the backend.
function M.new(kind, backend, scope, op, name, default)
  local idp = ffi.new("uint32_t[1]")
  local rc = C.sl_backend_state_id(backend, op, name, idp)
  if rc ~= 0 then
    error(("state '%s' of operator '%s': %s"):format(name, op, native.strerror(rc)), 3)
  end
  infos[#infos + 1] = { name = name, op = op, default = default }
  local ctype = kind == "value" and value_t or map_t
  return ctype(scope, idp[0], #infos)
end

function M.is_value_state(v) return ffi.istype(value_t, v) end
function M.is_map_state(v) return ffi.istype(map_t, v) end
M.current_key = current_key

return M
