-- sluice.operator_state — operator (non-keyed) ListState, one list per operator instance, reached through
-- the checkpoint hooks of :process(uid, { operator_state = ..., initialize = fn(ctx, restored),
-- snapshot = fn(ctx), process = ... }).
--
-- Between hooks the list lives in Lua (ctx.operator_state.<name>): it is small by design and touched only
-- at start and at a commit. At start each list is restored from the backend and redistributed by its mode
-- for this instance (state/operator_state.c; with one instance today: even_split and union both give the
-- whole stored list), then initialize(ctx, restored) runs. Before each commit, snapshot(ctx) runs and each
-- list is written back (sl_op_state_write), so it commits atomically with the keyed state and offsets.
local ffi = require "ffi"
local native = require "sluice.native"
local codec = require "sluice.codec"
local caller = require "sluice.caller"
local registry = require "sluice.state_registry"

local C = native.C
local M = {}

local MODES = { even_split = 0, union = 1 }

local OperatorListState = {}
OperatorListState.__index = OperatorListState
OperatorListState.__tostring = function(l)
  return ("OperatorListState<%s> op=%s mode=%s n=%d"):format(l.name, l.op, l.mode, #l.items)
end

function OperatorListState:add(v)
  if v == nil then
    caller.error(("OperatorListState<%s>: cannot add nil"):format(self.name))
  end
  -- Checked now rather than when the list is written, so that the error names the user's line (the add,
  -- or the update in a snapshot hook).
  codec.encode(v, ("OperatorListState<%s>"):format(self.name))
  self.items[#self.items + 1] = v
end

function OperatorListState:add_all(list)
  for i = 1, #list do
    self:add(list[i])
  end
end

function OperatorListState:update(list)
  self.items = {}
  self:add_all(list or {})
end

function OperatorListState:clear() self.items = {} end

function OperatorListState:get()
  local i, items = 0, self.items
  return function()
    i = i + 1
    return items[i]
  end
end

function OperatorListState:totable()
  return { unpack(self.items) }
end

function OperatorListState:is_empty() return #self.items == 0 end

-- The id of operator list `name` of operator `uid`. The pipeline checked every declared state's kind
-- before building (sluice.state_registry), so a refusal here is for a caller that did not: an error.
local function state_id(backend, uid, name)
  local id, refused = registry.register(backend, uid, name, "operator_list", false)
  if id == nil then
    error(refused, 0)
  end
  return id
end

-- Restores every operator list of op for instance `instance` of `parallelism` (defaults 0 of 1). Returns
-- ctx.operator_state (name -> OperatorListState) and restored (name -> array of the restored elements).
function M.restore(backend, op, instance, parallelism)
  local lists, restored = {}, {}
  local out = ffi.new("sl_op_list")
  for _, d in ipairs(op.operator_states or {}) do
    local id = state_id(backend, op.uid, d.name)
    local rc = C.sl_op_state_restore(backend, id, MODES[d.mode], parallelism or 1, instance or 0, out)
    if rc ~= 0 then
      native.raise_status(rc, ("restoring operator state '%s' of '%s': %s"):format(d.name, op.uid,
        native.strerror(rc)))
    end
    local items = {}
    for i = 0, tonumber(out.n) - 1 do
      items[i + 1] = codec.decode(out.items[i].data, out.items[i].len)
    end
    C.sl_op_list_free(out)
    restored[d.name] = items
    lists[d.name] = setmetatable({ name = d.name, op = op.uid, mode = d.mode, id = id, items = { unpack(items) } },
      OperatorListState)
  end
  return lists, restored
end

-- Writes every list of `lists` (from restore) for instance `instance` of `parallelism`.
function M.write(backend, uid, lists, instance, parallelism)
  for name, l in pairs(lists) do
    local n = #l.items
    local arr = ffi.new("sl_op_item[?]", math.max(n, 1))
    local keep = {}
    for i = 1, n do
      keep[i] = codec.encode_string(l.items[i], ("OperatorListState<%s>"):format(name))
      arr[i - 1].data, arr[i - 1].len = keep[i], #keep[i]
    end
    local rc = C.sl_op_state_write(backend, l.id, instance or 0, parallelism or 1, arr, n)
    if rc ~= 0 then
      native.raise_status(rc, ("writing operator state '%s' of '%s': %s"):format(name, uid, native.strerror(rc)))
    end
  end
end

return M
