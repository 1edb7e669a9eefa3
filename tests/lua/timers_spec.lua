-- Timers and event time: ctx:event_timer_at / ctx:timer_at / deletes, on_timer with the key in scope, the
-- watermark per batch (late records counted and still processed), the end of input firing every event
-- timer, timers surviving a commit + reopen, and errors (lua/sluice/timers.lua over state/timer_state.c, with
-- an injected processing-time clock).
local H = require "helpers"
local sluice = require "sluice"
local pipeline = require "sluice.pipeline"

local NGINX = { field = "t", format = "epoch_ms", out_of_orderness_ms = 10 }

local function rec(k, t, extra)
  return ('{"k": "%s", "t": %d%s}'):format(k, t, extra or "")
end

-- A job: per key, an event timer at the record's time + 100 (deduplicated), counting records in state.
local function event_job(log)
  return sluice.job "timers"
    :source(sluice.source.input { watermark = NGINX })
    :key_by "k"
    :process("t", {
      state = { n = sluice.state.value { default = 0 } },
      process = function(ctx, r)
        ctx.state.n:update(ctx.state.n:value() + 1)
        log.late = (log.late or 0) + ((ctx:timestamp() <= ctx:watermark()) and 1 or 0)
        ctx:event_timer_at(math.floor(ctx:timestamp() / 100) * 100 + 100)
        if r.cancel then ctx:delete_event_timer(math.floor(ctx:timestamp() / 100) * 100 + 100) end
      end,
      on_timer = function(ctx, ts, kind)
        ctx:emit({ k = ctx:key(), ts = ts, kind = kind, n = ctx.state.n:value(), wm = ctx:watermark() },
          { "k", "ts", "kind", "n", "wm" })
        ctx.state.n:clear()
      end,
    })
end

describe("timers", function()
  local fx = H.state_each { buf = true }

  it("fires event timers in (time, key) order when the watermark passes them, with the key in scope", function()
    local log = {}
    local job = event_job(log)
    local head = fx:compile(job)
    H.run(head, H.batch({ rec("b", 5), rec("a", 50), rec("a", 60), rec("b", 150) }))
    -- watermark = 150 - 10 - 1 = 139: the timers at 100 of a and b fire (a first), not b's at 200.
    local next_ms, errors, late = pipeline.fire_timers(job, 0, false)
    assert.is_nil(next_ms)
    assert.is_nil(errors)
    assert.are.equal(0, late)
    assert.are.same({ '{"k": "a", "ts": 100, "kind": "event", "n": 2, "wm": 139}',
      '{"k": "b", "ts": 100, "kind": "event", "n": 2, "wm": 139}' }, fx:take())
    -- A late record (<= watermark) is still processed and counted; its timer (100) is already due.
    H.run(head, H.batch({ rec("a", 120), rec("c", 139) }))
    assert.are.equal(2, log.late)
    local _, _, late2 = pipeline.fire_timers(job, 0, false)
    assert.are.equal(2, late2)
    assert.are.same({}, fx:take()) -- the watermark did not move: their timers at 200 wait
    pipeline.fire_timers(job, 0, true)
    assert.are.same({ '{"k": "a", "ts": 200, "kind": "event", "n": 1, "wm": 139}',
      '{"k": "b", "ts": 200, "kind": "event", "n": 0, "wm": 139}',
      '{"k": "c", "ts": 200, "kind": "event", "n": 1, "wm": 139}' }, fx:take())
  end)

  it("deduplicates per (key, time), deletes, and fires everything at the end of the input", function()
    local job = event_job({})
    local head = fx:compile(job)
    H.run(head, H.batch({ rec("a", 1), rec("a", 2), rec("b", 3), rec("b", 4, ', "cancel": true'), rec("c", 500) }))
    pipeline.fire_timers(job, 0, false) -- watermark 489: a's timer at 100 fires once
    assert.are.same({ '{"k": "a", "ts": 100, "kind": "event", "n": 2, "wm": 489}' }, fx:take())
    pipeline.fire_timers(job, 0, true)
    assert.are.same({ '{"k": "c", "ts": 600, "kind": "event", "n": 1, "wm": 489}' }, fx:take())
  end)

  it("keeps pending timers and the watermark across a commit and a reopen", function()
    local job = event_job({})
    local head = fx:compile(job)
    H.run(head, H.batch({ rec("a", 10), rec("b", 250) }))
    pipeline.fire_timers(job, 0, false) -- watermark 239: a@100 fires, b@300 stays
    assert.are.equal(1, #fx:take())
    pipeline.snapshot(job)
    fx.env:commit()
    H.run(head, H.batch({ rec("z", 260) })) -- not committed: its timer is gone after the reopen
    fx.env:reopen()
    local job2 = event_job({})
    local head2 = fx:compile(job2)
    assert.are.equal(239, job2.ops[2].ctx:watermark())
    H.run(head2, H.batch({ rec("b", 100) })) -- behind the restored watermark: late, its timer (200) is due
    local _, _, late = pipeline.fire_timers(job2, 0, false)
    assert.are.equal(1, late)
    assert.are.same({ '{"k": "b", "ts": 200, "kind": "event", "n": 2, "wm": 239}' }, fx:take())
    pipeline.fire_timers(job2, 0, true)
    assert.are.same({ '{"k": "b", "ts": 300, "kind": "event", "n": 0, "wm": 239}' }, fx:take())
  end)

  it("fires processing-time timers by the clock and reports the next one", function()
    local clock, now = H.manual_clock(1000)
    local job = sluice.job "ptimers"
      :key_by "k"
      :process("p", {
        process = function(ctx, r) ctx:timer_at(ctx:now() + r.after) end,
        on_timer = function(ctx, ts, kind) ctx:emit({ k = ctx:key(), ts = ts, kind = kind }, { "k", "ts", "kind" }) end,
      })
    local head = fx:compile(job, clock)
    H.run(head, H.batch({ '{"k": "x", "after": 500}', '{"k": "y", "after": 200}', '{"k": "x", "after": 500}' }))
    assert.are.equal(1200, (pipeline.fire_timers(job, tonumber(now[0]), false)))
    assert.are.same({}, fx:take())
    now[0] = 1300
    assert.are.equal(1500, (pipeline.fire_timers(job, 1300, false)))
    assert.are.same({ '{"k": "y", "ts": 1200, "kind": "processing"}' }, fx:take())
    -- The end of the input does not fire processing-time timers.
    assert.are.equal(1500, (pipeline.fire_timers(job, 1300, true)))
    assert.is_nil((pipeline.fire_timers(job, 1500, false)))
    assert.are.same({ '{"k": "x", "ts": 1500, "kind": "processing"}' }, fx:take())
  end)

  it("collects on_timer errors, cutting that timer's output, and goes on", function()
    local job = sluice.job "bad"
      :source(sluice.source.input { watermark = NGINX })
      :key_by "k"
      :process("p", {
        process = function(ctx) ctx:event_timer_at(ctx:timestamp()) end,
        on_timer = function(ctx, ts)
          ctx:emit({ k = ctx:key() }, { "k" })
          if ctx:key() == "a" then error("boom") end
        end,
      })
    H.run(fx:compile(job), H.batch({ rec("a", 1), rec("b", 2) }))
    local _, errors = pipeline.fire_timers(job, 0, true)
    assert.are.equal(1, #errors)
    assert.truthy(errors[1]:find("operator 'p': on_timer(event, 1):", 1, true))
    assert.truthy(errors[1]:find("boom", 1, true))
    assert.are.same({ '{"k": "b"}' }, fx:take())
  end)

  it("refuses timers without on_timer, outside a key, or at a bad time", function()
    local job = sluice.job "x":key_by "k":process("p", function(ctx) ctx:timer_at(5) end)
    local ok, err = pcall(H.run, fx:compile(job), H.batch({ '{"k": "a"}' }))
    assert.is_false(ok)
    assert.truthy(err:find("has no on_timer", 1, true))
    assert.has_error(function()
      fx:compile(sluice.job "y":process("p", { process = function() end, on_timer = function() end }))
    end, "operator 'p' has an on_timer but is not keyed: add key_by before it")
    local job3 = sluice.job "z":key_by "k":process("p", { process = function(ctx) ctx:timer_at(1.5) end,
      on_timer = function() end })
    ok, err = pcall(H.run, fx:compile(job3), H.batch({ '{"k": "a"}' }))
    assert.truthy(err:find("timer_at needs a whole number of ms", 1, true))
  end)

  it("rejects a record without a parsable event time, naming the field", function()
    local job = event_job({})
    local head = fx:compile(job)
    local ok, err = pcall(H.run, head, H.batch({ '{"k": "a", "t": "soon"}' }))
    assert.is_false(ok)
    assert.truthy(err:find("field 't' = soon is not a epoch_ms time", 1, true))
  end)
end)

describe("event time formats", function()
  it("parses and formats nginx, iso8601 and epoch times as UTC", function()
    local t = sluice.time
    assert.are.equal(1555545600000, t.parse("18/Apr/2019:00:00:00", "nginx"))
    assert.are.equal(1555545600000, t.parse("18/Apr/2019:02:00:00 +0200", "nginx"))
    assert.are.equal(1555545600250, t.parse("2019-04-18T00:00:00.25Z", "iso8601"))
    assert.are.equal(1555545600000, t.parse("2019-04-17T19:00:00-05:00", "iso8601"))
    assert.are.equal(1555545600500, t.parse(1555545600.5, "epoch_s"))
    assert.are.equal(1555545600000, t.parse("1555545600000", "epoch_ms"))
    assert.is_nil(t.parse("18/Foo/2019:00:00:00", "nginx"))
    assert.are.equal("18/Apr/2019:00:01:00", t.format(1555545660000, "nginx"))
    assert.are.equal("2000-02-29T23:59:59.999Z", t.format(t.parse("2000-02-29T23:59:59.999Z", "iso8601"), "iso8601"))
    assert.are.equal("01/Jan/1969:00:00:00", t.format(-31536000000, "nginx"))
  end)

  it("checks a source's watermark option at the script's line", function()
    assert.has_error(function() sluice.source.input { watermark = { format = "nginx" } } end)
    assert.has_error(function() sluice.source.input { watermark = { field = "t", format = "rfc" } } end)
    assert.has_error(function() sluice.source.input { watermark = { field = "t", out_of_orderness_ms = -1 } } end)
  end)
end)
