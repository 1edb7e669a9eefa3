-- sluice.codec — how a Lua value is stored as bytes in the state backend.
--
-- The format is LuaJIT's string.buffer serialization format (documented in LuaJIT's string.buffer
-- reference, "Serialization Format Specification"): compact, binary-safe, covering nil, booleans, numbers,
-- strings, nested tables (arrays and maps) and int64/uint64 cdata, and refusing functions, userdata,
-- threads and cyclic tables. It is implemented in C inside LuaJIT, so encode/decode are fast.
--
-- A number is 0x07 followed by the IEEE-754 double (little-endian): 9 bytes. Numbers are what counters
-- store on the hot path, so this module writes and reads that form itself through the FFI, with no string
-- allocated — byte-for-byte the same as string.buffer's encoding of a number.
local ffi = require "ffi"
local buffer = require "string.buffer"
local caller = require "sluice.caller"
local fatal = require "sluice.fatal"

local M = {}

local TAG_NUM = 7
local num_bytes = ffi.new("uint8_t[9]")
local num_slot = ffi.cast("double *", num_bytes + 1)
local wbuf = buffer.new()
local rbuf = buffer.new()
local u8p = ffi.typeof("const uint8_t *")
local dblp = ffi.typeof("const double *")

-- Encodes v; returns a pointer and a length valid until the next encode. Errors (with `what` naming the
-- state, at the line of the user's code that gave the value: sluice.caller) on a value that cannot be
-- stored.
function M.encode(v, what)
  if type(v) == "number" then
    num_bytes[0] = TAG_NUM
    num_slot[0] = v
    return num_bytes, 9
  end
  wbuf:reset()
  local ok, err = pcall(wbuf.encode, wbuf, v)
  if not ok then
    -- Running out of memory, or a fatal error, is not the value's fault: it goes on as it came.
    if fatal.is(err) then
      error(err, 0)
    elseif err == "not enough memory" then
      fatal.raise("out of memory encoding a state value", 0)
    end
    caller.error(("%s: cannot store this %s value (%s)"):format(what or "state", type(v), tostring(err)))
  end
  local p, n = wbuf:ref()
  return p, n
end

-- Decodes the bytes at p[0..n).
function M.decode(p, n)
  local b = ffi.cast(u8p, p)
  if n == 9 and b[0] == TAG_NUM then
    return ffi.cast(dblp, b + 1)[0]
  end
  rbuf:set(p, n)
  return rbuf:decode()
end

-- Encodes v into a Lua string (map keys, tests).
function M.encode_string(v, what)
  local p, n = M.encode(v, what)
  return ffi.string(p, n)
end

return M
