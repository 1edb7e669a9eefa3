-- sluice — the job API. A job script builds a dataflow graph with this module and returns it:
--
--   local sluice = require "sluice"
--   return sluice.job "url-count"
--     :key_by "url"
--     :process("count", function(ctx, rec)
--        local n = ctx:value "n"
--        local c = (n:value() or 0) + 1
--        n:update(c)
--        ctx:emit({ url = rec.url, count = c }, { "url", "count" })
--     end)
--
-- Sources default to the command line's --input files (or stdin) and the sink to --output (or stdout).
-- Operators run in the order they are chained; every operator has a uid (given, or derived from its
-- position) under which its state is stored, so keep uids stable across versions of a job.
local record = require "sluice.record"
local state_desc = require "sluice.state_desc"
local event_time = require "sluice.event_time"
local window = require "sluice.window"
local caller = require "sluice.caller"

local M = {}

-- Filled in by the host before the script runs.
M.args = {}        -- the SCRIPT-ARGS after "--"
M.inputs = {}      -- the --input paths ("-" for stdin)
M.output = nil     -- the --output path, nil for stdout
M.state_dir = nil  -- the --state-dir given, if any

M.totable = record.totable
M.is_record = record.is_record
-- In ctx:emit_fields, the current key, written without making a Lua string of it (sluice.encode).
M.KEY = require("sluice.encode").KEY
M.line = record.line
-- A Kafka record's topic, partition, offset, key and timestamp (sluice.record.meta); nil for others.
M.meta = record.meta

-- State descriptors for :process(uid, { state = {...}, operator_state = {...} }) (sluice.state_desc).
M.state = {
  value = state_desc.value, map = state_desc.map, list = state_desc.list, reducing = state_desc.reducing,
  aggregating = state_desc.aggregating, operator_list = state_desc.operator_list,
}

local Job = {}
Job.__index = Job
Job.__tostring = function(j) return ("Job<%s> (%d operators)"):format(j.name, #j.ops) end

local function check_name(what, s, fallback)
  if type(s) ~= "string" or s == "" or s:find("[%z/]") then
    caller.error(("%s must be a non-empty string without '/' (got %s)"):format(what, tostring(s)), fallback)
  end
end

-- Creates an empty job named `name` (its default state dir is ./sluice-state/<name>).
function M.job(name)
  check_name("job name", name)
  -- Where the script builds the job: the line errors of its last call fall back to (sluice.caller).
  return setmetatable({ name = name, sources = {}, ops = {}, uids = {}, where = caller.line() }, Job)
end

function M.is_job(v)
  return getmetatable(v) == Job
end

-- Event time (sluice.event_time): sluice.time.parse(v, format) and sluice.time.format(ms, format).
M.time = { parse = event_time.parse, format = event_time.format }
-- Windows over state and timers (sluice.window): sluice.window.tumbling/sliding/session { ... }.
M.window = window

-- Sources --------------------------------------------------------------------------------------------
M.source = {}
-- Every source takes an optional opts.watermark: the job's event-time strategy (sluice.event_time),
-- checked here so that a bad one is reported at the script's line.
local function with_watermark(src, opts)
  if type(opts) == "table" and opts.watermark ~= nil then
    event_time.strategy(opts.watermark, 3)
    src.watermark = opts.watermark
  end
  return src
end
-- The --input files of the command line, or stdin when none was given.
function M.source.input(opts) return with_watermark({ kind = "input" }, opts) end
-- One file, named in the script. opts.path is required.
function M.source.file(opts)
  if type(opts) ~= "table" or type(opts.path) ~= "string" then
    error("sluice.source.file needs { path = \"...\" }", 2)
  end
  return with_watermark({ kind = "file", path = opts.path }, opts)
end
function M.source.stdin(opts) return with_watermark({ kind = "stdin" }, opts) end
-- A TCP server of JSON lines. opts.port is required; opts.host defaults to 127.0.0.1.
function M.source.tcp(opts)
  if type(opts) ~= "table" or type(opts.port) ~= "number" or opts.port < 0 or opts.port > 65535 then
    error("sluice.source.tcp needs { port = 0..65535 [, host = \"127.0.0.1\"] }", 2)
  end
  return with_watermark({ kind = "tcp", host = opts.host or "127.0.0.1", port = math.floor(opts.port) }, opts)
end

-- A Kafka topic (sluice.kafka): { brokers = "h1:9092,h2:9092", topic = "...", group = "...",
-- start = "earliest" | "latest", partitions = { 0, 3 } (only those; default all),
-- options = { [librdkafka property] = value } }.
function M.source.kafka(opts)
  return with_watermark(require("sluice.kafka").spec(opts, 2), opts)
end

-- Sinks ----------------------------------------------------------------------------------------------
M.sink = {}
function M.sink.output() return { kind = "output" } end
function M.sink.stdout() return { kind = "stdout" } end
-- A Kafka topic (sluice.kafka): { brokers = "h1:9092", topic = "...", key = FIELD, delivery =
-- "exactly-once" (the default: one transaction per checkpoint) | "at-least-once", timeout_ms = MS,
-- options = { [librdkafka property] = value } }.
function M.sink.kafka(opts)
  local spec = require("sluice.kafka").sink_spec(opts, 2) -- not a tail call: level 2 is this caller's
  return spec
end
function M.sink.file(opts)
  if type(opts) ~= "table" or type(opts.path) ~= "string" then
    error("sluice.sink.file needs { path = \"...\" }", 2)
  end
  return { kind = "file", path = opts.path }
end

-- Graph building ---------------------------------------------------------------------------------------
function Job:source(src)
  if type(src) ~= "table" or not src.kind then
    error("job:source expects a sluice.source.* value", 2)
  end
  self.sources[#self.sources + 1] = src
  return self
end

function Job:sink(snk)
  if type(snk) ~= "table" or not snk.kind then
    error("job:sink expects a sluice.sink.* value", 2)
  end
  if self.sink_spec then
    error("a job has one sink", 2)
  end
  self.sink_spec = snk
  return self
end

-- Adds an operator; `a, b` is either (fn) or (uid, fn). Its errors name the job script's line
-- (sluice.caller), however many of the Job methods the call went through. op.where is where the
-- operator's function is defined, or, for one of sluice's own (a window), the line that added it.
local function add_op(job, kind, a, b, extra)
  local uid, fn = a, b
  if b == nil then
    uid, fn = kind .. "-" .. (#job.ops + 1), a
  end
  check_name(kind .. " uid", uid, job.where)
  if job.uids[uid] then
    caller.error(("operator uid '%s' is used twice"):format(uid), job.where)
  end
  if type(fn) ~= "function" then
    caller.error(("%s '%s' needs a function (got %s)"):format(kind, uid, type(fn)), job.where)
  end
  job.uids[uid] = true
  local op = { kind = kind, uid = uid, fn = fn, where = caller.defined(fn) or caller.line() or job.where }
  for k, v in pairs(extra or {}) do
    op[k] = v
  end
  job.ops[#job.ops + 1] = op
  return job
end

-- map(fn(rec) -> rec[, fields]): a nil result drops the record.
function Job:map(a, b) return add_op(self, "map", a, b) end
-- filter(fn(rec) -> keep?)
function Job:filter(a, b) return add_op(self, "filter", a, b) end
-- flat_map(fn(rec, out)): call out(rec[, fields]) any number of times, or return an array of records.
function Job:flat_map(a, b) return add_op(self, "flat_map", a, b) end
-- Checks the table form of process and returns the fields it adds to the operator: states (keyed state
-- descriptors, sorted by name, each { name, kind, default, ttl, ... }), operator_states (likewise, kind
-- operator_list), initialize, snapshot. These describe every state of the job without running a record.
local function process_spec(uid, spec, at)
  local function sorted(t, what, ok)
    local out = {}
    if t == nil then
      return out
    end
    if type(t) ~= "table" then
      caller.error(("process '%s': %s must be a table of name = descriptor"):format(uid, what), at)
    end
    for name, d in pairs(t) do
      if type(name) ~= "string" or name == "" or not ok(d) then
        caller.error(("process '%s': %s.%s is not a %s descriptor"):format(uid, what, tostring(name),
          what == "state" and "sluice.state.*" or "sluice.state.operator_list"), at)
      end
      local e = { name = name }
      for k, v in pairs(d) do
        e[k] = v
      end
      out[#out + 1] = e
    end
    table.sort(out, function(a, b) return a.name < b.name end)
    return out
  end
  for _, hook in ipairs({ "initialize", "snapshot", "on_timer" }) do
    if spec[hook] ~= nil and type(spec[hook]) ~= "function" then
      caller.error(("process '%s': %s must be a function"):format(uid, hook), at)
    end
  end
  local extra = { states = sorted(spec.state, "state", state_desc.is_descriptor),
    operator_states = sorted(spec.operator_state, "operator_state", function(d)
      return type(d) == "table" and d.kind == "operator_list"
    end), initialize = spec.initialize, snapshot = spec.snapshot,
    on_timer = spec.on_timer, needs_watermark = spec.needs_watermark }
  local seen = {}
  for _, d in ipairs(extra.states) do
    seen[d.name] = true
  end
  for _, d in ipairs(extra.operator_states) do
    if seen[d.name] then
      caller.error(("process '%s': '%s' is both keyed and operator state"):format(uid, d.name), at)
    end
  end
  return extra
end

-- process(uid, fn(ctx, rec)): ctx:emit(rec[, fields]), ctx:value(name[, default]), ctx:map(name),
-- ctx:list(name), ctx:reducing(name, fn), ctx:aggregating(name, agg), ctx:key().
-- process(uid, { state = { name = sluice.state.* }, operator_state = { name = sluice.state.operator_list },
--   initialize = fn(ctx, restored), snapshot = fn(ctx), process = fn(ctx, rec) }): the declared states are
-- ctx.state.<name> (keyed) and ctx.operator_state.<name> (operator ListState, per instance).
-- The table form may add on_timer = fn(ctx, ts, kind): timers set with ctx:timer_at / ctx:event_timer_at
-- fire there, with the timer's key current (sluice.timers).
function Job:process(uid, fn)
  if fn == nil then
    error("process needs a uid and a function: :process(\"count\", function(ctx, rec) ... end)", 2)
  end
  if type(fn) == "table" then
    local spec = fn
    return add_op(self, "process", uid, spec.process, process_spec(uid, spec, self.where))
  end
  return add_op(self, "process", uid, fn)
end

-- window(uid, sluice.window.tumbling|sliding|session { ... }, { aggregate = ..., emit = ... }): a keyed
-- window operator, i.e. :process(uid, sluice.window.operator(assigner, spec)) (sluice.window).
function Job:window(uid, assigner, spec)
  return self:process(uid, window.operator(assigner, spec))
end

-- key_by(field name | fn(rec) -> key): state of the operators after it is scoped to this key.
function Job:key_by(key)
  local op = { kind = "key_by", uid = "key_by-" .. (#self.ops + 1) }
  if type(key) == "string" then
    op.field = key
  elseif type(key) == "function" then
    op.fn = key
  else
    error("key_by expects a field name or a function(rec) -> key", 2)
  end
  self.ops[#self.ops + 1] = op
  return self
end

return M
