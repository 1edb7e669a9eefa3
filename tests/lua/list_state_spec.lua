-- ListState handles (lua/sluice/state_list.lua) over the real backend (state/list_state.c): add, add_all,
-- get (streaming), update, clear, is_empty, key scoping, errors, persistence, and 100k elements.
local H = require "helpers"
local state = require "sluice.state"

describe("ListState", function()
  local fx = H.state_each { key = "k1" }

  local function ls(name, s) return state.new("list", fx.env.backend, s or fx.scope, "op", name) end

  it("add / add_all / get in insertion order, any storable value", function()
    local l = ls("l")
    assert.is_true(l:is_empty())
    assert.are.same({}, l:totable())
    l:add(1)
    l:add("two")
    l:add_all({ { x = 3 }, true })
    assert.is_false(l:is_empty())
    assert.are.same({ 1, "two", { x = 3 }, true }, l:totable())
    local seen = {}
    for v in l:get() do
      seen[#seen + 1] = v
    end
    assert.are.same(l:totable(), seen)
  end)

  it("update replaces, clear empties", function()
    local l = ls("l")
    l:add_all({ 1, 2, 3 })
    l:update({ "a" })
    assert.are.same({ "a" }, l:totable())
    l:clear()
    assert.is_true(l:is_empty())
    l:update({})
    assert.are.same({}, l:totable())
  end)

  it("is scoped by key and survives a commit and reopen", function()
    local l = ls("l")
    l:add("k1")
    H.set_key(fx.scope, "k2")
    assert.are.same({}, l:totable())
    l:add("k2")
    fx.env:commit()
    fx.env:reopen()
    local s = fx.env:scope("k1")
    assert.are.same({ "k1" }, ls("l", s):totable())
  end)

  it("names the state in errors and prints itself", function()
    local l = ls("items")
    assert.has_error(function() l:add(function() end) end)
    local ok, err = pcall(l.add, l, function() end)
    assert.is_false(ok)
    assert.matches("ListState<items>", err)
    assert.has_error(function() l:add(nil) end, nil)
    assert.are.equal("ListState<items> op=op key=k1", tostring(l))
    local s = fx.env:scope()
    local ok2, err2 = pcall(function() ls("items", s):add(1) end)
    assert.is_false(ok2)
    assert.matches("no current key", err2)
  end)

  it("streams 100k elements without loading them", function()
    local l = ls("big")
    for i = 1, 100000 do
      l:add(i)
    end
    fx.env:commit()
    collectgarbage()
    local before = collectgarbage("count")
    local n, sum, peak = 0, 0, 0
    for v in l:get() do
      n, sum = n + 1, sum + v
      if n % 10000 == 0 then
        peak = math.max(peak, collectgarbage("count") - before)
      end
    end
    assert.are.equal(100000, n)
    assert.are.equal(100000 * 100001 / 2, sum)
    -- Lua memory stays far below what 100k decoded elements in a table would need.
    assert.is_true(peak < 2048, "Lua heap grew by " .. peak .. " KiB while iterating")
  end)
end)
