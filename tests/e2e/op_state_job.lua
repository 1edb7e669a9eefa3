-- op_state_job.lua — an e2e fixture (tests/e2e/operator_state_restart.sh): a running total of all records
-- kept in operator ListState (not keyed), restored by initialize and written back by snapshot.
local sluice = require "sluice"

local total = 0

return sluice.job "op-state-total"
  :process("total", {
    operator_state = { total = sluice.state.operator_list {} },
    initialize = function(ctx, restored) total = restored.total[1] or 0 end,
    snapshot = function(ctx) ctx.operator_state.total:update({ total }) end,
    process = function(ctx, rec)
      total = total + 1
      ctx:emit({ n = total, url = rec.url }, { "n", "url" })
    end,
  })
