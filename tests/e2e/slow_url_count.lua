-- slow_url_count.lua — scripts/url_count.lua with a busy wait per record (sluice.args[1] seconds), so that
-- a test can kill the job at random instants in the middle of its input. Same output as url_count.lua.
local sluice = require "sluice"

local delay = tonumber(sluice.args[1]) or 0
local clock = os.clock
local fields = { "url", "count" }

return sluice.job "url-count"
  :key_by "url"
  :process("count", function(ctx, rec)
    local n = ctx:value("count", 0)
    local c = n:value() + 1
    n:update(c)
    ctx:emit({ url = rec.url, count = c }, fields)
    local until_t = clock() + delay
    while clock() < until_t do end
  end)
