-- map_iter_job.lua — the job iter_bench.sh runs: per URL, a MapState from request method to the last
-- status, written and then iterated on every record (the pattern that made iterator opens quadratic).
-- Emits the URL and the number of methods seen for it, so the output checks that iteration saw the put.
local sluice = require "sluice"

return sluice.job "map-iter-bench"
  :key_by "url"
  :process("methods", function(ctx, rec)
    local m = ctx:map("by_method")
    m:put(rec.request, rec.status)
    local n = 0
    for _ in m:pairs() do
      n = n + 1
    end
    ctx:emit_fields({ "url", "methods" }, rec.url, n)
  end)
