-- sluice.state — typed handles for keyed state, bound to the C state backend through the FFI.
--
-- A handle is an FFI object (`ValueState<n> op=count key=/api/a` when printed) holding the key scope of
-- its operator, the state's id and its TTL config (NULL without TTL). Every call works on the key of the
-- record being processed, which the key_by stage set in C before the operator ran; nothing of the state
-- lives in Lua variables. Values go through sluice.codec. This module holds ValueState and MapState and
-- creates handles of every kind (ListState: sluice.state_list; Reducing/AggregatingState:
-- sluice.state_reduce; shared helpers: sluice.state_base).
local ffi = require "ffi"
local native = require "sluice.native"
local base = require "sluice.state_base"
local list = require "sluice.state_list"
local reduce = require "sluice.state_reduce"
local registry = require "sluice.state_registry"
local caller = require "sluice.caller"

local C = native.C
local NOTFOUND = base.NOTFOUND
local infos, fail, vp, lp = base.infos, base.fail, base.vp, base.lp
local decode = base.decode
local M = {}

-- ValueState: value(), update(v), clear(). update(nil) clears, as in Flink.
local ValueState = {}
ValueState.__index = ValueState

function ValueState:value()
  local rc = C.sl_value_get_ttl(self.scope, self.id, self.ttl, vp, lp)
  if rc == 0 then
    return decode(vp[0], lp[0])
  elseif rc == NOTFOUND then
    return base.copy(infos[self.info].default)
  end
  fail(self, rc)
end

function ValueState:update(v)
  if v == nil then
    return self:clear()
  end
  local p, n = base.encode(self, v)
  local rc = C.sl_value_put_ttl(self.scope, self.id, self.ttl, p, n)
  if rc ~= 0 then
    fail(self, rc)
  end
end

function ValueState:clear()
  local rc = C.sl_value_clear(self.scope, self.id)
  if rc ~= 0 then
    fail(self, rc)
  end
end

ValueState.__tostring = base.describe

-- MapState: get, put, put_all, remove, contains, is_empty, clear, pairs/keys/values iterators.
-- Map keys and values are any storable value (sluice.codec); iteration streams from LMDB in the order of
-- the encoded keys. With TTL every entry expires on its own.
local MapState = {}
MapState.__index = MapState

local function map_key(h, k)
  if k == nil then
    caller.error(("MapState<%s>: a map key cannot be nil"):format(infos[h.info].name))
  end
  return base.encode(h, k, " key")
end

function MapState:get(k)
  local mk, mkn = map_key(self, k)
  mk = ffi.string(mk, mkn)
  local rc = C.sl_map_get_ttl(self.scope, self.id, self.ttl, mk, #mk, vp, lp)
  if rc == 0 then
    return decode(vp[0], lp[0])
  elseif rc == NOTFOUND then
    return nil
  end
  fail(self, rc)
end

function MapState:put(k, v)
  if v == nil then
    return self:remove(k)
  end
  local mk, mkn = map_key(self, k)
  mk = ffi.string(mk, mkn)
  local p, n = base.encode(self, v, " value")
  local rc = C.sl_map_put_ttl(self.scope, self.id, self.ttl, mk, #mk, p, n)
  if rc ~= 0 then
    fail(self, rc)
  end
end

function MapState:put_all(t)
  for k, v in pairs(t) do
    self:put(k, v)
  end
end

function MapState:remove(k)
  local mk, mkn = map_key(self, k)
  local rc = C.sl_map_remove(self.scope, self.id, mk, mkn)
  if rc ~= 0 then
    fail(self, rc)
  end
end

function MapState:contains(k)
  if self.ttl ~= nil then
    return self:get(k) ~= nil
  end
  local mk, mkn = map_key(self, k)
  local rc = C.sl_map_contains(self.scope, self.id, mk, mkn)
  if rc < 0 then
    fail(self, rc)
  end
  return rc == 0
end

function MapState:clear()
  local rc = C.sl_map_clear(self.scope, self.id)
  if rc ~= 0 then
    fail(self, rc)
  end
end

-- A streaming iterator over (key, value). The C iterator is closed at the end, or by the GC when a loop
-- breaks early. Entries expired under TTL are skipped (or shown once, per the TTL's visibility).
local function iterate(h, want)
  local itp = ffi.new("sl_map_iter *[1]")
  local rc = C.sl_map_iter_open(h.scope, h.id, itp)
  if rc ~= 0 then
    fail(h, rc)
  end
  local it = ffi.gc(itp[0], C.sl_map_iter_close)
  local mkp, mklp, valp, vlp = ffi.new("const void *[1]"), ffi.new("size_t[1]"), ffi.new("const void *[1]"),
    ffi.new("size_t[1]")
  local ttl, uvp, ulp = h.ttl, ffi.new("const void *[1]"), ffi.new("size_t[1]")
  local function step()
    if it == nil then
      return nil
    end
    local r = C.sl_map_iter_next(it, mkp, mklp, valp, vlp)
    if r ~= 0 then
      C.sl_map_iter_close(ffi.gc(it, nil))
      it = nil
      if r ~= NOTFOUND then
        fail(h, r)
      end
      return nil
    end
    if ttl ~= nil then
      if C.sl_ttl_unwrap(h.scope, ttl, valp[0], vlp[0], uvp, ulp) ~= 0 then
        return step()
      end
      valp[0], vlp[0] = uvp[0], ulp[0]
    end
    local k = decode(mkp[0], mklp[0])
    if want == "keys" then
      return k
    elseif want == "values" then
      return decode(valp[0], vlp[0])
    end
    return k, decode(valp[0], vlp[0])
  end
  return step
end

function MapState:pairs() return iterate(self, "pairs") end
function MapState:keys() return iterate(self, "keys") end
function MapState:values() return iterate(self, "values") end
-- Alias for Flink users.
MapState.entries = MapState.pairs

function MapState:is_empty()
  if self.ttl ~= nil then
    return iterate(self, "keys")() == nil
  end
  local rc = C.sl_map_is_empty(self.scope, self.id)
  if rc < 0 then
    fail(self, rc)
  end
  return rc == 0
end

MapState.__tostring = base.describe

local ctypes = {
  value = { ffi.metatype("sl_value_handle", ValueState), "ValueState" },
  map = { ffi.metatype("sl_map_handle", MapState), "MapState" },
  list = { list.ctype, "ListState" },
  reducing = { reduce.reducing_t, "ReducingState" },
  aggregating = { reduce.aggregating_t, "AggregatingState" },
}

-- Creates a handle for state `name` of operator `op`, on `scope`, registering the state in the backend.
-- kind: value | map | list | reducing | aggregating. default: ValueState's default. opts: { ttl = sl_ttl
-- cdata (from sluice.state_desc), reduce = fn (reducing), agg = { create, add, result, merge } (aggregating) }.
-- A state the backend records as another kind (or TTL setting) fails the job (sluice.state_registry): a
-- handle is made at the state's first use, and every record would misread it.
function M.new(kind, backend, scope, op, name, default, opts)
  local ct = ctypes[kind]
  if not ct then
    error(("unknown state kind '%s'"):format(tostring(kind)), 2)
  end
  opts = opts or {}
  local id, refused = registry.register(backend, op, name, kind, opts.ttl ~= nil)
  if id == nil then
    caller.fatal(refused)
  end
  if opts.ttl ~= nil then
    -- Snapshots leave out this state's expired entries (TTL cleanup while snapshotting).
    local rc = C.sl_backend_mark_ttl_state(backend, id)
    if rc ~= 0 then
      native.raise_status(rc, ("%s<%s> of operator '%s': %s"):format(ct[2], name, op, native.strerror(rc)),
        caller.where())
    end
  end
  local info = base.register({ kind = ct[2], name = name, op = op, default = default, ttl = opts.ttl,
    reduce = opts.reduce, agg = opts.agg })
  return ct[1](scope, id, info, opts.ttl)
end

function M.is_value_state(v) return ffi.istype(ctypes.value[1], v) end
function M.is_map_state(v) return ffi.istype(ctypes.map[1], v) end
function M.is_list_state(v) return ffi.istype(ctypes.list[1], v) end
function M.is_reducing_state(v) return ffi.istype(ctypes.reducing[1], v) end
function M.is_aggregating_state(v) return ffi.istype(ctypes.aggregating[1], v) end
M.current_key = base.current_key

return M
