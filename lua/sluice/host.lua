-- sluice.host — what the C runtime calls: load a job script, start its pipeline, run record batches.
--
-- The runtime (core/runtime.c) calls, in order: load(script, config) -> job description; start(backend,
-- buf) once the state backend is open; run_batch(batch) for every batch of input records. Errors from
-- run_batch name the operator (current_operator()) and come with the record's position from C. A fatal
-- error (sluice.fatal: the state backend failed under an operator) fails the job instead of one record.
local ffi = require "ffi"
local sluice = require "sluice"
local pipeline = require "sluice.pipeline"
local fatal = require "sluice.fatal"

local M = {}

local job, head

-- Describes the sources of a job for C, expanding "input" into the command line's inputs.
local function describe_sources(j, config)
  local out = {}
  local sources = #j.sources > 0 and j.sources or { { kind = "input" } }
  for _, s in ipairs(sources) do
    if s.kind == "input" then
      local inputs = config.inputs or {}
      if #inputs == 0 then
        out[#out + 1] = { kind = "stdin" }
      end
      for _, path in ipairs(inputs) do
        if path:match("^kafka://") then
          out[#out + 1] = require("sluice.kafka").parse_url(path)
        else
          out[#out + 1] = path == "-" and { kind = "stdin" } or { kind = "file", path = path }
        end
      end
    else
      out[#out + 1] = s
    end
  end
  return out
end

local function describe_sink(j, config)
  local s = j.sink_spec or { kind = "output" }
  if s.kind == "output" and config.output and config.output:match("^kafka://") then
    return require("sluice.kafka").parse_sink_url(config.output)
  elseif s.kind == "output" then
    return config.output and { kind = "file", path = config.output } or { kind = "stdout" }
  end
  return s
end

-- The files the job's code came from, for hot reload (core/reload.c) to watch: the script, then every
-- module it required that lives in the script's directory (or below it), as found on package.path.
local function code_files(script)
  local dir = script:match("^(.*)/[^/]*$") or "."
  local files = { script }
  local names = {}
  for name in pairs(package.loaded) do
    names[#names + 1] = name
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local path = package.searchpath(name, package.path)
    if path and path:sub(1, #dir + 1) == dir .. "/" then
      files[#files + 1] = path
    end
  end
  return files
end

-- How records reach parallel subtasks (core/parallel/task.c): "field" (the first operator is key_by(FIELD):
-- C routes each record by that field's key group before any Lua runs), "lua" (filters, then one key_by with
-- a field or a key function: the reading subtask runs those in Lua — M.route_batch — and the owner runs the
-- rest), "local" (no key_by: a record is processed by the subtask that read it), or "unsupported" with the
-- reason (an operator before the key_by that changes records, or a second key_by).
local function describe_exchange(j)
  local keyed = {}
  for i, op in ipairs(j.ops) do
    if op.kind == "key_by" then
      keyed[#keyed + 1] = i
    end
  end
  if #keyed == 0 then
    return "local", nil
  end
  if #keyed > 1 then
    return "unsupported", "it has more than one key_by"
  end
  for i = 1, keyed[1] - 1 do
    if j.ops[i].kind ~= "filter" then
      return "unsupported", ("its %s '%s' comes before its key_by (only filters may)"):format(j.ops[i].kind,
        j.ops[i].uid)
    end
  end
  local first = j.ops[1]
  if keyed[1] == 1 and first.field then
    return "field", first.field
  end
  return "lua", nil
end

-- Runs the script and checks that it returns a job. Returns { name, sources, sink, uids, kinds, files } or
-- raises an error naming the script's file:line.
function M.load(script, config)
  sluice.args = config.args or {}
  sluice.inputs = config.inputs or {}
  sluice.output = config.output
  sluice.state_dir = config.state_dir
  local chunk, err = loadfile(script)
  if not chunk then
    error(err, 0)
  end
  local ok, result = xpcall(chunk, function(e)
    return type(e) == "string" and e or tostring(e)
  end, unpack(sluice.args))
  if not ok then
    error(result, 0)
  end
  if not sluice.is_job(result) then
    error(("%s: the script must return a job (end it with `return sluice.job \"name\" ...`), got %s")
      :format(script, type(result)), 0)
  end
  if #result.ops == 0 then
    error(("%s: job '%s' has no operator"):format(script, result.name), 0)
  end
  job = result
  local uids, kinds = {}, {}
  for _, op in ipairs(job.ops) do
    uids[#uids + 1] = op.uid
    kinds[#kinds + 1] = op.kind
  end
  local exchange, detail = describe_exchange(job)
  return { name = job.name, sources = describe_sources(job, config), sink = describe_sink(job, config),
    uids = uids, kinds = kinds, files = code_files(script), exchange = exchange,
    key_field = exchange == "field" and detail or nil, exchange_why = exchange == "unsupported" and detail or nil,
    event_time = require("sluice.timers").has_strategy(job) }
end

-- Builds the pipeline on the opened backend; buf is the sl_buf the sink writes into. This VM runs subtask
-- `subtask` of `parallelism` (0 of 1 when the job runs alone): operator state is restored and written as that
-- instance. clock_fn, clock_arg (lightuserdata, or nil for the wall clock): the processing time of the key
-- scopes, which the test harness (sluice.testing) moves by hand.
function M.start(backend, buf, max_parallelism, subtask, parallelism, clock_fn, clock_arg)
  head = pipeline.compile(job, {
    backend = ffi.cast("sl_backend *", backend),
    buf = ffi.cast("sl_buf *", buf),
    max_parallelism = max_parallelism,
    subtask = subtask or 0,
    parallelism = parallelism or 1,
    clock = clock_fn and { fn = ffi.cast("sl_clock_fn", clock_fn), arg = clock_arg } or nil,
  })
end

local batch_t = ffi.typeof("sl_batch *")
local buf_t = ffi.typeof("sl_buf *")
local get = require("sluice.native").C.sl_batch_get
local outbuf

-- Runs records cursor..n-1 of the batch through entry (the pipeline's head, or its chain from the key_by
-- on). On an error, batch.cursor is the failed record and batch.out_mark the output length to cut back to.
local function run(entry, lud, buflud)
  local b = ffi.cast(batch_t, lud)
  outbuf = outbuf or ffi.cast(buf_t, buflud)
  local o = outbuf
  local n = b.n
  local i = b.cursor
  while i < n do
    b.cursor = i
    b.out_mark = o.len
    entry(get(b, i), nil)
    i = i + 1
  end
  b.cursor = n
  fatal.check() -- a backend failure an operator caught with pcall still fails the job
end

function M.run_batch(lud, buflud)
  run(head, lud, buflud)
end

-- Records routed here (by this subtask or another) passed the filters before the key_by already: they
-- run from the key_by on.
function M.run_keyed_batch(lud, buflud)
  run(pipeline.keyed_head(job), lud, buflud)
end

local owners_t = ffi.typeof("uint16_t *")

-- A parallel subtask's routing (exchange "lua"): for records cursor..n-1 of the batch, runs the filters
-- before the key_by and takes the key, and writes each record's owner into owners (0xFFFF: filtered out).
-- On an error, batch.cursor is the failed record (the caller rejects it and goes on after it).
function M.route_batch(lud, owners_lud)
  local b = ffi.cast(batch_t, lud)
  local owners = ffi.cast(owners_t, owners_lud)
  local route = pipeline.router(job)
  local n = b.n
  local i = b.cursor
  while i < n do
    b.cursor = i
    owners[i] = route(get(b, i))
    i = i + 1
  end
  b.cursor = n
  fatal.check()
end

function M.current_operator()
  return pipeline.current or "?"
end

-- Called by the runtime before each commit (core/runtime.c, between batches): runs every process
-- operator's snapshot(ctx) hook, writes every operator ListState into the backend (cached writes, so the
-- commit that follows makes them durable with the keyed state and offsets), then runs one bounded step of
-- background TTL cleanup. Returns nothing; raises a Lua error (naming the operator, see
-- current_operator()) if a hook fails, in which case the runtime should not commit. A no-op before start.
function M.snapshot_hooks()
  pipeline.snapshot(job)
  fatal.check()
end

-- Timers (core/timer_service.c, between batches: after every batch, and when the runtime's processing-time
-- timer goes off): advances the watermark and fires due timers, now = epoch ms, end_of_input = fire every
-- event-time timer. Output goes into the sink's buffer. Returns the earliest pending processing-time timer
-- (ms, or nil), the on_timer errors (array of messages, or nil: each timer's output was cut) and the number
-- of late records so far. A no-op before start.
-- Checks the loaded job's declared states against another backend's registry (lightuserdata), building
-- nothing: raises the refusal naming the state and both kinds.
function M.check_states(backend)
  pipeline.check(job, ffi.cast("sl_backend *", backend))
end

-- The job's watermark (epoch ms), or nil before any record's event time is known: for metrics (the
-- runtime asks a few times a second, never per record).
function M.watermark()
  local t = job and job.env and job.env.time
  if t and t.wm > -math.huge then
    return t.wm
  end
  return nil
end

-- The records each operator was handed so far, { [uid] = n } (for metrics).
function M.operator_counts()
  return pipeline.operator_counts(job)
end

-- The number of processing-time timers still pending (the summary at the end of a bounded input).
function M.pending_timers()
  return pipeline.pending_timers(job)
end

-- Raises the job's watermark to ts (the test harness's advance_watermark); the next fire_timers fires
-- what it made due.
function M.set_watermark(ts)
  require("sluice.timers").raise_watermark(job, ts)
end

function M.fire_timers(now, end_of_input)
  local next_ms, errors, late = pipeline.fire_timers(job, now, end_of_input)
  fatal.check()
  return next_ms, errors, late
end

return M
