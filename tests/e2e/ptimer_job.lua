-- ptimer_job.lua — an e2e fixture (tests/e2e/processing_timers.sh): per key, a processing-time timer DELAY ms
-- (SCRIPT-ARG 1, default 200) after its first record, which emits how many records the key had by then.
local sluice = require "sluice"

local delay = tonumber(sluice.args[1] or "200")

return sluice.job "ptimer"
  :key_by "url"
  :process("delay", {
    state = { n = sluice.state.value { default = 0 } },
    process = function(ctx, rec)
      local n = ctx.state.n:value()
      if n == 0 then
        ctx:timer_at(ctx:now() + delay)
      end
      ctx.state.n:update(n + 1)
    end,
    on_timer = function(ctx, ts, kind)
      ctx:emit({ url = ctx:key(), n = ctx.state.n:value(), kind = kind }, { "url", "n", "kind" })
      ctx.state.n:clear()
    end,
  })
