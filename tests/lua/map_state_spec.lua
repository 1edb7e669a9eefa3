-- MapState handles (lua/sluice/state.lua) over the real LMDB backend (state/map_state.c): the map
-- operations, streaming iteration (also over 100k entries and with early breaks), keys of every type.
local H = require "helpers"
local state = require "sluice.state"

local function collect(iter)
  local out = {}
  for k, v in iter do
    out[#out + 1] = { k, v }
  end
  return out
end

describe("MapState", function()
  local fx = H.state_each { key = "user1" }

  local function ms(name, op, s)
    return state.new("map", fx.env.backend, s or fx.scope, op or "op", name)
  end

  -- Replaces the environment by one whose cache holds only `bytes`, so that entries spill to LMDB early.
  local function small_cache(bytes)
    fx:replace({ cache_max_bytes = bytes }, "u")
  end

  it("is empty at first", function()
    local m = ms("m")
    assert.is_true(m:is_empty())
    assert.is_nil(m:get("a"))
    assert.is_false(m:contains("a"))
    assert.are.same({}, collect(m:pairs()))
  end)

  it("put/get/contains/remove", function()
    local m = ms("m")
    m:put("a", 1)
    m:put("b", { x = "y" })
    assert.is_false(m:is_empty())
    assert.are.equal(1, m:get("a"))
    assert.are.same({ x = "y" }, m:get("b"))
    assert.is_true(m:contains("a"))
    assert.is_false(m:contains("c"))
    m:put("a", 2)
    assert.are.equal(2, m:get("a"))
    m:remove("a")
    assert.is_nil(m:get("a"))
    assert.is_false(m:contains("a"))
    assert.is_true(m:contains("b"))
    -- Removing an absent key is fine.
    m:remove("never")
    m:remove("b")
    assert.is_true(m:is_empty())
  end)

  it("stores false as a value (present), and put(k, nil) removes", function()
    local m = ms("m")
    m:put("f", false)
    assert.is_true(m:contains("f"))
    assert.is_false(m:get("f"))
    m:put("f", nil)
    assert.is_false(m:contains("f"))
    assert.is_true(m:is_empty())
  end)

  it("put_all adds every entry of a table", function()
    local m = ms("m")
    m:put("keep", "old")
    m:put_all({ a = 1, b = 2, [3] = "three", keep = "new" })
    assert.are.equal(1, m:get("a"))
    assert.are.equal(2, m:get("b"))
    assert.are.equal("three", m:get(3))
    assert.are.equal("new", m:get("keep"))
    local n = 0
    for _ in m:keys() do
      n = n + 1
    end
    assert.are.equal(4, n)
  end)

  it("clear removes every entry of this key's map only", function()
    local m = ms("m")
    local other = ms("other")
    m:put_all({ a = 1, b = 2, c = 3 })
    other:put("a", "kept")
    H.set_key(fx.scope, "user2")
    m:put("a", "user2's")
    H.set_key(fx.scope, "user1")
    m:clear()
    assert.is_true(m:is_empty())
    assert.is_nil(m:get("a"))
    assert.are.equal("kept", other:get("a"))
    H.set_key(fx.scope, "user2")
    assert.are.equal("user2's", m:get("a"))
    -- The map is usable after a clear.
    H.set_key(fx.scope, "user1")
    m:put("z", 26)
    assert.are.same({ { "z", 26 } }, collect(m:pairs()))
  end)

  it("keeps one map per key, and a key's map does not leak into a key it prefixes", function()
    local m = ms("m")
    m:put("x", "for user1")
    H.set_key(fx.scope, "user10")
    assert.is_true(m:is_empty())
    m:put("y", "for user10")
    H.set_key(fx.scope, "user")
    assert.is_true(m:is_empty())
    assert.are.same({}, collect(m:pairs()))
    H.set_key(fx.scope, "user1")
    assert.are.same({ { "x", "for user1" } }, collect(m:pairs()))
    H.set_key(fx.scope, "user10")
    assert.are.same({ { "y", "for user10" } }, collect(m:pairs()))
  end)

  it("iterates pairs, keys and values in the order of the encoded keys", function()
    local m = ms("m")
    m:put_all({ c = 3, a = 1, b = 2, aa = 11 })
    -- Short strings encode as a length tag and their bytes: shorter keys come first.
    assert.are.same({ { "a", 1 }, { "b", 2 }, { "c", 3 }, { "aa", 11 } }, collect(m:pairs()))
    local keys, values = {}, {}
    for k in m:keys() do
      keys[#keys + 1] = k
    end
    for v in m:values() do
      values[#values + 1] = v
    end
    assert.are.same({ "a", "b", "c", "aa" }, keys)
    assert.are.same({ 1, 2, 3, 11 }, values)
    assert.are.same(collect(m:pairs()), collect(m:entries()))
  end)

  it("takes keys of every storable type, each distinct", function()
    local m = ms("m")
    local keys = {
      "1", 1, 1.5, -1, 0, true, false, "", "a\0b", 2 ^ 62LL, { "table", "key" }, { k = "v" },
    }
    for i, k in ipairs(keys) do
      m:put(k, i)
    end
    for i, k in ipairs(keys) do
      assert.are.equal(i, m:get(k), "key " .. tostring(k))
    end
    assert.are.equal(1, m:get("1"))
    assert.are.equal(2, m:get(1))
    assert.are.equal(7, m:get(false))
    assert.are.equal(9, m:get("a\0b"))
    assert.is_nil(m:get("a"))
    -- Each key comes back from iteration with its type.
    local seen = {}
    for k, v in m:pairs() do
      seen[v] = k
    end
    for i, k in ipairs(keys) do
      if type(k) == "table" then
        assert.are.same(k, seen[i])
      elseif type(k) == "cdata" then
        assert.is_true(seen[i] == k)
      else
        assert.are.equal(k, seen[i])
        assert.are.equal(type(k), type(seen[i]))
      end
    end
  end)

  it("refuses a nil key and an unstorable key or value, naming the state", function()
    local m = ms("visits")
    local ok, err = pcall(m.put, m, nil, 1)
    assert.is_false(ok)
    assert.matches("MapState<visits>: a map key cannot be nil", err, 1, true)
    assert.has_error(function() m:get(nil) end)
    ok, err = pcall(m.put, m, print, 1)
    assert.is_false(ok)
    assert.matches("MapState<visits> key", err, 1, true)
    ok, err = pcall(m.put, m, "k", function() end)
    assert.is_false(ok)
    assert.matches("MapState<visits> value", err, 1, true)
    assert.is_true(m:is_empty())
  end)

  it("errors with 'no current key' when the scope has no key", function()
    local m = ms("visits", "sessions", fx.env:scope())
    for _, call in ipairs({
      function() return m:get("a") end,
      function() return m:put("a", 1) end,
      function() return m:remove("a") end,
      function() return m:contains("a") end,
      function() return m:is_empty() end,
      function() return m:clear() end,
      function() return m:pairs() end,
    }) do
      local ok, err = pcall(call)
      assert.is_false(ok)
      assert.matches("MapState<visits> of operator 'sessions' used with no current key", err, 1, true)
    end
  end)

  it("prints as MapState<name> op=... key=...", function()
    local m = ms("visits", "sessions")
    assert.are.equal("MapState<visits> op=sessions key=user1", tostring(m))
    assert.is_true(state.is_map_state(m))
    assert.is_false(state.is_value_state(m))
  end)

  it("refuses a ValueState of the same name: one name is one state, of one kind", function()
    local m = ms("s")
    m:put("k", "entry")
    local ok, err = pcall(state.new, "value", fx.env.backend, fx.scope, "op", "s")
    assert.is_false(ok)
    assert.is_true(require("sluice.fatal").is(err))
    require("sluice.fatal").pending = nil
    assert.matches("state 's' of operator 'op' is stored as MapState, the job now uses it as ValueState",
      tostring(err), 1, true)
    assert.are.equal("entry", m:get("k"))
  end)

  it("iterates 100k entries, streaming", function()
    local m = ms("big")
    local N = 100000
    for i = 1, N do
      m:put(i, i * 3)
    end
    fx.env:commit(0)
    collectgarbage()
    collectgarbage()
    local base = collectgarbage("count")
    local peak = base
    local n, sum = 0, 0
    for k, v in m:pairs() do
      n = n + 1
      sum = sum + v
      assert(v == k * 3)
      if n % 1000 == 0 then
        collectgarbage()
        local now = collectgarbage("count")
        if now > peak then
          peak = now
        end
      end
    end
    assert.are.equal(N, n)
    assert.are.equal(3 * N * (N + 1) / 2, sum)
    -- A table of 100k number pairs needs several MB; the iterator holds one entry at a time.
    assert.is_true(peak - base < 512, ("iteration grew the Lua heap by %.0f KiB"):format(peak - base))
    -- keys() and values() see the same entries.
    local nk, nv = 0, 0
    for _ in m:keys() do nk = nk + 1 end
    for _ in m:values() do nv = nv + 1 end
    assert.are.equal(N, nk)
    assert.are.equal(N, nv)
  end)

  it("iterates entries written through a cache smaller than the map", function()
    small_cache(32 * 1024)
    local m = ms("m")
    for i = 1, 20000 do
      m:put("k" .. i, i)
    end
    local n = 0
    for k, v in m:pairs() do
      n = n + 1
      assert(k == "k" .. v)
    end
    assert.are.equal(20000, n)
    assert.is_false(m:is_empty())
    m:clear()
    assert.is_true(m:is_empty())
  end)

  it("can break out of an iteration and keep using the state", function()
    local m = ms("m")
    for i = 1, 100 do
      m:put(i, "v" .. i)
    end
    local seen = 0
    for _ in m:pairs() do
      seen = seen + 1
      if seen == 10 then
        break
      end
    end
    assert.are.equal(10, seen)
    -- The abandoned iterator is still open: writes, reads and new iterations must work.
    m:put(101, "v101")
    m:remove(1)
    assert.are.equal("v50", m:get(50))
    assert.is_nil(m:get(1))
    local n = 0
    for k, v in m:pairs() do
      n = n + 1
      assert.are.equal("v" .. k, v)
    end
    assert.are.equal(100, n)
    fx.env:commit(0)
    -- After the GC closes the abandoned iterator, everything still works.
    collectgarbage()
    collectgarbage()
    m:put(102, "v102")
    assert.are.equal("v102", m:get(102))
    assert.are.equal(101, #collect(m:pairs()))
  end)

  it("can update or remove the entry it is on while iterating, and commit midway", function()
    small_cache(16 * 1024)
    local m = ms("m")
    for i = 1, 2000 do
      m:put(i, i)
    end
    local n = 0
    for k, v in m:pairs() do
      m:put(k, v + 1)
      n = n + 1
    end
    assert.are.equal(2000, n)
    for i = 1, 2000, 37 do
      assert.are.equal(i + 1, m:get(i))
    end
    n = 0
    for k in m:keys() do
      if k % 2 == 0 then
        m:remove(k)
      end
      n = n + 1
      if n % 100 == 0 then
        fx.env:commit(0)
      end
    end
    assert.are.equal(2000, n)
    n = 0
    for k, v in m:pairs() do
      assert.are.equal(1, k % 2)
      assert.are.equal(k + 1, v)
      n = n + 1
    end
    assert.are.equal(1000, n)
  end)

  it("can run two iterations at once over different keys' maps", function()
    local m = ms("m")
    m:put_all({ a = 1, b = 2 })
    local it1 = m:pairs()
    H.set_key(fx.scope, "user2")
    m:put_all({ x = 10, y = 20, z = 30 })
    local it2 = m:pairs()
    local k1, v1 = it1()
    local k2, v2 = it2()
    assert.are.same({ "a", 1 }, { k1, v1 })
    assert.are.same({ "x", 10 }, { k2, v2 })
    assert.are.same({ { "b", 2 } }, collect(it1))
    assert.are.same({ { "y", 20 }, { "z", 30 } }, collect(it2))
    -- An exhausted iterator keeps returning nil.
    assert.is_nil(it1())
  end)

  it("keeps committed entries across a close and reopen", function()
    local m = ms("m", "sessions")
    m:put_all({ a = 1, b = { 2, 3 } })
    m:put(2 ^ 62LL, "big")
    fx.env:commit(1)
    m:put("uncommitted", true)
    fx.env:reopen()
    local m2 = state.new("map", fx.env.backend, fx.env:scope("user1"), "sessions", "m")
    assert.are.equal(1, m2:get("a"))
    assert.are.same({ 2, 3 }, m2:get("b"))
    assert.are.equal("big", m2:get(2 ^ 62LL))
    assert.is_false(m2:contains("uncommitted"))
    assert.are.equal(3, #collect(m2:pairs()))
  end)
end)
