-- State TTL from Lua (sluice.state_desc ttl, sluice.state handles, state/state_ttl.c) with an injected
-- clock (sl_clock_manual): expiry of every kind, update on read, visibility, background cleanup step.
local H = require "helpers"
local sluice = require "sluice"
local state = require "sluice.state"
local pipeline = require "sluice.pipeline"
local desc = require "sluice.state_desc"

describe("state TTL", function()
  local fx = H.state_each { key = "k1", clock = 1000 }

  local function new(kind, ttl, extra)
    local d = desc[kind](setmetatable({ ttl = ttl }, { __index = extra }))
    extra = extra or {}
    return state.new(kind, fx.env.backend, fx.scope, "op", kind, extra.default,
      { ttl = desc.ttl_cdata(d.ttl), reduce = d.reduce, agg = d.agg })
  end

  it("ValueState expires after ttl ms; a write restarts it", function()
    local v = new("value", 100, { default = 0 })
    v:update(5)
    fx.now[0] = 1099
    assert.are.equal(5, v:value())
    fx.now[0] = 1100
    assert.are.equal(0, v:value()) -- the default once expired
    v:update(6)
    fx.now[0] = 1150
    v:update(7)
    fx.now[0] = 1249
    assert.are.equal(7, v:value())
  end)

  it("on_read_and_write keeps a value read often alive", function()
    local v = new("value", { ms = 100, update = "on_read_and_write" })
    v:update("x")
    for t = 1090, 1900, 90 do
      fx.now[0] = t
      assert.are.equal("x", v:value())
    end
    fx.now[0] = 2100
    assert.is_nil(v:value())
  end)

  it("return_expired_if_not_cleaned_up returns an expired value once", function()
    local v = new("value", { ms = 10, visibility = "return_expired_if_not_cleaned_up" })
    v:update("old")
    fx.now[0] = 2000
    assert.are.equal("old", v:value())
    assert.is_nil(v:value())
  end)

  it("MapState entries, ListState elements, Reducing and Aggregating expire", function()
    local m = new("map", 100)
    m:put("a", 1)
    fx.now[0] = 1050
    m:put("b", 2)
    fx.now[0] = 1120
    assert.is_nil(m:get("a"))
    assert.is_false(m:contains("a"))
    assert.are.equal(2, m:get("b"))
    local keys = {}
    for k in m:keys() do keys[#keys + 1] = k end
    assert.are.same({ "b" }, keys)
    fx.now[0] = 1200
    assert.is_true(m:is_empty())

    local l = new("list", 100)
    l:add(1)
    fx.now[0] = 1250
    l:add(2)
    fx.now[0] = 1310
    assert.are.same({ 2 }, l:totable())

    local r = new("reducing", 100, { reduce = function(a, b) return a + b end })
    r:add(1)
    r:add(2)
    assert.are.equal(3, r:get())
    fx.now[0] = 1500
    assert.is_nil(r:get())
    r:add(4)
    assert.are.equal(4, r:get())
  end)

  it("rejects bad ttl options at declaration", function()
    assert.has_error(function() sluice.state.value { ttl = -1 } end)
    assert.has_error(function() sluice.state.value { ttl = { ms = 5, update = "sometimes" } } end)
    assert.has_error(function() sluice.state.map { ttl = { ms = 5, visibility = "maybe" } } end)
  end)

  it("a job's background cleanup step removes expired entries of keys never read again", function()
    local job = sluice.job "ttl"
      :key_by "k"
      :process("p", { state = { seen = sluice.state.value { ttl = { ms = 100, cleanup_batch = 1000 } } },
        process = function(ctx, rec) ctx.state.seen:update(true) end })
    local clock, now = H.manual_clock(5000)
    local head = pipeline.compile(job, { backend = fx.env.backend, buf = H.buf(), clock = clock })
    H.run(head, H.batch({ '{"k": "a"}', '{"k": "b"}', '{"k": "c"}' }))
    fx.env:commit()
    assert.are.equal(0, pipeline.cleanup_step(job))
    now[0] = 5200
    assert.are.equal(3, pipeline.cleanup_step(job))
    fx.env:commit()
    assert.are.equal(0, pipeline.cleanup_step(job))
  end)
end)
