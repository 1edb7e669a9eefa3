-- sluice.record — lazy input records.
--
-- An input record reaches an operator as an `sl_rec *`: the validated JSON line plus an index of its
-- top-level fields, built in C. Reading `rec.url` looks the field up in that index and decodes only that
-- value; fields never read cost nothing. Strings and numbers decode through FFI calls (JIT-compiled);
-- nested objects and arrays decode into fresh Lua tables with lua-cjson (a well-kept library; nested
-- values are the cold path). JSON null reads as nil, as an absent field does.
--
-- A lazy record is read-only: to change a record, build a table (`sluice.totable(rec)` gives all fields).
local ffi = require "ffi"
local cjson = require "cjson"
local fatal = require "sluice.fatal"
local native = require "sluice.native"

local C = native.C
local M = {}

local rec_ptr_t = ffi.typeof("sl_rec *")
local field = ffi.new("sl_json_field")
local lenp = ffi.new("size_t[1]")

local T_FALSE, T_TRUE, T_NUMBER, T_STRING = 1, 2, 3, 4

local function get(rec, key)
  if type(key) ~= "string" then
    return nil
  end
  local t = C.sl_rec_field(rec, key, #key, field)
  if t == T_STRING then
    local p = C.sl_rec_string(rec, field, lenp)
    if p == nil then
      fatal.raise(("out of memory decoding field '%s'"):format(key), 0)
    end
    return ffi.string(p, lenp[0])
  elseif t == T_NUMBER then
    return C.sl_rec_number(rec, field)
  elseif t == T_TRUE then
    return true
  elseif t == T_FALSE then
    return false
  elseif t <= 0 then
    return nil
  end
  return cjson.decode(ffi.string(C.sl_rec_value_text(rec, field), field.val_len))
end

ffi.metatype("struct sl_rec", {
  __index = get,
  __newindex = function(_, k)
    error(("input records are read-only (assigning field '%s'); build a table, e.g. sluice.totable(rec)")
      :format(tostring(k)), 2)
  end,
  __tostring = function(rec)
    return "Record" .. M.line(rec)
  end,
})

M.get = get

function M.is_record(v)
  return ffi.istype(rec_ptr_t, v)
end

-- The record's JSON line, as a Lua string.
function M.line(rec)
  local p = C.sl_rec_line(rec, lenp)
  return ffi.string(p, lenp[0])
end

local TIMESTAMP_TYPES = { [1] = "create", [2] = "log_append" }

-- What a Kafka record carries besides its value: { topic, partition, offset, key (nil: the message has
-- none), timestamp (epoch ms; nil: none), timestamp_type ("create" | "log_append") }, a fresh table each
-- call; nil for a record of another source, and for anything that is not an input record (a table a map
-- built: its metadata stayed with the input record).
function M.meta(rec)
  if not ffi.istype(rec_ptr_t, rec) then
    return nil
  end
  local m = C.sl_rec_get_meta(rec)
  if m == nil then
    return nil
  end
  local ts = m.timestamp >= 0 and tonumber(m.timestamp) or nil
  return { topic = ffi.string(m.topic), partition = m.partition, offset = tonumber(m.offset),
    key = m.key ~= nil and ffi.string(m.key, m.key_len) or nil, timestamp = ts,
    timestamp_type = ts and TIMESTAMP_TYPES[m.timestamp_type] or nil }
end

-- The record's Kafka timestamp (epoch ms), or nil: the event-time stamp's per-record read (no table).
function M.timestamp(rec)
  if not ffi.istype(rec_ptr_t, rec) then
    return nil
  end
  local ts = C.sl_rec_timestamp(rec)
  return ts >= 0 and ts or nil
end

-- Every field of the record, decoded into a fresh Lua table.
function M.totable(rec)
  return cjson.decode(M.line(rec))
end

return M
