-- ValueState handles (lua/sluice/state.lua + sluice.codec) over the real LMDB backend (state/value_state.c):
-- value/update/clear, defaults, key scoping, round-trips of every storable type, errors, persistence.
local H = require "helpers"
local state = require "sluice.state"
local codec = require "sluice.codec"

local C = H.C

describe("ValueState", function()
  local fx = H.state_each { key = "k1" }

  local function vs(name, default, op, s)
    return state.new("value", fx.env.backend, s or fx.scope, op or "op", name, default)
  end

  it("is unset (nil) at first, then holds what update stored", function()
    local n = vs("n")
    assert.is_nil(n:value())
    n:update(1)
    assert.are.equal(1, n:value())
    n:update(n:value() + 41)
    assert.are.equal(42, n:value())
    n:update("text")
    assert.are.equal("text", n:value())
  end)

  it("clear() and update(nil) remove the value", function()
    local n = vs("n")
    n:update(5)
    n:clear()
    assert.is_nil(n:value())
    n:update(6)
    n:update(nil)
    assert.is_nil(n:value())
    -- Clearing an unset value is fine.
    n:clear()
    assert.is_nil(n:value())
  end)

  it("returns the default while unset, and the stored value after update", function()
    local n = vs("n", 0)
    assert.are.equal(0, n:value())
    n:update(3)
    assert.are.equal(3, n:value())
    n:clear()
    assert.are.equal(0, n:value())
    local f = vs("flag", false)
    assert.is_false(f:value())
  end)

  it("returns a table default as a fresh copy each time", function()
    local default = { seen = {}, n = 0 }
    local t = vs("t", default)
    local a = t:value()
    assert.are.same({ seen = {}, n = 0 }, a)
    assert.are_not.equal(default, a)
    a.n = 99
    a.seen[1] = "x"
    local b = t:value()
    assert.are.same({ seen = {}, n = 0 }, b)
    assert.are_not.equal(a, b)
    assert.are.same({ seen = {}, n = 0 }, default)
  end)

  it("keeps one value per key", function()
    local n = vs("n", 0)
    n:update(10)
    H.set_key(fx.scope, "k2")
    assert.are.equal(0, n:value())
    n:update(20)
    assert.are.equal(20, n:value())
    H.set_key(fx.scope, "k1")
    assert.are.equal(10, n:value())
    n:clear()
    H.set_key(fx.scope, "k2")
    assert.are.equal(20, n:value())
  end)

  it("treats keys as bytes: prefixes, empty keys and binary keys are distinct", function()
    local n = vs("n")
    local keys = { "", "a", "ab", "a\0b", "a\0", "\255\254", ("x"):rep(200) }
    for i, k in ipairs(keys) do
      H.set_key(fx.scope, k)
      n:update(i)
    end
    for i, k in ipairs(keys) do
      H.set_key(fx.scope, k)
      assert.are.equal(i, n:value())
    end
  end)

  it("sees the same entries through two scopes on the same key", function()
    local other = fx.env:scope("k1")
    local a = vs("n", nil, "op", fx.scope)
    local b = vs("n", nil, "op", other)
    assert.are.equal(a.id, b.id)
    a:update("shared")
    assert.are.equal("shared", b:value())
    H.set_key(other, "k2")
    assert.is_nil(b:value())
  end)

  it("keeps two states of one operator, and same-named states of two operators, apart", function()
    local a = vs("a")
    local b = vs("b")
    local a2 = vs("a", nil, "other-op")
    assert.are_not.equal(a.id, b.id)
    assert.are_not.equal(a.id, a2.id)
    a:update(1)
    b:update(2)
    a2:update(3)
    assert.are.equal(1, a:value())
    assert.are.equal(2, b:value())
    assert.are.equal(3, a2:value())
    b:clear()
    assert.are.equal(1, a:value())
    assert.is_nil(b:value())
    assert.are.equal(3, a2:value())
  end)

  it("gets the same id for the same (operator, state) pair", function()
    assert.are.equal(vs("n").id, vs("n").id)
  end)

  describe("round-trips exactly", function()
    local cases = {
      { "true", true },
      { "false", false },
      { "zero", 0 },
      { "negative zero", -0.0 },
      { "small integer", 7 },
      { "negative integer", -123456 },
      { "2^31", 2 ^ 31 },
      { "2^53", 2 ^ 53 },
      { "-2^53", -2 ^ 53 },
      { "float", 0.1 },
      { "float with exponent", 1.5e-300 },
      { "largest double", 1.7976931348623157e308 },
      { "infinity", math.huge },
      { "-infinity", -math.huge },
      { "empty string", "" },
      { "string", "hello" },
      { "binary string", "a\0b\0\255\1" .. ("\0"):rep(100) },
      { "8-byte string (9 encoded bytes, like a number)", "abcdefgh" },
      { "long string", ("0123456789"):rep(10000) },
      { "empty table", {} },
      { "array", { 1, 2, 3, "four", true } },
      { "map", { url = "/a", count = 3, ok = false } },
      { "nested", { a = { b = { c = { 1, { d = "e" } } } }, list = { { x = 1 }, { x = 2 } } } },
      { "mixed keys", { [1] = "one", [2.5] = "two and a half", [true] = "yes", name = "n" } },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        local s = vs("v")
        s:update(case[2])
        local got = s:value()
        assert.are.same(case[2], got)
        assert.are.equal(type(case[2]), type(got))
        if type(got) == "table" then
          assert.are_not.equal(case[2], got)
        end
      end)
    end

    it("negative zero keeps its sign", function()
      local s = vs("v")
      s:update(-0.0)
      assert.are.equal(-math.huge, 1 / s:value())
    end)

    it("NaN", function()
      local s = vs("v")
      s:update(0 / 0)
      local got = s:value()
      assert.are.equal("number", type(got))
      assert.is_true(got ~= got)
    end)

    it("int64 and uint64 cdata", function()
      local s = vs("v")
      s:update(2 ^ 62LL)
      local got = s:value()
      assert.is_true(require("ffi").istype("int64_t", got))
      assert.is_true(got == 4611686018427387904LL)
      s:update(-9223372036854775807LL - 1)
      assert.is_true(s:value() == -9223372036854775807LL - 1)
      s:update(18446744073709551615ULL)
      got = s:value()
      assert.is_true(require("ffi").istype("uint64_t", got))
      assert.is_true(got == 18446744073709551615ULL)
      s:update({ big = 2 ^ 62LL })
      assert.is_true(s:value().big == 2 ^ 62LL)
    end)

    it("a table that is changed after update does not change the stored value", function()
      local s = vs("v")
      local t = { n = 1 }
      s:update(t)
      t.n = 2
      assert.are.equal(1, s:value().n)
    end)
  end)

  it("stores numbers in string.buffer's format (the codec fast path)", function()
    local buffer = require "string.buffer"
    for _, x in ipairs({ 0, 1, -1, 0.5, 2 ^ 53, 1e300 }) do
      assert.are.equal(buffer.encode(x), codec.encode_string(x))
      local enc = buffer.encode(x)
      assert.are.equal(x, codec.decode(enc, #enc))
    end
  end)

  it("refuses a function, naming the state", function()
    local s = vs("handler")
    local ok, err = pcall(s.update, s, function() end)
    assert.is_false(ok)
    assert.matches("ValueState<handler>", err, 1, true)
    assert.matches("cannot store this function value", err, 1, true)
    -- Nothing was stored.
    assert.is_nil(s:value())
  end)

  it("refuses a table holding a function, naming the state", function()
    local s = vs("cfg")
    local ok, err = pcall(s.update, s, { cb = print })
    assert.is_false(ok)
    assert.matches("ValueState<cfg>", err, 1, true)
  end)

  it("refuses a cyclic table, naming the state", function()
    local s = vs("cyc")
    s:update("before")
    local t = { name = "loop" }
    t.self = t
    local ok, err = pcall(s.update, s, t)
    assert.is_false(ok)
    assert.matches("ValueState<cyc>", err, 1, true)
    assert.matches("cannot store this table value", err, 1, true)
    assert.are.equal("before", s:value())
  end)

  it("refuses userdata and coroutines", function()
    local s = vs("u")
    assert.has_error(function() s:update(io.stdout) end)
    assert.has_error(function() s:update(coroutine.create(function() end)) end)
  end)

  it("errors with 'no current key' when the scope has no key", function()
    local keyless = fx.env:scope()
    local s = vs("n", 0, "count", keyless)
    for _, call in ipairs({
      function() return s:value() end,
      function() return s:update(1) end,
      function() return s:clear() end,
    }) do
      local ok, err = pcall(call)
      assert.is_false(ok)
      assert.matches("ValueState<n> of operator 'count' used with no current key", err, 1, true)
      assert.matches("key_by", err, 1, true)
    end
  end)

  it("reports the calling line in errors", function()
    local keyless = fx.env:scope()
    local s = vs("n", nil, "count", keyless)
    local ok, err = pcall(function()
      s:update(1) -- this line
    end)
    assert.is_false(ok)
    assert.matches("value_state_spec.lua:%d+:", err)
  end)

  it("prints as ValueState<name> op=... key=...", function()
    local s = vs("count", nil, "counter")
    assert.are.equal("ValueState<count> op=counter key=k1", tostring(s))
    H.set_key(fx.scope, "/api/a")
    assert.are.equal("ValueState<count> op=counter key=/api/a", tostring(s))
    local keyless = fx.env:scope()
    assert.are.equal("ValueState<count> op=counter key=nil", tostring(vs("count", nil, "counter", keyless)))
  end)

  it("is recognised by state.is_value_state", function()
    local s = vs("x")
    assert.is_true(state.is_value_state(s))
    assert.is_false(state.is_map_state(s))
    assert.is_false(state.is_value_state({}))
  end)

  describe("persistence", function()
    it("keeps committed values across a close and reopen", function()
      local s = vs("n", nil, "count")
      local t = vs("t", nil, "count")
      s:update(41)
      t:update({ list = { 1, 2, 3 }, bin = "\0\1" })
      H.set_key(fx.scope, "k2")
      s:update(2 ^ 53)
      fx.env:commit(1)
      fx.env:reopen()
      local s2 = fx.env:scope("k1")
      local n = state.new("value", fx.env.backend, s2, "count", "n")
      local tt = state.new("value", fx.env.backend, s2, "count", "t")
      assert.are.equal(s.id, n.id)
      assert.are.equal(41, n:value())
      assert.are.same({ list = { 1, 2, 3 }, bin = "\0\1" }, tt:value())
      H.set_key(s2, "k2")
      assert.are.equal(2 ^ 53, n:value())
      assert.is_nil(tt:value())
    end)

    it("loses what was not committed, and keeps what was", function()
      local s = vs("n", nil, "count")
      s:update(1)
      fx.env:commit(0)
      s:update(2)
      H.set_key(fx.scope, "uncommitted-key")
      s:update(3)
      fx.env:reopen()
      local s2 = fx.env:scope("k1")
      local n = state.new("value", fx.env.backend, s2, "count", "n")
      assert.are.equal(1, n:value())
      H.set_key(s2, "uncommitted-key")
      assert.is_nil(n:value())
    end)

    it("keeps a clear once committed", function()
      local s = vs("n", nil, "count")
      s:update(1)
      fx.env:commit(0)
      s:clear()
      fx.env:commit(0)
      fx.env:reopen()
      local n = state.new("value", fx.env.backend, fx.env:scope("k1"), "count", "n")
      assert.is_nil(n:value())
    end)
  end)

  it("reads back a hundred thousand values written past the cache cap", function()
    fx:replace({ cache_max_bytes = 64 * 1024 })
    local s = vs("n")
    for i = 1, 100000 do
      H.set_key(fx.scope, "key" .. i)
      s:update(i * 2)
    end
    for i = 1, 100000, 997 do
      H.set_key(fx.scope, "key" .. i)
      assert.are.equal(i * 2, s:value())
    end
  end)
end)

describe("ValueState and C.sl_scope_set_key", function()
  it("refuses a key too long for the composite key", function()
    local env = H.state_env()
    local s = env:scope()
    local long = ("k"):rep(100000)
    assert.are.equal(H.native.status.einval, C.sl_scope_set_key(s, long, #long))
    env:close()
  end)
end)
