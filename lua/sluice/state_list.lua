-- sluice.state_list — ListState handles: add(v), add_all(list), get() -> iterator, update(list), clear(),
-- is_empty(). Every element is its own LMDB entry (state/list_state.c), so add never rewrites the list and
-- get() streams with a cursor: a list of any length is never loaded into Lua whole.
local ffi = require "ffi"
local native = require "sluice.native"
local base = require "sluice.state_base"
local caller = require "sluice.caller"

local C = native.C
local NOTFOUND = base.NOTFOUND
local fail, decode = base.fail, base.decode

local ListState = {}
ListState.__index = ListState

function ListState:add(v)
  if v == nil then
    caller.error(("ListState<%s>: cannot add nil"):format(base.infos[self.info].name))
  end
  local p, n = base.encode(self, v)
  local rc = C.sl_list_add(self.scope, self.id, self.ttl, p, n)
  if rc ~= 0 then
    fail(self, rc)
  end
end

-- Appends every element of the array `list` (1..#list), in order.
function ListState:add_all(list)
  for i = 1, #list do
    self:add(list[i])
  end
end

function ListState:clear()
  local rc = C.sl_list_clear(self.scope, self.id)
  if rc ~= 0 then
    fail(self, rc)
  end
end

-- Replaces the list by the array `list` (an empty table or nil clears it).
function ListState:update(list)
  self:clear()
  if list ~= nil then
    self:add_all(list)
  end
end

function ListState:is_empty()
  local rc = C.sl_list_is_empty(self.scope, self.id, self.ttl)
  if rc < 0 then
    fail(self, rc)
  end
  return rc == 0
end

-- An iterator over the elements in insertion order: `for v in list:get() do ... end`. The C iterator is
-- closed at the end, or by the GC when a loop breaks early.
function ListState:get()
  local itp = ffi.new("sl_list_iter *[1]")
  local rc = C.sl_list_iter_open(self.scope, self.id, self.ttl, itp)
  if rc ~= 0 then
    fail(self, rc)
  end
  local it = ffi.gc(itp[0], C.sl_list_iter_close)
  local valp, vlp = ffi.new("const void *[1]"), ffi.new("size_t[1]")
  local h = self
  return function()
    if it == nil then
      return nil
    end
    local r = C.sl_list_iter_next(it, valp, vlp)
    if r ~= 0 then
      C.sl_list_iter_close(ffi.gc(it, nil))
      it = nil
      if r ~= NOTFOUND then
        fail(h, r)
      end
      return nil
    end
    return decode(valp[0], vlp[0])
  end
end

-- The whole list as a Lua array (for small lists and tests; get() streams).
function ListState:totable()
  local t = {}
  for v in self:get() do
    t[#t + 1] = v
  end
  return t
end

ListState.__tostring = base.describe

return { ctype = ffi.metatype("sl_list_handle", ListState) }
