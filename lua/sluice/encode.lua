-- sluice.encode — writes records as JSON lines into a C output buffer (sl_buf).
--
-- Output style follows the seed examples: {"url": "/api/a", "count": 1}. The walk over the table is Lua
-- (JIT-compiled); escaping and number formatting are C calls through the FFI.
--
-- Field order: a Lua table has none, so it is chosen here. With a field list (`ctx:emit(t, {"url",
-- "count"})`) exactly those fields are written, in that order (a projection; nil fields are skipped).
-- Without one, every field is written with keys in natural order ("consumer2" before "consumer10").
-- An unmodified input record passes through as its original line, byte for byte.
local ffi = require "ffi"
local cjson = require "cjson"
local native = require "sluice.native"
local record = require "sluice.record"
local fatal = require "sluice.fatal"

local C = native.C
local is_record = record.is_record
local lenp = ffi.new("size_t[1]")
local cjson_null = cjson.null

local M = {}

local put_value

-- sluice.KEY: as a value of ctx:emit_fields, the current key, written from the key scope's own bytes: the
-- key key_by took from a number or boolean field of an input record as the record had it (as rec[field]
-- would be written), any other key (a string field's, a key function's, a timer's) as a JSON string, what
-- ctx:key() returns. A field read in Lua is a Lua string, which LuaJIT interns and later collects: with a
-- new key on every record that was about a fifth of the URL count's time (1 M distinct keys), which this
-- spares the jobs that emit their key.
M.KEY = setmetatable({}, { __tostring = function() return "sluice.KEY" end,
  __newindex = function() error("sluice.KEY is a constant", 2) end })
local KEY = M.KEY

local function no_key()
  error("sluice.KEY stands for the current key: it is a value for ctx:emit_fields in a keyed operator "
    .. "(after key_by)", 0)
end

-- The current key's bytes (their length in lenp[0]); an error without one.
local function current_key(scope)
  local p = scope ~= nil and C.sl_scope_current_key(scope, lenp) or nil
  if p == nil then
    no_key()
  end
  return p
end

-- What sluice.KEY stands for as a Lua value, where a table is built after all (a downstream operator's
-- record, the general path below): the key string, or the number or boolean a token key is.
function M.key_value(scope)
  local s = ffi.string(current_key(scope), lenp[0])
  if C.sl_scope_key_is_token(scope) ~= 0 then
    return cjson.decode(s)
  end
  return s
end

-- A top-level value of put_values: sluice.KEY is the key of `scope` (the emitting operator's; nil when it
-- is not keyed).
local function put_field_value(buf, v, scope)
  if v ~= KEY then
    return put_value(buf, v, 1)
  end
  local p = current_key(scope)
  if C.sl_scope_key_is_token(scope) ~= 0 then -- a number or boolean, written as the record had it
    C.sl_buf_put(buf, p, lenp[0])
  else
    C.sl_buf_put_json_string(buf, p, lenp[0])
  end
end

-- Natural order: runs of digits compare by numeric value, everything else bytewise.
local function natural_less(a, b)
  a, b = tostring(a), tostring(b)
  local i, j, la, lb = 1, 1, #a, #b
  while i <= la and j <= lb do
    local ca, cb = a:byte(i), b:byte(j)
    if ca >= 48 and ca <= 57 and cb >= 48 and cb <= 57 then
      local ia, ib = i, j
      while i <= la and a:byte(i) >= 48 and a:byte(i) <= 57 do i = i + 1 end
      while j <= lb and b:byte(j) >= 48 and b:byte(j) <= 57 do j = j + 1 end
      local na, nb = a:sub(ia, i - 1):gsub("^0+", ""), b:sub(ib, j - 1):gsub("^0+", "")
      if #na ~= #nb then return #na < #nb end
      if na ~= nb then return na < nb end
    else
      if ca ~= cb then return ca < cb end
      i, j = i + 1, j + 1
    end
  end
  return (la - i) < (lb - j)
end
M.natural_less = natural_less

local function put_key(buf, k, first)
  if not first then
    C.sl_buf_put(buf, ", ", 2)
  end
  local ks = type(k) == "string" and k or tostring(k)
  C.sl_buf_put_json_string(buf, ks, #ks)
  C.sl_buf_put(buf, ": ", 2)
end

local function put_object(buf, t, depth)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys, natural_less)
  C.sl_buf_putc(buf, 123) -- {
  for i = 1, #keys do
    put_key(buf, keys[i], i == 1)
    put_value(buf, t[keys[i]], depth)
  end
  C.sl_buf_putc(buf, 125) -- }
end

local function put_array(buf, t, n, depth)
  C.sl_buf_putc(buf, 91) -- [
  for i = 1, n do
    if i > 1 then
      C.sl_buf_put(buf, ", ", 2)
    end
    put_value(buf, t[i], depth)
  end
  C.sl_buf_putc(buf, 93) -- ]
end

function put_value(buf, v, depth)
  local tv = type(v)
  if tv == "string" then
    C.sl_buf_put_json_string(buf, v, #v)
  elseif tv == "number" then
    C.sl_buf_put_json_number(buf, v)
  elseif tv == "boolean" then
    if v then C.sl_buf_put(buf, "true", 4) else C.sl_buf_put(buf, "false", 5) end
  elseif v == nil or v == cjson_null then
    C.sl_buf_put(buf, "null", 4)
  elseif tv == "table" then
    if v == KEY then
      no_key()
    end
    if depth > 100 then
      error("record nested too deeply (or cyclic) to write as JSON", 0)
    end
    local n = #v
    if n > 0 then put_array(buf, v, n, depth + 1) else put_object(buf, v, depth + 1) end
  elseif tv == "cdata" and is_record(v) then
    local p = C.sl_rec_line(v, lenp)
    C.sl_buf_put(buf, p, lenp[0])
  elseif tv == "cdata" and (ffi.istype("int64_t", v) or ffi.istype("uint64_t", v)) then
    local s = tostring(v):gsub("U?LL$", "")
    C.sl_buf_put(buf, s, #s)
  else
    error(("cannot write a %s value as JSON"):format(tv), 0)
  end
end

-- The JSON text before each field of a projection ('{"url": ', ', "count": '), built once per field list:
-- the per-record work is then one buffer append per field name instead of an escape call and separators.
local prefix_cache = setmetatable({}, { __mode = "k" })

-- A job may reuse one field list table and change it between records: the cached prefixes are used only
-- while the list still holds the names they were built from (p.names), else they are built again.
local function prefixes_match(p, fields)
  local names = p.names
  if #names ~= #fields then
    return false
  end
  for i = 1, #names do
    if names[i] ~= fields[i] then
      return false
    end
  end
  return true
end

-- The prefixes used last: a field list written inline (`ctx:emit(t, { "url", "count" })`) is a new table
-- for every record, so the weak cache would never hit; comparing the names with the last list does.
local last_prefixes = { names = {} }

local function prefixes_for(fields)
  local p = prefix_cache[fields]
  if p == nil and prefixes_match(last_prefixes, fields) then
    return last_prefixes
  end
  if p == nil or not prefixes_match(p, fields) then
    p = { names = {} }
    local tmp = ffi.gc(ffi.new("sl_buf[1]"), C.sl_buf_free)
    for i = 1, #fields do
      C.sl_buf_reset(tmp)
      put_key(tmp, fields[i], i == 1)
      if tmp[0].oom ~= 0 then
        -- A prefix cut short would be cached and every later record written without its keys.
        fatal.raise("out of memory encoding the output's field names", 0)
      end
      p[i] = (i == 1 and "{" or "") .. ffi.string(tmp[0].data, tmp[0].len)
      p.names[i] = fields[i]
    end
    prefix_cache[fields] = p
  end
  last_prefixes = p
  return p
end

-- Writes the projection of rec on fields, skipping nil fields.
local function put_projection(buf, rec, fields)
  local prefixes = prefixes_for(fields)
  local mark = buf.len
  for i = 1, #fields do
    local v = rec[fields[i]]
    if v == nil then
      -- Rare: a field is missing, so the precomputed separators do not apply. Redo it the long way.
      buf.len = mark
      C.sl_buf_putc(buf, 123)
      local first = true
      for j = 1, #fields do
        local w = rec[fields[j]]
        if w ~= nil then
          put_key(buf, fields[j], first)
          put_value(buf, w, 1)
          first = false
        end
      end
      C.sl_buf_putc(buf, 125)
      return
    end
    local pre = prefixes[i]
    C.sl_buf_put(buf, pre, #pre)
    put_value(buf, v, 1)
  end
  if #fields == 0 then
    C.sl_buf_putc(buf, 123)
  end
  C.sl_buf_putc(buf, 125)
end

-- put_values for one to four fields, with no loop: a loop of two iterations inside the batch loop is an
-- "inner loop" that LuaJIT cannot compile into the batch loop's trace and rarely compiles on its own (it
-- keeps leaving it), and once those aborts blacklist it, the whole batch loop falls back to the
-- interpreter (measured: 4-5x the CPU of the URL count, in about one VM in eight, and in most parallel
-- subtasks). nil when a value is missing or nil (the general path handles those).
local function put2(buf, scope, p, a, b)
  C.sl_buf_put(buf, p[1], #p[1])
  put_field_value(buf, a, scope)
  C.sl_buf_put(buf, p[2], #p[2])
  put_field_value(buf, b, scope)
end

local function put_few(buf, scope, fields, nf, n, a, b, c, d)
  if n < nf then
    return nil
  end
  local p = prefixes_for(fields)
  if nf == 2 then
    if a == nil or b == nil then return nil end
    put2(buf, scope, p, a, b)
  elseif nf == 1 then
    if a == nil then return nil end
    C.sl_buf_put(buf, p[1], #p[1])
    put_field_value(buf, a, scope)
  elseif nf == 3 then
    if a == nil or b == nil or c == nil then return nil end
    put2(buf, scope, p, a, b)
    C.sl_buf_put(buf, p[3], #p[3])
    put_field_value(buf, c, scope)
  else
    if a == nil or b == nil or c == nil or d == nil then return nil end
    put2(buf, scope, p, a, b)
    C.sl_buf_put(buf, p[3], #p[3])
    put_field_value(buf, c, scope)
    C.sl_buf_put(buf, p[4], #p[4])
    put_field_value(buf, d, scope)
  end
  C.sl_buf_putc(buf, 125)
  C.sl_buf_putc(buf, 10)
  return true
end

-- Appends the record fields[i] = (i-th value after fields), and a newline, without building a table: the
-- fast path of ctx:emit_fields when the sink is the next stage. A nil value takes the general path.
-- scope is the emitting operator's key scope, what sluice.KEY stands for (nil: not keyed).
function M.put_values(buf, scope, fields, ...)
  local n = select("#", ...)
  local nf = #fields
  if nf >= 1 and nf <= 4 and put_few(buf, scope, fields, nf, n, ...) then
    return
  end
  for i = 1, #fields do
    if i > n or select(i, ...) == nil then
      local t = {}
      for j = 1, #fields do
        local v = (select(j, ...))
        if v == KEY then
          v = M.key_value(scope)
        end
        t[fields[j]] = v
      end
      return M.put_record(buf, t, fields)
    end
  end
  local prefixes = prefixes_for(fields)
  for i = 1, #fields do
    local pre = prefixes[i]
    C.sl_buf_put(buf, pre, #pre)
    put_field_value(buf, (select(i, ...)), scope)
  end
  C.sl_buf_putc(buf, 125)
  C.sl_buf_putc(buf, 10)
end

-- Appends record `rec` (a table or an input record), optionally projected on `fields`, and a newline.
function M.put_record(buf, rec, fields)
  if fields == nil then
    put_value(buf, rec, 0)
  else
    put_projection(buf, rec, fields)
  end
  C.sl_buf_putc(buf, 10)
end

-- Encodes a record to a Lua string (tests, dead letters).
function M.to_string(rec, fields)
  -- A struct, not an sl_buf[1] array: put_projection reads and rewinds buf.len, which an array lacks.
  local buf = ffi.gc(ffi.new("sl_buf"), C.sl_buf_free)
  C.sl_buf_init(buf)
  M.put_record(buf, rec, fields)
  if buf.oom ~= 0 then
    fatal.raise("out of memory encoding a record", 0)
  end
  return ffi.string(buf.data, buf.len - 1)
end

return M
