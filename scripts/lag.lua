-- lag.lua — consumer lag of a message queue (stateless).
--
-- Each record carries the producer's offset and every consumer group's offset at one instant; the job
-- emits each consumer's lag = producer offset - consumer offset:
--   in:  {"timestamp": 1555516800, "offset": {"producer": 15, "consumer0": 10, "consumer1": 7}}
--   out: {"timestamp": 1555516800, "lag": {"consumer0": 5, "consumer1": 8}}
-- Every key of "offset" other than "producer" is a consumer; consumers are written in natural order.
local sluice = require "sluice"

local fields = { "timestamp", "lag" }

return sluice.job "lag"
  :map("lag", function(rec)
    local offset = rec.offset
    if type(offset) ~= "table" or type(offset.producer) ~= "number" then
      error("record has no numeric offset.producer", 0)
    end
    local producer = offset.producer
    local lag = {}
    for consumer, at in pairs(offset) do
      if consumer ~= "producer" then
        if type(at) ~= "number" then
          error(("offset.%s is not a number"):format(consumer), 0)
        end
        lag[consumer] = producer - at
      end
    end
    return { timestamp = rec.timestamp, lag = lag }, fields
  end)
