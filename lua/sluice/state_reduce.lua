-- sluice.state_reduce — ReducingState and AggregatingState: one value entry per key (like ValueState)
-- that add(v) folds into with user functions, so an operator keeps a running result without a list.
--   ReducingState    reduce(a, b) -> same type: add(v) stores reduce(current, v) (or v when empty).
--   AggregatingState { create() -> acc, add(v, acc) -> acc, result(acc) -> r [, merge(a, b) -> acc] }:
--                    the accumulator is stored; get() returns result(acc).
local ffi = require "ffi"
local base = require "sluice.state_base"
local caller = require "sluice.caller"

local infos = base.infos

local ReducingState = {}
ReducingState.__index = ReducingState

function ReducingState:add(v)
  if v == nil then
    caller.error(("ReducingState<%s>: cannot add nil"):format(infos[self.info].name))
  end
  local has, cur = base.get_value(self)
  if has then
    v = infos[self.info].reduce(cur, v)
  end
  base.put_value(self, v)
end

-- The reduced value, or nil when nothing was added.
function ReducingState:get()
  local _, v = base.get_value(self)
  return v
end

function ReducingState:clear() base.clear_value(self) end

ReducingState.__tostring = base.describe

local AggregatingState = {}
AggregatingState.__index = AggregatingState

function AggregatingState:add(v)
  local agg = infos[self.info].agg
  local has, acc = base.get_value(self)
  if not has then
    acc = agg.create()
  end
  base.put_value(self, agg.add(v, acc))
end

-- result(accumulator), or nil when nothing was added.
function AggregatingState:get()
  local has, acc = base.get_value(self)
  if not has then
    return nil
  end
  return infos[self.info].agg.result(acc)
end

-- The stored accumulator itself (nil when empty): what merge and checkpoint tooling work on.
function AggregatingState:accumulator()
  local _, acc = base.get_value(self)
  return acc
end

-- Merges another accumulator into this key's one with the aggregate's merge function (e.g. when two
-- windows become one).
function AggregatingState:merge(other)
  local info = infos[self.info]
  if not info.agg.merge then
    caller.error(("AggregatingState<%s> has no merge function"):format(info.name))
  end
  local has, acc = base.get_value(self)
  if has then
    other = info.agg.merge(acc, other)
  end
  base.put_value(self, other)
end

function AggregatingState:clear() base.clear_value(self) end

AggregatingState.__tostring = base.describe

return {
  reducing_t = ffi.metatype("sl_reducing_handle", ReducingState),
  aggregating_t = ffi.metatype("sl_aggregating_handle", AggregatingState),
}
