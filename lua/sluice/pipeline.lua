-- sluice.pipeline — turns a job's operator list into one chain of Lua closures (operator chaining, as
-- Flink fuses operators that need no exchange): a record goes through every stage in a single call, so
-- LuaJIT compiles the whole path into one trace.
--
-- Each stage is function(rec, fields) calling the next one. `fields` travels with the record: it is the
-- output field list given to ctx:emit or returned by map, used by the sink.
local ffi = require "ffi"
local native = require "sluice.native"
local state = require "sluice.state"
local encode = require "sluice.encode"
local state_desc = require "sluice.state_desc"
local operator_state = require "sluice.operator_state"
local timers = require "sluice.timers"
local caller = require "sluice.caller"
local registry = require "sluice.state_registry"
local fatal = require "sluice.fatal"

local C = native.C
local M = {}

-- The operator running now: named in the error line when an operator throws.
M.current = nil

local Ctx = {}
Ctx.__index = Ctx
Ctx.__tostring = function(c) return ("Context<%s>"):format(c.uid) end

-- The handle of keyed state `name` of kind `kind`, made at its first use. Its errors name the user's line
-- (sluice.caller). A name already used as another kind in this operator fails the job: the two would
-- share bytes, and every record after this one would misread them.
local function handle(ctx, kind, name, default, opts)
  local cache = ctx._handles[kind]
  local h = cache[name]
  if h == nil then
    if type(name) ~= "string" or name == "" then
      caller.error(("%s state needs a non-empty string name"):format(kind))
    end
    if ctx._scope == nil then
      caller.error(("operator '%s' is not keyed: add key_by before it to use keyed state"):format(ctx.uid))
    end
    for other, handles in pairs(ctx._handles) do
      if other ~= kind and handles[name] ~= nil then
        caller.fatal(registry.two_kinds(ctx.uid, name, other, kind))
      end
    end
    h = state.new(kind, ctx._env.backend, ctx._scope, ctx.uid, name, default, opts)
    cache[name] = h
  end
  return h
end

-- ValueState handle `name` (created on first use; `default` is what value() returns when unset).
function Ctx:value(name, default) return handle(self, "value", name, default) end
-- MapState handle `name`.
function Ctx:map(name) return handle(self, "map", name) end
-- ListState handle `name`.
function Ctx:list(name) return handle(self, "list", name) end
-- ReducingState handle `name` folding with reduce(a, b).
function Ctx:reducing(name, reduce)
  if type(reduce) ~= "function" then
    error(("ReducingState<%s> needs a reduce function"):format(tostring(name)), 2)
  end
  return handle(self, "reducing", name, nil, { reduce = reduce })
end
-- AggregatingState handle `name` with agg = { create, add, result[, merge] }.
function Ctx:aggregating(name, agg)
  local h = self._handles.aggregating[name]
  if h ~= nil then
    return h -- agg was checked when the handle was made
  end
  local d = state_desc.aggregating(agg)
  return handle(self, "aggregating", name, nil, { agg = d.agg })
end
-- The current key, as a string (nil outside a keyed operator).
function Ctx:key()
  return self._scope and state.current_key(self._scope) or nil
end
-- Sends the record { [fields[1]] = v1, [fields[2]] = v2, ... } downstream, written in that field order.
-- When the sink is the next stage no table is built at all (the values are encoded straight into the
-- output): the per-record allocation of ctx:emit({...}) is a tenth of the URL count's time.
function Ctx:emit_fields(fields, ...)
  local direct = self._sink_direct
  if direct then
    return direct(fields, ...)
  end
  local t = {}
  for i = 1, #fields do
    local v = (select(i, ...))
    if v == encode.KEY then -- downstream gets the key itself (encode.lua says what sluice.KEY is)
      v = encode.key_value(self._scope)
    end
    t[fields[i]] = v
  end
  return self._next(t, fields)
end

-- Sends a record downstream.
function Ctx:emit(rec, fields)
  return self._next(rec, fields)
end

-- Timers and event time (sluice.timers): ctx:timer_at, ctx:event_timer_at, ctx:delete_timer,
-- ctx:delete_event_timer, ctx:now, ctx:watermark, ctx:timestamp.
timers.install(Ctx)

local function new_scope(env)
  local s = C.sl_scope_new(env.backend, env.max_parallelism or 0)
  if s == nil then
    fatal.raise("out of memory creating a key scope", 0)
  end
  return ffi.gc(s, C.sl_scope_free)
end

local builders = {}
local ttl_cleaner

-- Metrics (core/metrics.h): each stage counts the records it is handed, in env.op_in[i] for operator i (an
-- FFI array: one load, add and store per operator per record inside the trace). What operator i emits is
-- what operator i + 1 is handed; the last one's is what the sink writes, which C counts.
local function counted(counts, i, stage)
  return function(rec, fields)
    counts[i] = counts[i] + 1
    return stage(rec, fields)
  end
end

function builders.map(op, nxt)
  local fn, uid = op.fn, op.uid
  return function(rec, fields)
    M.current = uid
    local out, out_fields = fn(rec)
    if out ~= nil then
      return nxt(out, out_fields)
    end
  end
end

function builders.filter(op, nxt)
  local fn, uid = op.fn, op.uid
  return function(rec, fields)
    M.current = uid
    if fn(rec) then
      return nxt(rec, fields)
    end
  end
end

function builders.flat_map(op, nxt)
  local fn, uid = op.fn, op.uid
  local function out(r, f)
    nxt(r, f)
    M.current = uid
  end
  return function(rec)
    M.current = uid
    local list = fn(rec, out)
    if type(list) == "table" then
      for i = 1, #list do
        nxt(list[i])
      end
    end
  end
end

-- A Kafka record read by a process that reads some of the topic's partitions (a `sluice group` child) has
-- its state kept with its partition: right only when the job keys it by its message key, which the
-- producer's partitioner placed in that one partition. Keyed by anything else, one key's state would be
-- split over the partitions' processes: the job fails (sluice has no repartition topic yet).
local function not_by_message_key(what)
  fatal.raise(("key_by: %s is not the Kafka record's message key; a job that reads part of a topic's "
    .. "partitions (sluice group) keeps each partition's state apart, which is right only when it keys records "
    .. "by their message key (re-keying would need a repartition topic, which sluice does not have)"):format(what), 0)
end

function builders.key_by(op, nxt, env)
  local scope, field, fn, uid = op.scope, op.field, op.fn, op.uid
  local set_key_from_value = function(k, rec)
    if k == nil then
      error(("key_by: the key function returned nil"), 0)
    end
    local s = type(k) == "string" and k or tostring(k)
    if type(rec) == "cdata" and C.sl_rec_key_fits_partition(rec, s, #s) == 0 then
      not_by_message_key("the key function's key")
    end
    if C.sl_scope_set_key(scope, s, #s) ~= 0 then
      error(("key_by: key too long (%d bytes)"):format(#s), 0)
    end
  end
  if field then
    return function(rec, fields)
      M.current = uid
      if type(rec) == "cdata" then
        local rc = C.sl_scope_key_from_field(scope, rec, field, #field)
        if rc == 2 then
          not_by_message_key(("field '%s'"):format(field))
        elseif rc ~= 0 then
          error(rc > 0 and ("key_by: record has no field '%s'"):format(field) or "key_by: key too long", 0)
        end
      else
        local k = rec[field]
        if k == nil then
          error(("key_by: record has no field '%s'"):format(field), 0)
        end
        set_key_from_value(k)
      end
      return nxt(rec, fields)
    end
  end
  return function(rec, fields)
    M.current = uid
    set_key_from_value(fn(rec), rec)
    return nxt(rec, fields)
  end
  -- env is unused here: scopes are made in M.compile so every keyed operator knows its scope.
end

-- ctx.state.<name>: the declared keyed states; an undeclared name is an error, not a silent nil.
local function declared_states(ctx, op, env)
  local t = {}
  for _, d in ipairs(op.states or {}) do
    if ctx._scope == nil then
      error(("%soperator '%s' declares keyed state '%s' but is not keyed: add key_by before it")
        :format(op.where and op.where .. ": " or "", op.uid, d.name), 0)
    end
    local ttl = state_desc.ttl_cdata(d.ttl)
    local h = state.new(d.kind, env.backend, ctx._scope, op.uid, d.name, d.default,
      { ttl = ttl, reduce = d.reduce, agg = d.agg })
    ctx._handles[d.kind][d.name] = h
    t[d.name] = h
    if ttl ~= nil and d.ttl.cleanup_batch > 0 then
      env.cleanup = env.cleanup or {}
      env.cleanup[#env.cleanup + 1] = { id = h.id, ttl = ttl, batch = d.ttl.cleanup_batch, scope = ctx._scope }
    end
  end
  return setmetatable(t, { __index = function(_, name)
    error(("operator '%s' declares no state '%s'"):format(op.uid, tostring(name)), 2)
  end })
end

function builders.process(op, nxt, env, is_last)
  local fn, uid = op.fn, op.uid
  local ctx = setmetatable({ uid = uid, _next = nil, _scope = op.scope, _env = env,
    _handles = { value = {}, map = {}, list = {}, reducing = {}, aggregating = {} } }, Ctx)
  ctx._next = function(r, f)
    nxt(r, f)
    M.current = uid
  end
  ctx.state = declared_states(ctx, op, env)
  if is_last then
    local buf, put_values, scope = env.buf, encode.put_values, op.scope
    ctx._sink_direct = function(fields, ...)
      M.current = "sink"
      put_values(buf, scope, fields, ...)
      M.current = uid
    end
  end
  timers.attach(ctx, op, env) -- its watermark, and its timer queues when it has an on_timer
  op.ctx = ctx
  return function(rec)
    M.current = uid
    return fn(ctx, rec)
  end
end

-- Runs every operator's initialize hook with its restored operator lists (at start, after compile).
local function initialize(job, env)
  for _, op in ipairs(job.ops) do
    if op.ctx then
      local lists, restored = operator_state.restore(env.backend, op, env.subtask, env.parallelism)
      op.ctx.operator_state = lists
      if op.initialize then
        M.current = op.uid
        op.initialize(op.ctx, restored)
      end
    end
  end
end

-- The background TTL cleaner of the job's TTL states (nil when there is none).
ttl_cleaner = function(env)
  if not env.cleanup then
    return nil
  end
  local c = C.sl_ttl_cleaner_new(env.backend)
  if c == nil then
    fatal.raise("out of memory creating the TTL cleaner", 0)
  end
  c = ffi.gc(c, C.sl_ttl_cleaner_free)
  for _, t in ipairs(env.cleanup) do
    local rc = C.sl_ttl_cleaner_add(c, t.id, t.ttl)
    if rc ~= 0 then
      native.raise_status(rc, "creating the TTL cleaner: " .. native.strerror(rc))
    end
  end
  return c
end

-- The states an operator declares, as { name, kind, ttl }: its keyed states, operator lists and (with an
-- on_timer) its timer queues.
local function declared(op)
  local out = {}
  for _, d in ipairs(op.states or {}) do
    out[#out + 1] = { d.name, d.kind, d.ttl ~= nil }
  end
  for _, d in ipairs(op.operator_states or {}) do
    out[#out + 1] = { d.name, "operator_list", false }
  end
  if op.on_timer then
    for _, name in ipairs(timers.QUEUES) do
      out[#out + 1] = { name, "timers", false }
    end
  end
  return out
end

-- Before anything is registered: every declared state must have the kind the backend records for it (a
-- restored checkpoint or savepoint, or the code running before a reload), and an event-time window needs
-- a watermark strategy. Raises an error naming the operator's line, so the job does not start (or the
-- reload is refused) rather than misreading its state or failing every record.
local function check_job(job, env)
  for _, op in ipairs(job.ops) do
    local at = op.where and op.where .. ": " or ""
    for _, d in ipairs(declared(op)) do
      local refused = registry.check(env.backend, op.uid, d[1], d[2], d[3])
      if refused then
        error(at .. refused, 0)
      end
    end
    if op.needs_watermark and not timers.has_strategy(job) then
      local line = type(op.needs_watermark) == "string" and op.needs_watermark or op.where or job.where
      error(("%swindow '%s' uses event time, but no source of job '%s' declares a watermark strategy: "
        .. "give one (sluice.source.input { watermark = { field = ..., format = ... } }), or use time = "
        .. "\"processing\""):format(line and line .. ": " or "", op.uid, job.name), 0)
    end
  end
end

-- Checks the job's declared states against the registry of `backend` (an sl_backend*) without building
-- anything: hot reload asks it of the state it would switch to before it gives up the running code.
-- Raises the error check_job would.
function M.check(job, backend)
  check_job(job, { backend = backend })
end

-- Builds the chain for `job` writing into the sl_buf `buf`. env = { backend = sl_backend*, buf = sl_buf*,
-- max_parallelism = n, subtask = i, parallelism = p } (subtask and parallelism: which operator-state
-- instance this VM is; 0 of 1 when absent). Returns the head stage. Raises (an ordinary error) when the job cannot run on
-- this state (check_job).
function M.compile(job, env)
  check_job(job, env)
  local scope
  for _, op in ipairs(job.ops) do
    if op.kind == "key_by" then
      scope = new_scope(env)
      if env.clock then
        C.sl_scope_set_clock(scope, env.clock.fn, env.clock.arg)
      end
    end
    op.scope = scope
  end
  local buf = env.buf
  local put_record = encode.put_record
  local nxt = function(rec, fields)
    M.current = "sink"
    put_record(buf, rec, fields)
  end
  local keyed
  env.op_in = ffi.new("double[?]", #job.ops + 1)
  for i = #job.ops, 1, -1 do
    nxt = counted(env.op_in, i - 1, builders[job.ops[i].kind](job.ops[i], nxt, env, i == #job.ops))
    if job.ops[i].kind == "key_by" then
      keyed = nxt
    end
  end
  -- A parallel subtask that routes in Lua runs the filters before the key_by where records are read, and
  -- the chain from the key_by on where they are owned (each stamped for event time where it runs).
  local whole = nxt
  nxt = timers.stamp(job, env, nxt, M) -- event time: records stamped at the head (when a source declares it)
  -- One closure when the key_by comes first: both entries then run the same trace.
  env.keyed_head = keyed and (keyed == whole and nxt or timers.stamp(job, env, keyed, M))
  env.router = keyed and M.build_router(job, env)
  job.env = env
  env.cleaner = ttl_cleaner(env)
  initialize(job, env)
  return nxt
end

-- The routing function of a parallel subtask (sluice.host.route_batch): rec -> the subtask that owns its
-- key (env.subtask when the key is missing or too long: the key_by rejects it there), or 0xFFFF when a
-- filter before the key_by drops it. Built as a chain of closures, with no loop over the filters: a loop of
-- a few iterations inside the batch loop keeps LuaJIT from compiling it (see sluice.encode).
function M.build_router(job, env)
  local m = env.max_parallelism or 128
  local n = env.parallelism or 1
  local self = env.subtask or 0
  local op, at
  for i, o in ipairs(job.ops) do
    if o.kind == "key_by" then
      op, at = o, i
      break
    end
  end
  local field, fn, uid = op.field, op.fn, op.uid
  local owner = function(kg)
    if kg < 0 then
      return self
    end
    return math.floor(kg * n / m)
  end
  local route
  if field then
    local flen = #field
    route = function(rec)
      M.current = uid
      return owner(C.sl_rec_field_key_group(rec, field, flen, m))
    end
  else
    route = function(rec)
      M.current = uid
      local k = fn(rec)
      if k == nil then
        return self
      end
      local s = type(k) == "string" and k or tostring(k)
      return owner(C.sl_key_group_of(s, #s, m))
    end
  end
  for i = at - 1, 1, -1 do
    local f = job.ops[i]
    if f.kind == "filter" then
      local nxt, ffn, fuid, counts = route, f.fn, f.uid, env.op_in
      route = function(rec)
        counts[i - 1] = counts[i - 1] + 1 -- as counted() does in the chain (metrics)
        M.current = fuid
        if ffn(rec) then
          return nxt(rec)
        end
        return 0xFFFF
      end
    end
  end
  return route
end

-- The records each operator was handed so far, by uid (metrics; a few times a second).
function M.operator_counts(job)
  local env, t = job and job.env, {}
  for i = 1, env and #job.ops or 0 do
    t[job.ops[i].uid] = env.op_in[i - 1]
  end
  return t
end

function M.router(job)
  return job.env.router
end

function M.keyed_head(job)
  return job.env.keyed_head
end

-- Before a commit: every operator's snapshot hook, then its operator lists written to the backend, then
-- one bounded step of background TTL cleanup. Raises on a hook error (naming the operator via M.current).
function M.snapshot(job)
  local env = job and job.env
  if not env then
    return
  end
  for _, op in ipairs(job.ops) do
    if op.ctx then
      M.current = op.uid
      if op.snapshot then
        op.snapshot(op.ctx)
      end
      operator_state.write(env.backend, op.uid, op.ctx.operator_state or {}, env.subtask, env.parallelism)
    end
  end
  M.cleanup_step(job)
end

-- Between batches: advances the watermark and fires due timers (sluice.timers.fire). Returns the earliest
-- pending processing-time timer (or nil), the on_timer errors (or nil) and the count of late records.
function M.fire_timers(job, now, end_of_input)
  return timers.fire(job, now, end_of_input, M)
end

-- The processing-time timers still pending (sluice.timers.pending_processing).
function M.pending_timers(job)
  return timers.pending_processing(job)
end

-- One step of incremental TTL cleanup: each TTL state's batch of entries checked (in one walk of the
-- store). Returns the number of entries removed.
function M.cleanup_step(job)
  local env = job.env
  if not (env and env.cleaner) then
    return 0
  end
  local batch = 0
  for _, c in ipairs(env.cleanup) do
    batch = batch + c.batch
  end
  local removed = ffi.new("size_t[1]")
  local rc = C.sl_ttl_cleaner_step(env.cleaner, C.sl_scope_now(env.cleanup[1].scope), batch, removed)
  if rc ~= 0 then
    native.raise_status(rc, "state TTL cleanup: " .. native.strerror(rc))
  end
  return tonumber(removed[0])
end

return M
