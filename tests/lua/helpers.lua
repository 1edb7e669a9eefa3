-- helpers — what the Lua specs share: temporary directories, a real state backend opened in one, key
-- scopes, record batches built from JSON lines, and an sl_buf read back as a Lua string.
--
-- Everything here goes through the real libsluice.so ($SLUICE_LIB, loaded by sluice.native): the specs
-- test the C code the host runs, never a stand-in for it.
local ffi = require "ffi"
local native = require "sluice.native"

local C = native.C
local H = { C = C, native = native }

ffi.cdef [[
char *mkdtemp(char *template);
]]

local function quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local function run(cmd)
  local r = os.execute(cmd)
  -- LuaJIT returns the status (Lua 5.1); with 5.2 compatibility it returns true/false.
  return r == 0 or r == true
end

-- Temporary directories ------------------------------------------------------------------------------

local TMP_PREFIX = "sluice-spec-"

-- Creates a fresh, empty directory under $TMPDIR (the build's tmp/ under ctest) or /tmp.
function H.tmpdir()
  local base = (os.getenv("TMPDIR") or "/tmp"):gsub("/+$", "")
  if base == "" then
    base = "/tmp"
  end
  assert(run("mkdir -p " .. quote(base)), "cannot create " .. base)
  local template = base .. "/" .. TMP_PREFIX .. "XXXXXX"
  local buf = ffi.new("char[?]", #template + 1, template)
  local p = ffi.C.mkdtemp(buf)
  assert(p ~= nil, "mkdtemp failed for " .. template)
  return ffi.string(p)
end

-- Removes a directory made by H.tmpdir (refuses anything else).
function H.rmdir(dir)
  assert(type(dir) == "string" and dir:find("/" .. TMP_PREFIX, 1, true), "not a spec temp dir: " .. tostring(dir))
  assert(run("rm -rf " .. quote(dir)), "cannot remove " .. dir)
end

function H.exists(path)
  local f = io.open(path, "rb")
  if f then
    f:close()
    return true
  end
  return false
end

-- State backend ---------------------------------------------------------------------------------------

-- Opens a backend in `dir` (opts: { cache_max_bytes =, map_size = }); errors with the C message.
function H.open_backend(dir, opts)
  local out = ffi.new("sl_backend *[1]")
  local errbuf = ffi.new("char[512]")
  local o = opts and ffi.new("sl_backend_options", opts) or nil
  local rc = C.sl_backend_open(out, dir, o, errbuf, 512)
  if rc ~= 0 then
    error(("sl_backend_open(%s): %s: %s"):format(dir, native.strerror(rc), ffi.string(errbuf)), 2)
  end
  assert(out[0] ~= nil)
  return out[0]
end

-- Commits the backend's changes; errors with the C status text.
function H.commit(backend, sync)
  local rc = C.sl_backend_commit(backend, sync or 0)
  if rc ~= 0 then
    error("sl_backend_commit: " .. native.strerror(rc) .. ": " .. ffi.string(C.sl_backend_last_error(backend)), 2)
  end
end

-- An environment for state specs: a temp dir, a backend opened in it, and scopes made on demand.
--   local env = H.state_env(); local s = env:scope("key"); ... ; env:close()
local Env = {}
Env.__index = Env

function H.state_env(opts)
  local env = setmetatable({ dir = H.tmpdir(), opts = opts, scopes = {} }, Env)
  env.backend = H.open_backend(env.dir, opts)
  return env
end

-- A new key scope on the backend, with its current key set to `key` when given.
function Env:scope(key)
  local s = C.sl_scope_new(self.backend, 0)
  assert(s ~= nil, "sl_scope_new returned NULL")
  self.scopes[#self.scopes + 1] = s
  if key ~= nil then
    H.set_key(s, key)
  end
  return s
end

function Env:commit(sync)
  H.commit(self.backend, sync)
end

-- Closes the backend (uncommitted changes are discarded) and opens it again in the same directory. Scopes
-- made before are freed: they point at the old backend.
function Env:reopen()
  self:free_scopes()
  C.sl_backend_close(self.backend)
  self.backend = H.open_backend(self.dir, self.opts)
end

function Env:free_scopes()
  for i = #self.scopes, 1, -1 do
    C.sl_scope_free(self.scopes[i])
    self.scopes[i] = nil
  end
end

function Env:close()
  self:free_scopes()
  if self.backend ~= nil then
    C.sl_backend_close(self.backend)
    self.backend = nil
  end
  H.rmdir(self.dir)
end

function H.set_key(scope, key)
  local rc = C.sl_scope_set_key(scope, key, #key)
  assert(rc == 0, "sl_scope_set_key failed: " .. native.strerror(rc))
end

-- A manual clock for a scope or a compiled job: the clock table pipeline.compile takes, and the int64_t[1]
-- it reads (starting at `start` ms), which the test moves.
function H.manual_clock(start)
  local now = ffi.new("int64_t[1]", start)
  return { fn = C.sl_clock_manual, arg = now }, now
end

-- Per-test state for the describe block it is called in (with the before_each / after_each of the calling
-- spec's environment: busted gives those to spec files, not to the modules they require). Before
-- each test the returned fixture holds a fresh env (H.state_env(opts.env)) in fx.env; with opts.key, a scope
-- on it with that current key in fx.scope; with opts.clock, a manual clock starting there set on that scope,
-- its int64_t[1] in fx.now; with opts.buf, a fresh sl_buf in fx.buf. After each test the env fx.env holds
-- then is closed.
local Fixture = {}
Fixture.__index = Fixture

function H.state_each(opts)
  opts = opts or {}
  local fx = setmetatable({}, Fixture)
  local spec_env = getfenv(2)
  spec_env.before_each(function()
    fx.env = H.state_env(opts.env)
    if opts.key ~= nil then
      fx.scope = fx.env:scope(opts.key)
    end
    if opts.clock ~= nil then
      local _, now = H.manual_clock(opts.clock)
      fx.now = now
      C.sl_scope_set_clock(fx.scope, C.sl_clock_manual, now)
    end
    if opts.buf then
      fx.buf = H.buf()
    end
  end)
  spec_env.after_each(function()
    fx.env:close()
  end)
  return fx
end

-- Closes the env and puts a fresh one in its place (env_opts: its backend options), with a scope on it in
-- fx.scope whose current key is `key` (nil: none).
function Fixture:replace(env_opts, key)
  self.env:close()
  self.env = H.state_env(env_opts)
  self.scope = self.env:scope(key)
end

-- Compiles `job` against the fixture's backend and buffer (clock: optional, as pipeline.compile takes it).
function Fixture:compile(job, clock)
  return require("sluice.pipeline").compile(job, { backend = self.env.backend, buf = self.buf, clock = clock })
end

-- The output lines the buffer holds, which is then emptied.
function Fixture:take()
  local lines = H.buf_lines(self.buf)
  C.sl_buf_reset(self.buf)
  return lines
end

-- Records ---------------------------------------------------------------------------------------------

-- Records point into their line strings and into the batch's memory: both are anchored here for the life
-- of the spec file, so a record cdata held by a test can never outlive what it points to.
local anchors = {}

local Batch = {}
Batch.__index = Batch

-- A real sl_batch holding `lines` (JSON strings), each validated and indexed by sl_batch_add. Errors on an
-- invalid line, naming it and the scanner's reason.
function H.batch(lines)
  local b = ffi.gc(ffi.new("sl_batch"), C.sl_batch_free)
  assert(C.sl_batch_init(b, math.max(#lines, 1)) == 0, "sl_batch_init failed")
  local err = ffi.new("sl_json_error")
  for i, line in ipairs(lines) do
    if C.sl_batch_add(b, line, #line, i, 0, err) ~= 0 then
      error(("line %d is not a valid record (%s at byte %d): %s"):format(i, ffi.string(err.reason),
        tonumber(err.offset), line), 2)
    end
  end
  local batch = setmetatable({ b = b, lines = lines, n = #lines }, Batch)
  anchors[#anchors + 1] = batch
  return batch
end

-- Record i (1-based) as the `sl_rec *` the pipeline sees.
function Batch:rec(i)
  local r = C.sl_batch_get(self.b, i - 1)
  assert(r ~= nil, "no record " .. i)
  return r
end

-- All records, in order.
function Batch:recs()
  local t = {}
  for i = 1, self.n do
    t[i] = self:rec(i)
  end
  return t
end

-- One lazy record from one JSON line.
function H.record(line)
  return H.batch({ line }):rec(1)
end

-- sl_buf --------------------------------------------------------------------------------------------------

-- A fresh sl_buf, as the `sl_buf *` the host hands to Lua. The struct it points to is anchored for the
-- life of the spec file and its memory freed by the GC after that.
function H.buf()
  local b = ffi.gc(ffi.new("sl_buf"), C.sl_buf_free)
  C.sl_buf_init(b)
  anchors[#anchors + 1] = b
  return ffi.cast("sl_buf *", b)
end

-- The buffer's bytes as a Lua string.
function H.buf_string(b)
  assert(b.oom == 0, "sl_buf ran out of memory")
  if b.len == 0 then
    return ""
  end
  return ffi.string(b.data, b.len)
end

-- The buffer's contents split into lines (without the newlines).
function H.buf_lines(b)
  local out = {}
  for line in H.buf_string(b):gmatch("([^\n]*)\n") do
    out[#out + 1] = line
  end
  return out
end

-- Runs every record of `batch` through a compiled pipeline head, as host.run_batch does.
function H.run(head, batch)
  for i = 1, batch.n do
    head(batch:rec(i), nil)
  end
end

return H
