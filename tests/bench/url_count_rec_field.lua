-- url_count_rec_field.lua — scripts/url_count.lua as a job that emits the URL it reads in Lua (rec[field])
-- instead of sluice.KEY: the same output, plus a Lua string per record, which LuaJIT interns and collects.
-- tests/bench/distinct_keys.sh runs it with JOB=tests/bench/url_count_rec_field.lua, to tell what the
-- engine costs per new key from what the job's strings cost.
local sluice = require "sluice"

local field = sluice.args[1] or "url"
local fields = { field, "count" }

return sluice.job "url-count"
  :key_by(field)
  :process("count", function(ctx, rec)
    local n = ctx:value("count", 0)
    local c = n:value() + 1
    n:update(c)
    ctx:emit_fields(fields, rec[field], c)
  end)
