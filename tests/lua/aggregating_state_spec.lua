-- AggregatingState handles (lua/sluice/state_reduce.lua): create/add/result/merge, get, accumulator,
-- clear, key scoping, printing, and the declared form in a job.
local H = require "helpers"
local state = require "sluice.state"

local avg = {
  create = function() return { sum = 0, n = 0 } end,
  add = function(v, acc) acc.sum, acc.n = acc.sum + v, acc.n + 1; return acc end,
  result = function(acc) return acc.sum / acc.n end,
  merge = function(a, b) return { sum = a.sum + b.sum, n = a.n + b.n } end,
}

describe("AggregatingState", function()
  local fx = H.state_each { key = "k1" }

  local function as(name, agg) return state.new("aggregating", fx.env.backend, fx.scope, "op", name, nil, { agg = agg or avg }) end

  it("aggregates with a different result type, per key", function()
    local a = as("avg")
    assert.is_nil(a:get())
    a:add(2)
    a:add(4)
    assert.are.equal(3, a:get())
    assert.are.same({ sum = 6, n = 2 }, a:accumulator())
    H.set_key(fx.scope, "k2")
    a:add(10)
    assert.are.equal(10, a:get())
    H.set_key(fx.scope, "k1")
    a:merge({ sum = 6, n = 1 })
    assert.are.equal(4, a:get())
    a:clear()
    assert.is_nil(a:get())
    assert.are.equal("AggregatingState<avg> op=op key=k1", tostring(a))
  end)

  it("merge without a merge function is an error naming the state", function()
    local a = as("nomerge", { create = avg.create, add = avg.add, result = avg.result })
    local ok, err = pcall(a.merge, a, { sum = 1, n = 1 })
    assert.is_false(ok)
    assert.matches("AggregatingState<nomerge>", err)
  end)
end)
