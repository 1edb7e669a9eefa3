-- tcp_count_job.lua — an e2e fixture (tests/e2e/sources.sh, tcp_limits.sh): the URL count over a TCP source
-- on 127.0.0.1, port SCRIPT-ARG 1.
local sluice = require "sluice"

return sluice.job "tcp-count"
  :source(sluice.source.tcp { port = tonumber(sluice.args[1]) })
  :key_by "url"
  :process("count", function(ctx, rec)
    local n = ctx:value("count", 0)
    n:update(n:value() + 1)
    ctx:emit({ url = rec.url, count = n:value() }, { "url", "count" })
  end)
