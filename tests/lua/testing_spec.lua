-- testing_spec.lua — sluice.testing (lua/test_harness.c) beyond what the bundled jobs' specs show:
-- processing-time timers, on_timer errors, map and list state read and written from the test, operator
-- state and hooks across a restart, and the harness's own errors. Each job is a small script written to a
-- temp dir; the harness runs it in its own VM on the real backend (libsluice.so via $SLUICE_LIB).
local H = require "helpers"
local testing = require "sluice.testing"

local dir
local function script(name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("sluice.testing", function()
  local h
  before_each(function()
    dir = H.tmpdir()
  end)
  after_each(function()
    if h then
      h:close()
      h = nil
    end
    H.rmdir(dir)
  end)

  it("fires processing-time timers when the test moves the clock, with ctx:now() on it", function()
    h = testing.harness(script("p.lua", [[
      local sluice = require "sluice"
      return sluice.job "p":key_by "k":process("t", {
        process = function(ctx, rec) ctx:timer_at(ctx:now() + 100) end,
        on_timer = function(ctx, ts, kind) ctx:emit({ k = ctx:key(), ts = ts, kind = kind }, { "k", "ts", "kind" }) end,
      })]]), { time = 1000 })
    h:push { k = "a" }
    h:advance_processing_time(99)
    assert.same({}, h:output())
    assert.equal(1099, h:now())
    h:advance_processing_time(1)
    assert.same({ { k = "a", ts = 1100, kind = "processing" } }, h:output())
    assert.has_error(function() h:advance_processing_time(-1) end, "processing time cannot go back (from 1100 to 1099)")
  end)

  it("reports a failing on_timer as a reject and goes on", function()
    h = testing.harness(script("e.lua", [[
      local sluice = require "sluice"
      return sluice.job "e":key_by "k":process("t", {
        process = function(ctx, rec) ctx:event_timer_at(10) end,
        on_timer = function(ctx, ts) if ctx:key() == "bad" then error("boom") end ctx:emit({ k = ctx:key() }) end,
      })]]))
    h:push_lines { { k = "bad" }, { k = "good" } }
    h:advance_watermark(10)
    assert.same({ { k = "good" } }, h:output())
    local r = h:rejects()
    assert.equal(1, #r)
    assert.is_nil(r[1].line)
    assert.matches("operator 't': on_timer%(event, 10%): .*boom", r[1].error)
  end)

  it("reads and writes map and list state in the job's own shapes", function()
    h = testing.harness(script("m.lua", [[
      local sluice = require "sluice"
      return sluice.job "m":key_by "u":process("s", function(ctx, rec)
        ctx:map("pages"):put(rec.p, (ctx:map("pages"):get(rec.p) or 0) + 1)
        ctx:list("seen"):add(rec.p)
        local n = 0
        for _ in ctx:list("seen"):get() do n = n + 1 end
        ctx:emit({ n = n, pages = ctx:map("pages"):get(rec.p) })
      end)]]))
    h:push_lines { { u = "u1", p = "a" }, { u = "u1", p = "b" }, { u = "u1", p = "a" } }
    assert.same({ a = 2, b = 1 }, h:state("s", "pages", "u1"))
    assert.same({ "a", "b", "a" }, h:state("s", "seen", "u1"))
    assert.is_nil(h:state("s", "seen", "u2"))
    h:set_state("s", "seen", "u2", { "x", "y" })
    h:set_state("s", "pages", "u2", { a = 10 })
    h:take_output()
    h:push { u = "u2", p = "a" }
    assert.same({ { n = 3, pages = 11 } }, h:output())
    assert.is_nil(h:state("s", "nope", "u1"))
    h:set_state("s", "fresh", "u1", { 1, 2 }, "list")
    assert.same({ 1, 2 }, h:state("s", "fresh", "u1"))
    assert.has_error(function() h:set_state("s", "pages", "u1", 1, "value") end,
      "state 'pages' of operator 's' is a map state, not value")
  end)

  it("runs snapshot hooks at a checkpoint and gives their operator state back after a restart", function()
    h = testing.harness(script("o.lua", [[
      local sluice = require "sluice"
      local buffered = {}
      return sluice.job "o":process("buf", {
        operator_state = { pending = sluice.state.operator_list {} },
        initialize = function(ctx, restored)
          for _, r in ipairs(restored.pending) do buffered[#buffered + 1] = r end
          ctx:emit({ restored = #restored.pending })
        end,
        snapshot = function(ctx) ctx.operator_state.pending:update(buffered) end,
        process = function(ctx, rec) buffered[#buffered + 1] = rec.v end,
      })]]))
    assert.same({ { restored = 0 } }, h:take_output())
    h:push_lines { { v = 1 }, { v = 2 } }
    local chk = h:checkpoint()
    h:push { v = 3 }
    h:restart(chk)
    assert.same({ { restored = 2 } }, h:output())
    assert.has_error(function() h:state("buf", "pending", "k") end,
      "state 'pending' of operator 'buf' is not keyed state (it is operator_list)")
    assert.has_error(function() h:restart(7) end, "no checkpoint 7 (this harness took 1)")
  end)

  it("raises a script's error with its file:line, and fails the spec on a job failure", function()
    local bad = script("bad.lua", "local x = \nreturn 1\n")
    assert.has_error(function() testing.harness(bad) end)
    local ok, err = pcall(testing.harness, bad)
    assert.is_false(ok)
    assert.matches("bad.lua:2:", err)
    local notjob = script("notjob.lua", "return 42\n")
    ok, err = pcall(testing.harness, notjob)
    assert.matches("the script must return a job", err)
  end)

  it("pushes Kafka messages: sluice.meta and the Kafka timestamp as event time", function()
    h = testing.harness(script("kafka.lua", [[
      local sluice = require "sluice"
      return sluice.job "k"
        :source(sluice.source.kafka { brokers = "b:9092", topic = "t",
          watermark = { timestamp = "kafka", out_of_orderness_ms = 0 } })
        :key_by "u"
        :process("p", function(ctx, rec)
          local m = sluice.meta(rec)
          ctx:emit({ u = rec.u, part = m.partition, off = m.offset, key = m.key or "-", ts = ctx:timestamp(),
            tt = m.timestamp_type, topic = m.topic }, { "u", "part", "off", "key", "ts", "tt", "topic" })
        end)
    ]]))
    h:push_kafka { { value = { u = "a" }, partition = 2, key = "ka", timestamp = 1000 },
      { value = '{"u": "b"}', partition = 2, timestamp = 1500, timestamp_type = "log_append" },
      { value = { u = "c" }, topic = "x", offset = 77, timestamp = 5 } }
    assert.same({ { u = "a", part = 2, off = 0, key = "ka", ts = 1000, tt = "create", topic = "test" },
      { u = "b", part = 2, off = 1, key = "-", ts = 1500, tt = "log_append", topic = "test" },
      { u = "c", part = 0, off = 77, key = "-", ts = 5, tt = "create", topic = "x" } }, h:take_output())
    -- a message without a timestamp has no event time: a reject, like a record without its time field
    h:push_kafka { { value = { u = "d" } } }
    assert.same({}, h:take_output())
    local rejects = h:rejects()
    assert.equal(1, #rejects)
    assert.equal(4, rejects[1].line)
    assert.matches("no Kafka timestamp", rejects[1].error)
  end)

  it("is closed once, and refuses use after close", function()
    h = testing.harness(script("c.lua", [[
      return require("sluice").job "c":map(function(r) return r end)]]))
    h:push '{"a": 1}'
    assert.same({ '{"a": 1}' }, h:output_lines())
    h:close()
    h:close()
    assert.has_error(function() h:push { a = 2 } end)
    h = nil
  end)
end)
