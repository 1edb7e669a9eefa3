-- sluice.window — tumbling, sliding and session windows over keyed state and timers.
--
--   :key_by "url"
--   :window("per-minute", sluice.window.tumbling { size_ms = 60000 }, {   -- time = "event" is the default
--     aggregate = { create = function() return 0 end, add = function(acc, rec) return acc + 1 end },
--     emit = function(ctx, w, n) ctx:emit({ url = ctx:key(), start = w.start, count = n }) end,
--   })
--
-- An assigner says which windows a record belongs to; operator(assigner, spec) turns it into the table form
-- of :process (state + process + on_timer), so a job can also use it inside its own process operator:
--   local w = sluice.window.operator(sluice.window.tumbling { size_ms = 1000 }, { ... })
--   :process("x", { state = w.state, on_timer = w.on_timer,
--                   process = function(ctx, rec) ...; w.process(ctx, rec) end })
--
-- How it works: per key, MapState "windows" maps a window's start to its accumulator (sessions: to
-- { end, accumulator }); each window has one timer at its last millisecond (end - 1), event-time (fires when
-- the watermark reaches it) or processing-time (when the wall clock does). The timer emits the result and
-- clears the window. Both are state, so open windows and their timers survive a restart. With event time,
-- a record whose window has already fired (its end - 1 <= the watermark) is late: it is dropped, or given to
-- spec.on_late(ctx, rec) when set.
--
-- spec.aggregate = { create() -> acc, add(acc, rec, ctx) -> acc, result(acc) -> value (optional),
-- merge(a, b) -> acc (sessions; counts need none) }; the default counts records. spec.emit(ctx, w, result)
-- gets w = { start = ms, ["end"] = ms } and the key as ctx:key(); the default emits
-- { key, window_start, window_end, result }.
local state_desc = require "sluice.state_desc"
local caller = require "sluice.caller"
local options = require "sluice.options"

local M = {}

local COUNT = { create = function() return 0 end, add = function(acc) return acc + 1 end,
  merge = function(a, b) return a + b end }

local function whole(v, name, what, min)
  if type(v) ~= "number" or v ~= math.floor(v) or v < min then
    caller.error(("sluice.window.%s: %s must be a whole number of ms >= %d"):format(what, name, min))
  end
end

-- The options of each assigner (beside time).
local OPTIONS = { tumbling = { "size_ms", "offset_ms", "time" }, sliding = { "size_ms", "slide_ms", "offset_ms", "time" },
  session = { "gap_ms", "time" } }

local function assigner(kind, opts, fields)
  if type(opts) ~= "table" then
    caller.error(("sluice.window.%s needs a table of options"):format(kind))
  end
  options.check(opts, OPTIONS[kind], "sluice.window." .. kind)
  local time = opts.time or "event"
  if time ~= "event" and time ~= "processing" then
    caller.error(("sluice.window.%s: time must be \"event\" or \"processing\""):format(kind))
  end
  local a = { kind = kind, time = time }
  for name, min in pairs(fields) do
    local v = opts[name]
    if v == nil and name == "offset_ms" then
      v = 0
    end
    whole(v, name, kind, min)
    a[name] = v
  end
  return a
end

-- Fixed-size, non-overlapping windows [start, start + size_ms), aligned to offset_ms (default 0, the epoch).
function M.tumbling(opts)
  local a = assigner("tumbling", opts, { size_ms = 1, offset_ms = 0 })
  a.slide_ms = a.size_ms
  return a
end

-- Windows of size_ms starting every slide_ms: a record is in size_ms / slide_ms of them.
function M.sliding(opts)
  local a = assigner("sliding", opts, { size_ms = 1, slide_ms = 1, offset_ms = 0 })
  if a.slide_ms > a.size_ms then
    caller.error("sluice.window.sliding: slide_ms must not exceed size_ms")
  end
  return a
end

-- Per-key sessions: a record opens [t, t + gap_ms); windows that touch merge.
function M.session(opts)
  return assigner("session", opts, { gap_ms = 1 })
end

function M.is_assigner(v)
  return type(v) == "table" and (v.kind == "tumbling" or v.kind == "sliding" or v.kind == "session")
end

local function default_emit(ctx, w, result)
  ctx:emit({ key = ctx:key(), window_start = w.start, window_end = w["end"], result = result },
    { "key", "window_start", "window_end", "result" })
end

-- The time domain of an assigner: the record's time, setting and deleting a timer, and lateness.
local function domain(a)
  if a.time == "processing" then
    return { now = function(ctx) return ctx:now() end,
      set = function(ctx, ts) ctx:timer_at(ts) end, delete = function(ctx, ts) ctx:delete_timer(ts) end,
      late = function() return false end }
  end
  return { now = function(ctx)
      local ts = ctx:timestamp()
      if ts == nil then
        error("an event-time window needs a watermark strategy on a source (sluice.source.input { watermark = ... })", 0)
      end
      return ts
    end,
    set = function(ctx, ts) ctx:event_timer_at(ts) end, delete = function(ctx, ts) ctx:delete_event_timer(ts) end,
    late = function(ctx, last_ms) return last_ms <= ctx:watermark() end }
end

-- Tumbling and sliding windows: the starts of the windows holding t, latest first.
local function starts(a, t)
  local last = t - (t - a.offset_ms) % a.slide_ms
  local out = {}
  for s = last, t - a.size_ms + 1, -a.slide_ms do
    out[#out + 1] = s
  end
  return out
end

local function fixed_operator(a, agg, emit, on_late, d)
  local size = a.size_ms
  local function process(ctx, rec)
    local t = d.now(ctx)
    local windows = ctx.state.windows
    local any = false
    for _, s in ipairs(starts(a, t)) do
      if not d.late(ctx, s + size - 1) then
        any = true
        local acc = windows:get(s)
        if acc == nil then
          acc = agg.create()
          d.set(ctx, s + size - 1)
        end
        windows:put(s, agg.add(acc, rec, ctx))
      end
    end
    if not any and on_late then
      on_late(ctx, rec)
    end
  end
  local function on_timer(ctx, ts)
    local s = ts + 1 - size
    local windows = ctx.state.windows
    local acc = windows:get(s)
    if acc ~= nil then
      windows:remove(s)
      emit(ctx, { start = s, ["end"] = s + size }, agg.result and agg.result(acc) or acc)
    end
  end
  return process, on_timer
end

local function session_operator(a, agg, emit, on_late, d)
  local gap = a.gap_ms
  if not agg.merge then
    caller.error("sluice.window.session needs aggregate.merge (to merge sessions)")
  end
  local function process(ctx, rec)
    local t = d.now(ctx)
    local s, e = t, t + gap
    if d.late(ctx, e - 1) then
      if on_late then
        on_late(ctx, rec)
      end
      return
    end
    local windows = ctx.state.windows
    local merged = {}
    for ws, w in windows:pairs() do
      if ws <= e and w[1] >= s then
        merged[#merged + 1] = { ws, w }
      end
    end
    local acc = agg.create()
    for _, m in ipairs(merged) do
      local ws, w = m[1], m[2]
      s, e = math.min(s, ws), math.max(e, w[1])
      acc = agg.merge(acc, w[2])
      windows:remove(ws)
      d.delete(ctx, w[1] - 1)
    end
    windows:put(s, { e, agg.add(acc, rec, ctx) })
    d.set(ctx, e - 1)
  end
  local function on_timer(ctx, ts)
    local windows = ctx.state.windows
    for ws, w in windows:pairs() do
      if w[1] - 1 == ts then
        windows:remove(ws)
        emit(ctx, { start = ws, ["end"] = w[1] }, agg.result and agg.result(w[2]) or w[2])
        return
      end
    end
  end
  return process, on_timer
end

-- Where the user made this window: the call's line, else (it was the script's last call, a tail call)
-- where the first of the user's window functions is defined, else true (no line known).
local function user_line(spec, agg)
  for _, f in ipairs({ spec.emit, spec.on_late, agg.add, agg.create }) do
    local at = type(f) == "function" and caller.defined(f)
    if at then
      return at
    end
  end
  return true
end

local SPEC_OPTIONS = { "aggregate", "emit", "on_late" }
local AGGREGATE_OPTIONS = { "create", "add", "result", "merge" }

-- The table form of :process for a window operator: { state, process, on_timer, needs_watermark }.
-- needs_watermark (event time: the "file:line" that made the window, or true): the pipeline refuses to
-- start a job whose sources declare no watermark strategy, naming that line, instead of failing every
-- record.
function M.operator(a, spec)
  if not M.is_assigner(a) then
    caller.error("a window operator needs a sluice.window.tumbling/sliding/session assigner")
  end
  spec = spec or {}
  if type(spec) ~= "table" then
    caller.error("a window operator's spec must be a table { aggregate = ..., emit = ..., on_late = ... }")
  end
  options.check(spec, SPEC_OPTIONS, "window spec")
  local agg = spec.aggregate or COUNT
  if type(agg) ~= "table" or type(agg.create) ~= "function" or type(agg.add) ~= "function" then
    caller.error("window aggregate must be { create = fn, add = fn(acc, rec) [, result = fn, merge = fn] }")
  end
  options.check(agg, AGGREGATE_OPTIONS, "window aggregate")
  for _, f in ipairs({ "emit", "on_late" }) do
    if spec[f] ~= nil and type(spec[f]) ~= "function" then
      caller.error(("window %s must be a function"):format(f))
    end
  end
  local d = domain(a)
  local build = a.kind == "session" and session_operator or fixed_operator
  local process, on_timer = build(a, agg, spec.emit or default_emit, spec.on_late, d)
  return { state = { windows = state_desc.map {} }, process = process,
    needs_watermark = a.time == "event" and (caller.line() or user_line(spec, agg)) or nil,
    on_timer = function(ctx, ts, kind)
      if kind == (a.time == "event" and "event" or "processing") then
        return on_timer(ctx, ts)
      end
    end }
end

return M
