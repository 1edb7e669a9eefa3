-- sluice.timers — timers and event time for keyed process operators.
--
--   :process("x", { process = function(ctx, rec) ctx:event_timer_at(ctx:timestamp() + 60000) end,
--                   on_timer = function(ctx, ts, kind) ... ctx:emit(...) end })
--
-- Timers are state: each operator with an on_timer has two timer queues in the backend (state
-- "sluice.timers.event" and "sluice.timers.processing" of its uid, state/timer_state.c), ordered by
-- (time, key) and deduplicated per (key, time), so pending timers are in every checkpoint and survive a
-- restart. on_timer runs with the timer's key as the current key (keyed state is in scope) and may emit.
--
-- Event time: the job's watermark strategy (declared on a source, sluice.event_time) stamps every record
-- at the head of the chain (ctx:timestamp()), tracks the largest time seen and counts records at or behind
-- the watermark as late (they are processed anyway). The watermark advances once per batch, in fire(), which
-- the host calls after every batch and when the runtime's processing-time timer goes off. fire() walks
-- the operators in chain order and, like a Flink watermark travelling downstream, raises each one's
-- watermark just before firing its due event timers, so records a timer emits reach the operators after it
-- while their watermark is still the old one. At the end of the input every pending event timer fires
-- (Flink's final MAX_WATERMARK); processing-time timers stay pending in the state.
local ffi = require "ffi"
local native = require "sluice.native"
require "sluice.cdefs" -- the timer queue (state/timer_state.h, lua/ffi_timer.h)
local event_time = require "sluice.event_time"
local caller = require "sluice.caller"
local fatal = require "sluice.fatal"
local registry = require "sluice.state_registry"

local C = native.C
local NOTFOUND = native.status.notfound
local INT64_MAX = 0x7fffffffffffffffLL
local M = {}

local tsp, keyp, klenp = ffi.new("int64_t[1]"), ffi.new("const void *[1]"), ffi.new("size_t[1]")

-- The job's event-time clock, one per pipeline (env.time).
local function clock(env)
  if not env.time then
    env.time = { wm = -math.huge, max_ts = -math.huge, late = 0, ts = nil }
  end
  return env.time
end

-- A failing timer-queue call: the backend's failure is the job's (sluice.fatal), anything else an error.
local function check(rc, what, uid)
  if rc ~= 0 then
    native.raise_status(rc, ("operator '%s': %s: %s"):format(uid, what, native.strerror(rc)))
  end
end

-- The timer queues' states, by name (checked with the job's other declared states before any is
-- registered: sluice.state_registry).
M.QUEUES = { "sluice.timers.event", "sluice.timers.processing" }

local function new_queue(env, uid, name)
  local id, refused = registry.register(env.backend, uid, name, "timers", false)
  if id == nil then
    error(refused, 0)
  end
  local q = C.sl_timer_queue_new(env.backend, id)
  if q == nil then
    fatal.raise("out of memory creating a timer queue", 0)
  end
  return ffi.gc(q, C.sl_timer_queue_free)
end

-- Timer methods of the process context (installed into pipeline's Ctx) -----------------------------------

local function time_arg(ctx, what, ts)
  if type(ts) ~= "number" or ts ~= ts or ts == math.huge or ts == -math.huge or ts ~= math.floor(ts) then
    caller.error(("operator '%s': %s needs a whole number of ms (got %s)"):format(ctx.uid, what, tostring(ts)))
  end
  local tm = ctx._timers
  if not tm then
    caller.error(("operator '%s' has no on_timer: use :process(uid, { process = ..., on_timer = function(ctx, ts, "
      .. "kind) ... end }) to set timers"):format(ctx.uid))
  end
  return tm
end

local function timer_call(ctx, fn, q, ts, what)
  local rc = fn(q, ctx._scope, ts)
  if rc ~= 0 then
    if C.sl_scope_current_key(ctx._scope, klenp) == nil then
      caller.error(("operator '%s': %s outside a keyed context"):format(ctx.uid, what))
    end
    native.raise_status(rc, ("operator '%s': %s: %s"):format(ctx.uid, what, native.strerror(rc)), caller.where())
  end
end

function M.install(Ctx)
  -- A processing-time timer at absolute epoch ms `ms` for the current key.
  function Ctx:timer_at(ms)
    timer_call(self, C.sl_timer_add_current, time_arg(self, "timer_at", ms).processing, ms, "timer_at")
  end
  -- An event-time timer at `ts`: fires once the watermark reaches ts.
  function Ctx:event_timer_at(ts)
    timer_call(self, C.sl_timer_add_current, time_arg(self, "event_timer_at", ts).event, ts, "event_timer_at")
  end
  function Ctx:delete_timer(ms)
    timer_call(self, C.sl_timer_delete_current, time_arg(self, "delete_timer", ms).processing, ms, "delete_timer")
  end
  function Ctx:delete_event_timer(ts)
    timer_call(self, C.sl_timer_delete_current, time_arg(self, "delete_event_timer", ts).event, ts,
      "delete_event_timer")
  end
  -- Processing time in epoch ms (the key scope's clock: the wall clock, or the one a test injected).
  function Ctx:now()
    if self._scope ~= nil then
      return tonumber(C.sl_scope_now(self._scope))
    end
    return os.time() * 1000
  end
  -- This operator's watermark (-math.huge before any event time is known).
  function Ctx:watermark()
    return self._wm
  end
  -- The event time of the record being processed (or of the event timer firing); nil without a strategy.
  function Ctx:timestamp()
    return self._env.time and self._env.time.ts
  end
end

-- Compile-time wiring ------------------------------------------------------------------------------------

-- Gives a process operator its watermark and, when it has an on_timer, its timer queues (restoring its
-- stored watermark).
function M.attach(ctx, op, env)
  local t = clock(env)
  ctx._wm = -math.huge
  if not op.on_timer then
    return
  end
  if ctx._scope == nil then
    error(("operator '%s' has an on_timer but is not keyed: add key_by before it"):format(op.uid), 0)
  end
  local tm = { event = new_queue(env, op.uid, "sluice.timers.event"),
    processing = new_queue(env, op.uid, "sluice.timers.processing") }
  local rc = C.sl_timer_queue_watermark(tm.event, tsp)
  if rc == 0 then
    ctx._wm = tonumber(tsp[0])
    tm.stored_wm = ctx._wm
    if ctx._wm > t.wm then
      t.wm = ctx._wm
    end
  elseif rc ~= NOTFOUND then
    check(rc, "restoring the watermark", op.uid)
  end
  ctx._timers = tm
end

-- The job's watermark strategy: the one its sources declare (they must agree), or nil.
local function job_strategy(job)
  local found
  for _, s in ipairs(job.sources or {}) do
    if s.watermark then
      if found and found.spec ~= s.watermark then
        error(("job '%s': its sources declare different watermark strategies; one per job for now"):format(job.name), 0)
      end
      found = found or event_time.strategy(s.watermark)
    end
  end
  return found
end

-- Whether a source of the job declares a watermark strategy (event time is known).
function M.has_strategy(job)
  for _, s in ipairs(job.sources or {}) do
    if s.watermark then
      return true
    end
  end
  return false
end

-- Wraps the head of the chain with the event-time stamp when the job has a watermark strategy.
function M.stamp(job, env, head, pl)
  local t = clock(env)
  for _, op in ipairs(job.ops) do
    if op.ctx and op.ctx._wm < t.wm then
      op.ctx._wm = t.wm -- operators without timers start at the restored job watermark
    end
  end
  local strategy = job_strategy(job)
  t.strategy = strategy
  if not strategy then
    return head
  end
  local get = strategy.get
  return function(rec, fields)
    pl.current = "event time"
    local ts = get(rec)
    t.ts = ts
    if ts > t.max_ts then
      t.max_ts = ts
    end
    if ts <= t.wm then
      t.late = t.late + 1
    end
    return head(rec, fields)
  end
end

-- Firing -------------------------------------------------------------------------------------------------

-- Fires the due timers of one queue; an on_timer error cuts that timer's output, is collected into
-- `errors` and the next timer goes on.
local function drain(op, q, upto, kind, pl, errors)
  local ctx = op.ctx
  local t, buf = ctx._env.time, ctx._env.buf
  while true do
    local rc = C.sl_timer_queue_poll(q, upto, tsp, keyp, klenp)
    if rc == NOTFOUND then
      return errors
    end
    check(rc, "polling timers", op.uid)
    local ts = tonumber(tsp[0])
    check(C.sl_scope_set_key(ctx._scope, keyp[0], klenp[0]), "timer key", op.uid)
    local saved = t.ts
    t.ts = kind == "event" and ts or nil
    pl.current = op.uid
    local mark = buf.len
    local ok, err = pcall(op.on_timer, ctx, ts, kind)
    t.ts = saved
    if not ok and fatal.is(err) then
      error(err, 0) -- the backend failed under the timer: the job fails, this is no per-timer error
    end
    if not ok then
      buf.len = mark
      errors = errors or {}
      errors[#errors + 1] = ("operator '%s': on_timer(%s, %d): %s"):format(pl.current or op.uid, kind, ts,
        tostring(err))
    end
  end
end

-- Advances the watermark and fires every due timer: event timers up to each operator's watermark (all of
-- them when end_of_input), processing timers up to `now` (epoch ms). Returns the earliest pending
-- processing-time timer (nil if none), the list of on_timer errors (nil if none) and the number of late
-- records so far.
function M.fire(job, now, end_of_input, pl)
  local env = job and job.env
  local t = env and env.time
  if not t then
    return nil, nil, 0
  end
  if t.strategy and t.max_ts > -math.huge then
    local wm = t.max_ts - t.strategy.ooo - 1
    if wm > t.wm then
      t.wm = wm
    end
  end
  local next_ms, errors
  for _, op in ipairs(job.ops) do
    local ctx = op.ctx
    if ctx then
      if t.wm > ctx._wm then
        ctx._wm = t.wm
      end
      local tm = ctx._timers
      if tm then
        if tm.stored_wm ~= ctx._wm and ctx._wm > -math.huge then
          check(C.sl_timer_queue_set_watermark(tm.event, ctx._wm), "storing the watermark", op.uid)
          tm.stored_wm = ctx._wm
        end
        if end_of_input then
          errors = drain(op, tm.event, INT64_MAX, "event", pl, errors)
        elseif ctx._wm > -math.huge then
          errors = drain(op, tm.event, ctx._wm, "event", pl, errors)
        end
        errors = drain(op, tm.processing, now, "processing", pl, errors)
        if C.sl_timer_queue_next(tm.processing, tsp) == 0 then
          local n = tonumber(tsp[0])
          next_ms = next_ms and math.min(next_ms, n) or n
        end
      end
    end
  end
  return next_ms, errors, t.late
end

-- Raises the job's watermark to ts from outside (sluice.host.set_watermark: the test harness), as a
-- watermark from upstream would; never lowers it. fire() then passes it to each operator.
function M.raise_watermark(job, ts)
  local t = job and job.env and clock(job.env)
  if t and ts > t.wm then
    t.wm = ts
  end
end

-- The number of processing-time timers pending in every operator (for the end-of-run summary: a bounded
-- input ends before they are due; they stay in the final checkpoint and fire when the job runs again).
function M.pending_processing(job)
  local n = 0
  local count = ffi.new("uint64_t[1]")
  for _, op in ipairs(job and job.ops or {}) do
    local tm = op.ctx and op.ctx._timers
    if tm then
      check(C.sl_timer_queue_count(tm.processing, count), "counting timers", op.uid)
      n = n + tonumber(count[0])
    end
  end
  return n
end

return M
