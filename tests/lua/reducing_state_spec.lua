-- ReducingState handles (lua/sluice/state_reduce.lua) over a value entry: add folds with reduce, get,
-- clear, key scoping, errors, printing.
local H = require "helpers"
local state = require "sluice.state"

describe("ReducingState", function()
  local fx = H.state_each { key = "k1" }

  local function rs(name, fn)
    return state.new("reducing", fx.env.backend, fx.scope, "op", name, nil, { reduce = fn or function(a, b) return a + b end })
  end

  it("is nil when empty, then folds every add", function()
    local r = rs("sum")
    assert.is_nil(r:get())
    r:add(5)
    assert.are.equal(5, r:get())
    r:add(7)
    r:add(-2)
    assert.are.equal(10, r:get())
    H.set_key(fx.scope, "k2")
    assert.is_nil(r:get())
    r:add(1)
    H.set_key(fx.scope, "k1")
    assert.are.equal(10, r:get())
    r:clear()
    assert.is_nil(r:get())
  end)

  it("works with tables and names itself in errors", function()
    local r = rs("max", function(a, b) return { v = math.max(a.v, b.v) } end)
    r:add({ v = 3 })
    r:add({ v = 9 })
    r:add({ v = 4 })
    assert.are.same({ v = 9 }, r:get())
    assert.are.equal("ReducingState<max> op=op key=k1", tostring(r))
    local ok, err = pcall(r.add, r, nil)
    assert.is_false(ok)
    assert.matches("ReducingState<max>", err)
    local bad = rs("bad", function() return function() end end)
    bad:add(1)
    local ok2, err2 = pcall(bad.add, bad, 2)
    assert.is_false(ok2)
    assert.matches("ReducingState<bad>", err2)
  end)
end)
