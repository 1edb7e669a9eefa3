-- Windows over state and timers (lua/sluice/window.lua): tumbling, sliding and session windows in event
-- time (closing as the watermark passes, late records dropped to on_late), a processing-time tumbling window
-- on an injected clock, and the job method :window.
local H = require "helpers"
local sluice = require "sluice"
local pipeline = require "sluice.pipeline"

local WM = { field = "t", format = "epoch_ms", out_of_orderness_ms = 0 }

local function emit(ctx, w, n)
  ctx:emit({ k = ctx:key(), s = w.start, e = w["end"], n = n }, { "k", "s", "e", "n" })
end

local function recs(list)
  local lines = {}
  for i, r in ipairs(list) do
    lines[i] = ('{"k": "%s", "t": %d}'):format(r[1], r[2])
  end
  return H.batch(lines)
end

describe("windows", function()
  local fx = H.state_each { buf = true }

  local function run(assigner, batches, spec, clock)
    spec = spec or {}
    spec.emit = spec.emit or emit
    local job = sluice.job "w"
      :source(sluice.source.input { watermark = WM })
      :key_by "k"
      :window("win", assigner, spec)
    local head = fx:compile(job, clock)
    local out = {}
    for _, b in ipairs(batches) do
      H.run(head, recs(b))
      pipeline.fire_timers(job, clock and tonumber(clock.arg[0]) or 0, false)
      out[#out + 1] = fx:take()
    end
    pipeline.fire_timers(job, 0, true)
    out[#out + 1] = H.buf_lines(fx.buf)
    return out
  end

  it("tumbling: one result per key and window, when the watermark passes its end; late records dropped", function()
    local late = {}
    local out = run(sluice.window.tumbling { size_ms = 10 }, {
      { { "a", 1 }, { "a", 9 }, { "b", 5 }, { "a", 10 } }, -- watermark 10 - 0 - 1 = 9: [0, 10) closes
      { { "a", 3 }, { "a", 12 } },         -- a@3 is late: its window has fired
      { { "b", 25 } },
    }, { on_late = function(ctx, r) late[#late + 1] = ctx:key() .. "@" .. r.t end })
    assert.are.same({
      { '{"k": "a", "s": 0, "e": 10, "n": 2}', '{"k": "b", "s": 0, "e": 10, "n": 1}' },
      {},
      { '{"k": "a", "s": 10, "e": 20, "n": 2}' },
      { '{"k": "b", "s": 20, "e": 30, "n": 1}' }, -- at the end of the input
    }, out)
    assert.are.same({ "a@3" }, late)
  end)

  it("sliding: a record counts in size / slide windows", function()
    local out = run(sluice.window.sliding { size_ms = 10, slide_ms = 5 }, { { { "a", 7 }, { "a", 12 } } })
    assert.are.same({
      { '{"k": "a", "s": 0, "e": 10, "n": 1}' },
      { '{"k": "a", "s": 5, "e": 15, "n": 2}', '{"k": "a", "s": 10, "e": 20, "n": 1}' },
    }, out)
  end)

  it("session: records closer than the gap merge into one window per key", function()
    local out = run(sluice.window.session { gap_ms = 5 }, {
      { { "a", 1 }, { "a", 4 }, { "b", 2 }, { "a", 12 } }, -- watermark 11: b's [2, 7) and a's [1, 9) close
      { { "a", 20 }, { "a", 16 } },   -- a@16 bridges [12, 17) and [20, 25) into [12, 25)
    })
    assert.are.same({
      { '{"k": "b", "s": 2, "e": 7, "n": 1}', '{"k": "a", "s": 1, "e": 9, "n": 2}' }, -- in timer order
      {},
      { '{"k": "a", "s": 12, "e": 25, "n": 3}' },
    }, out)
  end)

  it("processing time: windows close by the clock", function()
    local clock, now = H.manual_clock(1003)
    local job = sluice.job "p"
      :key_by "k"
      :window("win", sluice.window.tumbling { size_ms = 100, time = "processing" }, { emit = emit })
    local head = fx:compile(job, clock)
    H.run(head, recs({ { "a", 0 }, { "a", 0 } }))
    assert.are.equal(1099, (pipeline.fire_timers(job, 1003, false)))
    now[0] = 1100
    H.run(head, recs({ { "a", 0 } }))
    pipeline.fire_timers(job, 1100, false)
    assert.are.same({ '{"k": "a", "s": 1000, "e": 1100, "n": 2}' }, H.buf_lines(fx.buf))
  end)

  it("checks its options", function()
    assert.has_error(function() sluice.window.tumbling { size_ms = 0 } end)
    assert.has_error(function() sluice.window.sliding { size_ms = 10, slide_ms = 20 } end)
    assert.has_error(function() sluice.window.session { gap_ms = 5, time = "wall" } end)
    assert.has_error(function() sluice.window.operator({}, {}) end)
  end)
end)
