-- sluice.bootstrap — the Lua half of `sluice state bootstrap JOB.lua --from FILE.jsonl --to SAVEPOINT`
-- (core/state_bootstrap.c): reads the JSON lines `sluice state dump` writes and stores each entry in the
-- state of the job, through the job's own state handles (sluice.testing's state methods, on the backend of
-- a harness running JOB.lua), so the bytes are exactly those the job would have written itself.
--
-- A line: {"op", "state", "kind", "key", "value" | "value_b64", ["map_key" | "map_key_b64"] (map), ["index"]
-- (list), ["expires_at"] (a state with TTL)}. Every line is checked before anything else is done with it;
-- the first bad one stops the load with "FILE:N: reason" (the C side then writes nothing).
local ffi = require "ffi"
local cjson = require "cjson"
local native = require "sluice.native"
local testing = require "sluice.testing"
local codec = require "sluice.codec"
local base = require "sluice.state_base"
local registry = require "sluice.state_registry"

local C = native.C
local M = {}

local KEYED = { value = true, map = true, list = true, reducing = true, aggregating = true }
local FIELDS = { op = true, state = true, kind = true, key = true, value = true, value_b64 = true, map_key = true,
  map_key_b64 = true, index = true, expires_at = true }

local B64 = {}
do
  local tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for i = 1, #tab do
    B64[tab:byte(i)] = i - 1
  end
end

-- The bytes of a base64 string, or nil when it is not one.
local function unbase64(s)
  if type(s) ~= "string" or #s % 4 ~= 0 or s:find("[^%w%+/=]") or s:find("=[^=]") then
    return nil
  end
  local out = {}
  for i = 1, #s, 4 do
    local a, b, c, d = B64[s:byte(i)], B64[s:byte(i + 1)], B64[s:byte(i + 2)] or 0, B64[s:byte(i + 3)] or 0
    if a == nil or b == nil then
      return nil
    end
    local n = a * 262144 + b * 4096 + c * 64 + d
    out[#out + 1] = string.char(math.floor(n / 65536) % 256)
    if s:sub(i + 2, i + 2) ~= "=" then
      out[#out + 1] = string.char(math.floor(n / 256) % 256)
    end
    if s:sub(i + 3, i + 3) ~= "=" then
      out[#out + 1] = string.char(n % 256)
    end
  end
  return table.concat(out)
end

local function fail(msg, ...)
  error({ bootstrap = msg:format(...) }, 0)
end

-- A JSON value as the job's code held it, undoing what dump did to show it: an object key that is a whole
-- number ("1", "-2") was a number key (dump writes number keys as strings). null is refused (no stored
-- value holds one: a Lua table has no nil entries, and a nil value is no entry at all).
local function to_lua(v, what)
  if v == cjson.null then
    fail("%s is null (a stored value never is: leave the entry out)", what)
  elseif type(v) ~= "table" then
    return v
  end
  local t = {}
  for k, x in pairs(v) do
    if type(k) == "string" and k:find("^%-?[1-9]%d*$") and #k < 16 or k == "0" then
      k = tonumber(k)
    end
    t[k] = to_lua(x, what)
  end
  return t
end

-- The value of field `name`, given as JSON (`name`) or as the stored bytes (`name_b64`, as dump writes a
-- value JSON cannot show). required: one of the two must be there.
local function value_of(rec, name, required)
  local json, b64 = rec[name], rec[name .. "_b64"]
  if json ~= nil and b64 ~= nil then
    fail("both \"%s\" and \"%s_b64\" given", name, name)
  end
  if b64 ~= nil then
    local bytes = unbase64(b64)
    if bytes == nil then
      fail("\"%s_b64\" is not base64", name)
    end
    local ok, v = pcall(codec.decode, bytes, #bytes)
    if not ok then
      fail("\"%s_b64\" is not a stored value: %s", name, tostring(v))
    end
    return v
  end
  if json == nil and required then
    fail("no \"%s\"", name)
  end
  return json ~= nil and to_lua(json, '"' .. name .. '"') or nil
end

local function kind_name(code)
  for k, c in pairs(registry.KIND) do
    if c == code then
      return k
    end
  end
  return tostring(code)
end

local scan_fields, scan_n, scan_err = ffi.new("sl_json_field[64]"), ffi.new("uint32_t[1]"), ffi.new("sl_json_error")

-- Parses and checks one line; returns the record (a table).
local function parse(line)
  if C.sl_json_scan(line, #line, scan_fields, 64, scan_n, scan_err) ~= 0 then
    fail("invalid JSON at byte %d: %s", tonumber(scan_err.offset), ffi.string(scan_err.reason))
  end
  local rec = cjson.decode(line)
  for k in pairs(rec) do
    if not FIELDS[k] then
      fail("unknown field \"%s\" (a line has op, state, kind, key, value or value_b64, map_key, index, "
        .. "expires_at)", tostring(k))
    end
  end
  for _, f in ipairs { "op", "state", "kind", "key" } do
    if type(rec[f]) ~= "string" then
      fail("\"%s\" must be a string%s", f, rec[f] == nil and " (it is missing)" or "")
    end
  end
  if not KEYED[rec.kind] then
    fail("kind \"%s\" cannot be bootstrapped (value, map, list, reducing or aggregating)", rec.kind)
  end
  return rec
end

-- The loader: the harness's state methods plus what the checks need across lines.
local Loader = {}
Loader.__index = Loader

-- Checks that `op` is a keyed operator of the job (from the script, as the harness loads it): keyed state
-- of any other would never be read.
function Loader:check_op(op)
  local by_uid, ops = self.h:operators()
  if not by_uid[op] then
    local uids = {}
    for uid in pairs(by_uid) do
      uids[#uids + 1] = uid
    end
    table.sort(uids)
    fail("the job has no operator '%s' (its operators: %s)", op, table.concat(uids, ", "))
  end
  if self.keyed[op] == nil then
    self.keyed[op] = false
    for _, x in ipairs(ops) do
      if x.kind == "key_by" then
        self.keyed[op] = true
      elseif x.uid == op then
        break
      end
    end
  end
  if not self.keyed[op] then
    fail("operator '%s' is not keyed (no key_by before it): it has no keyed state", op)
  end
end

-- What the checks need of state (op, name), found at its first line: a name for messages, the kind the
-- backend records (declared by the job, or given by an earlier line) and the job's declaration.
function Loader:state_info(rec)
  local sid = rec.op .. "\0" .. rec.state
  local info = self.states[sid]
  if info == nil then
    self:check_op(rec.op)
    local what = ("state '%s' of operator '%s'"):format(rec.state, rec.op)
    local stored = native.lookup_state(C.sl_harness_backend(self.h.ptr), rec.op, rec.state, what)
    info = { what = what, kind = stored and stored ~= 0 and kind_name(stored) or nil,
      decl = self.h:declared(rec.op, rec.state) }
    self.states[sid] = info
  end
  return info
end

function Loader:line(rec)
  local h = self.h
  local info = self:state_info(rec)
  local what = info.what
  if info.kind and info.kind ~= rec.kind then
    fail("%s is a %s state in the job, the line says %s", what, info.kind, rec.kind)
  end
  local d = info.decl
  local ttl = d and d.ttl
  local v = value_of(rec, "value", true)
  local mk = value_of(rec, "map_key", rec.kind == "map")
  if rec.kind ~= "map" and mk ~= nil then
    fail("\"map_key\" is for a map state; %s is %s", what, rec.kind)
  end
  if (rec.index ~= nil) ~= (rec.kind == "list") then
    fail(rec.kind == "list" and "a list element needs its \"index\"" or "\"index\" is for a list state; %s is %s",
      what, rec.kind)
  end
  if ttl and rec.expires_at == nil then
    fail("%s has a TTL in the job: the line needs \"expires_at\" (ms)", what)
  elseif not ttl and rec.expires_at ~= nil then
    fail("%s has no TTL in the job, but the line gives \"expires_at\"", what)
  end
  if ttl then
    local e = rec.expires_at
    if type(e) ~= "number" or e ~= math.floor(e) or e < ttl.ms then
      fail("\"expires_at\" must be a whole number of ms (epoch) of at least the TTL (%d)", ttl.ms)
    end
    -- The handle stamps expiry = now + ttl: at now = expires_at - ttl the entry gets exactly expires_at.
    C.sl_harness_clock(h.ptr)[0] = e - ttl.ms
  end
  local s = h:handle(rec.op, rec.state, rec.kind)
  info.kind = rec.kind -- registered as that now
  local k = rec.key
  if C.sl_scope_set_key(h:scope(), k, #k) ~= 0 then
    fail("key too long (%d bytes)", #k)
  end
  if rec.kind == "map" then
    if s:contains(mk) then
      fail("map key %s of key '%s' of %s is given twice", cjson.encode(rec.map_key or rec.map_key_b64), k, what)
    end
    s:put(mk, v)
  elseif rec.kind == "list" then
    local id = rec.op .. "\0" .. rec.state .. "\0" .. k
    local n = self.lists[id] or 0
    if rec.index ~= n then
      fail("list element %s of key '%s' of %s out of order (elements come as 0, 1, 2, ...; expected %d)",
        tostring(rec.index), k, what, n)
    end
    self.lists[id] = n + 1
    s:add(v)
  else
    if base.get_value(s) then
      fail("key '%s' of %s is given twice", k, what)
    end
    base.put_value(s, v)
  end
end

-- Loads every line of `path` into the state of the harness (lightuserdata) running `script` with `args`.
-- Returns the number of entries; raises "path:N: reason" on the first bad line (or an unreadable file).
function M.load(harness, script, args, max_parallelism, path)
  local f, err = io.open(path, "rb")
  if not f then
    error(("cannot read %s"):format(err), 0)
  end
  local loader = setmetatable({ h = testing.wrap(harness, script, args, max_parallelism), lists = {},
    keyed = {}, states = {} }, Loader)
  local n, entries = 0, 0
  for line in f:lines() do
    n = n + 1
    if line:find("%S") then
      local ok, e = pcall(function()
        loader:line(parse(line))
      end)
      if not ok then
        f:close()
        loader.h:drop_handles()
        error(("%s:%d: %s"):format(path, n, type(e) == "table" and e.bootstrap or e.message or tostring(e)), 0)
      end
      entries = entries + 1
    end
  end
  f:close()
  loader.h:drop_handles()
  return entries
end

return M
