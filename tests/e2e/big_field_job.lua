-- big_field_job.lua — the URL count, also echoing the record's "body" field (tests/e2e/failure_exits.sh:
-- a big body makes a big output record without a big key).
local sluice = require "sluice"
local fields = { "url", "count", "body" }
return sluice.job "big-field"
  :key_by("url")
  :process("count", function(ctx, rec)
    local n = ctx:value("count", 0)
    local c = n:value() + 1
    n:update(c)
    ctx:emit_fields(fields, rec.url, c, rec.body)
  end)
