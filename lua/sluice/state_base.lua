-- sluice.state_base — what every keyed state handle shares: the per-handle facts kept outside the FFI
-- struct (name, operator, default, ttl, functions), printing, error messages naming the state, and the
-- codec calls. The kinds live in sluice.state (ValueState, MapState), sluice.state_list (ListState) and
-- sluice.state_reduce (ReducingState, AggregatingState); this module is below all of them.
local ffi = require "ffi"
local native = require "sluice.native"
require "sluice.cdefs" -- the handle structs (sl_value_handle, ...)
local codec = require "sluice.codec"
local caller = require "sluice.caller"

local C = native.C
local M = {}

-- infos[h.info] = { kind = "ValueState", name, op, default, ttl (the sl_ttl cdata, anchored here), ... }
M.infos = {}

M.NOTFOUND = native.status.notfound
M.vp = ffi.new("const void *[1]")
M.lp = ffi.new("size_t[1]")

function M.current_key(scope)
  local p = C.sl_scope_current_key(scope, M.lp)
  if p == nil then
    return nil
  end
  return ffi.string(p, M.lp[0])
end

function M.describe(h)
  local info = M.infos[h.info]
  return ("%s<%s> op=%s key=%s"):format(info.kind, info.name, info.op, tostring(M.current_key(h.scope)))
end

-- Raises the error for status rc of a call on handle h, at the line of the user's code that made it
-- (sluice.caller). A failure of the backend itself (out of memory, I/O, disk full, corrupt store) is no
-- fault of the record: it is raised as a fatal error (sluice.fatal), which fails the job. A use with no
-- current key (EINVAL) is the operator's mistake: an ordinary error.
function M.fail(h, rc)
  local info = M.infos[h.info]
  if rc == native.status.einval and M.current_key(h.scope) == nil then
    caller.error(("%s<%s> of operator '%s' used with no current key (keyed state needs a key_by before the "
      .. "operator)"):format(info.kind, info.name, info.op))
  end
  native.raise_status(rc, ("%s<%s> of operator '%s': %s"):format(info.kind, info.name, info.op,
    native.strerror(rc)), caller.where())
end

-- Encodes v for handle h; an unstorable value raises an error naming the state.
function M.encode(h, v, what)
  local info = M.infos[h.info]
  return codec.encode(v, info.kind .. "<" .. info.name .. ">" .. (what or ""))
end

M.decode = codec.decode

-- A fresh copy of a table default, so that mutating the returned table never changes the default.
function M.copy(d)
  if type(d) == "table" then
    local p, n = codec.encode(d)
    return codec.decode(p, n)
  end
  return d
end

-- The value entry of handle h (ValueState, ReducingState, AggregatingState): the decoded value, or nil.
function M.get_value(h)
  local rc = C.sl_value_get_ttl(h.scope, h.id, h.ttl, M.vp, M.lp)
  if rc == 0 then
    return true, codec.decode(M.vp[0], M.lp[0])
  elseif rc == M.NOTFOUND then
    return false, nil
  end
  M.fail(h, rc)
end

function M.put_value(h, v)
  local p, n = M.encode(h, v)
  local rc = C.sl_value_put_ttl(h.scope, h.id, h.ttl, p, n)
  if rc ~= 0 then
    M.fail(h, rc)
  end
end

function M.clear_value(h)
  local rc = C.sl_value_clear(h.scope, h.id)
  if rc ~= 0 then
    M.fail(h, rc)
  end
end

-- Registers a handle's facts and returns its index for the struct's `info` field.
function M.register(info)
  M.infos[#M.infos + 1] = info
  return #M.infos
end

return M
