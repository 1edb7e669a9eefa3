-- sluice.testing — unit tests for job scripts, in the spirit of Flink's operator test harnesses.
--
--   local testing = require "sluice.testing"
--   local h = testing.harness("scripts/url_count.lua")           -- { args = {...}, time = ms, max_parallelism = M }
--   h:push { url = "/a" }                                          -- a table or a JSON line: one batch
--   h:push_lines { '{"url": "/a"}', { url = "/b" } }               -- several records, one batch
--   h:push_kafka { { value = { url = "/a" }, partition = 2, key = "/a", timestamp = 1000 }, ... }
--   assert.same({ { url = "/a", count = 1 }, ... }, h:take_output())
--   assert.equal(1, h:state("count", "count", "/a"))
--
-- What runs is the job itself, as `sluice run` runs it (lua/test_harness.c): the script in its own Lua VM,
-- driven through the same sluice.host entry points the runtime calls, on a real LMDB state backend in a
-- temporary directory. Nothing is mocked. The differences from a run: records come from push (the job's
-- sources are not opened) and output is collected here (its sink is not opened); processing time is a
-- manual clock (start: opts.time, default 0) that only advance_processing_time moves; the watermark moves
-- with the records' event time (as in a run) and with advance_watermark.
--
-- State read and written here goes through the same C state API and value codec as the job's own handles,
-- on the job's backend (so a write is seen by the next record, and a record's write by the next read).
local ffi = require "ffi"
local cjson = require "cjson"
local native = require "sluice.native"
local state = require "sluice.state"
local base = require "sluice.state_base"
local registry = require "sluice.state_registry"
local state_desc = require "sluice.state_desc"
local encode = require "sluice.encode"

local C = native.C
local M = {}

ffi.cdef [[
char *mkdtemp(char *template);
]]

local ERRLEN = 4096
local errbuf = ffi.new("char[?]", ERRLEN)

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function tmpdir()
  local base_dir = (os.getenv("TMPDIR") or "/tmp"):gsub("/+$", "")
  if base_dir == "" then
    base_dir = "/tmp"
  end
  local template = base_dir .. "/sluice-test-XXXXXX"
  local buf = ffi.new("char[?]", #template + 1, template)
  if ffi.C.mkdtemp(buf) == nil then
    error("sluice.testing: cannot create a temporary directory under " .. base_dir .. " (set TMPDIR)", 3)
  end
  return ffi.string(buf)
end

local function lines_of(buf)
  local out = {}
  if buf.len > 0 then
    for line in ffi.string(buf.data, buf.len):gmatch("([^\n]*)\n") do
      out[#out + 1] = line
    end
  end
  return out
end

local function decode_all(lines)
  local out = {}
  for i, line in ipairs(lines) do
    out[i] = cjson.decode(line)
  end
  return out
end

-- A pushed record as a JSON line: a string as it is, a table encoded as the job's output would be
-- (sluice.encode: `{"a": 1, "b": "x"}`, keys in natural order).
local function as_line(rec, i)
  if type(rec) == "string" then
    return rec
  elseif type(rec) == "table" then
    return encode.to_string(rec)
  end
  error(("record %d: a table or a JSON line, not a %s"):format(i, type(rec)), 4)
end

-- `path` taken relative to the directory of the file that calls this (a spec next to its job finds the
-- job from any working directory): testing.relative("../url_count.lua"). An absolute path is returned as is.
function M.relative(path)
  if path:sub(1, 1) == "/" then
    return path
  end
  local src = debug.getinfo(2, "S").source
  local dir = src:sub(1, 1) == "@" and src:sub(2):match("^(.*)/[^/]*$") or "."
  return dir .. "/" .. path
end

local Harness = {}
Harness.__index = Harness
Harness.__tostring = function(h)
  return ("Harness<%s>"):format(h.script)
end

-- Runs the C call `fn(h, ...)` that returns 0 or -1 with the reason in errbuf; raises the reason at the
-- spec's line.
local function call(h, fn, ...)
  if h.ptr == nil then
    error(("%s is closed"):format(tostring(h)), 3)
  end
  if fn(h.ptr, ...) ~= 0 then
    error(ffi.string(errbuf), 3)
  end
end

-- Creates a harness running `script` (a path, as for `sluice run`). opts: { args = { SCRIPT-ARGS... },
-- time = processing time at start (epoch ms, default 0), max_parallelism = key groups (default 128) }.
-- Raises the script's error (its file:line) when it does not load or return a job.
function M.harness(script, opts)
  opts = opts or {}
  local args = opts.args or {}
  local cargs = ffi.new("const char *[?]", #args + 1)
  for i, a in ipairs(args) do
    cargs[i - 1] = tostring(a)
  end
  local dir = tmpdir()
  local ptr = C.sl_harness_open(script, cargs, #args, dir, opts.max_parallelism or 128, opts.time or 0, errbuf,
    ERRLEN)
  if ptr == nil then
    os.execute("rm -rf " .. quote(dir))
    error(ffi.string(errbuf), 2)
  end
  local h = setmetatable({ script = script, args = args, dir = dir, max_parallelism = opts.max_parallelism or 128,
    handles = {}, checkpoints = 0 }, Harness)
  -- Closed when the spec closes it, or when it is collected (or the VM closes): the directory goes with it.
  h.ptr = ffi.gc(ptr, function(p)
    C.sl_harness_close(p)
    os.execute("rm -rf " .. quote(dir))
  end)
  return h
end

-- A harness on a sl_harness the caller owns (C: `sluice state bootstrap`, core/state_bootstrap.c), for its
-- state methods: closing it is the caller's business.
function M.wrap(ptr, script, args, max_parallelism)
  return setmetatable({ script = script, args = args or {}, max_parallelism = max_parallelism or 128,
    handles = {}, checkpoints = 0, ptr = ffi.cast("sl_harness *", ptr) }, Harness)
end

-- Pushes one record (a table or a JSON line) as a batch of its own, then fires the timers it made due.
function Harness:push(rec)
  return self:push_lines({ rec })
end

-- Pushes records (tables or JSON lines) as one batch, as a run reads them from a file: the watermark
-- advances once, after the batch.
function Harness:push_lines(recs)
  local n = #recs
  local lines, lens = ffi.new("const char *[?]", n + 1), ffi.new("size_t[?]", n + 1)
  local keep = {}
  for i = 1, n do
    keep[i] = as_line(recs[i], i)
    lines[i - 1], lens[i - 1] = keep[i], #keep[i]
  end
  call(self, C.sl_harness_push, lines, lens, n, errbuf, ERRLEN)
end

-- Pushes Kafka messages as one batch, each { value = a table or a JSON line, topic = "test", partition = 0,
-- offset = (the partition's next: 0, 1, ... per partition), key = string or nil, timestamp = epoch ms or nil,
-- timestamp_type = "create" (default with a timestamp) | "log_append" }: the job sees each as a Kafka
-- source's record (sluice.meta(rec); watermark timestamp = "kafka").
local TS_TYPES = { create = 1, log_append = 2 }
function Harness:push_kafka(msgs)
  local n = #msgs
  local lines, lens = ffi.new("const char *[?]", n + 1), ffi.new("size_t[?]", n + 1)
  local metas = ffi.new("sl_rec_meta[?]", n + 1)
  local keep = {}
  self.kafka_next = self.kafka_next or {}
  for i = 1, n do
    local m = msgs[i]
    if type(m) ~= "table" then
      error(("message %d: a table { value = ..., partition = ..., ... }, not a %s"):format(i, type(m)), 2)
    end
    local topic, part = m.topic or "test", m.partition or 0
    local at = topic .. ":" .. part
    local offset = m.offset or self.kafka_next[at] or 0
    self.kafka_next[at] = offset + 1
    if m.key ~= nil and type(m.key) ~= "string" then
      error(("message %d: key must be a string"):format(i), 2)
    end
    if m.timestamp_type ~= nil and not TS_TYPES[m.timestamp_type] then
      error(("message %d: timestamp_type is \"create\" or \"log_append\""):format(i), 2)
    end
    local line = as_line(m.value, i)
    keep[3 * i - 2], keep[3 * i - 1], keep[3 * i] = line, topic, m.key -- alive while C reads them
    lines[i - 1], lens[i - 1] = line, #line
    local e = metas[i - 1]
    e.topic, e.partition, e.offset = topic, part, offset
    e.key, e.key_len = m.key, m.key and #m.key or 0
    e.timestamp = m.timestamp or -1
    e.timestamp_type = m.timestamp and TS_TYPES[m.timestamp_type or "create"] or 0
  end
  call(self, C.sl_harness_push_meta, lines, lens, metas, n, errbuf, ERRLEN)
end

-- Moves processing time on by ms and fires the processing-time timers due by then.
function Harness:advance_processing_time(ms)
  call(self, C.sl_harness_set_time, self:now() + ms, errbuf, ERRLEN)
end

-- Processing time now (epoch ms).
function Harness:now()
  return tonumber(C.sl_harness_clock(self.ptr)[0])
end

-- Raises the watermark to ts (event time, ms) and fires the event-time timers due by then.
function Harness:advance_watermark(ts)
  call(self, C.sl_harness_advance_watermark, ts, errbuf, ERRLEN)
end

-- The end of the input: fires every pending event-time timer, as a run does when its input ends.
function Harness:finish()
  call(self, C.sl_harness_end_input, errbuf, ERRLEN)
end

-- The records the job emitted so far (since the start, a take_output or a restart), decoded.
function Harness:output()
  return decode_all(self:output_lines())
end

-- The same as JSON lines, exactly as the job wrote them.
function Harness:output_lines()
  return lines_of(C.sl_harness_output(self.ptr))
end

-- The records emitted so far, decoded; they are then forgotten.
function Harness:take_output()
  local out = self:output()
  C.sl_buf_reset(C.sl_harness_output(self.ptr))
  return out
end

-- The rejected records so far: { line = N, error = "...", record = "the JSON line" } (an invalid line or an
-- operator error, numbered from 1 across every push), or { error = "..." } for a failed on_timer.
function Harness:rejects()
  return decode_all(lines_of(C.sl_harness_rejects(self.ptr)))
end

-- The key scope for reading and writing state: on the job's backend, with the harness's clock (so TTL is
-- judged at the harness's processing time).
function Harness:scope()
  if self._scope == nil then
    local s = C.sl_scope_new(C.sl_harness_backend(self.ptr), self.max_parallelism)
    assert(s ~= nil, "out of memory creating a key scope")
    self._scope = ffi.gc(s, C.sl_scope_free)
    C.sl_scope_set_clock(self._scope, C.sl_clock_manual, C.sl_harness_clock(self.ptr))
  end
  return self._scope
end

-- The job's operators, from the script (loaded here once, as the job's VM loaded it): by uid, and in
-- order.
function Harness:operators()
  if self._ops == nil then
    local sluice = require "sluice"
    sluice.args = self.args
    local job = assert(loadfile(self.script))(unpack(self.args))
    self._ops, self._op_list = {}, job.ops
    for _, o in ipairs(job.ops) do
      self._ops[o.uid] = o
    end
  end
  return self._ops, self._op_list
end

-- The job's declaration of state `name` of operator `op`, or nil.
function Harness:declared(op, name)
  local op_t = self:operators()[op]
  for _, d in ipairs(op_t and op_t.states or {}) do
    if d.name == name then
      return d
    end
  end
  return nil
end

local KEYED = { value = true, map = true, list = true, reducing = true, aggregating = true }

-- A handle on state (op, name): of the kind the backend records (or `kind` for a state the job has not
-- used yet), with the TTL the job declares. nil when the state does not exist and no kind is given.
-- explicit: `kind` was asked for by the test, and another stored kind is an error.
function Harness:handle(op, name, kind, explicit)
  local id = op .. "\0" .. name
  local h = self.handles[id]
  if h then
    if explicit and h.kind ~= kind then
      error(("state '%s' of operator '%s' is a %s state, not %s"):format(name, op, h.kind, kind), 3)
    end
    return h.handle
  end
  local backend = self.ptr ~= nil and C.sl_harness_backend(self.ptr) or nil
  if backend == nil then
    error(("%s is %s"):format(tostring(self), self.ptr == nil and "closed" or "failed (its restart failed)"), 3)
  end
  local stored, ttl = native.lookup_state(backend, op, name, ("state '%s' of operator '%s'"):format(name, op))
  local d = self:declared(op, name)
  if stored and stored ~= 0 then
    local was = kind
    for k, code in pairs(registry.KIND) do
      if code == stored then
        kind = k
      end
    end
    if explicit and was ~= kind then
      error(("state '%s' of operator '%s' is a %s state, not %s"):format(name, op, kind, was), 3)
    end
  elseif d then
    kind, ttl = d.kind, d.ttl ~= nil
  end
  if kind == nil then
    return nil
  elseif not KEYED[kind] then
    error(("state '%s' of operator '%s' is not keyed state (it is %s)"):format(name, op, kind), 3)
  end
  local cttl = ttl and d and d.ttl and state_desc.ttl_cdata(d.ttl) or nil
  if ttl and cttl == nil then
    error(("state '%s' of operator '%s' has TTL, but the job declares no such state"):format(name, op), 3)
  end
  h = state.new(kind, backend, self:scope(), op, name, d and d.default, { ttl = cttl, reduce = d and d.reduce,
    agg = d and d.agg })
  self.handles[id] = { handle = h, kind = kind }
  return h
end

local function set_key(h, key)
  local k = tostring(key)
  local rc = C.sl_scope_set_key(h:scope(), k, #k)
  if rc ~= 0 then
    error(("key too long (%d bytes)"):format(#k), 3)
  end
end

-- The keyed state `name` of operator `op` for `key`, as stored: a ValueState's, ReducingState's value or an
-- AggregatingState's accumulator (nil when unset: not the declared default); a MapState as a table; a
-- ListState as an array (nil when empty). nil for a state the job never used.
function Harness:state(op, name, key)
  local s = self:handle(op, name)
  if s == nil then
    return nil
  end
  set_key(self, key)
  if state.is_map_state(s) then
    local t, any = {}, false
    for k, v in s:pairs() do
      t[k], any = v, true
    end
    return any and t or nil
  elseif state.is_list_state(s) then
    local t = {}
    for v in s:get() do
      t[#t + 1] = v
    end
    return #t > 0 and t or nil
  end
  local _, v = base.get_value(s)
  return v
end

-- Sets the keyed state `name` of operator `op` for `key` to `value` (nil clears it), in the shapes state()
-- returns. kind: for a state the job has not used yet (default "value"; else the stored kind is used).
function Harness:set_state(op, name, key, value, kind)
  local s = self:handle(op, name, kind or "value", kind ~= nil)
  set_key(self, key)
  if state.is_map_state(s) then
    s:clear()
    if value ~= nil then
      s:put_all(value)
    end
  elseif state.is_list_state(s) then
    s:update(value or {})
  elseif value == nil then
    base.clear_value(s)
  else
    base.put_value(s, value)
  end
end

-- Takes a checkpoint: the operators' snapshot hooks, a commit, and a full snapshot of the state, as a run's
-- checkpoint. Returns its id (1, 2, ...) for restart.
function Harness:checkpoint()
  local id = ffi.new("uint64_t[1]")
  call(self, C.sl_harness_checkpoint, id, errbuf, ERRLEN)
  self.checkpoints = tonumber(id[0])
  return self.checkpoints
end

-- Restarts the job from checkpoint `id` (default: the last one) as recovery after a crash would: what
-- happened after it is gone, the script runs in a fresh VM on the checkpoint's state. Output and rejects
-- start empty.
function Harness:restart(id)
  self:drop_handles()
  call(self, C.sl_harness_restart, id or self.checkpoints, errbuf, ERRLEN)
end

function Harness:drop_handles()
  self.handles = {}
  if self._scope ~= nil then
    C.sl_scope_free(ffi.gc(self._scope, nil))
    self._scope = nil
  end
end

-- Closes the job and removes its state directory (also done when the harness is collected).
function Harness:close()
  if self.ptr ~= nil then
    self:drop_handles()
    local p = self.ptr
    self.ptr = nil
    C.sl_harness_close(ffi.gc(p, nil))
    os.execute("rm -rf " .. quote(self.dir))
  end
end

return M
