-- dedup.lua — drop records whose key was seen before (stateful de-duplication).
--
-- The key is a field (default request_id); a record without that field is keyed by its whole line. The
-- first record of each key is written back unchanged, byte for byte; repeats are dropped:
--   in:  {"request_id": "r1", "url": "/a"}  {"request_id": "r2", "url": "/b"}  {"request_id": "r1", "url": "/a"}
--   out: {"request_id": "r1", "url": "/a"}  {"request_id": "r2", "url": "/b"}
-- "Seen" is a keyed ValueState flag. With TTL_MS it expires TTL_MS after it was set (processing time), so
-- a key counts as new again later and the state of old keys is cleaned up in the background.
--
--   sluice run scripts/dedup.lua --input events.log [-- FIELD [TTL_MS]]
local sluice = require "sluice"

local field = sluice.args[1] or "request_id"
local ttl = tonumber(sluice.args[2])

return sluice.job "dedup"
  :key_by(function(rec)
    local k = rec[field]
    if k == nil then
      return "line:" .. sluice.line(rec)
    end
    return "field:" .. tostring(k)
  end)
  :process("dedup", {
    state = { seen = sluice.state.value { default = false, ttl = ttl } },
    process = function(ctx, rec)
      local seen = ctx.state.seen
      if not seen:value() then
        seen:update(true)
        ctx:emit(rec)
      end
    end,
  })
