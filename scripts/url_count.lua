-- url_count.lua — per-URL access count over nginx JSON access logs (stateful).
--
-- For every request it emits the running number of requests to that URL so far:
--   in:  {"@timestamp": "18/Apr/2019:00:00:00", "remote_addr": "127.0.0.1", "request": "GET", "url": "/api/a"}
--   out: {"url": "/api/a", "count": 1}
-- The count lives in keyed ValueState (LMDB, committed with the input offsets), so a stopped or crashed
-- job restarted with the same --state-dir continues counting without losing or repeating a request.
--
--   sluice run scripts/url_count.lua --input access.log [-- FIELD]   (FIELD defaults to "url")
local sluice = require "sluice"

local field = sluice.args[1] or "url"
local fields = { field, "count" }

return sluice.job "url-count"
  :key_by(field)
  :process("count", function(ctx)
    local n = ctx:value("count", 0)
    local c = n:value() + 1
    n:update(c)
    ctx:emit_fields(fields, sluice.KEY, c) -- the URL itself: rec[field], written without a Lua string
  end)
